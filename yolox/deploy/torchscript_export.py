"""TorchScript export by tracing, and a check of the saved module against eager PyTorch.

torch.jit is deprecated upstream (in favour of torch.export) but works through torch 2.14, the
version this project caps at; its FutureWarnings are silenced here, not elsewhere.
"""
import io
import warnings
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import torch
from loguru import logger
from torch import nn

from yolox.utils.atomic_io import atomic_write_bytes

from .export_check import ExportCheck, compare_outputs
from .metadata import ModelMetadata

__all__ = ["export_torchscript", "check_torchscript"]


def export_torchscript(model: nn.Module, output_path: Union[str, Path], *, input_size: Tuple[int, int],
                       batch_size: int = 1, metadata: Optional[ModelMetadata] = None) -> Path:
    """Trace ``model`` (eval mode, CPU) on a [batch_size, 3, h, w] input and save it, ``metadata``
    (what ``Detector`` needs) as its extra file ``yolox.json``.

    The anchor grid depends only on h and w, so the traced module accepts any batch size at
    this input size (the check runs batch 1 and 2).
    """
    model = model.eval()
    dummy = torch.zeros(batch_size, 3, *input_size)
    with torch.no_grad(), warnings.catch_warnings():
        # Python-side shape checks in forward are constant for a fixed input size; that is intended.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        traced = torch.jit.trace(model, dummy, check_trace=False)  # check_torchscript compares
        buffer = io.BytesIO()
        extra = {"yolox.json": metadata.to_json()} if metadata is not None else {}
        torch.jit.save(traced, buffer, _extra_files=extra)
    atomic_write_bytes(buffer.getvalue(), output_path)
    logger.info("wrote {} (TorchScript, traced at {}x{})", output_path, *input_size)
    return Path(output_path)


@torch.no_grad()
def check_torchscript(path: Union[str, Path], reference: np.ndarray, images: np.ndarray) -> ExportCheck:
    """Load the saved module and compare its output on ``images`` with the eager ``reference``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        module = torch.jit.load(str(path), map_location="cpu")
    output = module(torch.from_numpy(images)).numpy()
    return compare_outputs(reference, output, runtime="TorchScript")
