"""A ``.pth`` checkpoint run by PyTorch: the model built as the checkpoint describes it, boxes decoded
in the head (``ModelMetadata.decoded``), optionally fused, channels-last, under autocast."""
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from loguru import logger

from yolox.utils.precision import Precision

from ..metadata import ModelMetadata
from ..model_loading import load_model
from .base import resolve_metadata

__all__ = ["TorchBackend", "experiment_from_checkpoint"]


def experiment_from_checkpoint(path: Union[str, Path], *, allow_pickle: bool = False):
    """An ``Exp`` shaped by the checkpoint's own meta (depth, width, act, depthwise, num_classes,
    test_size); a clear error for a checkpoint without it (Megvii's files: give the experiment)."""
    from yolox.exp import Exp
    from yolox.utils.checkpoint import read_checkpoint
    from yolox.utils.checkpoint.layout import ARCH_FIELDS

    meta = read_checkpoint(path, allow_pickle=allow_pickle).get("meta") or {}
    missing = [key for key in ("depth", "width") if meta.get(key) is None]
    if missing:
        raise ValueError(f"{path}: the checkpoint does not record its network ({', '.join(missing)} missing: "
                         "written by Megvii's tools or an older version); pass exp= (its experiment)")
    exp = Exp()
    for key in ("num_classes", *ARCH_FIELDS):
        if meta.get(key) is not None:
            setattr(exp, key, meta[key])
    if meta.get("test_size"):
        exp.test_size = tuple(int(v) for v in meta["test_size"])
    exp.exp_name = str(meta.get("exp_name") or exp.exp_name)
    return exp


class TorchBackend:
    """path: a training checkpoint; exp: its experiment (None: built from the checkpoint's meta);
    device: "cpu", "cuda", ... (None: CUDA when available); precision: None / "fp32", "bf16" or
    "fp16" (autocast: ``Precision.resolve``; fp16 means bf16 on a CPU); fuse: fold BatchNorm;
    channels_last: None follows the experiment; class_names: override the checkpoint's."""

    name = "torch"

    def __init__(self, path: Union[str, Path], *, exp=None, device: Optional[str] = None,
                 precision: Optional[str] = None, fuse: bool = False, channels_last: Optional[bool] = None,
                 class_names: Optional[Sequence[str]] = None, allow_pickle: bool = False):
        exp = exp if exp is not None else experiment_from_checkpoint(path, allow_pickle=allow_pickle)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.precision = _precision(precision, self.device)
        loaded = load_model(exp, path, device=self.device, fuse=fuse, channels_last=channels_last,
                            allow_pickle=allow_pickle)
        self.model = loaded.model
        self.model.head.decode_in_inference = True
        self.channels_last = bool(getattr(exp, "channels_last", False) if channels_last is None else channels_last)
        found = ModelMetadata.from_checkpoint_meta(loaded.meta, class_names=loaded.class_names, decoded=True,
                                                   input_size=tuple(exp.test_size))
        found.strides = tuple(int(s) for s in self.model.head.strides)
        found.precision = self.precision.name
        self.metadata = resolve_metadata(found, source=str(path), class_names=class_names)

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        """images: [B, 3, h, w] float32 -> [B, A, 5 + C] float32 decoded."""
        tensor = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
        if self.channels_last:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        with self.precision.autocast():
            outputs = self.model(tensor)
        return outputs.float().cpu().numpy()


def _precision(request: Optional[str], device: torch.device) -> Precision:
    """``Precision.resolve`` of request ("fp32" / None: float32); CPU bfloat16 needs oneDNN."""
    if request in (None, "fp32"):
        return Precision.resolve(None, device)
    if device.type == "cpu" and not torch.backends.mkldnn.is_available():
        raise ValueError(f"precision {request!r} on the CPU needs PyTorch built with oneDNN (mkldnn); use fp32")
    precision = Precision.resolve(request, device)
    logger.info("torch backend: {} autocast on {}", precision.name, device)
    return precision
