"""Multiscale training: the trainer picks a random input size every few iterations and resizes
the batch (images and cx, cy, w, h labels) to it."""
import random
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = ["multiscale_sizes", "random_input_size", "resize_batch"]


def multiscale_sizes(
    input_size: Tuple[int, int], multiscale_range: int = 5, random_size: Optional[Tuple[int, int]] = None
) -> Tuple[int, int]:
    """(min, max) of the size factor in units of 32: ``random_size`` when set, else
    input_size[0] / 32 -+ multiscale_range (YOLOX's rule)."""
    if random_size is not None:
        return int(random_size[0]), int(random_size[1])
    base = int(input_size[0] / 32)
    return base - multiscale_range, base + multiscale_range


def random_input_size(
    input_size: Tuple[int, int], multiscale_range: int = 5, random_size: Optional[Tuple[int, int]] = None,
    rng: random.Random = None,
) -> Tuple[int, int]:
    """A random (h, w), both multiples of 32, with the aspect ratio of input_size."""
    low, high = multiscale_sizes(input_size, multiscale_range, random_size)
    factor = (rng or random).randint(max(low, 1), max(high, 1))
    aspect = input_size[1] / input_size[0]
    return 32 * factor, 32 * int(factor * aspect)


def resize_batch(images: torch.Tensor, targets: torch.Tensor, tsize: Tuple[int, int],
                 base_size: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """images [B, 3, H, W] at base_size -> tsize (h, w) bilinear; targets [B, M, 5] cls, cx, cy, w, h scaled
    to match (in place on ``targets``). A no-op when tsize equals base_size."""
    scale_y, scale_x = tsize[0] / base_size[0], tsize[1] / base_size[1]
    if scale_x == 1 and scale_y == 1:
        return images, targets
    images = F.interpolate(images, size=tuple(tsize), mode="bilinear", align_corners=False)
    targets[..., 1::2] = targets[..., 1::2] * scale_x
    targets[..., 2::2] = targets[..., 2::2] * scale_y
    return images, targets
