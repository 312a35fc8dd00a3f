"""torch.distributed helpers that also work, as no-ops, in a single process."""
import os
from typing import Dict

import torch
import torch.distributed as dist

__all__ = ["get_world_size", "get_rank", "get_local_rank", "is_main_process", "reduce_mean_dict",
           "is_dist_initialized"]


def is_dist_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_dist_initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if is_dist_initialized() else 0


def get_local_rank() -> int:
    """This process's index on its machine (torchrun's LOCAL_RANK, else 0)."""
    return int(os.environ.get("LOCAL_RANK", 0))


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
