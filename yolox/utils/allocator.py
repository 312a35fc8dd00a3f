"""Let glibc's malloc reuse freed memory in processes that build large arrays image after image.

A 640x640 float image is 4.9 MB and a batch of eight 39 MB. Blocks that large are served by fresh
``mmap`` calls and handed back to the kernel on ``free`` (and the heap top is trimmed often), so
every sample pays page faults and kernel zeroing for memory it had just released. Raising the
mmap and trim thresholds keeps such blocks in the heap for the next sample. The price is that a
loading process keeps its peak heap mapped: a few hundred MB for a 640 pipeline.

Applied once per process by the data loaders (the process that builds batches with 0 workers,
and each worker). ``YOLOX_MALLOC_TUNING=0`` turns it off; other C libraries are left alone.
"""
import ctypes
import ctypes.util
import os
import sys

__all__ = ["reuse_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers in glibc's malloc.h
_MMAP_THRESHOLD = 256 << 20  # blocks below this come from the heap
_TRIM_THRESHOLD = 1 << 30  # free heap kept before returning any to the kernel

_applied = None


def reuse_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); whether it is in effect."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("YOLOX_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and friends: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
