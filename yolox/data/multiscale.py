"""Multiscale training: every few iterations a new random training size, and each batch resized to it.

Two sizes, two names: the experiment's ``input_size`` is the *base* size the loader produces;
``Multiscale.size`` is the size the trainer resizes batches to now (saved in checkpoints as
``"multiscale_size"``).
"""
import random
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = ["Multiscale", "multiscale_sizes", "random_input_size", "resize_batch"]

Size = Tuple[int, int]  # (height, width) in pixels


def multiscale_sizes(input_size: Size, multiscale_range: int = 5, random_size: Optional[Tuple[int, int]] = None
                     ) -> Tuple[int, int]:
    """(min, max) of the size factor in units of 32: ``random_size`` when set, else
    input_size[0] / 32 -+ multiscale_range (YOLOX's rule)."""
    if random_size is not None:
        return int(random_size[0]), int(random_size[1])
    base = int(input_size[0] / 32)
    return base - multiscale_range, base + multiscale_range


def random_input_size(input_size: Size, multiscale_range: int = 5, random_size: Optional[Tuple[int, int]] = None,
                      rng: random.Random = None) -> Size:
    """A random (h, w), both multiples of 32, with the aspect ratio of input_size."""
    low, high = multiscale_sizes(input_size, multiscale_range, random_size)
    factor = (rng or random).randint(max(low, 1), max(high, 1))
    aspect = input_size[1] / input_size[0]
    return 32 * factor, 32 * int(factor * aspect)


def resize_batch(images: torch.Tensor, targets: torch.Tensor, tsize: Size,
                 base_size: Size) -> Tuple[torch.Tensor, torch.Tensor]:
    """images [B, 3, H, W] at base_size -> tsize (h, w) bilinear; targets [B, M, 5] cls, cx, cy, w, h scaled
    to match (in place on ``targets``). A no-op when tsize equals base_size."""
    scale_y, scale_x = tsize[0] / base_size[0], tsize[1] / base_size[1]
    if scale_x == 1 and scale_y == 1:
        return images, targets
    images = F.interpolate(images, size=tuple(tsize), mode="bilinear", align_corners=False)
    targets[..., 1::2] = targets[..., 1::2] * scale_x
    targets[..., 2::2] = targets[..., 2::2] * scale_y
    return images, targets


class Multiscale:
    """The training size policy of a run and its current size.

    ``base_size``: the experiment's ``input_size``, what the loader produces. ``size``: the size
    batches are resized to now (starts at ``base_size``; the trainer sets it from ``draw`` every
    ``every`` iterations, or from a resumed checkpoint). Sizes are drawn in ``base_size`` -+
    ``multiscale_range`` * 32, or in ``random_size`` = (min, max) units of 32 when given.
    """

    def __init__(self, *, base_size: Size, multiscale_range: int = 5,
                 random_size: Optional[Tuple[int, int]] = None, every: int = 10):
        self.base_size: Size = (int(base_size[0]), int(base_size[1]))
        self.multiscale_range = int(multiscale_range)
        self.random_size = tuple(random_size) if random_size is not None else None
        self.every = int(every)
        self.size: Size = self.base_size

    def due(self, iterations_done: int) -> bool:
        """Whether a new size is drawn after ``iterations_done`` global iterations (YOLOX: every 10)."""
        return iterations_done > 0 and iterations_done % self.every == 0

    def draw(self, *, distributed: bool = False) -> Size:
        """A random size; with several processes rank 0's draw, so every rank resizes alike."""
        size = random_input_size(self.base_size, self.multiscale_range, self.random_size)
        if not distributed:
            return size
        import torch.distributed as dist

        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        tensor = torch.tensor(size if dist.get_rank() == 0 else (0, 0), dtype=torch.long, device=device)
        dist.broadcast(tensor, 0)
        return int(tensor[0]), int(tensor[1])

    def resize(self, images: torch.Tensor, targets: torch.Tensor, size: Optional[Size] = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """images [B, 3, H, W] at ``base_size``, targets [B, M, 5] cls, cx, cy, w, h -> both at ``size``
        (default: the current ``self.size``)."""
        return resize_batch(images, targets, tuple(size or self.size), self.base_size)
