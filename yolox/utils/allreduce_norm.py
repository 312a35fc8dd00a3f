"""Averaging normalisation statistics across processes (Megvii YOLOX's ``all_reduce_norm``).

Each rank's BatchNorm running mean and variance track only the batches that rank saw; before an
evaluation or a checkpoint the trainer makes them agree by averaging them over all ranks.
"""
import pickle
from typing import Any, Dict, Optional, Union

import torch
import torch.distributed as dist
from torch import nn

from .dist import get_world_size

__all__ = ["NORM_TYPES", "norm_states", "get_async_norm_states", "pyobj2tensor", "tensor2pyobj", "all_reduce",
           "all_reduce_norm"]

NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
              nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)


def norm_states(module: nn.Module) -> Dict[str, torch.Tensor]:
    """The floating-point state (weights, running statistics) of every norm layer of ``module``,
    keyed by its name in ``module.state_dict()``. Integer buffers (``num_batches_tracked``) are
    left out: they agree across ranks already and averaging them would round them."""
    states = {}
    for name, child in module.named_modules():
        if isinstance(child, NORM_TYPES):
            prefix = f"{name}." if name else ""
            for key, value in child.state_dict().items():
                if value.dtype.is_floating_point:
                    states[prefix + key] = value
    return states


# Megvii's name for the states all_reduce_norm averages.
get_async_norm_states = norm_states


def pyobj2tensor(pyobj: Any, device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """``pyobj`` pickled into a uint8 tensor [num_bytes] on ``device`` (default: the GPU when
    there is one, else the CPU), to send through a collective."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.frombuffer(bytearray(pickle.dumps(pyobj)), dtype=torch.uint8).to(device)


def tensor2pyobj(tensor: torch.Tensor) -> Any:
    """The object ``pyobj2tensor`` pickled (unpickles: only for tensors from this job's own ranks)."""
    return pickle.loads(tensor.cpu().numpy().tobytes())


# "mean" is a sum divided by the world size afterwards (the SUM op works on every backend, AVG does not).
_REDUCE_OPS = {"sum": dist.ReduceOp.SUM, "mean": dist.ReduceOp.SUM}


def all_reduce(py_dict: Dict[str, torch.Tensor], op: str = "sum",
               group: Optional[dist.ProcessGroup] = None) -> Dict[str, torch.Tensor]:
    """Each tensor of ``py_dict`` summed (``op="sum"``) or averaged (``"mean"``) over the processes
    of ``group`` (default: all), in one collective; a new dict of float32 tensors shaped like the
    inputs. ``py_dict`` itself in a single process. Every rank must pass the same keys and shapes."""
    if op not in _REDUCE_OPS:
        raise ValueError(f"all_reduce: op must be one of {sorted(_REDUCE_OPS)}, got {op!r}")
    world_size = dist.get_world_size(group) if dist.is_available() and dist.is_initialized() else 1
    if world_size == 1 or not py_dict:
        return py_dict
    keys = sorted(py_dict)  # the same order on every rank, whatever the dict order
    flat = torch.cat([py_dict[k].detach().float().reshape(-1) for k in keys])
    dist.all_reduce(flat, op=_REDUCE_OPS[op], group=group)
    if op == "mean":
        flat /= world_size
    reduced, offset = {}, 0
    for key in keys:
        numel = py_dict[key].numel()
        reduced[key] = flat[offset:offset + numel].view_as(py_dict[key])
        offset += numel
    return reduced


@torch.no_grad()
def all_reduce_norm(module: nn.Module) -> None:
    """Replace every norm layer's state in ``module`` by its mean over all processes, in place.

    A no-op in a single process. Every rank must call it (it is a collective), with models of
    the same structure, so the flattened states line up.
    """
    if get_world_size() == 1:
        return
    states = norm_states(module)
    for name, value in all_reduce(states, op="mean").items():
        states[name].copy_(value)
