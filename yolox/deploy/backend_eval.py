"""COCO evaluation of an exported file: any Backend (see backends/base.py) in the place of the
PyTorch model, through the experiment's own evaluator (its loader, letterbox, NMS and scorer), so
the figures of a file and of its checkpoint are comparable number for number."""
from typing import Tuple

import numpy as np
import torch
from torch import nn

from yolox.models.anchors import anchor_grid

from .backends.base import Backend

__all__ = ["BackendModel", "evaluate_backend"]


class BackendModel(nn.Module):
    """``backend`` as an eval-mode model: images [B, 3, h, w] -> [B, A, 5 + C] with boxes decoded to
    cx, cy, w, h in input pixels (raw offsets are decoded here, as the head does). A file with a
    fixed batch is fed ``batch_size`` images at a time, the last chunk padded."""

    def __init__(self, backend: Backend):
        super().__init__()
        self.backend = backend
        # The evaluators read the device from the model's parameters: one empty CPU tensor.
        self.register_parameter("_device_marker", nn.Parameter(torch.zeros(0), requires_grad=False))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch = images.detach().cpu().float().numpy()
        fixed = self.backend.metadata.batch_size
        step = fixed or len(batch)
        outputs = []
        for start in range(0, len(batch), step):
            chunk = batch[start:start + step]
            padded = np.concatenate([chunk, np.zeros((step - len(chunk),) + chunk.shape[1:], np.float32)])
            outputs.append(self.backend(padded)[:len(chunk)])
        output = torch.from_numpy(np.concatenate(outputs))
        if self.backend.metadata.decoded:
            return output
        return _decode(output, tuple(self.backend.metadata.input_size), self.backend.metadata.strides)


def _decode(raw: torch.Tensor, input_size: Tuple[int, int], strides: Tuple[int, ...]) -> torch.Tensor:
    """[B, A, 5 + C] dx, dy, log w, log h -> cx, cy, w, h in input pixels (YOLOXHead.decode_outputs)."""
    level_shapes = [(input_size[0] // s, input_size[1] // s) for s in strides]
    grid, stride = anchor_grid(level_shapes, strides, dtype=raw.dtype)
    centres = (raw[..., :2] + grid) * stride[:, None]
    sizes = torch.exp(raw[..., 2:4]) * stride[:, None]
    return torch.cat([centres, sizes, raw[..., 4:]], dim=-1)


def evaluate_backend(exp, backend: Backend, *, batch_size: int = 1, testdev: bool = False,
                     return_outputs: bool = False) -> tuple:
    """(ap50_95, ap50, summary) of ``backend`` on ``exp``'s eval split, as tools/eval.py scores a
    checkpoint (plus the evaluator's per-image outputs when ``return_outputs``). The file's input
    size must be ``exp.test_size`` (the loader letterboxes to it)."""
    size = tuple(int(v) for v in exp.test_size)
    if tuple(backend.metadata.input_size) != size:
        raise ValueError(f"the file takes {tuple(backend.metadata.input_size)} images, the experiment evaluates at "
                         f"{size}: pass --tsize {backend.metadata.input_size[0]} or export at {size}")
    evaluator = exp.get_evaluator(batch_size, False, testdev=testdev, legacy=backend.metadata.legacy)
    return evaluator.evaluate(BackendModel(backend), return_outputs=return_outputs)
