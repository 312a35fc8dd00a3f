"""Box formats, IoU, and detection post-processing: the one home for box maths.

Formats used across the project:
* ``xyxy``   x1, y1, x2, y2 (corners)
* ``cxcywh`` centre x, centre y, width, height (what the head predicts)
* ``xywh``   x1, y1, width, height (COCO annotation / result format)
"""
from typing import List, Optional

import numpy as np
import torch
import torchvision

__all__ = [
    "cxcywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xyxy_to_xywh",
    "xywh_to_xyxy",
    "pairwise_iou",
    "aligned_iou",
    "aligned_giou",
    "postprocess",
    # Megvii-compatible aliases
    "bboxes_iou",
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
    NMS is per class (``batched_nms``) unless ``class_agnostic``.
    """
    if prediction.dim() != 3 or prediction.shape[-1] != 5 + num_classes:
        raise ValueError(
            f"postprocess expects [B, A, 5 + num_classes={5 + num_classes}] predictions, "
            f"got {tuple(prediction.shape)}"
        )
    boxes = cxcywh_to_xyxy(prediction[..., :4])  # [B, A, 4]
    objectness = prediction[..., 4]  # [B, A]
    class_conf, class_pred = prediction[..., 5:].max(dim=-1)  # [B, A]
    scores = objectness * class_conf
    keep_mask = scores >= conf_thre

    results: List[Optional[torch.Tensor]] = []
    for b in range(prediction.shape[0]):
        keep = keep_mask[b]
        if not bool(keep.any()):
            results.append(None)
            continue
        columns = [boxes[b][keep], objectness[b][keep, None], class_conf[b][keep, None],
                   class_pred[b][keep, None].to(boxes.dtype)]
        det = torch.cat(columns, dim=1)
        det_scores = scores[b][keep]
        if class_agnostic:
            kept = torchvision.ops.nms(det[:, :4], det_scores, nms_thre)
        else:
            kept = torchvision.ops.batched_nms(det[:, :4], det_scores, class_pred[b][keep], nms_thre)
        results.append(det[kept])
    return results


# Megvii YOLOX names, kept so user code written against them keeps working.
def bboxes_iou(bboxes_a: torch.Tensor, bboxes_b: torch.Tensor, xyxy: bool = True) -> torch.Tensor:
    """bboxes_a: [N, 4], bboxes_b: [M, 4] -> IoU [N, M]; ``xyxy=False`` means cx, cy, w, h."""
    return pairwise_iou(bboxes_a, bboxes_b, fmt="xyxy" if xyxy else "cxcywh")


cxcywh2xyxy = cxcywh_to_xyxy
xyxy2cxcywh = xyxy_to_cxcywh
xyxy2xywh = xyxy_to_xywh
