"""Shared helpers: box maths, post-processing, atomic writes, checkpoints, model utilities, and
every name Megvii YOLOX's ``yolox.utils`` exports (its loggers for Weights & Biases and MLflow
excepted: see the README's "What differs")."""
from .allreduce_norm import all_reduce, all_reduce_norm, get_async_norm_states, pyobj2tensor, tensor2pyobj
from .atomic_io import atomic_save, atomic_write, atomic_write_bytes
from .boxes import (
    adjust_box_anns,
    aligned_iou,
    bboxes_iou,
    cxcywh2xyxy,
    cxcywh_to_xyxy,
    filter_box,
    matrix_iou,
    pairwise_iou,
    postprocess,
    xywh_to_xyxy,
    xyxy2cxcywh,
    xyxy2xywh,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)
from .checkpoint import load_ckpt, save_checkpoint
from .compat import meshgrid
from .demo_utils import demo_postprocess, mkdir, multiclass_nms, nms
from .dist import (
    all_gather,
    gather,
    get_local_rank,
    get_local_size,
    get_num_devices,
    get_rank,
    get_world_size,
    is_main_process,
    synchronize,
    time_synchronized,
    wait_for_the_master,
)
from .ema import ModelEMA, is_parallel
from .logger import setup_logger
from .lr_scheduler import LRScheduler
from .memory import NoGPUError, get_total_and_free_memory_in_Mb, gpu_mem_usage, mem_usage, occupy_mem
from .meters import AverageMeter, MeterBuffer
from .model_utils import adjust_status, freeze_module, fuse_conv_and_bn, fuse_model, get_model_info, replace_module
from .setup_env import configure_module, configure_nccl, configure_omp
from .visualize import random_color, vis, visualize_assign
