"""Loader workers that write batches into reused shared-memory slots instead of fresh ones.

torch's default collate, in a worker, stacks each batch into a newly created shared-memory
segment: for a batch of eight 640x640 float images that is 39 MB of pages the kernel must
create, zero and fault in, every batch, which costs more than stacking itself (about 26 ms
against 6 ms on a 2-core machine). Here each worker keeps a few slots per loader iterator and
writes its images into them again and again; the main process maps each slot once and copies a
batch out of it (or pins it, with ``pin_memory``) before handing it on, then frees the slot.

The batches a user receives are ordinary tensors that nothing overwrites later: the copy is what
makes the reuse safe. The copy, and with 0 workers the stacked batch itself, go into blocks of
``yolox.data.recycled_memory``, which come back only once nothing references them. A semaphore
per slot keeps a worker from writing a slot the main process has not yet copied. Anything other
than the default collate, samples whose first element is not an array of one shape, and
persistent workers take torch's usual path.
"""
import multiprocessing
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader as TorchDataLoader
from torch.utils.data import get_worker_info
from torch.utils.data._utils.collate import default_collate

from . import recycled_memory

__all__ = ["BatchSlotLoader", "BatchSlotCollate", "SlotBatch"]


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
        from torch.utils.data._utils.pin_memory import pin_memory

        return SlotBatch(images=self.images.pin_memory(), rest=pin_memory(self.rest, device),
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
    """Collate: images into this worker's next slot, the rest by default collate. Called in the
    loading process itself (0 workers), it stacks into a recycled block and returns the batch.

    ``free[w][k]`` is the semaphore of worker w's slot k: taken before writing it, released by
    the main process once the batch is copied out.
    """

    def __init__(self, free: Sequence[Sequence[Any]] = ()):
        self.free = free
        self._slots: Dict[int, torch.Tensor] = {}  # this worker's slot buffers, 1-d, shared memory
        self._count = 0

    def __call__(self, samples: List[Any]):
        if not _stackable(samples):
            return default_collate(samples)
        images = [torch.as_tensor(s[0]) for s in samples]
        rest = default_collate([tuple(s[1:]) for s in samples])
        shape = (len(images),) + tuple(images[0].shape)
        info = get_worker_info()
        if info is None:
            return [torch.stack(images, out=recycled_memory.empty(shape, images[0].dtype)), *rest]
        slot = self._count % len(self.free[info.id])
        self._count += 1
        lock = self.free[info.id][slot]
        lock.acquire()
        try:
            out = self._slot_view(slot, shape, images[0].dtype)
            torch.stack(images, out=out)
        except BaseException:
            lock.release()
            raise
        return SlotBatch(images=out, rest=rest, worker=info.id, slot=slot)

    def _slot_view(self, slot: int, shape: Tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A view of the given shape over slot ``slot``, (re)allocated when too small or of another dtype."""
        numel = int(np.prod(shape))
        buf = self._slots.get(slot)
        if buf is None or buf.dtype != dtype or buf.numel() < numel:
            buf = torch.empty(numel, dtype=dtype).share_memory_()
            self._slots[slot] = buf
        return buf[:numel].view(shape)


def _private_copy(images: torch.Tensor) -> torch.Tensor:
    """A copy of images in this process's memory, in a recycled block (no fresh pages to fault
    in). numpy copies on the calling thread: torch's parallel copy would take a second core
    from the workers for a memory-bound job."""
    out = recycled_memory.empty(tuple(images.shape), images.dtype)
    try:
        np.copyto(out.numpy(), images.numpy())
    except TypeError:  # dtypes numpy lacks (bfloat16)
        out.copy_(images)
    return out


class _SlotIterator:
    """Main-side iterator: copies each SlotBatch out of its slot, frees the slot, returns the
    batch as default collate would ([images, *rest]); everything else passes through."""

    def __init__(self, inner, free: Sequence[Sequence[Any]]):
        self._inner = inner
        self._free = free
        self._mapped: Dict[Tuple[int, int], Any] = {}  # keeps each slot mapped in this process

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._inner)

    def __next__(self):
        batch = next(self._inner)
        if not isinstance(batch, SlotBatch):
            return batch
        storage = batch.storage if batch.owned else batch.images.untyped_storage()
        self._mapped[(batch.worker, batch.slot)] = storage
        images = batch.images if batch.owned else _private_copy(batch.images)
        self._free[batch.worker][batch.slot].release()
        return [images, *batch.rest]

    def __getattr__(self, name: str):
        return getattr(self._inner, name)  # torch iterator internals (workers, sampler state)


class BatchSlotLoader(TorchDataLoader):
    """torch DataLoader whose workers reuse shared-memory batch slots (see the module doc).

    Same arguments as torch's, plus ``reuse_batch_memory`` (default True) to turn it off. The
    batches are the ones torch's default collate gives, value for value.
    """

    def __init__(self, dataset, *args, reuse_batch_memory: bool = True, **kwargs):
        super().__init__(dataset, *args, **kwargs)
        self.reuse_batch_memory = reuse_batch_memory

    def _reuses_memory(self) -> bool:
        return (getattr(self, "reuse_batch_memory", False) and not self.persistent_workers
                and self.collate_fn is default_collate)

    def _get_iterator(self):
        if not self._reuses_memory():
            return super()._get_iterator()
        if self.num_workers == 0:
            return self._iterator_collating_with(BatchSlotCollate())  # recycled blocks, this process
        context = self.multiprocessing_context or multiprocessing
        # One slot more than the batches a worker can have outstanding, so a worker never waits.
        slots = (self.prefetch_factor or 2) + 1
        free = [[context.Semaphore(1) for _ in range(slots)] for _ in range(self.num_workers)]
        return _SlotIterator(self._iterator_collating_with(BatchSlotCollate(free)), free)

    def _iterator_collating_with(self, collate):
        """torch's iterator built with ``collate`` (iterators and workers take it at construction)."""
        original = self.collate_fn
        self.collate_fn = collate
        try:
            return super()._get_iterator()
        finally:
            self.collate_fn = original
