"""The one thing backends differ in: the forward pass of a model file.

Everything around it (letterbox, decode of raw outputs, NMS, undoing the letterbox) is the
Detector's, the same code for every backend. Imports only numpy, so the ONNX Runtime backend runs
on a machine without torch.
"""
from dataclasses import replace
from typing import Optional, Protocol, Sequence, Tuple

import numpy as np

from ..metadata import ModelMetadata

__all__ = ["Backend", "resolve_metadata"]


class Backend(Protocol):
    """A loaded model file.

    ``name``: "torch", "torchscript", "onnxruntime", "openvino"; ``metadata``: what the file says
    about itself (classes, input size, decoded or raw, fixed batch).
    """

    name: str
    metadata: ModelMetadata

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """images: [B, 3, h, w] float32 letterboxed (h, w = metadata.input_size) ->
        [B, A, 5 + C] float32 as the file computes it (raw offsets or decoded: metadata.decoded).
        A file with a fixed batch is called batch_size images at a time by the caller."""
        ...


def resolve_metadata(found: Optional[ModelMetadata], *, source: str, exp=None,
                     class_names: Optional[Sequence[str]] = None, input_size: Optional[Tuple[int, int]] = None,
                     decoded: Optional[bool] = None, batch_size: Optional[int] = None) -> ModelMetadata:
    """The metadata a backend runs with: the file's own (``found``) with ``class_names`` / ``decoded``
    given explicitly taking precedence; for a file without (exported by Megvii's tools) built from
    ``exp`` (its test_size and class names) or the explicit values, boxes raw unless ``decoded``."""
    if found is not None:
        changes = {"class_names": list(class_names)} if class_names is not None else {}
        changes.update({"decoded": bool(decoded)} if decoded is not None else {})
        return replace(found, **changes) if changes else found
    names = list(class_names) if class_names is not None else _experiment_names(exp)
    size = input_size if input_size is not None else getattr(exp, "test_size", None)
    if names is None or size is None:
        missing = " and ".join(w for w, v in (("class_names=", names), ("input_size=(h, w)", size)) if v is None)
        raise ValueError(f"{source} carries no yolox metadata (exported by another tool or an older version): "
                         f"pass exp= (the experiment it was trained with) or {missing}, or re-export it with "
                         "tools/export_onnx.py / tools/export_torchscript.py")
    return ModelMetadata(class_names=names, input_size=(int(size[0]), int(size[1])), decoded=bool(decoded),
                         batch_size=batch_size, exp_name=str(getattr(exp, "exp_name", "") or ""))


def _experiment_names(exp) -> Optional[list]:
    """The class names of ``exp`` (as demo and eval name them), or None without an experiment."""
    if exp is None:
        return None
    from ..model_loading import resolve_class_names  # an experiment means torch is installed

    names, _ = resolve_class_names(meta={}, exp=exp, num_classes=int(exp.num_classes))
    return names
