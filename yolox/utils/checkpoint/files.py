"""Checkpoint files: read one, choose the weights to run from it, load weights into a model, write one.

Used by training (resume, fine-tune, saving), evaluation, the demo and export; building a model
*from* an experiment and a checkpoint is ``yolox.exp.checkpoint_model``. ``load_ckpt`` and
``save_checkpoint`` keep Megvii's names, signatures and meaning.

Layouts read (the trainer writes the first; what else it holds: ``yolox.core.checkpoint``)::

    this project      {"model": weights to run (EMA when training kept one), "train_model": raw
                       training weights, "ema_updates": int or None (None: no EMA), ...}
    earlier project   {"model": raw weights, "ema": {"state_dict": EMA weights, "updates", "decay"} or None, ...}
    Megvii            {"model": weights to run (EMA), "optimizer", "start_epoch"}
    bare state dict   {"backbone.backbone.stem...": tensor, ...}

Every layout answers the same two questions: which weights to run (``checkpoint_weights``) and what
a resume restores (``resume_weights``).
"""
import contextlib
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from loguru import logger
from torch import nn

from .atomic_io import atomic_save
from .checkpoint_faults import (CheckpointFileError, CheckpointWriteError, CorruptCheckpointError, check_intact,
                                corrupt_error, write_error)

__all__ = ["read_checkpoint", "UnsafeCheckpointError", "CheckpointFileError", "CheckpointWriteError",
           "CorruptCheckpointError", "UNSAFE_FLAG", "UNSAFE_FLAG_HELP", "checkpoint_weights",
           "ResumeWeights", "resume_weights", "infer_num_classes", "load_matching_weights", "load_exact_weights",
           "FineTuneReport", "load_ckpt", "save_checkpoint"]

CLS_PRED_KEY = "head.cls_preds.0.weight"  # [num_classes, hidden, 1, 1] in every YOLOX size
UNSAFE_FLAG = "--unsafe-load"  # the tools' name for allow_pickle=True
UNSAFE_FLAG_HELP = ("load a checkpoint holding Python objects beyond tensors (an old or third-party file) with full "
                    "unpickling, which runs code stored in it: only for files you trust")

# Plain numpy arrays and scalars, as the earlier project's checkpoints stored numpy's RNG state:
# rebuilding them runs no stored code, so those files stay loadable with weights_only=True. Taken
# from the pickling functions themselves, so the names fit the installed numpy (1.x or 2.x).
_NUMPY_DATA_GLOBALS = [np.zeros(0).__reduce__()[0], np.float64(0).__reduce__()[0], np.ndarray, np.dtype,
                       *(type(np.dtype(t)) for t in (np.uint32, np.int64, np.float32, np.float64))]


