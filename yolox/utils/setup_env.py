"""Process set-up for training and evaluation: seeds, determinism, and Megvii YOLOX's environment
helpers (``configure_module``, ``configure_nccl``, ``configure_omp``)."""
import os
import random
from pathlib import Path
from typing import List, Optional

import cv2

import numpy as np
import torch
from loguru import logger

from .dist import get_world_size, is_main_process

__all__ = ["seed_everything", "configure_reproducibility", "configure_module", "configure_nccl",
           "configure_omp"]


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


def configure_module(ulimit_value: int = 8192) -> None:
    """Process settings for data loading: raise the soft open-file limit to ``ulimit_value``
    (capped by the hard limit; many loader workers share tensors through file descriptors), and
    keep OpenCV single-threaded without OpenCL (its own thread pool fights the loader's workers)."""
    try:
        import resource  # not on Windows
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = ulimit_value if hard == resource.RLIM_INFINITY else min(ulimit_value, hard)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except ImportError:
        pass
    os.environ["OPENCV_OPENCL_RUNTIME"] = "disabled"
    cv2.setNumThreads(0)
    cv2.ocl.setUseOpenCL(False)


def _roce_v2_hcas(root: Path = Path("/sys/class/infiniband")) -> List[str]:
    """Mellanox (mlx5) adapters whose port 1 offers a RoCE v2 GID type."""
    found = []
    for device in sorted(root.glob("mlx5_*")):
        types = [p.read_text(errors="ignore") for p in (device / "ports/1/gid_attrs/types").glob("*")
                 if p.is_file()]
        if any("v2" in t for t in types):
            found.append(device.name)
    return found


def configure_nccl() -> None:
    """NCCL settings for multi-machine training over RoCE, as Megvii's: parallel kernel launch, the
    machine's RoCE v2 mlx5 adapters, GID index 3, traffic class 106. Variables already set in the
    environment are kept; the InfiniBand ones are only set when such adapters exist."""
    os.environ.setdefault("NCCL_LAUNCH_MODE", "PARALLEL")
    hcas = _roce_v2_hcas()
    if hcas:
        os.environ.setdefault("NCCL_IB_HCA", ",".join(hcas))
        os.environ.setdefault("NCCL_IB_GID_INDEX", "3")
        os.environ.setdefault("NCCL_IB_TC", "106")


def configure_omp(num_threads: int = 1) -> None:
    """Set ``OMP_NUM_THREADS`` to ``num_threads`` when it is unset and several processes train
    (each would otherwise start one OpenMP thread per core and oversubscribe the machine)."""
    if "OMP_NUM_THREADS" in os.environ or get_world_size() <= 1:
        return
    os.environ["OMP_NUM_THREADS"] = str(num_threads)
    torch.set_num_threads(num_threads)  # the variable alone is read only at start-up
    if is_main_process():
        logger.info(f"OMP_NUM_THREADS set to {num_threads} for each training process; tune it if the "
                    "loader or CPU ops are the bottleneck")
