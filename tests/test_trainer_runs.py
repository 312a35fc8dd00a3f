"""The training loop end to end on tiny runs: files, resume (exact), phases, guards, options."""
import os

import pytest
import torch

from yolox.core import NonFiniteLossError, Trainer
from yolox.tools.exp_flags import build_exp
from yolox.utils.checkpoint import load_matching_weights
from yolox.utils.model_utils import is_channels_last

from _train_helpers import load_train_tool, make_tiny_sample, max_state_difference, read_ckpt, write_exp

pytestmark = pytest.mark.slow  # trains tiny models


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    return make_tiny_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def train_tool():
    return load_train_tool()


@pytest.fixture(autouse=True)
def _restore_determinism():
    yield
    torch.use_deterministic_algorithms(False)


def make_trainer(train_tool, exp_file, *argv, trainer_cls=Trainer):
    args = train_tool.make_parser().parse_args(["-f", str(exp_file), "-b", "4", *argv])
    return trainer_cls(build_exp(args), args)


def test_resume_continues_exactly(tmp_path, sample_dir, train_tool, monkeypatch):
    """2 epochs straight == 1 epoch, a kill, --resume for 1 more (deterministic CPU, no workers):
    model, EMA and optimizer agree within 1e-6; the same seed repeats the first epoch exactly."""
    straight = write_exp(tmp_path / "straight.py", data_dir=sample_dir, output_dir=tmp_path / "out")
    train_tool.main(["-f", str(straight), "-b", "4", "--deterministic"])
    a = read_ckpt(tmp_path / "out" / "straight" / "latest_ckpt.pth")

    interrupted = write_exp(tmp_path / "interrupted.py", data_dir=sample_dir, output_dir=tmp_path / "out")
    original_after_epoch = Trainer.after_epoch

    def after_epoch_then_kill(self):
        original_after_epoch(self)
        raise KeyboardInterrupt("simulated kill after the first epoch's checkpoint")

    monkeypatch.setattr(Trainer, "after_epoch", after_epoch_then_kill)
    with pytest.raises(KeyboardInterrupt):
        train_tool.main(["-f", str(interrupted), "-b", "4", "--deterministic"])
    monkeypatch.setattr(Trainer, "after_epoch", original_after_epoch)
    first = read_ckpt(tmp_path / "out" / "interrupted" / "latest_ckpt.pth")
    assert first["start_epoch"] == 1
    epoch1_straight = read_ckpt(tmp_path / "out" / "straight" / "epoch_1_ckpt.pth")
    assert max_state_difference(first["train_model"], epoch1_straight["train_model"]) == 0.0  # same seed, same run
    assert max_state_difference(first["model"], epoch1_straight["model"]) == 0.0

    train_tool.main(["-f", str(interrupted), "-b", "4", "--deterministic", "--resume"])
    b = read_ckpt(tmp_path / "out" / "interrupted" / "latest_ckpt.pth")
    assert b["start_epoch"] == a["start_epoch"] == 2
    assert b["iteration"] == a["iteration"] == 8
    assert max_state_difference(a["train_model"], b["train_model"]) < 1e-6
    assert max_state_difference(a["model"], b["model"]) < 1e-6  # the EMA weights
    assert a["ema_updates"] == b["ema_updates"] == 8
    momentum_a = [s["momentum_buffer"] for s in a["optimizer"]["state"].values()]
    momentum_b = [s["momentum_buffer"] for s in b["optimizer"]["state"].values()]
    assert max((x - y).abs().max().item() for x, y in zip(momentum_a, momentum_b)) < 1e-6
    log = (tmp_path / "out" / "interrupted" / "train_log.txt").read_text()
    assert "resumed from" in log and "at epoch 2" in log


def test_last_epochs_switch_off_mosaic_and_on_l1(tmp_path, sample_dir, train_tool):
    exp_file = write_exp(tmp_path / "noaug.py", data_dir=sample_dir, output_dir=tmp_path / "out")
    trainer = make_trainer(train_tool, exp_file)
    trainer.train()
    assert trainer.train_loader.batch_sampler.mosaic is False
    assert trainer.train_loader.dataset.enable_mosaic is False or trainer.train_loader.dataset._mosaic_closed
    assert trainer.model.head.use_l1
    assert is_channels_last(trainer.model) and is_channels_last(trainer.ema_model.ema)  # Exp.channels_last
    lines = (tmp_path / "out" / "noaug" / "train_log.txt").read_text().splitlines()
    l1 = {epoch: [float(line.split("l1_loss: ")[1].split(",")[0]) for line in lines if f"epoch: {epoch}/2," in line]
          for epoch in (1, 2)}
    assert l1[1] and all(v == 0.0 for v in l1[1])
    assert l1[2] and all(v > 0.0 for v in l1[2])


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path, sample_dir, train_tool):
    exp_file = write_exp(tmp_path / "nan.py", data_dir=sample_dir, output_dir=tmp_path / "out")

    class PoisonedTrainer(Trainer):
        def check_finite(self, outputs):
            if self.epoch == 1 and self.iter == 1:
                outputs = {**outputs, "cls_loss": torch.tensor(float("nan"))}
            return super().check_finite(outputs)

    trainer = make_trainer(train_tool, exp_file, trainer_cls=PoisonedTrainer)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, iteration 2.*cls_loss=nan"):
        trainer.train()
    folder = tmp_path / "out" / "nan"
    ckpt = read_ckpt(folder / "latest_ckpt.pth")
    assert ckpt["start_epoch"] == 1
    assert not (folder / "epoch_2_ckpt.pth").exists()


