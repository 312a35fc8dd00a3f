"""Let glibc's malloc keep freed image-sized blocks in the heap of processes that build batches.

A 640x640 float image is 4.9 MB and a batch of eight 39 MB. Blocks that large are served by fresh
``mmap`` calls and handed back to the kernel on ``free`` (and the heap top is trimmed often), so
every sample pays page faults and kernel zeroing for memory it had just released. Raising the
mmap and trim thresholds keeps such blocks in the heap for the next sample. The price is that a
loading process keeps its peak heap mapped: a few hundred MB for a 640 pipeline.

Why ``mallopt`` through ctypes and not the environment: glibc reads ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` once, when malloc initialises at process start. Setting them from
Python changes nothing in the running process (the one that builds batches with 0 workers) nor in
forked loader workers (a fork does not re-initialise malloc); only a process that is exec'ed
afterwards would see them, and users would have to export them before starting Python.

What it pays: ``python benchmarks/data_pipeline.py``, default vs ``YOLOX_MALLOC_TUNING=0``, img/s
(a previous measurement on the 2-core development machine):

    train, 0 workers   73.4 vs  57.0
    train, 2 workers   88.8 vs  83.1
    eval,  0 workers  293.7 vs 244.2
    eval,  2 workers  269.9 vs 235.1

The data layer applies it for every loader it builds (``yolox.data.loader.BatchSlotLoader``:
the building process and each worker). ``YOLOX_MALLOC_TUNING=0`` or ``YOLOX_FAST_LOADER=0``
turns it off; other C libraries are left alone.
"""
import ctypes
import ctypes.util
import sys

from .switches import malloc_tuning_enabled

__all__ = ["raise_malloc_thresholds"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers in glibc's malloc.h
_MMAP_THRESHOLD = 256 << 20  # blocks below this come from the heap
_TRIM_THRESHOLD = 1 << 30  # free heap kept before returning any to the kernel

_applied = None


def raise_malloc_thresholds() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once), so freed image-sized
    blocks are reused instead of unmapped; whether the tuning is in effect."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if not sys.platform.startswith("linux") or not malloc_tuning_enabled():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and friends: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
