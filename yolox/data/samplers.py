"""Samplers: an endless, rank-sharded index stream and a batch sampler that carries the mosaic flag."""
import itertools
from typing import Iterator, List, Tuple

import torch
from torch.utils.data.sampler import BatchSampler as TorchBatchSampler
from torch.utils.data.sampler import Sampler

__all__ = ["InfiniteSampler", "YoloBatchSampler"]


class InfiniteSampler(Sampler):
    """Endless indices over ``range(size)``: a fresh permutation per pass (seeded, so the same seed
    gives the same stream) and every ``world_size``-th index for this ``rank``. Iterating it never
    ends; the trainer counts iterations per epoch itself (``len`` is the per-rank share).

    ``start`` (settable before iterating) skips that many of this rank's indices, so a resumed
    run continues the very stream it left, without reading the skipped images."""

    def __init__(self, size: int, shuffle: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1, *,
                 start: int = 0):
        if size <= 0:
            raise ValueError(f"InfiniteSampler needs a non-empty dataset, got size={size}")
        self._size = size
        self._shuffle = shuffle
        self._seed = int(seed)
        self._rank = rank
        self._world_size = world_size
        self.start = int(start)

    def __iter__(self) -> Iterator[int]:
        skip = self.start * self._world_size + self._rank  # position in the stream shared by all ranks
        passes, offset = divmod(skip, self._size)
        return itertools.islice(self._infinite_indices(passes), offset, None, self._world_size)

    def _infinite_indices(self, skip_passes: int = 0) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self._seed)
        for _ in range(skip_passes if self._shuffle else 0):
            torch.randperm(self._size, generator=generator)  # advances the generator past a whole pass
        while True:
            order = torch.randperm(self._size, generator=generator) if self._shuffle else torch.arange(self._size)
            yield from order.tolist()

    def __len__(self) -> int:
        return self._size // self._world_size


class YoloBatchSampler(TorchBatchSampler):
    """Batches of ``(mosaic, index)`` pairs; datasets decorated with ``Dataset.mosaic_getitem``
    read the flag. Setting ``mosaic = False`` (``DataLoader.close_mosaic``) reaches the workers
    with the next indices."""

    def __init__(self, *args, mosaic: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.mosaic = mosaic

    def __iter__(self) -> Iterator[List[Tuple[bool, int]]]:
        for batch in super().__iter__():
            yield [(self.mosaic, idx) for idx in batch]
