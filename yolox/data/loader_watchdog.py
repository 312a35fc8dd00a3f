"""A loader that yields no batch for ``data_timeout`` seconds raises, saying what each worker is doing.

Without this a worker stuck on one sample (a hung network mount, a decoder in an endless loop, a
deadlock) stalls training forever with no message. Each worker writes, into a small shared table,
the dataset index it is loading and since when (a few float writes per sample, nothing measurable
beside decoding an image); the main process waits for data in slices of torch's worker-status
interval, so dead workers are still reported by torch as soon as they die, and after
``data_timeout`` seconds without any data it raises :class:`DataLoaderTimeout` with one line per
worker: ``worker 1 (pid 1234, alive): loading sample 57 for 312 s``.

The index is recorded through the dataset's ``__getitems__`` hook (torch's fetcher calls it with
the batch's indices when a dataset has one): each worker sets it on its own copy of the dataset.
This leans on one torch internal, ``_MultiProcessingDataLoaderIter`` and its ``_try_get_data``;
``watch_internals_missing`` checks it, and without it the loader falls back to torch's own
``timeout`` (the same limit, a message without the workers).
"""
import time
from typing import Any, Callable, List, Optional

import torch
from torch.utils.data import IterableDataset, get_worker_info

from .errors import DataLoaderTimeout

__all__ = ["WorkerActivity", "WatchedIterator", "watched_worker_init", "watch_internals_missing"]

_INDEX, _SINCE, _DONE = 0, 1, 2  # columns of the activity table


try:
    from torch.utils.data._utils import MP_STATUS_CHECK_INTERVAL
    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter as _TorchWorkersIterator
except ImportError:  # reported by watch_internals_missing; WatchedIterator is then never built
    MP_STATUS_CHECK_INTERVAL, _TorchWorkersIterator = 5.0, object


def watch_internals_missing() -> Optional[str]:
    """None when torch's multiprocessing iterator has what WatchedIterator overrides, else what is missing."""
    if _TorchWorkersIterator is object:
        return "torch.utils.data.dataloader._MultiProcessingDataLoaderIter is missing"
    for name in ("_get_data", "_try_get_data"):
        if not callable(getattr(_TorchWorkersIterator, name, None)):
            return f"torch.utils.data.dataloader._MultiProcessingDataLoaderIter.{name} is missing"
    return None


class WorkerActivity:
    """Shared table [num_workers, 3] float64, one row per worker: sample index being loaded (-1:
    none), since when (time.time(), -1: the worker has not started), samples loaded so far."""

    def __init__(self, num_workers: int):
        self.table = torch.full((num_workers, 3), -1.0, dtype=torch.float64).share_memory_()

    def describe(self, worker: int, process, now: float) -> str:
        """``worker 1 (pid 1234, alive): loading sample 57 for 312 s`` (``process``: the worker's Process)."""
        index, since, done = self.table[worker].tolist()
        state = "alive" if process.is_alive() else f"dead, exit code {process.exitcode}"
        head = f"worker {worker} (pid {process.pid}, {state})"
        if since < 0:
            return f"{head}: has not started"
        if index >= 0:
            return f"{head}: loading sample {int(index)} for {now - since:.0f} s"
        return f"{head}: not loading a sample for {now - since:.0f} s ({int(done)} loaded)"


def _sample_index(index: Any) -> int:
    """The dataset index in a sampler's item: ``57``, or ``(mosaic_flag, 57)`` or
    ``(mosaic_flag, 57, sample_seed)`` from YoloBatchSampler."""
    if isinstance(index, (tuple, list)) and index:
        index = index[1] if len(index) > 1 else index[0]
    try:
        return int(index)
    except (TypeError, ValueError):
        return -1  # a key that is no number (a dict dataset): the time still tells


class _TracedGetitems:
    """A worker's ``dataset.__getitems__``: records each index in the worker's row, then loads it
    the way torch's fetcher would (``dataset[i]`` each, or the dataset's own ``__getitems__``)."""

    def __init__(self, dataset, row, own: Optional[Callable]):
        self.dataset, self.row, self.own = dataset, row, own

    def __call__(self, indices: List[Any]) -> List[Any]:
        row = self.row
        if self.own is not None:  # the dataset loads the batch itself: record its first index
            row[_INDEX], row[_SINCE] = _sample_index(indices[0]) if indices else -1, time.time()
            samples = self.own(indices)
            row[_DONE] += len(indices)
        else:
            samples = []
            for index in indices:
                row[_INDEX], row[_SINCE] = _sample_index(index), time.time()
                samples.append(self.dataset[index])
                row[_DONE] += 1
        row[_INDEX], row[_SINCE] = -1, time.time()
        return samples


def watched_worker_init(user_init: Optional[Callable[[int], None]], activity: WorkerActivity, worker_id: int) -> None:
    """A watched worker's init: the loader's own ``worker_init_fn``, then tracing on its dataset copy."""
    if user_init is not None:
        user_init(worker_id)
    row = activity.table[worker_id].numpy()  # numpy writes: cheaper than tensor indexing per sample
    row[_INDEX], row[_SINCE], row[_DONE] = -1, time.time(), 0
    dataset = get_worker_info().dataset
    if isinstance(dataset, IterableDataset):
        return  # no indices to record; the report still gives pid, state and idle time
    own = getattr(dataset, "__getitems__", None)
    try:
        dataset.__getitems__ = _TracedGetitems(dataset, row, own)
    except AttributeError:  # __slots__ or a read-only attribute: times without indices
        pass


class WatchedIterator(_TorchWorkersIterator):
    """torch's multiprocessing iterator whose wait for data ends after ``data_timeout`` seconds
    with :class:`DataLoaderTimeout` naming what every worker is doing."""

    def __init__(self, loader, *, data_timeout: float, activity: WorkerActivity):
        self._data_timeout, self._activity = data_timeout, activity
        super().__init__(loader)

    def _get_data(self):
        # torch's wait without a timeout, in slices: each _try_get_data checks the workers' health.
        deadline = time.monotonic() + self._data_timeout
        while not self._pin_memory or self._pin_memory_thread.is_alive():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DataLoaderTimeout(self.stall_report())
            success, data = self._try_get_data(min(remaining, MP_STATUS_CHECK_INTERVAL))
            if success:
                return data
        raise RuntimeError("Pin memory thread exited unexpectedly")  # torch's own words for it

    def stall_report(self) -> str:
        """What DataLoaderTimeout says: the limit, then one line per worker."""
        now = time.time()
        lines = [self._activity.describe(w, process, now) for w, process in enumerate(self._workers)]
        return (f"the data loader yielded no batch for {self._data_timeout:g} s (data_timeout; 0 waits "
                f"forever); its workers:\n  " + "\n  ".join(lines) + "\nA worker loading one sample all "
                "this time points at that sample (its file, storage or augmentation).")
