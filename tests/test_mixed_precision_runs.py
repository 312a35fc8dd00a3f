"""Training and evaluation under CPU autocast in bfloat16 (``--amp bf16``; ``--fp16`` on a CPU):
the same code path as CUDA fp16, GradScaler off. One tiny run (2 epochs of 2 iterations) serves
every test: it resumes exactly, its losses follow float32's, and its checkpoint evaluates alike."""
import contextlib

import pytest
import torch

from _train_helpers import load_train_tool, make_tiny_sample, max_state_difference, read_ckpt, write_exp
from yolox.core import Trainer
from yolox.tools.exp_flags import build_exp

pytestmark = pytest.mark.slow  # trains tiny models

# bf16 rounds each convolution's inputs to 8 mantissa bits; over the first iterations the loss
# terms of this tiny model move by ~1% from float32's (measured up to 0.6% on total_loss).
LOSS_RTOL = 0.03
FIRST_EPOCH = 2  # iterations: 16 images, batch 8


class _StopAfterFirstEpoch(Exception):
    pass


@contextlib.contextmanager
def _recorded_losses(*, stop_after_first_epoch: bool = False):
    """Collect the loss floats of every iteration the Trainer runs inside the block."""
    losses = []
    original_check, original_after_epoch = Trainer.check_finite, Trainer.after_epoch

    def check_finite(self, outputs):
        values = original_check(self, outputs)
        losses.append(values)
        return values

    def after_epoch(self):
        if stop_after_first_epoch:
            raise _StopAfterFirstEpoch
        original_after_epoch(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "check_finite", check_finite)
        patch.setattr(Trainer, "after_epoch", after_epoch)
        yield losses


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"dir", "exp", "bf16", "fp32"}: the bf16 run's folder, the exp file, per-iteration losses."""
    root = tmp_path_factory.mktemp("amp")
    exp_file = write_exp(root / "amp.py", data_dir=make_tiny_sample(root / "sample"), output_dir=root / "out",
                         extra="test_conf = 0.001\ninput_size = (64, 64)\ntest_size = (64, 64)\n")
    tool = load_train_tool()
    common = ["-f", str(exp_file), "-b", "8", "--deterministic", "-l", "none"]
    with _recorded_losses() as bf16:
        tool.main([*common, "--amp", "bf16", "-expn", "bf16"])
    with _recorded_losses(stop_after_first_epoch=True) as fp32, pytest.raises(_StopAfterFirstEpoch):
        tool.main([*common, "-expn", "fp32"])
    tool.main([*common, "--amp", "bf16", "-expn", "resumed", "--resume", "-c",
               str(root / "out" / "bf16" / "epoch_1_ckpt.pth")])
    yield {"dir": root / "out", "exp": exp_file, "bf16": bf16, "fp32": fp32}
    torch.use_deterministic_algorithms(False)


def test_bf16_run_checkpoints_and_resumes_exactly(runs):
    """1 epoch, then --resume from its checkpoint for the second == 2 epochs straight, as in fp32."""
    straight = read_ckpt(runs["dir"] / "bf16" / "latest_ckpt.pth")
    resumed = read_ckpt(runs["dir"] / "resumed" / "latest_ckpt.pth")
    assert straight["start_epoch"] == resumed["start_epoch"] == 2
    assert straight["iteration"] == resumed["iteration"] == 2 * FIRST_EPOCH
    assert straight.get("scaler") is None  # bf16 needs no GradScaler, so none is saved
    assert max_state_difference(straight["train_model"], resumed["train_model"]) < 1e-6
    assert max_state_difference(straight["model"], resumed["model"]) < 1e-6  # the EMA weights
    assert all(p.dtype == torch.float32 for p in straight["train_model"].values() if p.is_floating_point())
    log = (runs["dir"] / "bf16" / "train_log.txt").read_text()
    assert "mixed precision: bf16 autocast on cpu (no GradScaler)" in log


def test_bf16_losses_follow_fp32_over_the_first_iterations(runs):
    bf16, fp32 = runs["bf16"][:FIRST_EPOCH], runs["fp32"]
    assert len(fp32) == FIRST_EPOCH
    for step, (ours, reference) in enumerate(zip(bf16, fp32)):
        for key in ("total_loss", "iou_loss", "conf_loss", "cls_loss"):
            assert ours[key] == pytest.approx(reference[key], rel=LOSS_RTOL), f"iteration {step + 1}: {key}"


def test_bf16_evaluation_gives_the_fp32_ap(runs):
    """The bf16 run's checkpoint, fitted further to the 8 validation images (fp32, 20 AdamW steps on
    one batch, no augmentation: a few seconds to an AP above 0), evaluated under bf16 autocast and
    in float32: the same AP within 0.01."""
    exp = build_exp(load_train_tool().make_parser().parse_args(["-f", str(runs["exp"])]))
    exp.train_ann, exp.mosaic_prob, exp.flip_prob, exp.hsv_prob = exp.val_ann, 0.0, 0.0, 0.0
    exp.input_size = exp.test_size = (128, 128)
    model = exp.get_model()
    model.load_state_dict(read_ckpt(runs["dir"] / "bf16" / "latest_ckpt.pth")["model"])
    images, labels, *_ = next(iter(exp.get_data_loader(batch_size=8, is_distributed=False, no_aug=True)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(20):
        optimizer.zero_grad()
        model(images, labels)["total_loss"].backward()
        optimizer.step()
    evaluator = exp.get_evaluator(batch_size=8, is_distributed=False)
    fp32 = exp.eval(model, evaluator, False)
    bf16 = exp.eval(model, evaluator, False, half="bf16")  # what tools/eval.py --amp bf16 passes on
    assert fp32[0] > 0.005, f"the fitted model scores AP {fp32[0]:.4f}: nothing to compare"
    assert abs(bf16[0] - fp32[0]) < 0.01 and abs(bf16[1] - fp32[1]) < 0.01, (fp32[:2], bf16[:2])
