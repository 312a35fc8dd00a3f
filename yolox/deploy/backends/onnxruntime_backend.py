"""An ONNX file run by ONNX Runtime (CPU; CUDA when the installed runtime has it). Imports only
numpy and onnxruntime: runs where torch is not installed. Its metadata is the ``"yolox"`` entry of
the file's ``metadata_props``; a file without (Megvii's export) takes its input size and fixed
batch from the graph's input shape."""
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ..metadata import METADATA_KEY, ModelMetadata
from .base import resolve_metadata

__all__ = ["OnnxRuntimeBackend"]


class OnnxRuntimeBackend:
    """path: a .onnx file; device: "cpu" (CPU provider only) or None / "cuda" (CUDA first when the
    runtime has it); precision: None / "fp32" (the file's own arithmetic); exp / class_names /
    input_size / decoded: for a file without metadata (``resolve_metadata``)."""

    name = "onnxruntime"

    def __init__(self, path: Union[str, Path], *, exp=None, device: Optional[str] = None,
                 precision: Optional[str] = None, class_names: Optional[Sequence[str]] = None,
                 input_size: Optional[Tuple[int, int]] = None, decoded: Optional[bool] = None):
        import onnxruntime

        if precision not in (None, "fp32"):
            raise ValueError(f"precision {precision!r}: ONNX Runtime runs the file's own arithmetic; export a "
                             "file in that precision instead")
        self.session = onnxruntime.InferenceSession(str(path), providers=_providers(device))
        self.input_name = self.session.get_inputs()[0].name
        found = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        graph_batch, graph_size = _graph_input(self.session.get_inputs()[0].shape)
        self.metadata = resolve_metadata(ModelMetadata.from_json(found, source=str(path)) if found else None,
                                         source=str(path), exp=exp, class_names=class_names,
                                         input_size=input_size or graph_size, decoded=decoded, batch_size=graph_batch)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """images: [B, 3, h, w] float32 -> [B, A, 5 + C] float32 (raw or decoded: metadata.decoded)."""
        outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(images, dtype=np.float32)})[0]
        return outputs.astype(np.float32, copy=False)


def _providers(device: Optional[str]) -> List[str]:
    """The execution providers for ``device``: CUDA first where asked for (or by default) and available."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    wants_cuda = device is None or str(device).startswith("cuda")
    if device is not None and wants_cuda and "CUDAExecutionProvider" not in available:
        raise ValueError(f"device {device!r}: this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
    cuda = ["CUDAExecutionProvider"] if wants_cuda and "CUDAExecutionProvider" in available else []
    return cuda + ["CPUExecutionProvider"]


def _graph_input(shape: Sequence) -> Tuple[Optional[int], Optional[Tuple[int, int]]]:
    """The graph input's [B, 3, h, w] shape -> (fixed batch or None, (h, w) or None), symbolic axes None."""
    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if len(dims) != 4:
        return None, None
    size = (dims[2], dims[3]) if dims[2] and dims[3] else None
    return dims[0], size
