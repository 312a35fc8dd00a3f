"""reuse_freed_memory: freed image-sized blocks stay in the heap for the next sample."""
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
import numpy as np
from yolox.utils.allocator import reuse_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
applied = reuse_freed_memory()
assert reuse_freed_memory() == applied  # once per process
batch = np.full((8, 3, 640, 640), 114, dtype=np.float32)  # 39 MB, one batch
during = libc.mallinfo2()
del batch
after = libc.mallinfo2()
print(applied, during.hblkhd >= 39_000_000, after.fordblks >= 39_000_000)
"""


def _probe(env_off: bool) -> str:
    env = {"YOLOX_MALLOC_TUNING": "0"} if env_off else {}
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env})
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt/mallinfo2 are Linux-only")
def test_large_blocks_come_from_the_heap_and_stay_there_after_free():
    import ctypes

    try:
        has_mallinfo2 = hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        has_mallinfo2 = False
    if not has_mallinfo2:
        pytest.skip("not glibc >= 2.33 (no mallinfo2)")
    applied, mmapped, kept = _probe(env_off=False)
    assert (applied, mmapped, kept) == ("True", "False", "True")
    applied, mmapped, kept = _probe(env_off=True)  # glibc's defaults: a private mapping, unmapped on free
    assert (applied, mmapped, kept) == ("False", "True", "False")
