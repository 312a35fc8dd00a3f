"""Checkpoint files on disk: read one (weights_only, damaged-file and unsafe-file errors) and write
one atomically. The only place that calls ``torch.load`` / ``torch.save`` on a checkpoint."""
import contextlib
import pickle
import zipfile
from pathlib import Path
from typing import Union

import numpy as np
import torch
from loguru import logger

from ..atomic_io import atomic_save
from .faults import check_intact, corrupt_error, write_error

__all__ = ["read_checkpoint", "save_checkpoint", "UnsafeCheckpointError", "UNSAFE_FLAG", "UNSAFE_FLAG_HELP"]

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