def _numpy_data_allowed():
    """Context allowing ``_NUMPY_DATA_GLOBALS`` in weights_only loads (torch < 2.5: allows nothing more)."""
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    return safe_globals(_NUMPY_DATA_GLOBALS) if safe_globals else contextlib.nullcontext()


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds Python objects beyond tensors and plain data; loading it would run code
    stored in the file, which happens only when the caller allows it."""


def read_checkpoint(path: Union[str, Path], *, allow_pickle: bool = False) -> dict:
    """The checkpoint dict of ``path`` on the CPU; a bare state dict is wrapped as ``{"model": ...}``.

    Loads with ``weights_only=True`` (tensors and plain Python data: nothing in the file runs). A
    file holding other objects raises ``UnsafeCheckpointError`` naming it, unless ``allow_pickle``
    (the tools' ``--unsafe-load``), which loads it fully with a warning: only for trusted files.
    A truncated or damaged file raises ``CorruptCheckpointError`` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    check_intact(path)
    try:
        with _numpy_data_allowed():
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except EOFError as err:  # a legacy-format file cut short (the zip format is checked above)
        raise corrupt_error(path, "it ends early") from err
    except pickle.UnpicklingError as err:
        if not allow_pickle:
            raise UnsafeCheckpointError(
                f"checkpoint {str(path)!r} holds Python objects beyond tensors and plain data, and loading them "
                f"runs code stored in the file{_unsafe_globals(path)}; if you trust the file, pass {UNSAFE_FLAG} "
                "(allow_pickle=True)") from err
        logger.warning("loading checkpoint {} with full unpickling ({}): code stored in it runs; only do this "
                       "with files you trust", path, UNSAFE_FLAG)
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(ckpt, dict) and "model" not in ckpt and ckpt and all(
            isinstance(v, torch.Tensor) for v in ckpt.values()):
        ckpt = {"model": ckpt}
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise KeyError(f"checkpoint {str(path)!r} has no 'model' state dict (found: {found})")
    return ckpt


def _unsafe_globals(path: Path) -> str:
    """The Python objects a weights_only load of ``path`` refuses, as " (it needs: a.B, c.D)"; empty
    where this torch cannot list them."""
    lister = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if lister is None or not zipfile.is_zipfile(path):  # it reads torch's zip format only, not the legacy one
        return ""
    allowed = {f"{g.__module__}.{g.__qualname__}" for g in _NUMPY_DATA_GLOBALS}
    names = [name for name in lister(path) if name not in allowed]
    return f" (it needs: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''})" if names else ""


def _earlier_ema(ckpt: dict) -> Optional[dict]:
    """The EMA entry of the earlier project's layout ({"state_dict", "updates", ...}), else None."""
    ema = ckpt.get("ema")
    if "train_model" in ckpt or not isinstance(ema, dict):
        return None
    state = ema.get("state_dict")
    return ema if isinstance(state, dict) and state.keys() == ckpt["model"].keys() else None


def checkpoint_weights(ckpt: dict, *, prefer_ema: bool = True) -> Dict[str, torch.Tensor]:
    """The weights to run: ``ckpt["model"]``, except in the earlier project's layout, whose EMA
    weights (those training evaluated and chose the best checkpoint by) sat under ``"ema"``.
    ``prefer_ema=False``: the raw training weights where the file keeps them apart."""
    earlier = _earlier_ema(ckpt)
    if prefer_ema:
        return earlier["state_dict"] if earlier else ckpt["model"]
    return ckpt["model"] if earlier else ckpt.get("train_model", ckpt["model"])


@dataclass
class ResumeWeights:
    """What a resumed run restores into its model and EMA."""

    model: Dict[str, torch.Tensor]  # the raw training weights
    ema: Optional[Dict[str, torch.Tensor]] = None  # None: the file kept no EMA apart (Megvii, bare, EMA off)
    ema_updates: Optional[int] = None  # EMA updates done; None: unknown


def resume_weights(ckpt: dict) -> ResumeWeights:
    """The raw weights, EMA weights and EMA update count of any layout (see the module docstring).
    A Megvii file keeps only its EMA weights under "model": they become the raw weights too."""
    earlier = _earlier_ema(ckpt)
    if earlier:
        return ResumeWeights(model=ckpt["model"], ema=earlier["state_dict"], ema_updates=int(earlier["updates"]))
    if "train_model" in ckpt and ckpt.get("ema_updates") is not None:
        return ResumeWeights(model=ckpt["train_model"], ema=ckpt["model"], ema_updates=int(ckpt["ema_updates"]))
    return ResumeWeights(model=ckpt.get("train_model", ckpt["model"]))


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
    A write the file system refuses (disk full, read-only folder) raises ``CheckpointWriteError``
    naming the file and the reason, with no temp file left. Returns the path of ``<model_name>_ckpt.pth``."""
    path = Path(save_dir) / f"{model_name}_ckpt.pth"
    _save_or_explain(state, path)
    if is_best:
        _save_or_explain(state, Path(save_dir) / "best_ckpt.pth")
    return path


def _save_or_explain(state: dict, path: Path) -> None:
    existed = path.is_file()
    try:
        atomic_save(state, path)
    except OSError as err:
        raise write_error(path, err, existed=existed) from err
