"""What the console line of a training run shows besides the meters (``yolox.utils.meters``):
memory in use and the ETA."""
import datetime

import psutil
import torch

from yolox.utils.memory import MB, gpu_mem_usage

__all__ = ["memory_mb", "format_eta"]


def memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated on ``device``, or this process's resident memory on a CPU."""
    if device.type == "cuda":
        return gpu_mem_usage(device)
    return psutil.Process().memory_info().rss / MB


def format_eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))
