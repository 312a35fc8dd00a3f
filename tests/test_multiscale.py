"""Multiscale training: one object (``yolox.data.Multiscale``) the trainer owns; the experiment's
``input_size`` is its base, ``Multiscale.size`` (checkpoint key "multiscale_size") the size in use;
Megvii's ``Exp.random_resize`` / ``Exp.preprocess`` hooks still decide when an experiment overrides them."""
import random
from argparse import Namespace

import pytest
import torch

from yolox.core import Trainer
from yolox.data import Multiscale
from yolox.exp import get_exp
from yolox.utils.checkpoint import run_progress

from _train_helpers import make_tiny_sample, read_ckpt, write_exp


def test_draws_stay_on_the_stride_grid_around_the_base_with_its_aspect():
    random.seed(0)
    policy = Multiscale(base_size=(320, 480), multiscale_range=2)
    sizes = {policy.draw() for _ in range(300)}
    assert sizes == {(32 * f, 32 * int(f * 1.5)) for f in range(8, 13)}
    assert policy.size == (320, 480)  # drawing does not change the size in use
    assert {Multiscale(base_size=(640, 640), random_size=(10, 11)).draw() for _ in range(50)} == {(320, 320),
                                                                                                   (352, 352)}


def test_a_new_size_is_due_every_ten_iterations():
    policy = Multiscale(base_size=(64, 64))
    assert [n for n in range(0, 35) if policy.due(n)] == [10, 20, 30]


def test_resize_scales_images_and_cx_cy_w_h_labels_from_the_base_to_the_current_size():
    policy = Multiscale(base_size=(64, 64))
    images = torch.rand(2, 3, 64, 64)
    labels = torch.tensor([[[1.0, 32.0, 16.0, 8.0, 4.0]]]).repeat(2, 1, 1)
    same_images, same_labels = policy.resize(images, labels.clone())
    assert same_images is images and torch.equal(same_labels, labels)
    policy.size = (96, 128)
    out_images, out_labels = policy.resize(images, labels.clone())
    assert out_images.shape == (2, 3, 96, 128)
    assert out_labels[0, 0].tolist() == [1.0, 64.0, 24.0, 16.0, 6.0]  # class kept, x * 2, y * 1.5


def test_the_experiment_hooks_delegate_to_its_multiscale_policy():
    exp = get_exp(exp_name="yolox-nano")  # random_size (10, 20)
    assert exp.get_multiscale().base_size == tuple(exp.input_size)
    random.seed(1)
    sizes = {exp.random_resize(None, 0, 0, False) for _ in range(200)}
    assert sizes == {(32 * f, 32 * f) for f in range(10, 21)}
    images, labels = exp.preprocess(torch.rand(1, 3, 416, 416), torch.tensor([[[0.0, 208, 208, 20, 20]]]), (320, 320))
    assert images.shape[-2:] == (320, 320) and labels[0, 0, 1].item() == pytest.approx(160.0)


# Megvii-style overrides: the size hook returns a fixed size; the resize hook records what the
# trainer asks for and what it returns.
MEGVII_HOOKS = """

    def random_resize(self, data_loader, epoch, rank, is_distributed):
        return (96, 96)

    def preprocess(self, inputs, targets, tsize):
        inputs, targets = super().preprocess(inputs, targets, tsize)
        self.asked.append(tuple(tsize))
        self.got.append(tuple(inputs.shape[-2:]))
        return inputs, targets
"""


def _exp_with_hooks(tmp_path, sample_dir):
    """3 epochs of 4 iterations: the size changes after the 10th."""
    path = write_exp(tmp_path / "hooks.py", data_dir=sample_dir, output_dir=tmp_path / "out",
                     extra="self.max_epoch = 3\nself.asked, self.got = [], []\n")
    path.write_text(path.read_text() + MEGVII_HOOKS)
    return get_exp(str(path))


@pytest.mark.slow
def test_an_experiment_overriding_megviis_hooks_drives_the_trainers_sizes(tmp_path):
    """The trainer asks the experiment's random_resize for each new size and its preprocess for each
    batch, with a script-made Namespace holding only some of tools/train.py's flags."""
    exp = _exp_with_hooks(tmp_path, make_tiny_sample(tmp_path / "data"))
    trainer = Trainer(exp, Namespace(batch_size=4))
    trainer.train()
    assert exp.asked == [(128, 128)] * 10 + [(96, 96)] * 2
    assert exp.got == exp.asked
    ckpt = read_ckpt(tmp_path / "out" / "hooks" / "latest_ckpt.pth")
    assert ckpt["multiscale_size"] == [96, 96]  # the size in use ...
    assert tuple(ckpt["meta"]["input_size"]) == (128, 128)  # ... and the experiment's base, apart
    assert "input_size" not in ckpt


@pytest.mark.slow
def test_a_checkpoint_of_the_earlier_layout_resumes_at_its_multiscale_size(tmp_path):
    sample_dir = make_tiny_sample(tmp_path / "data")
    exp_file = write_exp(tmp_path / "tiny.py", data_dir=sample_dir, output_dir=tmp_path / "out",
                         extra="self.max_epoch = 1\n")
    Trainer(get_exp(str(exp_file)), Namespace(batch_size=4)).train()
    ckpt = read_ckpt(tmp_path / "out" / "tiny" / "latest_ckpt.pth")
    ckpt["input_size"] = [64, 96]  # the earlier project's key for the multiscale size
    del ckpt["multiscale_size"]
    old = tmp_path / "earlier.pth"
    torch.save(ckpt, old)
    assert run_progress(ckpt).multiscale_size == (64, 96)

    exp = get_exp(str(exp_file))
    exp.max_epoch = 2
    trainer = Trainer(exp, Namespace(batch_size=4, resume=True, ckpt=str(old)))
    trainer.before_train()
    try:
        assert trainer.multiscale.size == (64, 96) and trainer.start_epoch == 1
        assert trainer.multiscale.base_size == (128, 128)
    finally:
        trainer.after_train()
