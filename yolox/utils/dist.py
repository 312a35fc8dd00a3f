"""torch.distributed helpers that also work, as no-ops, in a single process."""
import os
from typing import Dict

import torch
import torch.distributed as dist

__all__ = ["get_world_size", "get_rank", "get_local_rank", "get_local_world_size", "is_main_process",
           "reduce_mean_dict", "is_dist_initialized", "get_num_devices"]


def get_num_devices() -> int:
    """The number of GPUs this process may use: the entries of ``CUDA_VISIBLE_DEVICES`` when it is
    set (without initialising CUDA, like Megvii's, which counts them or ``nvidia-smi -L`` lines),
    else what torch sees (0 without CUDA)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip()])
    return torch.cuda.device_count()


def is_dist_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_dist_initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if is_dist_initialized() else 0


def get_local_rank() -> int:
    """This process's index on its machine (torchrun's LOCAL_RANK, else 0)."""
    return int(os.environ.get("LOCAL_RANK", 0))


def get_local_world_size() -> int:
    """The number of training processes on this machine: torchrun's LOCAL_WORLD_SIZE, else the
    world size (exact for ``-d N`` on one machine; an upper bound across machines), else 1."""
    local = os.environ.get("LOCAL_WORLD_SIZE")
    if local:
        return max(1, int(local))
    return get_world_size()


def is_main_process() -> bool:
    return get_rank() == 0


def reduce_mean_dict(values: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Each scalar tensor averaged over ranks, in one all-reduce; a copy in a single process."""
    if get_world_size() == 1 or not values:
        return {k: v.detach().clone() for k, v in values.items()}
    keys = sorted(values)
    stacked = torch.stack([values[k].detach().float() for k in keys])
    dist.all_reduce(stacked)
    stacked /= get_world_size()
    return dict(zip(keys, stacked))
