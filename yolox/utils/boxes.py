"""Box formats, IoU, and detection post-processing: the one home for box maths.

Formats used across the project:
* ``xyxy``   x1, y1, x2, y2 (corners)
* ``cxcywh`` centre x, centre y, width, height (what the head predicts)
* ``xywh``   x1, y1, width, height (COCO annotation / result format)
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
import torchvision

from .letterbox import letterbox_scale

__all__ = [
    "cxcywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xywh",
    "xywh_to_xyxy",
    "pairwise_iou",
    "aligned_iou",
    "aligned_giou",
    "postprocess",
    "letterbox_scale",
    "adjust_box_anns",
    # Megvii-compatible names
    "bboxes_iou",
    "matrix_iou",
    "filter_box",
    "cxcywh2xyxy",
    "xyxy2cxcywh",
    "xyxy2xywh",
]


def cxcywh_to_xyxy(boxes):
    """boxes: [..., 4] cx, cy, w, h -> [..., 4] x1, y1, x2, y2 (tensor or ndarray, not in place)."""
    cx, cy, w, h = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return _stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], boxes)


def xyxy_to_cxcywh(boxes):
    """boxes: [..., 4] x1, y1, x2, y2 -> [..., 4] cx, cy, w, h (tensor or ndarray, not in place)."""
    x1, y1, x2, y2 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return _stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], boxes)


def xyxy_to_xywh(boxes):
    """boxes: [..., 4] x1, y1, x2, y2 -> [..., 4] x1, y1, w, h (COCO results)."""
    x1, y1, x2, y2 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return _stack([x1, y1, x2 - x1, y2 - y1], boxes)


def xywh_to_xyxy(boxes):
    """boxes: [..., 4] x1, y1, w, h (COCO annotations) -> [..., 4] x1, y1, x2, y2."""
    x1, y1, w, h = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return _stack([x1, y1, x1 + w, y1 + h], boxes)


def _stack(columns, like):
    if isinstance(like, torch.Tensor):
        return torch.stack(columns, dim=-1)
    return np.stack(columns, axis=-1)


def pairwise_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor, fmt: str = "xyxy") -> torch.Tensor:
    """boxes_a: [N, 4], boxes_b: [M, 4] in ``fmt`` ("xyxy" or "cxcywh") -> IoU [N, M].

    The union gets ``1e-16`` added (the reference's convention) so empty boxes give 0, not NaN.
    """
    if boxes_a.shape[-1] != 4 or boxes_b.shape[-1] != 4:
        raise ValueError(
            f"pairwise_iou expects [N, 4] and [M, 4] boxes, got {tuple(boxes_a.shape)} and {tuple(boxes_b.shape)}"
        )
    a = boxes_a if fmt == "xyxy" else cxcywh_to_xyxy(boxes_a)
    b = boxes_b if fmt == "xyxy" else cxcywh_to_xyxy(boxes_b)
    return _iou_from_corners(a[:, None, :], b[None, :, :])


def aligned_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor, fmt: str = "xyxy") -> torch.Tensor:
    """boxes_a, boxes_b: [..., 4] in ``fmt`` -> IoU [...] of corresponding rows."""
    a = boxes_a if fmt == "xyxy" else cxcywh_to_xyxy(boxes_a)
    b = boxes_b if fmt == "xyxy" else cxcywh_to_xyxy(boxes_b)
    return _iou_from_corners(a, b)


def aligned_giou(boxes_a: torch.Tensor, boxes_b: torch.Tensor, fmt: str = "xyxy") -> torch.Tensor:
    """boxes_a, boxes_b: [..., 4] in ``fmt`` -> generalised IoU [...] of corresponding rows, in [-1, 1].

    GIoU = IoU - (hull - union) / hull, with ``hull`` the area of the smallest enclosing box
    (clamped at 1e-16 so two empty boxes stay finite). Unlike IoU it keeps a gradient for
    disjoint boxes, which suits a box loss; it is negative there, so it is no assignment score.
    """
    a = boxes_a if fmt == "xyxy" else cxcywh_to_xyxy(boxes_a)
    b = boxes_b if fmt == "xyxy" else cxcywh_to_xyxy(boxes_b)
    inter, union = _intersection_and_union(a, b)
    iou = inter / (union + 1e-16)
    hull_wh = torch.maximum(a[..., 2:], b[..., 2:]) - torch.minimum(a[..., :2], b[..., :2])
    hull = (hull_wh[..., 0] * hull_wh[..., 1]).clamp(min=1e-16)
    return iou - (hull - union) / hull


def _iou_from_corners(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    inter, union = _intersection_and_union(a, b)
    return inter / (union + 1e-16)


def _intersection_and_union(a: torch.Tensor, b: torch.Tensor):
    """a, b: [..., 4] x1, y1, x2, y2 (broadcastable) -> (intersection area, union area) [...]."""
    # Axis by axis: no [..., 2] temporaries, which matters for large broadcast (pairwise) shapes.
    inter_w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp_(min=0)
    inter_h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp_(min=0)
    inter = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter, area_a + area_b - inter


def postprocess(
    prediction: torch.Tensor,
    num_classes: int,
    conf_thre: float = 0.7,
    nms_thre: float = 0.45,
    class_agnostic: bool = False,
) -> List[Optional[torch.Tensor]]:
    """Score filter + NMS on decoded head outputs.

    prediction: [B, A, 5 + C] cx, cy, w, h (input pixels), objectness, C class probabilities.
    Returns one entry per image: None when nothing survives, else [N, 7]
    x1, y1, x2, y2, objectness, class confidence, class index, sorted by score (obj * cls).
    NMS is per class (``_per_class_nms``: classes shifted apart, in groups) unless ``class_agnostic``.
    """
    if prediction.dim() != 3 or prediction.shape[-1] != 5 + num_classes:
        raise ValueError(
            f"postprocess expects [B, A, 5 + num_classes={5 + num_classes}] predictions, "
            f"got {tuple(prediction.shape)}"
        )
    objectness = prediction[..., 4]  # [B, A]
    class_conf, class_pred = prediction[..., 5:].max(dim=-1)  # [B, A]
    scores = objectness * class_conf
    keep_mask = scores >= conf_thre

    results: List[Optional[torch.Tensor]] = []
    for b in range(prediction.shape[0]):
        # Rows are gathered once by index: boolean masks would search the [A] mask per column.
        rows = torch.nonzero(keep_mask[b]).squeeze(1)  # [N]
        if rows.numel() == 0:
            results.append(None)
            continue
        candidates = prediction[b].index_select(0, rows)  # [N, 5 + C]
        labels = class_pred[b].index_select(0, rows)
        det = torch.cat([cxcywh_to_xyxy(candidates[:, :4]), candidates[:, 4:5],
                         class_conf[b].index_select(0, rows)[:, None], labels[:, None].to(prediction.dtype)], dim=1)
        det_scores = scores[b].index_select(0, rows)
        if class_agnostic:
            kept = torchvision.ops.nms(det[:, :4], det_scores, nms_thre)
        else:
            kept = _per_class_nms(det[:, :4], det_scores, labels, nms_thre)
        results.append(det[kept])
    return results


_NMS_GROUP_BOXES = 512


def _per_class_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou_thre: float) -> torch.Tensor:
    """boxes: [N, 4] xyxy, scores: [N], classes: [N] -> kept indices [K], by decreasing score.

    Classes are packed into groups of about ``_NMS_GROUP_BOXES`` boxes and each group gets one
    NMS call with its classes shifted apart, so boxes of different classes never suppress each
    other. A call compares each kept box with every box of its group and costs about 0.07 ms
    to start: one call over all boxes is slow when little is suppressed (3549 boxes spread
    over the image: 36 ms), one per class (torchvision's batched_nms above 1000 boxes) is slow
    on many small classes. Groups bound both: ``benchmarks/inference.py``'s postprocess of 3549
    candidates per image on 2 CPU cores went from 11.7 to 5.9 ms spread out, 4.9 to 2.7 clustered.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    offsets = classes.to(boxes.dtype)[:, None] * (boxes.max() - boxes.min() + 1)
    shifted = boxes + offsets
    if len(boxes) <= _NMS_GROUP_BOXES:
        return torchvision.ops.nms(shifted, scores, iou_thre)
    order = torch.argsort(classes, stable=True)
    kept, start, size = [], 0, 0
    for count in torch.bincount(classes).tolist() + [_NMS_GROUP_BOXES + 1]:  # the sentinel flushes the last group
        if size and size + count > _NMS_GROUP_BOXES:
            group = order[start:start + size]
            kept.append(group[torchvision.ops.nms(shifted[group], scores[group], iou_thre)])
            start, size = start + size, 0
        size += count
    kept = torch.cat(kept)
    return kept[torch.argsort(scores[kept], descending=True)]


# Megvii YOLOX names, kept so user code written against them keeps working.
def bboxes_iou(bboxes_a: torch.Tensor, bboxes_b: torch.Tensor, xyxy: bool = True) -> torch.Tensor:
    """bboxes_a: [N, 4], bboxes_b: [M, 4] -> IoU [N, M]; ``xyxy=False`` means cx, cy, w, h."""
    return pairwise_iou(bboxes_a, bboxes_b, fmt="xyxy" if xyxy else "cxcywh")


def matrix_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a: [N, 4], b: [M, 4] x1, y1, x2, y2 (numpy) -> IoU [N, M] (numpy)."""
    return pairwise_iou(torch.as_tensor(a), torch.as_tensor(b)).numpy()


def filter_box(output: torch.Tensor, scale_range: Sequence[float]) -> torch.Tensor:
    """Rows of ``output`` ([N, >= 4], x1, y1, x2, y2 first) whose box area lies strictly between
    ``min_scale ** 2`` and ``max_scale ** 2``, for ``scale_range = (min_scale, max_scale)`` in pixels."""
    min_scale, max_scale = scale_range
    area = (output[:, 2] - output[:, 0]) * (output[:, 3] - output[:, 1])
    return output[(area > min_scale * min_scale) & (area < max_scale * max_scale)]


def _in_place(convert):
    """Megvii's converters write into their argument ([N, 4], tensor or ndarray) and return it;
    user code may rely on either, so these do both."""
    def converter(bboxes):
        bboxes[..., :4] = convert(bboxes[..., :4])
        return bboxes

    converter.__name__ = converter.__qualname__ = {cxcywh_to_xyxy: "cxcywh2xyxy", xyxy_to_cxcywh: "xyxy2cxcywh",
                                                   xyxy_to_xywh: "xyxy2xywh"}[convert]
    converter.__doc__ = f"In place (Megvii's name): ``bboxes[..., :4] = {convert.__name__}(bboxes)``; returns bboxes."
    return converter


cxcywh2xyxy = _in_place(cxcywh_to_xyxy)
xyxy2cxcywh = _in_place(xyxy_to_cxcywh)
xyxy2xywh = _in_place(xyxy_to_xywh)


def adjust_box_anns(bbox: np.ndarray, scale_ratio: float, padw: float, padh: float, w_max: float,
                    h_max: float) -> np.ndarray:
    """Map boxes [N, 4] x1, y1, x2, y2 through a resize by ``scale_ratio`` and a shift by
    (padw, padh), clipped to [0, w_max] x [0, h_max]. In place (like Megvii's); returns ``bbox``."""
    bbox[:, 0::2] = np.clip(bbox[:, 0::2] * scale_ratio + padw, 0, w_max)
    bbox[:, 1::2] = np.clip(bbox[:, 1::2] * scale_ratio + padh, 0, h_max)
    return bbox
