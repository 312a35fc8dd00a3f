"""The one module of yolox that touches torch's private DataLoader API.

Nothing here is public or promised stable by torch; every access is listed, and guarded:

- ``DataLoader._get_iterator()``, which torch's ``DataLoader.__iter__`` calls to build each
  epoch's iterator: :class:`IteratorHookLoader` overrides it so that the project's loaders build
  their own (batch slots, the worker watch). Guard: it exists, takes only ``self``, and
  ``__iter__`` calls it.
- ``torch.utils.data._utils.collate.default_collate``, the collate a DataLoader assigns when given
  none: the slot path recognises it by identity with the public ``default_collate``.
- ``torch.utils.data._utils.pin_memory.pin_memory``: pins a slot batch's other fields
  (:func:`pin_memory_tree`).
- ``torch.utils.data.dataloader._MultiProcessingDataLoaderIter`` (its ``_get_data`` overridden,
  its ``_try_get_data``, ``_pin_memory``, ``_pin_memory_thread`` and ``_workers`` read) and
  ``torch.utils.data._utils.MP_STATUS_CHECK_INTERVAL``: the worker watch's wait for data
  (:class:`DeadlineWorkersIterator`).

Each feature built on them has a guard, :func:`missing_torch_internal`, checked once per process.
When something a feature needs is gone or changed, the feature is off, loaders take torch's public
path (the same batches, slower; ``data_timeout`` becomes torch's ``timeout``) and one warning says
what is missing. ``YOLOX_FAST_LOADER=0`` turns every feature off without asking.
"""
import functools
import importlib
import inspect
import time
from typing import Any, Callable, Optional, Sequence

import torch
from loguru import logger
from torch.utils.data import DataLoader as TorchDataLoader
from torch.utils.data import default_collate

__all__ = ["IteratorHookLoader", "DeadlineWorkersIterator", "missing_torch_internal", "pin_memory_tree"]

try:
    from torch.utils.data._utils import MP_STATUS_CHECK_INTERVAL
    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter as _TorchWorkersIterator
except ImportError:  # the "worker_watch" guard reports it; DeadlineWorkersIterator is then never built
    MP_STATUS_CHECK_INTERVAL, _TorchWorkersIterator = 5.0, object


def _torch_attribute(module: str, name: str):
    """``module.name``, or None when either is gone."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _iterator_hook_missing() -> Optional[str]:
    hook = getattr(TorchDataLoader, "_get_iterator", None)
    if not callable(hook):
        return "torch.utils.data.DataLoader._get_iterator is missing"
    if list(inspect.signature(hook).parameters) != ["self"]:
        return f"torch.utils.data.DataLoader._get_iterator{inspect.signature(hook)} takes more than self"
    iter_code = getattr(TorchDataLoader.__iter__, "__code__", None)
    if iter_code is None or "_get_iterator" not in iter_code.co_names:
        return "torch.utils.data.DataLoader.__iter__ does not call _get_iterator"
    return None


def _slot_internals_missing() -> Optional[str]:
    missing = _iterator_hook_missing()
    if missing is not None:
        return missing
    if _torch_attribute("torch.utils.data._utils.collate", "default_collate") is not default_collate:
        return "torch.utils.data._utils.collate.default_collate is missing or not torch.utils.data.default_collate"
    if not callable(_torch_attribute("torch.utils.data._utils.pin_memory", "pin_memory")):
        return "torch.utils.data._utils.pin_memory.pin_memory is missing"
    return None


def _watch_internals_missing() -> Optional[str]:
    missing = _iterator_hook_missing()  # the watched iterator is built through the hook
    if missing is not None:
        return missing
    if _TorchWorkersIterator is object:
        return "torch.utils.data.dataloader._MultiProcessingDataLoaderIter is missing"
    for name in ("_get_data", "_try_get_data"):
        if not callable(getattr(_TorchWorkersIterator, name, None)):
            return f"torch.utils.data.dataloader._MultiProcessingDataLoaderIter.{name} is missing"
    return None


# feature -> (its check, what a user gets instead)
_FEATURES = {
    "batch_slots": (_slot_internals_missing, "batch slots off, loaders take torch's own (slower) path"),
    "worker_watch": (_watch_internals_missing,
                     "data_timeout falls back to torch's timeout, whose error does not name the workers"),
}


@functools.lru_cache(maxsize=None)
def missing_torch_internal(feature: str) -> Optional[str]:
    """None when the torch internals ``feature`` ("batch_slots" or "worker_watch") relies on are
    there as expected, else what is missing. Checked once per process; a miss is logged once."""
    if feature not in _FEATURES:
        raise ValueError(f"unknown loader feature {feature!r}; known: {sorted(_FEATURES)}")
    check, fallback = _FEATURES[feature]
    missing = check()
    if missing is not None:
        logger.warning(f"{fallback}: {missing} (torch {torch.__version__}); see yolox/data/loader/torch_private.py "
                       "(YOLOX_FAST_LOADER=0 turns all of these off)")
    return missing


def pin_memory_tree(data: Any, device: Optional[str] = None) -> Any:
    """``data`` (tensors in lists, tuples, dicts) with every tensor pinned, the way torch's pin
    thread pins a batch. Only called on the slot path, whose guard checked the helper exists."""
    from torch.utils.data._utils.pin_memory import pin_memory

    return pin_memory(data, device)


class IteratorHookLoader(TorchDataLoader):
    """torch's DataLoader whose each epoch's iterator comes from :meth:`make_iterator`.

    Subclasses override ``make_iterator`` and call :meth:`torch_iterator` for torch's own. On a
    torch whose ``__iter__`` no longer goes through the hook, ``make_iterator`` is simply never
    called (the guards then keep the features that need it off).
    """

    def _get_iterator(self, *args, **kwargs):
        if args or kwargs:  # a torch whose hook takes more than we know: torch's own iterator
            return super()._get_iterator(*args, **kwargs)
        return self.make_iterator()

    def make_iterator(self):
        """The iterator of one epoch (default: torch's)."""
        return self.torch_iterator()

    def torch_iterator(self):
        """torch's own iterator, built from the loader's current ``collate_fn`` and ``worker_init_fn``."""
        return super()._get_iterator()


class DeadlineWorkersIterator(_TorchWorkersIterator):
    """torch's multiprocessing iterator whose wait for data ends after ``data_timeout`` seconds
    with the exception ``on_stall(workers)`` returns (``workers``: the worker Process objects)."""

    def __init__(self, loader, *, data_timeout: float, on_stall: Callable[[Sequence[Any]], BaseException]):
        self._data_timeout, self._on_stall = data_timeout, on_stall
        super().__init__(loader)

    def _get_data(self):
        # torch's wait without a timeout, in slices: each _try_get_data checks the workers' health,
        # so a dead worker is still reported by torch as soon as it dies.
        deadline = time.monotonic() + self._data_timeout
        while not self._pin_memory or self._pin_memory_thread.is_alive():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._on_stall(list(self._workers))
            success, data = self._try_get_data(min(remaining, MP_STATUS_CHECK_INTERVAL))
            if success:
                return data
        raise RuntimeError("Pin memory thread exited unexpectedly")  # torch's own words for it
