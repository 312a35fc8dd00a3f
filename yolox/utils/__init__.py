"""Shared helpers: box maths, post-processing, atomic writes, checkpoints, model utilities, and
the names Megvii YOLOX's ``yolox.utils`` exports."""
from .allreduce_norm import all_reduce_norm
from .atomic_io import atomic_save, atomic_write, atomic_write_bytes
from .boxes import (
    adjust_box_anns,
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
from .demo_utils import demo_postprocess, mkdir, multiclass_nms, nms
from .dist import get_local_rank, get_num_devices, get_rank, get_world_size, is_main_process
from .ema import ModelEMA
from .logger import setup_logger
from .lr_scheduler import LRScheduler
from .model_utils import freeze_module, fuse_model, get_model_info, replace_module
from .setup_env import configure_module, configure_nccl, configure_omp
from .visualize import vis
