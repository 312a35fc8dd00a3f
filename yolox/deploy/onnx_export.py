"""ONNX export of a YOLOX model, optional graph simplification, and an onnxruntime check.

Uses PyTorch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``): it needs
nothing beyond ``onnx`` and works offline, where the newer torch.export-based one also needs
onnxscript. Simplification uses onnxslim (pure Python, in requirements.txt).
"""
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import torch
from loguru import logger
from torch import nn

from yolox.utils.atomic_io import atomic_write_bytes

from .export_check import ExportCheck, compare_outputs
from .metadata import METADATA_KEY, ModelMetadata

__all__ = ["OnnxExportSettings", "export_onnx", "simplify_onnx", "with_metadata", "read_onnx_metadata",
           "run_onnxruntime", "check_onnx"]


@dataclass
class OnnxExportSettings:
    """What the exported graph looks like. ``dynamic`` makes the batch axis symbolic; otherwise
    the graph is fixed to ``batch_size``."""

    input_size: Tuple[int, int]  # (height, width)
    batch_size: int = 1
    dynamic: bool = False
    opset: int = 11
    input_name: str = "images"
    output_name: str = "output"
    simplify: bool = True


def export_onnx(model: nn.Module, output_path: Union[str, Path], settings: OnnxExportSettings,
                metadata: Optional[ModelMetadata] = None) -> Path:
    """Write ``model`` (eval mode, CPU) as ONNX with input [B, 3, h, w] and output [B, A, 5 + C],
    ``metadata`` (what ``Detector`` needs) in the file's ``metadata_props["yolox"]``."""
    model = model.eval()
    dummy = torch.zeros(settings.batch_size, 3, *settings.input_size)
    axes = ({settings.input_name: {0: "batch"}, settings.output_name: {0: "batch"}} if settings.dynamic else None)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Python-side shape checks in forward are constant for a fixed input size; that is intended.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # The TorchScript-based exporter is deprecated upstream but kept through torch 2.14 (our cap).
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(model, (dummy,), buffer, dynamo=False, opset_version=settings.opset,
                          input_names=[settings.input_name], output_names=[settings.output_name],
                          dynamic_axes=axes)
    data = buffer.getvalue()
    if settings.simplify:
        data = simplify_onnx(data)
    if metadata is not None:
        data = with_metadata(data, metadata)
    atomic_write_bytes(data, output_path)
    logger.info("wrote {} ({:.1f} MB, opset {}, batch {})", output_path, len(data) / 1e6, settings.opset,
                "dynamic" if settings.dynamic else settings.batch_size)
    return Path(output_path)


def simplify_onnx(data: bytes) -> bytes:
    """The serialized model after onnxslim's constant folding and graph clean-up (same outputs)."""
    import onnx
    import onnxslim

    return onnxslim.slim(onnx.load_from_string(data)).SerializeToString()


def with_metadata(data: bytes, metadata: ModelMetadata) -> bytes:
    """The serialized model with ``metadata`` as its ``metadata_props["yolox"]`` (replacing any)."""
    import onnx

    proto = onnx.load_from_string(data)
    props = {p.key: p.value for p in proto.metadata_props if p.key != METADATA_KEY}
    props[METADATA_KEY] = metadata.to_json()
    onnx.helper.set_model_props(proto, props)
    return proto.SerializeToString()


def read_onnx_metadata(path: Union[str, Path]) -> Optional[ModelMetadata]:
    """The ``"yolox"`` metadata of an ONNX file, or None when it has none."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    text = next((p.value for p in proto.metadata_props if p.key == METADATA_KEY), None)
    return ModelMetadata.from_json(text, source=str(path)) if text else None


def run_onnxruntime(path: Union[str, Path], images: np.ndarray, input_name: Optional[str] = None) -> np.ndarray:
    """The exported model's output on ``images`` [B, 3, h, w] float32 with onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = input_name or session.get_inputs()[0].name
    return session.run(None, {name: images.astype(np.float32)})[0]


def check_onnx(path: Union[str, Path], reference: np.ndarray, images: np.ndarray,
               input_name: Optional[str] = None) -> ExportCheck:
    """Compare onnxruntime's output on ``images`` with the PyTorch ``reference`` output."""
    return compare_outputs(reference, run_onnxruntime(path, images, input_name), runtime="onnxruntime")
