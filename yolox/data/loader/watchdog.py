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
The wait with a deadline needs torch's private multiprocessing iterator
(``torch_private.DeadlineWorkersIterator``, guarded there); without it the loader falls back to
torch's own ``timeout`` (the same limit, a message without the workers).
"""
import time
from typing import Any, Callable, List, Optional, Sequence

import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..errors import DataLoaderTimeout
from .torch_private import DeadlineWorkersIterator

__all__ = ["WorkerActivity", "watched_iterator", "watched_worker_init", "stall_report"]

_INDEX, _SINCE, _DONE = 0, 1, 2  # columns of the activity table


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


def stall_report(*, data_timeout: float, activity: WorkerActivity, workers: Sequence[Any]) -> str:
    """What DataLoaderTimeout says: the limit, then one line per worker (``workers``: their Process objects)."""
    now = time.time()
    lines = [activity.describe(w, process, now) for w, process in enumerate(workers)]
    return (f"the data loader yielded no batch for {data_timeout:g} s (data_timeout; 0 waits "
            f"forever); its workers:\n  " + "\n  ".join(lines) + "\nA worker loading one sample all "
            "this time points at that sample (its file, storage or augmentation).")


def watched_iterator(loader, *, data_timeout: float, activity: WorkerActivity):
    """torch's multiprocessing iterator over ``loader`` that raises :class:`DataLoaderTimeout`
    after ``data_timeout`` seconds without data. The loader's workers must start with
    :func:`watched_worker_init` on the same ``activity``."""

    def timed_out(workers: Sequence[Any]) -> DataLoaderTimeout:
        return DataLoaderTimeout(stall_report(data_timeout=data_timeout, activity=activity, workers=workers))

    return DeadlineWorkersIterator(loader, data_timeout=data_timeout, on_stall=timed_out)
