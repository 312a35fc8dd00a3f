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
the slot at once. Anything other than the default collate, samples whose first element is not
an array of one shape, 0 workers and persistent workers take torch's usual path.

This leans on torch internals (the ``DataLoader._get_iterator`` hook, the default collate the
loader assigns, the pin-memory helper). ``_missing_torch_internal`` checks them once per
process; when one is gone or changed, every loader takes torch's own path (slower, the same
batches) and one warning names what is missing.
"""
import functools
import importlib
import inspect
import multiprocessing
import os
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from loguru import logger
from torch.utils.data import DataLoader as TorchDataLoader
from torch.utils.data import default_collate, get_worker_info

from yolox.utils.allocator import raise_malloc_thresholds

from .loader_watchdog import WatchedIterator, WorkerActivity, watch_internals_missing, watched_worker_init
from .opencv_threads import forks_workers, opencv_pool_closed

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


class _SlotIterator:
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


def _start_worker(user_init: Optional[Callable[[int], None]], worker_id: int) -> None:
    """A loader worker's first call: malloc tuning (a forked worker already has it, a spawned one
    does not), then the loader's own ``worker_init_fn``."""
    raise_malloc_thresholds()
    if user_init is not None:
        user_init(worker_id)


def _torch_attribute(module: str, name: str):
    """``module.name`` or None when either is gone."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _check_torch_internals() -> Optional[str]:
    """None when the torch internals the slot path relies on are there as expected, else which is not."""
    hook = getattr(TorchDataLoader, "_get_iterator", None)
    if not callable(hook):
        return "torch.utils.data.DataLoader._get_iterator is missing"
    if list(inspect.signature(hook).parameters) != ["self"]:
        return f"torch.utils.data.DataLoader._get_iterator{inspect.signature(hook)} takes more than self"
    iter_code = getattr(TorchDataLoader.__iter__, "__code__", None)
    if iter_code is None or "_get_iterator" not in iter_code.co_names:
        return "torch.utils.data.DataLoader.__iter__ does not call _get_iterator"
    loader_default = _torch_attribute("torch.utils.data._utils.collate", "default_collate")
    if loader_default is not default_collate:  # what DataLoader assigns when given no collate_fn
        return "torch.utils.data._utils.collate.default_collate is missing or not torch.utils.data.default_collate"
    if not callable(_torch_attribute("torch.utils.data._utils.pin_memory", "pin_memory")):
        return "torch.utils.data._utils.pin_memory.pin_memory is missing"  # SlotBatch.pin_memory uses it
    return None


@functools.lru_cache(maxsize=None)
def _missing_torch_internal() -> Optional[str]:
    """The guard of the slot path, checked once per process: None when it may be used, else what is
    missing (logged once; loaders then take torch's own path)."""
    missing = _check_torch_internals()
    if missing is not None:
        logger.warning(f"batch slots off, loaders take torch's own (slower) path: {missing} "
                       f"(torch {torch.__version__}); see yolox/data/batch_slots.py")
    return missing


@functools.lru_cache(maxsize=None)
def _missing_watch_internal() -> Optional[str]:
    """The guard of the worker watch (checked once per process, logged once): None when it may be used."""
    missing = watch_internals_missing()
    if missing is not None:
        logger.warning(f"data_timeout falls back to torch's timeout, whose error does not name the workers: "
                       f"{missing} (torch {torch.__version__}); see yolox/data/loader_watchdog.py")
    return missing


class BatchSlotLoader(TorchDataLoader):
    """torch DataLoader whose workers reuse shared-memory batch slots (see the module doc).

    Same arguments as torch's, plus ``reuse_batch_memory``: False turns the slots off; the
    default (None) follows the environment, off when ``YOLOX_BATCH_SLOTS=0``. The batches are the
    ones torch's default collate gives, value for value.

    ``data_timeout``: seconds without any data from the workers after which iteration raises
    ``DataLoaderTimeout`` naming each worker's pid, state and the sample it is loading
    (``yolox.data.loader_watchdog``); 0 waits forever, like torch. Needs ``num_workers > 0``:
    without workers the samples load in this process, where nothing can watch them.
    """

    def __init__(self, dataset, *args, reuse_batch_memory: Optional[bool] = None, data_timeout: float = 0,
                 **kwargs):
        if data_timeout < 0:
            raise ValueError(f"data_timeout must be >= 0 seconds (0: wait forever), got {data_timeout}")
        if data_timeout > 0 and kwargs.get("timeout", 0) > 0:
            raise ValueError("give data_timeout or torch's timeout, not both (data_timeout also names the workers)")
        super().__init__(dataset, *args, **kwargs)
        self.data_timeout = data_timeout
        # Every loader the project builds comes through here: malloc tuning for this process
        # (it builds the batches with 0 workers) and for each worker (yolox.utils.allocator).
        raise_malloc_thresholds()
        if self.num_workers > 0:
            self.worker_init_fn = functools.partial(_start_worker, self.worker_init_fn)
        if reuse_batch_memory is None:
            reuse_batch_memory = os.environ.get("YOLOX_BATCH_SLOTS", "1") != "0"
        # Checked (and a missing internal logged) when the loader is built, not at its first epoch.
        self.reuse_batch_memory = reuse_batch_memory and _missing_torch_internal() is None
        if data_timeout > 0 and self.num_workers > 0 and _missing_watch_internal() is not None:
            self.timeout = data_timeout  # torch's own limit: the same stop, without the workers' report

    def __iter__(self):
        if not forks_workers(self.num_workers, self.multiprocessing_context):
            return super().__iter__()
        with opencv_pool_closed():  # workers fork here; see yolox/data/opencv_threads.py
            return super().__iter__()

    def _uses_slots(self) -> bool:
        return (getattr(self, "reuse_batch_memory", False) and self.num_workers > 0
                and not self.persistent_workers and self.collate_fn is default_collate
                and _missing_torch_internal() is None)

    def _watches_workers(self) -> bool:
        return self.data_timeout > 0 and self.num_workers > 0 and _missing_watch_internal() is None

    def _get_iterator(self, *args, **kwargs):
        """The one entry to the slot path; anything it cannot vouch for goes to torch's own."""
        if args or kwargs:
            return super()._get_iterator(*args, **kwargs)
        if not self._uses_slots():
            return self._new_iterator(self.collate_fn)
        context = self.multiprocessing_context or multiprocessing
        # The batches a worker can have outstanding, plus two a training loop may still hold.
        slots = (self.prefetch_factor or 2) + 2
        free = [[context.BoundedSemaphore(1) for _ in range(slots)] for _ in range(self.num_workers)]
        return _SlotIterator(self._new_iterator(BatchSlotCollate(free)), free)

    def _new_iterator(self, collate):
        """torch's iterator built with ``collate``, and watched under a ``data_timeout`` (iterators
        and workers take the collate and the worker init at construction)."""
        if not self._watches_workers():
            return self._iterator_collating_with(collate)
        activity = WorkerActivity(self.num_workers)
        original = self.worker_init_fn
        self.worker_init_fn = functools.partial(watched_worker_init, original, activity)
        try:
            return self._iterator_collating_with(
                collate, build=functools.partial(WatchedIterator, data_timeout=self.data_timeout, activity=activity))
        finally:
            self.worker_init_fn = original

    def _iterator_collating_with(self, collate, build: Optional[Callable] = None):
        """``build(self)`` (default: torch's own iterator) with ``collate`` as the loader's collate."""
        original = self.collate_fn
        self.collate_fn = collate
        try:
            return build(self) if build is not None else super()._get_iterator()
        finally:
            self.collate_fn = original
