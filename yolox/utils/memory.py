"""Memory figures and GPU memory reservation (Megvii YOLOX's ``gpu_mem_usage``, ``mem_usage``,
``get_total_and_free_memory_in_Mb`` and ``occupy_mem``).

The GPU helpers need CUDA; on a machine without it they raise ``NoGPUError`` naming the helper,
rather than failing inside torch. Importing this module never touches CUDA.
"""
from typing import Tuple, Union

import psutil
import torch
from loguru import logger

__all__ = ["NoGPUError", "gpu_mem_usage", "mem_usage", "get_total_and_free_memory_in_Mb", "occupy_mem"]

MB = 1 << 20
GB = 1 << 30

Device = Union[int, str, torch.device]


class NoGPUError(RuntimeError):
    """A GPU-only helper was called where torch sees no CUDA device."""


def _cuda_device(helper: str, device: Device = None) -> torch.device:
    if not torch.cuda.is_available():
        raise NoGPUError(f"{helper}: there is no GPU here (torch.cuda.is_available() is False); it reports and "
                         "reserves CUDA memory only")
    if device is None:
        return torch.device("cuda", torch.cuda.current_device())
    if isinstance(device, int):
        return torch.device("cuda", device)
    device = torch.device(device)
    if device.type != "cuda":
        raise NoGPUError(f"{helper}: {device} is not a GPU; it reports and reserves CUDA memory only")
    return device


def gpu_mem_usage(device: Device = None) -> float:
    """Peak memory torch has allocated on GPU ``device`` (default: the current one) in this
    process, in MB (the ``mem`` of the training log)."""
    return torch.cuda.max_memory_allocated(_cuda_device("gpu_mem_usage", device)) / MB


def mem_usage() -> float:
    """Memory in use on this machine (all processes), in GB."""
    return psutil.virtual_memory().used / GB


def get_total_and_free_memory_in_Mb(cuda_device: Device) -> Tuple[int, int]:
    """(total, used) memory of GPU ``cuda_device`` (an index among the visible GPUs, or a device),
    in MB, counting every process on it.

    Despite the name, the second figure is the memory in use, not the free memory: that is what
    Megvii's function returns and what code written for it (``occupy_mem``) expects.
    """
    free, total = torch.cuda.mem_get_info(_cuda_device("get_total_and_free_memory_in_Mb", cuda_device))
    return total // MB, (total - free) // MB


def occupy_mem(cuda_device: Device, mem_ratio: float = 0.9) -> None:
    """Grow this process's share of GPU ``cuda_device`` until ``mem_ratio`` of the card is in use,
    and keep it in torch's caching allocator: other jobs cannot take it mid-run (``-o``), and the
    allocator does not fragment it (as Megvii's)."""
    device = _cuda_device("occupy_mem", cuda_device)
    total, used = get_total_and_free_memory_in_Mb(device)
    block_mb = int(total * mem_ratio) - used
    if block_mb <= 0:
        logger.info("occupy_mem: {} MB of {} MB already in use, nothing to reserve", used, total)
        return
    block = torch.empty(block_mb * MB, dtype=torch.uint8, device=device)
    del block  # freed to the allocator, which keeps it cached for this process
