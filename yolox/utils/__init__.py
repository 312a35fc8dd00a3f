"""Shared helpers: box maths, post-processing, atomic writes, checkpoints, model utilities."""
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
from .checkpoint import load_ckpt, save_checkpoint
from .model_utils import fuse_model, get_model_info
