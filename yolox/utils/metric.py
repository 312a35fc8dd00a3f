"""Megvii YOLOX's module path for the meters and the memory helpers (``from yolox.utils.metric
import MeterBuffer``); they live in ``meters`` and ``memory``."""
from .memory import get_total_and_free_memory_in_Mb, gpu_mem_usage, mem_usage, occupy_mem
from .meters import AverageMeter, MeterBuffer

__all__ = ["AverageMeter", "MeterBuffer", "get_total_and_free_memory_in_Mb", "occupy_mem", "gpu_mem_usage",
           "mem_usage"]
