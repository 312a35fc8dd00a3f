"""BatchSlotLoader: the torch DataLoader every loader of the project is built from.

It decides, per loader and per epoch, which of the package's parts apply: batch slots
(``slots.py``), the worker watch under ``data_timeout`` (``watchdog.py``), malloc tuning
(``malloc_tuning.py``) and the OpenCV guard around forking workers (``opencv_fork.py``).
Anything it cannot vouch for takes torch's own path; ``YOLOX_FAST_LOADER=0`` (``switches.py``)
makes every loader torch's plain one.
"""
import functools
import multiprocessing
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from torch.utils.data import default_collate

from .malloc_tuning import raise_malloc_thresholds
from .opencv_fork import forks_workers, opencv_pool_closed
from .slots import BatchSlotCollate, SlotIterator
from .switches import batch_slots_enabled, fast_loader_enabled
from .torch_private import IteratorHookLoader, missing_torch_internal
from .watchdog import WorkerActivity, watched_iterator, watched_worker_init

__all__ = ["BatchSlotLoader"]


def _start_worker(user_init: Optional[Callable[[int], None]], worker_id: int) -> None:
    """A loader worker's first call: malloc tuning (a forked worker already has it, a spawned one
    does not), then the loader's own ``worker_init_fn``."""
    raise_malloc_thresholds()
    if user_init is not None:
        user_init(worker_id)


@contextmanager
def _attributes_set(obj: Any, **values: Any) -> Iterator[None]:
    """``obj``'s attributes set to ``values`` inside the block, as before after it."""
    previous = {name: getattr(obj, name) for name in values}
    for name, value in values.items():
        setattr(obj, name, value)
    try:
        yield
    finally:
        for name, value in previous.items():
            setattr(obj, name, value)


class BatchSlotLoader(IteratorHookLoader):
    """torch DataLoader whose workers reuse shared-memory batch slots (``yolox.data.loader.slots``).

    Same arguments as torch's, plus ``reuse_batch_memory``: False turns the slots off; the
    default (None) follows the environment, off when ``YOLOX_BATCH_SLOTS=0`` or
    ``YOLOX_FAST_LOADER=0``. The batches are the ones torch's default collate gives, value for value.
    Slots need ``num_workers > 0``, the default collate and no persistent workers.

    ``data_timeout``: seconds without any data from the workers after which iteration raises
    ``DataLoaderTimeout`` naming each worker's pid, state and the sample it is loading
    (``yolox.data.loader.watchdog``); 0 waits forever, like torch. Needs ``num_workers > 0``:
    without workers the samples load in this process, where nothing can watch them. Under
    ``YOLOX_FAST_LOADER=0``, or when the torch internals the watch needs are missing, it is passed
    on as torch's ``timeout`` (the same limit, torch's error without the workers' report).
    """

    def __init__(self, dataset, *args, reuse_batch_memory: Optional[bool] = None, data_timeout: float = 0,
                 **kwargs):
        if data_timeout < 0:
            raise ValueError(f"data_timeout must be >= 0 seconds (0: wait forever), got {data_timeout}")
        if data_timeout > 0 and kwargs.get("timeout", 0) > 0:
            raise ValueError("give data_timeout or torch's timeout, not both (data_timeout also names the workers)")
        super().__init__(dataset, *args, **kwargs)
        self.data_timeout = data_timeout
        self.fast_loader = fast_loader_enabled()
        if self.fast_loader:
            # Every loader the project builds comes through here: malloc tuning for this process
            # (it builds the batches with 0 workers) and for each worker.
            raise_malloc_thresholds()
            if self.num_workers > 0:
                self.worker_init_fn = functools.partial(_start_worker, self.worker_init_fn)
        if reuse_batch_memory is None:
            reuse_batch_memory = batch_slots_enabled()
        # The guards are checked (and a missing internal logged) when the loader is built, not at its first epoch.
        self.reuse_batch_memory = (self.fast_loader and reuse_batch_memory
                                   and missing_torch_internal("batch_slots") is None)
        watched = data_timeout > 0 and self.num_workers > 0
        self.watch_workers = watched and self.fast_loader and missing_torch_internal("worker_watch") is None
        if watched and not self.watch_workers:
            self.timeout = data_timeout  # torch's own limit: the same stop, without the workers' report

    def __iter__(self):
        if not forks_workers(self.num_workers, self.multiprocessing_context):
            return super().__iter__()
        with opencv_pool_closed():  # workers fork here; see yolox/data/loader/opencv_fork.py
            return super().__iter__()

    def _uses_slots(self) -> bool:
        return (self.reuse_batch_memory and self.num_workers > 0 and not self.persistent_workers
                and self.collate_fn is default_collate)

    def make_iterator(self):
        """One epoch's iterator: torch's, through the slots and/or watched where they apply."""
        if not self._uses_slots():
            return self._iterator_collating_with(self.collate_fn)
        context = self.multiprocessing_context or multiprocessing
        # The batches a worker can have outstanding, plus two a training loop may still hold.
        slots = (self.prefetch_factor or 2) + 2
        free = [[context.BoundedSemaphore(1) for _ in range(slots)] for _ in range(self.num_workers)]
        return SlotIterator(self._iterator_collating_with(BatchSlotCollate(free)), free)

    def _iterator_collating_with(self, collate):
        """torch's iterator built with ``collate`` as the loader's collate, watched under a
        ``data_timeout`` (iterators and workers take the collate and worker init when built)."""
        if not self.watch_workers:
            with _attributes_set(self, collate_fn=collate):
                return self.torch_iterator()
        activity = WorkerActivity(self.num_workers)
        watched_init = functools.partial(watched_worker_init, self.worker_init_fn, activity)
        with _attributes_set(self, collate_fn=collate, worker_init_fn=watched_init):
            return watched_iterator(self, data_timeout=self.data_timeout, activity=activity)
