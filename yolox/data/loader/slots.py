"""Loader workers that write batches into reused shared-memory slots instead of fresh ones.

torch's default collate, in a worker, stacks each batch into a newly created shared-memory
segment: for a batch of eight 640x640 float images that is 39 MB of pages the kernel must
create, zero and fault in, every batch, which costs more than stacking itself (about 26 ms
against 6 ms on a 2-core machine). Here each worker keeps a few slots per loader iterator and
writes its images into a free one; the main process maps each slot once.

The main process lends the slot out as the batch's image tensor and takes it back only when
nothing can reach it any more: the tensor wraps a numpy view of the slot, and a finalizer on that
view frees the slot (torch keeps the view alive while any tensor, view or array of it lives). So
a batch a user keeps is never overwritten. A worker that finds all its slots lent out uses
torch's own path for that batch instead of waiting. With ``pin_memory`` the pinned copy frees
the slot at once.

This module holds the slot mechanics (the worker-side collate, the main-side iterator); which
loaders use them is decided in ``base_loader.py``, and the torch internals they need are guarded
in ``torch_private.py``.
"""
import weakref
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import default_collate, get_worker_info

from .torch_private import pin_memory_tree

__all__ = ["BatchSlotCollate", "SlotBatch", "SlotIterator"]


class SlotBatch:
    """A collated batch whose images [B, ...] live in slot ``slot`` of worker ``worker``.

    ``rest`` is the default collate of the samples' other fields. ``owned`` is True once
    ``images`` is a private copy (pinned by the loader's pin-memory thread) and the slot's
    shared ``storage`` may be freed.
    """

    def __init__(self, *, images: torch.Tensor, rest: List[Any], worker: int, slot: int,
                 owned: bool = False, storage=None):
        self.images, self.rest = images, rest
        self.worker, self.slot, self.owned = worker, slot, owned
        self.storage = storage

    def pin_memory(self, device: Optional[str] = None) -> "SlotBatch":
        """Called by torch's pin-memory thread: the pinned copy frees the slot for reuse."""
        return SlotBatch(images=self.images.pin_memory(), rest=pin_memory_tree(self.rest, device),
                         worker=self.worker, slot=self.slot, owned=True,
                         storage=self.images.untyped_storage())


def _stackable(samples: Sequence[Any]) -> bool:
    """Samples are tuples/lists whose first fields are numeric arrays of one shape and dtype."""
    if not samples or not all(isinstance(s, (tuple, list)) and len(s) >= 1 for s in samples):
        return False
    first = [s[0] for s in samples]
    if not all(isinstance(x, (np.ndarray, torch.Tensor)) for x in first):
        return False
    shape, dtype = tuple(first[0].shape), first[0].dtype
    if any(tuple(x.shape) != shape or x.dtype != dtype for x in first):
        return False
    if isinstance(first[0], torch.Tensor):
        return first[0].device.type == "cpu"
    return dtype.kind in "biuf"


class BatchSlotCollate:
    """Worker-side collate: images into a free slot of this worker, the rest by default collate.

    ``free[w][k]`` is the semaphore of worker w's slot k: taken (without waiting) before writing
    it, released by the main process once the lent batch is gone.
    """

    def __init__(self, free: Sequence[Sequence[Any]]):
        self.free = free
        self._slots: Dict[int, torch.Tensor] = {}  # this worker's slot buffers, 1-d, shared memory

    def __call__(self, samples: List[Any]):
        if not _stackable(samples):
            return default_collate(samples)
        images = [torch.as_tensor(s[0]) for s in samples]
        rest = default_collate([tuple(s[1:]) for s in samples])
        shape = (len(images),) + tuple(images[0].shape)
        info = get_worker_info()
        slot = None if info is None else self._take_free_slot(info.id)
        if slot is None:  # not in a worker, or the main process still holds every slot of this one
            return [default_collate(images), *rest]  # torch's own path: a fresh shared segment
        try:
            out = self._slot_view(slot, shape, images[0].dtype)
            torch.stack(images, out=out)
        except BaseException:
            self.free[info.id][slot].release()
            raise
        return SlotBatch(images=out, rest=rest, worker=info.id, slot=slot)

    def _take_free_slot(self, worker: int) -> Optional[int]:
        for slot, lock in enumerate(self.free[worker]):
            if lock.acquire(block=False):
                return slot
        return None

    def _slot_view(self, slot: int, shape: Tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A view of the given shape over slot ``slot``, (re)allocated when too small or of another dtype."""
        numel = int(np.prod(shape))
        buf = self._slots.get(slot)
        if buf is None or buf.dtype != dtype or buf.numel() < numel:
            buf = torch.empty(numel, dtype=dtype).share_memory_()
            self._slots[slot] = buf
        return buf[:numel].view(shape)


def _lend(images: torch.Tensor, give_back) -> torch.Tensor:
    """images [B, ...] over a slot, as a tensor whose death calls ``give_back`` (see module doc)."""
    try:
        view = images.numpy()
    except TypeError:  # dtypes numpy lacks (bfloat16): a private copy, the slot is free at once
        out = images.clone()
        give_back()
        return out
    weakref.finalize(view, give_back)
    return torch.from_numpy(view)


class SlotIterator:
    """Main-side iterator: lends each SlotBatch's slot out as its image tensor and returns the
    batch as default collate would ([images, *rest]); everything else passes through."""

    def __init__(self, inner, free: Sequence[Sequence[Any]]):
        self._inner = inner
        self._free = free
        self._mapped: Dict[Tuple[int, int], Any] = {}  # keeps each slot mapped in this process
        self.lent = 0  # batches that came through a slot (the others took torch's path)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._inner)

    def __next__(self):
        batch = next(self._inner)
        if not isinstance(batch, SlotBatch):
            return batch
        lock = self._free[batch.worker][batch.slot]
        self._mapped[(batch.worker, batch.slot)] = batch.storage if batch.owned else batch.images.untyped_storage()
        self.lent += 1
        if batch.owned:  # a pinned copy: the slot is free now
            lock.release()
            return [batch.images, *batch.rest]
        return [_lend(batch.images, lock.release), *batch.rest]

    def __getattr__(self, name: str):
        return getattr(self._inner, name)  # torch iterator internals (workers, sampler state)
