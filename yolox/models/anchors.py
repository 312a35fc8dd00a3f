"""Anchor points: one per feature-map cell, level by level (stride 8 first), row by row."""
from typing import Sequence, Tuple

import torch

__all__ = ["anchor_grid"]


def anchor_grid(level_shapes: Sequence[Tuple[int, int]], strides: Sequence[int], *,
                device=None, dtype=torch.float32) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cell coordinates and strides of every anchor.

    level_shapes: [(H_k, W_k)] per level. Returns ``grid`` [A, 2] (x, y) cell column and row,
    and ``stride`` [A] in input pixels, with anchor index ``offset_k + y * W_k + x``.
    """
    if len(level_shapes) != len(strides):
        raise ValueError(f"{len(level_shapes)} feature levels but {len(strides)} strides")
    grids, level_strides = [], []
    for (h, w), s in zip(level_shapes, strides):
        ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype),
                                torch.arange(w, device=device, dtype=dtype), indexing="ij")
        grids.append(torch.stack([xs, ys], dim=-1).reshape(-1, 2))
        level_strides.append(torch.full((h * w,), float(s), device=device, dtype=dtype))
    return torch.cat(grids), torch.cat(level_strides)
