"""Shared helpers: box maths, post-processing, atomic writes, model utilities."""
from .atomic_io import atomic_save, atomic_write, atomic_write_bytes
from .boxes import (
    aligned_iou,
    bboxes_iou,
    cxcywh2xyxy,
    cxcywh_to_xyxy,
    pairwise_iou,
    postprocess,
    xywh_to_xyxy,
    xyxy2cxcywh,
    xyxy2xywh,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)
