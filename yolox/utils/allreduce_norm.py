"""Averaging normalisation statistics across processes (Megvii YOLOX's ``all_reduce_norm``).

Each rank's BatchNorm running mean and variance track only the batches that rank saw; before an
evaluation or a checkpoint the trainer makes them agree by averaging them over all ranks.
"""
from typing import Dict

import torch
import torch.distributed as dist
from torch import nn

from .dist import get_world_size

__all__ = ["NORM_TYPES", "norm_states", "all_reduce_norm"]

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


@torch.no_grad()
def all_reduce_norm(module: nn.Module) -> None:
    """Replace every norm layer's state in ``module`` by its mean over all processes, in place.

    A no-op in a single process. Every rank must call it (it is a collective), with models of
    the same structure, so the flattened states line up.
    """
    if get_world_size() == 1:
        return
    states = norm_states(module)
    if not states:
        return
    names = sorted(states)  # the same order on every rank, whatever the dict order
    flat = torch.cat([states[n].detach().float().reshape(-1) for n in names])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= get_world_size()
    offset = 0
    for name in names:
        value = states[name]
        value.copy_(flat[offset:offset + value.numel()].view_as(value))
        offset += value.numel()
