"""Process set-up for training and evaluation: seeds, determinism, GPU memory reservation."""
import os
import random
from typing import Optional

import numpy as np
import torch
from loguru import logger

__all__ = ["seed_everything", "configure_reproducibility", "occupy_mem"]


def seed_everything(seed: int, *, rank: int = 0) -> None:
    """Seed python, numpy and torch (all devices) with ``seed + rank``: ranks of one run then draw
    different, repeatable random numbers."""
    random.seed(seed + rank)
    np.random.seed((seed + rank) % 2 ** 32)  # numpy takes 32-bit seeds only
    torch.manual_seed(seed + rank)


def configure_reproducibility(seed: Optional[int], *, rank: int = 0, deterministic: bool = False) -> None:
    """Training's set-up: ``seed_everything(seed, rank=rank)`` unless ``seed`` is None, and cuDNN's mode.

    ``deterministic`` also asks torch for deterministic kernels and keeps cuDNN from
    autotuning; without it cuDNN benchmarks its algorithms (faster, not bit-repeatable).
    """
    if seed is not None:
        seed_everything(seed, rank=rank)
    if deterministic:
        # cuBLAS needs a fixed workspace for repeatable results (documented by PyTorch).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: a kernel without a deterministic version warns instead of stopping the run.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def occupy_mem(device: torch.device, fraction: float = 0.9) -> None:
    """Reserve ``fraction`` of the GPU's free memory in PyTorch's caching allocator up front, so
    other processes cannot take it mid-run (``-o``). Nothing to do on a CPU."""
    if device.type != "cuda":
        logger.info("-o/--occupy reserves GPU memory; there is no GPU here, so it does nothing")
        return
    free, _ = torch.cuda.mem_get_info(device)
    block = torch.empty(int(free * fraction) // 4, dtype=torch.float32, device=device)
    del block  # the allocator keeps the memory cached for this process
