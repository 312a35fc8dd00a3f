"""A TorchScript file (``tools/export_torchscript.py``) run by ``torch.jit``; its metadata is the
``yolox.json`` extra file the exporter writes."""
import warnings
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..metadata import ModelMetadata
from .base import resolve_metadata

__all__ = ["TORCHSCRIPT_METADATA_FILE", "TorchScriptBackend"]

TORCHSCRIPT_METADATA_FILE = "yolox.json"


class TorchScriptBackend:
    """path: a saved ScriptModule; device: None for CUDA when available; precision: fp32 only;
    exp / class_names / input_size / decoded: for a file without metadata (``resolve_metadata``)."""

    name = "torchscript"

    def __init__(self, path: Union[str, Path], *, exp=None, device: Optional[str] = None,
                 precision: Optional[str] = None, class_names: Optional[Sequence[str]] = None,
                 input_size: Optional[Tuple[int, int]] = None, decoded: Optional[bool] = None):
        if precision not in (None, "fp32"):
            raise ValueError(f"precision {precision!r}: the TorchScript backend runs the file as saved (fp32); "
                             "run the .pth checkpoint for bf16 / fp16 autocast")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        extra = {TORCHSCRIPT_METADATA_FILE: ""}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
            self.module = torch.jit.load(str(path), map_location=self.device, _extra_files=extra)
        text = extra[TORCHSCRIPT_METADATA_FILE]
        found = ModelMetadata.from_json(text, source=str(path)) if text else None
        self.metadata = resolve_metadata(found, source=str(path), exp=exp, class_names=class_names,
                                         input_size=input_size, decoded=decoded)

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        """images: [B, 3, h, w] float32 -> [B, A, 5 + C] float32 (raw or decoded: metadata.decoded)."""
        outputs = self.module(torch.from_numpy(np.ascontiguousarray(images)).to(self.device))
        return outputs.float().cpu().numpy()