def test_kill_during_save_leaves_previous_checkpoint(tmp_path, sample_dir, train_tool, monkeypatch):
    exp_file = write_exp(tmp_path / "killsave.py", data_dir=sample_dir, output_dir=tmp_path / "out",
                         extra="self.save_history_ckpt = False\n")
    real_replace = os.replace
    calls = {"n": 0}

    def replace_then_die(src, dst):
        calls["n"] += str(dst).endswith("_ckpt.pth")  # results.csv is written atomically too
        if calls["n"] > 2:  # epoch 1 writes latest and best; die while renaming epoch 2's latest
            raise KeyboardInterrupt("killed between write and rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        make_trainer(train_tool, exp_file).train()
    monkeypatch.setattr(os, "replace", real_replace)
    folder = tmp_path / "out" / "killsave"
    assert read_ckpt(folder / "latest_ckpt.pth")["start_epoch"] == 1
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_finetune_into_other_num_classes_skips_class_predictions(tmp_path, sample_dir, train_tool):
    """A 5-class checkpoint fine-tunes a 3-class model: every tensor but the class predictions loads."""
    source = write_exp(tmp_path / "five.py", data_dir=sample_dir, output_dir=tmp_path / "out",
                       extra="self.max_epoch = 1\nself.no_aug_epochs = 0\n")
    train_tool.main(["-f", str(source), "-b", "4"])
    ckpt_path = tmp_path / "out" / "five" / "latest_ckpt.pth"
    target = write_exp(tmp_path / "three.py", data_dir=sample_dir, output_dir=tmp_path / "out", num_classes=3)
    exp = build_exp(train_tool.make_parser().parse_args(["-f", str(target)]))
    model = exp.get_model()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    loaded = read_ckpt(ckpt_path)["model"]  # the EMA weights, what fine-tuning starts from
    report = load_matching_weights(model, loaded, source=str(ckpt_path))
    class_preds = {f"head.cls_preds.{i}.{p}" for i in range(3) for p in ("weight", "bias")}
    assert {entry.split(":")[0] for entry in report.shape_mismatch} == class_preds
    assert report.missing == [] and report.unexpected == []
    after = model.state_dict()
    assert set(after) == set(loaded)
    for key, value in after.items():
        expected = initial[key] if key in class_preds else loaded[key]
        assert torch.equal(value, expected), key


def test_accumulate_steps_every_second_iteration(tmp_path, sample_dir, train_tool):
    exp_file = write_exp(tmp_path / "accum.py", data_dir=sample_dir, output_dir=tmp_path / "out",
                         extra="self.accumulate = 2\nself.max_epoch = 1\nself.no_aug_epochs = 0\n")
    trainer = make_trainer(train_tool, exp_file)
    trainer.train()
    assert trainer.max_iter == 4 and trainer.ema_model.updates == 2


def test_frozen_backbone_keeps_weights_and_bn_stats(tmp_path, sample_dir, train_tool):
    exp_file = write_exp(tmp_path / "freeze.py", data_dir=sample_dir, output_dir=tmp_path / "out",
                         extra="self.freeze_backbone_epochs = 1\nself.max_epoch = 1\nself.no_aug_epochs = 0\n")
    snapshots = {}

    class Recording(Trainer):
        def before_epoch(self):
            super().before_epoch()
            snapshots["before"] = {k: v.clone() for k, v in self.model.state_dict().items()}

    trainer = make_trainer(train_tool, exp_file, trainer_cls=Recording)
    trainer.train()
    after = trainer.model.state_dict()
    backbone = [k for k in after if k.startswith("backbone.backbone.")]
    neck_and_head = [k for k in after if k.startswith("head.") and after[k].dtype.is_floating_point]
    assert backbone and all(torch.equal(after[k], snapshots["before"][k]) for k in backbone)
    assert any(not torch.equal(after[k], snapshots["before"][k]) for k in neck_and_head)


def test_patience_stops_early(tmp_path, sample_dir, train_tool):
    exp_file = write_exp(tmp_path / "patience.py", data_dir=sample_dir, output_dir=tmp_path / "out",
                         extra="self.patience = 1\nself.max_epoch = 4\nself.no_aug_epochs = 0\n"
                               "self.test_conf = 0.99\n")  # no detections: AP stays 0, never improves
    trainer = make_trainer(train_tool, exp_file)
    trainer.train()
    assert trainer.stop_reason and "patience 1" in trainer.stop_reason
    assert read_ckpt(tmp_path / "out" / "patience" / "latest_ckpt.pth")["start_epoch"] == 2
