"""Checkpoints have one home, ``yolox.utils.checkpoint``: it alone loads and saves checkpoint files,
and the layout it writes is the one it documents."""
import ast
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from yolox.core import Trainer
from yolox.exp import get_exp
from yolox.utils.checkpoint import (ResumeWeights, RunProgress, resume_weights, run_progress,
                                    training_checkpoint)

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "yolox" / "utils" / "checkpoint"


def _calls(path: Path, names: set) -> list:
    """The dotted callees in ``names`` that ``path`` calls or hands on (``save_fn=torch.save``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and ast.unparse(node) in names:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_only_the_checkpoint_home_loads_or_saves_with_torch():
    users = [hit for folder in ("yolox", "tools") for path in sorted((ROOT / folder).rglob("*.py"))
             for hit in _calls(path, {"torch.load", "torch.save"})]
    outside = [hit for hit in users if not hit.startswith(str(HOME.relative_to(ROOT)))
               # the atomic-write helper's default writer, used by the home's save_checkpoint
               and not hit.startswith("yolox/utils/atomic_io.py")]
    assert outside == []
    assert any(hit.startswith("yolox/utils/checkpoint/files.py") and "torch.load" in hit for hit in users)


def test_the_checkpoint_modules_are_the_home_alone():
    stray = [p.name for p in (ROOT / "yolox").rglob("*checkpoint*.py") if HOME not in p.parents]
    assert stray == []


def test_a_written_layout_reads_back_as_it_was_written():
    raw = {"w": torch.ones(2)}
    ema = {"w": torch.full((2,), 3.0)}
    progress = RunProgress(start_epoch=4, epoch_iteration=2, iteration=42, multiscale_size=(96, 128), data_seed=7,
                           best_ap=0.25, best_epoch=3)
    ckpt = training_checkpoint(weights=ResumeWeights(model=raw, ema=ema, ema_updates=9), progress=progress,
                               optimizer={}, scaler=None, rng={}, meta={"input_size": (128, 128)})
    assert ckpt["model"] is ema and ckpt["train_model"] is raw and ckpt["multiscale_size"] == [96, 128]
    assert run_progress(ckpt) == progress
    back = resume_weights(ckpt)
    assert back.model is raw and back.ema is ema and back.ema_updates == 9
    no_ema = training_checkpoint(weights=ResumeWeights(model=raw), progress=progress, optimizer={}, scaler=None,
                                 rng={}, meta={})
    assert no_ema["model"] is no_ema["train_model"] and no_ema["ema_updates"] is None


def test_progress_of_megvii_and_weights_only_files():
    megvii = run_progress({"model": {}, "optimizer": {}, "start_epoch": 300})
    assert (megvii.start_epoch, megvii.epoch_iteration, megvii.multiscale_size, megvii.best_epoch) == (300, 0, None, -1)
    assert run_progress({"model": {}}).start_epoch is None


def test_resuming_a_weights_only_file_says_so_by_name(tmp_path):
    """--resume of a file with no epoch (a bare state dict) is one error naming the file and the
    two ways on, before anything is loaded."""
    exp = get_exp(exp_name="yolox-nano")
    exp.output_dir = str(tmp_path)
    model = exp.get_model()
    bare = tmp_path / "weights_only.pth"
    torch.save(model.state_dict(), bare)
    trainer = Trainer(exp, Namespace(batch_size=2, resume=True, ckpt=str(bare)))
    with pytest.raises(ValueError, match=r"weights_only\.pth records no epoch .* with -c alone, or .* -e"):
        trainer.load_start_checkpoint(model)
