"""Shared helpers: box maths, post-processing, atomic writes, checkpoints, model utilities, and
every name Megvii YOLOX's ``yolox.utils`` exports (its loggers for Weights & Biases and MLflow
excepted: see the README's "What differs").

The names are imported on first use (``lazy_exports``), so the torch-free modules here
(letterbox, demo_utils, visualize) load without torch; ``from yolox.utils import postprocess``
and ``from yolox.utils import *`` work as before.
"""
from .lazy_exports import lazy_exports

_EXPORTS = {
    ".allreduce_norm": ("all_reduce", "all_reduce_norm", "get_async_norm_states", "pyobj2tensor", "tensor2pyobj"),
    ".atomic_io": ("atomic_save", "atomic_write", "atomic_write_bytes"),
    ".boxes": ("adjust_box_anns", "aligned_iou", "bboxes_iou", "cxcywh2xyxy", "cxcywh_to_xyxy", "filter_box",
               "matrix_iou", "pairwise_iou", "postprocess", "xywh_to_xyxy", "xyxy2cxcywh", "xyxy2xywh",
               "xyxy_to_cxcywh", "xyxy_to_xywh"),
    ".checkpoint": ("load_ckpt", "save_checkpoint"),
    ".compat": ("meshgrid",),
    ".demo_utils": ("demo_postprocess", "mkdir", "multiclass_nms", "nms"),
    ".dist": ("all_gather", "gather", "get_local_rank", "get_local_size", "get_num_devices", "get_rank",
              "get_world_size", "is_main_process", "synchronize", "time_synchronized", "wait_for_the_master"),
    ".ema": ("ModelEMA", "is_parallel"),
    ".logger": ("setup_logger",),
    ".lr_scheduler": ("LRScheduler",),
    ".memory": ("NoGPUError", "get_total_and_free_memory_in_Mb", "gpu_mem_usage", "mem_usage", "occupy_mem"),
    ".meters": ("AverageMeter", "MeterBuffer"),
    ".model_utils": ("adjust_status", "freeze_module", "fuse_conv_and_bn", "fuse_model", "get_model_info",
                     "replace_module"),
    ".setup_env": ("configure_module", "configure_nccl", "configure_omp"),
    ".visualize": ("random_color", "vis", "visualize_assign"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
