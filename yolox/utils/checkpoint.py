"""Checkpoint files: read one, choose the weights to run from it, load weights into a model, write one.

Used by training (resume, fine-tune, saving), evaluation, the demo and export; building a model
*from* an experiment and a checkpoint is ``yolox.exp.checkpoint_model``. ``load_ckpt`` and
``save_checkpoint`` keep Megvii's names, signatures and meaning.
"""
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Union

import torch
from loguru import logger
from torch import nn

from .atomic_io import atomic_save

__all__ = ["read_checkpoint", "checkpoint_weights", "infer_num_classes", "load_matching_weights", "load_exact_weights",
           "FineTuneReport", "load_ckpt", "save_checkpoint"]

CLS_PRED_KEY = "head.cls_preds.0.weight"  # [num_classes, hidden, 1, 1] in every YOLOX size


def read_checkpoint(path: Union[str, Path]) -> dict:
    """The checkpoint dict of ``path`` on the CPU; a bare state dict is wrapped as ``{"model": ...}``.

    Loads with ``weights_only=True`` first; a checkpoint holding other Python objects (the
    trainer's RNG states) is then loaded fully, which runs pickle code: only load trusted files.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        logger.info("checkpoint {} holds more than tensors; loading it with full unpickling", path)
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(ckpt, dict) and "model" not in ckpt and ckpt and all(
            isinstance(v, torch.Tensor) for v in ckpt.values()):
        ckpt = {"model": ckpt}
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise KeyError(f"checkpoint {str(path)!r} has no 'model' state dict (found: {found})")
    return ckpt


def checkpoint_weights(ckpt: dict, *, prefer_ema: bool = True) -> Dict[str, torch.Tensor]:
    """The weights to run: the EMA weights when the checkpoint keeps them apart from the raw model
    (they are what training evaluated and chose the best checkpoint by), else ``ckpt["model"]``."""
    ema = ckpt.get("ema")
    if prefer_ema and isinstance(ema, dict):
        state = ema.get("state_dict", ema.get("model", ema))
        if isinstance(state, dict) and state.keys() == ckpt["model"].keys():
            return state
    return ckpt["model"]


def infer_num_classes(state_dict: Dict[str, torch.Tensor], source: str = "checkpoint") -> int:
    """num_classes from the first level's class-prediction conv ([C, hidden, 1, 1])."""
    weight = state_dict.get(CLS_PRED_KEY)
    if weight is None:
        raise KeyError(f"{source}: no {CLS_PRED_KEY!r} tensor, so this is not a YOLOX checkpoint "
                       f"(first keys: {list(state_dict)[:3]})")
    return int(weight.shape[0])


@dataclass
class FineTuneReport:
    loaded: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)  # "key: ckpt (..) vs model (..)"
    missing: List[str] = field(default_factory=list)  # in the model, not in the checkpoint
    unexpected: List[str] = field(default_factory=list)  # in the checkpoint, not in the model


def _compare(model: nn.Module, state_dict: Dict[str, torch.Tensor]) -> FineTuneReport:
    """Which tensors of ``state_dict`` fit ``model`` by name and shape, and which do not."""
    own = model.state_dict()
    report = FineTuneReport()
    for key, value in state_dict.items():
        if key not in own:
            report.unexpected.append(key)
        elif value.shape != own[key].shape:
            report.shape_mismatch.append(f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(own[key].shape)}")
        else:
            report.loaded.append(key)
    report.missing = [k for k in own if k not in state_dict]
    return report


def load_matching_weights(model: nn.Module, state_dict: Dict[str, torch.Tensor], source: str = "") -> FineTuneReport:
    """Copy the tensors of ``state_dict`` whose name and shape fit ``model``; log what is skipped
    (a checkpoint with another num_classes keeps everything but the class predictions)."""
    report = _compare(model, state_dict)
    model.load_state_dict({key: state_dict[key] for key in report.loaded}, strict=False)
    logger.info("fine-tune from {}: loaded {} of {} tensors", source, len(report.loaded), len(model.state_dict()))
    if report.shape_mismatch:
        logger.warning("skipped {} tensors of another shape: {}", len(report.shape_mismatch),
                       "; ".join(report.shape_mismatch))
    if report.missing:
        logger.warning("{} model tensors not in the checkpoint, left as initialised: {}", len(report.missing),
                       _first_ten(report.missing))
    if report.unexpected:
        logger.warning("{} checkpoint tensors unknown to the model, ignored: {}", len(report.unexpected),
                       _first_ten(report.unexpected))
    return report


def _first_ten(keys: List[str]) -> str:
    return ", ".join(keys[:10]) + (" ..." if len(keys) > 10 else "")


def load_exact_weights(model: nn.Module, state_dict: Dict[str, torch.Tensor], source: str) -> None:
    """Strict load with one readable error listing what does not fit."""
    report = _compare(model, state_dict)
    missing, unexpected, mismatched = report.missing, report.unexpected, report.shape_mismatch
    if missing or unexpected or mismatched:
        raise ValueError(
            f"checkpoint {source} does not fit the experiment's model: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}), "
            f"{len(mismatched)} of another shape (e.g. {mismatched[:3]}); is -f/-n the experiment "
            "it was trained with?")
    model.load_state_dict(state_dict)


def load_ckpt(model: nn.Module, ckpt: Dict[str, torch.Tensor]) -> nn.Module:
    """Megvii's ``load_ckpt``: load the tensors of the state dict ``ckpt`` that fit ``model`` by name
    and shape, warn about the rest, and return ``model``."""
    load_matching_weights(model, ckpt, source="state dict")
    return model


def save_checkpoint(state: dict, is_best: bool, save_dir: Union[str, Path], model_name: str = "") -> Path:
    """Megvii's ``save_checkpoint``: write ``save_dir/<model_name>_ckpt.pth`` and, when ``is_best``,
    the same state as ``save_dir/best_ckpt.pth``. Each file is written to a temp file and renamed
    over the target, so a kill at any moment leaves the previous file of that name whole.
    Returns the path of ``<model_name>_ckpt.pth``."""
    path = Path(save_dir) / f"{model_name}_ckpt.pth"
    atomic_save(state, path)
    if is_best:
        atomic_save(state, Path(save_dir) / "best_ckpt.pth")
    return path
