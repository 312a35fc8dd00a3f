"""torch.distributed helpers that also work, as no-ops, in a single process."""
import contextlib
import os
import time
from typing import Any, Dict, Iterator, List, Optional

import torch
import torch.distributed as dist

__all__ = ["get_world_size", "get_rank", "get_local_rank", "get_local_world_size", "get_local_size", "is_main_process",
           "reduce_mean_dict", "is_dist_initialized", "get_num_devices", "synchronize", "wait_for_the_master",
           "time_synchronized", "all_gather", "gather"]


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


# Megvii's name for the number of processes on this machine.
get_local_size = get_local_world_size


def is_main_process() -> bool:
    return get_rank() == 0


def synchronize() -> None:
    """A barrier across all processes; nothing in a single process."""
    if get_world_size() > 1:
        dist.barrier()


@contextlib.contextmanager
def wait_for_the_master(local_rank: Optional[int] = None) -> Iterator[None]:
    """Run the block on local rank 0 first, then on this machine's other ranks: for work one
    process should do before the others read its result (downloading, unpacking, building a cache).

    local_rank: this process's rank on its machine (default ``get_local_rank()``). Every process
    must enter the block: rank 0 meets the others at a barrier after its block, they wait at
    that barrier before theirs.
    """
    if local_rank is None:
        local_rank = get_local_rank()
    if local_rank > 0:
        synchronize()
    yield
    if local_rank == 0:
        synchronize()


def time_synchronized() -> float:
    """``time.time()`` once the GPU's queued work has finished, so it times kernels, not launches."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.time()


def all_gather(data: Any, group: Optional[dist.ProcessGroup] = None) -> List[Any]:
    """Every rank's ``data`` (any picklable object), in rank order, on every rank: ``[data]`` in a
    single process. group: the process group (default: all processes)."""
    if get_world_size() == 1:
        return [data]
    gathered = [None] * dist.get_world_size(group)
    dist.all_gather_object(gathered, data, group=group)
    return gathered


def gather(data: Any, dst: int = 0, group: Optional[dist.ProcessGroup] = None) -> List[Any]:
    """Every rank's ``data`` in rank order on rank ``dst``; ``[]`` on the other ranks, ``[data]``
    in a single process."""
    if get_world_size() == 1:
        return [data]
    is_dst = dist.get_rank() == dst
    gathered = [None] * dist.get_world_size(group) if is_dst else None
    dist.gather_object(data, gathered, dst=dst, group=group)
    return gathered if is_dst else []


def reduce_mean_dict(values: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Each scalar tensor averaged over ranks, in one all-reduce; a copy in a single process."""
    if get_world_size() == 1 or not values:
        return {k: v.detach().clone() for k, v in values.items()}
    keys = sorted(values)
    stacked = torch.stack([values[k].detach().float() for k in keys])
    dist.all_reduce(stacked)
    stacked /= get_world_size()
    return dict(zip(keys, stacked))
