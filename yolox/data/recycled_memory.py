"""Batch-sized CPU buffers handed out again once nothing can reach the tensor made from them.

A loader's main process gets a new 39 MB batch every few tens of milliseconds. From malloc, such
a block is either a fresh mapping (above glibc's mmap threshold, which cannot be raised past
32 MB) or a heap block that the many small allocations in between split, so the next batch no
longer fits and the heap grows: either way the kernel faults in and zeroes ~9,600 new pages per
batch, three to four times the cost of copying the batch itself.

``empty(shape, dtype)`` returns a tensor over a numpy block. torch keeps that numpy array alive
for as long as the tensor's storage lives (views, ``.numpy()`` and pinned copies included); when
the array is finally collected, a finalizer puts its block back for the next batch of that size.
So a block is only reused once no tensor, view or array can see it.
"""
import collections
import weakref
from typing import Deque, Dict, Tuple

import numpy as np
import torch

__all__ = ["empty"]

_KEEP_PER_SIZE = 4  # free blocks kept per byte size; a loader has a few batches alive at once
_free: Dict[int, Deque[np.ndarray]] = {}  # nbytes -> free uint8 blocks (deque: append/pop need no lock)


def _give_back(block: np.ndarray) -> None:
    blocks = _free.setdefault(block.nbytes, collections.deque())
    if len(blocks) < _KEEP_PER_SIZE:
        blocks.append(block)


def empty(shape: Tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor of ``shape``; its memory comes back here when it is freed.

    dtypes numpy lacks (bfloat16) get a plain ``torch.empty``."""
    try:
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
    except TypeError:
        return torch.empty(shape, dtype=dtype)
    nbytes = int(np.prod(shape)) * np_dtype.itemsize
    try:
        block = _free.get(nbytes, collections.deque()).pop()
    except IndexError:
        block = np.empty(nbytes, dtype=np.uint8)
    array = block.view(np_dtype).reshape(shape)
    weakref.finalize(array, _give_back, block)
    return torch.from_numpy(array)
