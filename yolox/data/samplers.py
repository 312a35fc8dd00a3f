"""Samplers: an endless, rank-sharded index stream and a batch sampler that carries the mosaic flag."""
import itertools
from typing import Iterator, List, Optional

import torch
from torch.utils.data.sampler import BatchSampler as TorchBatchSampler
from torch.utils.data.sampler import Sampler

from .sample_seeds import sample_seed

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
    with the next indices; ``mosaic_off_from`` (a batch number in the stream) switches it off for
    exactly the batches from there on, however many batches the workers have asked for ahead.

    With ``seed`` (the run's seed) each item is ``(mosaic, index, sample_seed)`` instead, the seed
    made from ``seed``, ``rank`` and the item's position in the rank's stream (counted from the
    sampler's ``start`` for an ``InfiniteSampler``): the decorated dataset augments each sample
    from its own seed (``yolox.data.sample_seeds``), whichever worker makes it."""

    def __init__(self, *args, mosaic: bool = True, seed: Optional[int] = None, rank: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mosaic = mosaic
        self.mosaic_off_from: Optional[int] = None
        self.seed = seed
        self.rank = rank

    def __iter__(self) -> Iterator[List[tuple]]:
        position = int(getattr(self.sampler, "start", 0))
        for batch in super().__iter__():
            batch_number = position // self.batch_size
            mosaic = self.mosaic and (self.mosaic_off_from is None or batch_number < self.mosaic_off_from)
            if self.seed is None:
                yield [(mosaic, idx) for idx in batch]
            else:
                yield [(mosaic, idx, sample_seed(run_seed=self.seed, rank=self.rank, position=position + k))
                       for k, idx in enumerate(batch)]
            position += len(batch)
