"""The one thing backends differ in: the forward pass of a model file.

Everything around it (letterbox, decode of raw outputs, NMS, undoing the letterbox) is the
Detector's, the same code for every backend. Imports only numpy, so the ONNX Runtime backend runs
on a machine without torch.
"""
from typing import Optional, Protocol

import numpy as np

from ..metadata import ModelMetadata

__all__ = ["Backend"]


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
