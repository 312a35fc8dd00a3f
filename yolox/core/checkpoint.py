"""Training checkpoints: the full state of a run, written atomically, and the two ways back in.

Layout (Megvii-compatible keys first, so official tools read ours and we read theirs)::

    {"model": raw weights, "optimizer": ..., "start_epoch": next epoch to run,
     "ema": {"state_dict", "updates", "decay"} or None, "scaler": GradScaler state or None,
     "iteration": global iterations done, "best_ap": float, "best_epoch": int,
     "rng": {"python", "numpy", "torch", "cuda"}, "meta": what rebuilds the model without the exp}

Resume restores every piece; fine-tuning (``-c`` without ``--resume``) takes the weights whose
shape fits and lists those it skips.
"""
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from loguru import logger
from torch import nn

from yolox.deploy.checkpoint_loading import read_checkpoint
from yolox.utils.atomic_io import atomic_save

__all__ = ["capture_rng_state", "restore_rng_state", "model_meta", "save_checkpoint", "read_checkpoint",
           "load_matching_weights", "FineTuneReport"]


def capture_rng_state() -> Dict:
    """Every RNG that augmentations, multiscale and dropout draw from in this process."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Optional[Dict]) -> None:
    if not state:
        return
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def model_meta(exp, class_names: Optional[List[str]] = None) -> Dict:
    """What demo/eval/export need to rebuild the network and name its classes."""
    return {
        "num_classes": int(exp.num_classes),
        "class_names": list(class_names) if class_names else None,
        "depth": exp.depth, "width": exp.width, "act": exp.act,
        "depthwise": bool(getattr(exp, "depthwise", False)),
        "input_size": tuple(exp.input_size), "test_size": tuple(exp.test_size),
        "exp_name": exp.exp_name,
    }


def save_checkpoint(state: Dict, save_dir: Union[str, Path], name: str) -> Path:
    """``save_dir/<name>_ckpt.pth`` via temp file + rename: a kill at any moment leaves the
    previous file of that name whole."""
    path = Path(save_dir) / f"{name}_ckpt.pth"
    atomic_save(state, path)
    return path


@dataclass
class FineTuneReport:
    loaded: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)  # "key: ckpt (..) vs model (..)"
    missing: List[str] = field(default_factory=list)  # in the model, not in the checkpoint
    unexpected: List[str] = field(default_factory=list)  # in the checkpoint, not in the model


def load_matching_weights(model: nn.Module, state_dict: Dict[str, torch.Tensor], source: str = "") -> FineTuneReport:
    """Copy the tensors of ``state_dict`` whose name and shape fit ``model``; log what is skipped
    (a checkpoint with another num_classes keeps everything but the class predictions)."""
    own = model.state_dict()
    report = FineTuneReport()
    fitting = {}
    for key, value in state_dict.items():
        if key not in own:
            report.unexpected.append(key)
        elif value.shape != own[key].shape:
            report.shape_mismatch.append(f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(own[key].shape)}")
        else:
            fitting[key] = value
            report.loaded.append(key)
    report.missing = [k for k in own if k not in state_dict]
    model.load_state_dict(fitting, strict=False)
    logger.info("fine-tune from {}: loaded {} of {} tensors", source, len(report.loaded), len(own))
    if report.shape_mismatch:
        logger.warning("skipped {} tensors of another shape: {}", len(report.shape_mismatch),
                       "; ".join(report.shape_mismatch))
    if report.missing:
        logger.warning("{} model tensors not in the checkpoint, left as initialised: {}", len(report.missing),
                       ", ".join(report.missing[:10]) + (" ..." if len(report.missing) > 10 else ""))
    if report.unexpected:
        logger.warning("{} checkpoint tensors unknown to the model, ignored: {}", len(report.unexpected),
                       ", ".join(report.unexpected[:10]) + (" ..." if len(report.unexpected) > 10 else ""))
    return report
