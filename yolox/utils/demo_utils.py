"""Numpy post-processing for runtimes without torch (ONNX Runtime, OpenVINO, ...): decode the raw
head output, NMS, and a directory helper. Megvii YOLOX's ``yolox.utils`` names.

Imports only the standard library and numpy, so the torch-free ONNX Runtime demo
(demo/onnxruntime/onnx_inference.py) can load this file on its own. The torch counterparts are
``YOLOXHead``'s decode and ``yolox.utils.boxes.postprocess``.
"""
import os
from typing import List, Optional, Sequence

import numpy as np

__all__ = ["mkdir", "nms", "multiclass_nms", "demo_postprocess"]


def mkdir(path: str) -> None:
    """Create directory ``path`` (and its parents) unless it exists."""
    os.makedirs(path, exist_ok=True)


def nms(boxes: np.ndarray, scores: np.ndarray, nms_thr: float, *, inclusive: bool = True) -> List[int]:
    """Greedy single-class NMS. boxes: [N, 4] x1, y1, x2, y2; scores: [N].

    Returns the indices kept, best score first: a box is dropped when its IoU with a kept,
    higher-scoring box exceeds ``nms_thr``. ``inclusive`` (Megvii's numpy NMS) counts whole pixels,
    a box spanning ``x2 - x1 + 1`` of them; ``inclusive=False`` measures continuous coordinates
    like torchvision's NMS behind ``postprocess``, which makes the IoU independent of the scale.
    """
    one = 1.0 if inclusive else 0.0
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1 + one) * (y2 - y1 + one)
    order = np.argsort(-scores, kind="stable")
    keep: List[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        inter_w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + one)
        inter_h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + one)
        inter = inter_w * inter_h
        iou = inter / (areas[best] + areas[rest] - inter)
        order = rest[iou <= nms_thr]
    return keep


def _detections(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, nms_thr: float, *,
                inclusive: bool) -> np.ndarray:
    """NMS over one group of candidates -> [K, 6] x1, y1, x2, y2, score, class."""
    keep = nms(boxes, scores, nms_thr, inclusive=inclusive)
    return np.concatenate([boxes[keep], scores[keep, None], classes[keep, None].astype(boxes.dtype)], axis=1)


def multiclass_nms(boxes: np.ndarray, scores: np.ndarray, nms_thr: float, score_thr: float,
                   class_agnostic: bool = True, *, inclusive: bool = True) -> Optional[np.ndarray]:
    """NMS of boxes [N, 4] x1, y1, x2, y2 scored per class by scores [N, C].

    class_agnostic (Megvii's default): each box keeps only its best class, and boxes of different
    classes suppress each other. Otherwise every (box, class) pair scoring above ``score_thr`` is a
    candidate and NMS runs within each class. Returns [K, 6] x1, y1, x2, y2, score, class (classes
    in ascending order when class-aware), or None when no score exceeds ``score_thr``.
    ``inclusive``: the IoU convention of ``nms`` (False: torchvision's, as ``postprocess``).
    """
    if class_agnostic:
        classes = scores.argmax(axis=1)
        best = scores[np.arange(len(classes)), classes]
        valid = best > score_thr
        if not valid.any():
            return None
        return _detections(boxes[valid], best[valid], classes[valid], nms_thr, inclusive=inclusive)
    per_class = []
    for cls in range(scores.shape[1]):
        valid = scores[:, cls] > score_thr
        if valid.any():
            per_class.append(_detections(boxes[valid], scores[valid, cls], np.full(int(valid.sum()), cls), nms_thr,
                                         inclusive=inclusive))
    return np.concatenate(per_class, axis=0) if per_class else None


def demo_postprocess(outputs: np.ndarray, img_size: Sequence[int], p6: bool = False, *,
                     strides: Optional[Sequence[int]] = None) -> np.ndarray:
    """Decode the raw head output of a model exported without decoding, in place.

    outputs: [B, A, 5 + C] with, per anchor, (dx, dy, log w, log h) in grid units then objectness
    and class scores (already sigmoided); anchors ordered level by level (``strides``, default
    8, 16, 32, plus 64 when ``p6``), row-major within a level. img_size: the network input (h, w). Afterwards
    columns 0-3 are cx, cy, w, h in input pixels: ``(d + grid) * stride`` and ``exp(log) * stride``.
    """
    strides = tuple(strides) if strides is not None else (8, 16, 32, 64) if p6 else (8, 16, 32)
    grids, anchor_strides = [], []
    for stride in strides:
        h, w = img_size[0] // stride, img_size[1] // stride
        ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))  # [h * w, 2] x, y
        anchor_strides.append(np.full((h * w, 1), stride))
    grid = np.concatenate(grids)[None]  # [1, A, 2]
    stride_col = np.concatenate(anchor_strides)[None]  # [1, A, 1]
    outputs[..., :2] = (outputs[..., :2] + grid) * stride_col
    outputs[..., 2:4] = np.exp(outputs[..., 2:4]) * stride_col
    return outputs
