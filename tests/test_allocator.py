"""raise_malloc_thresholds: freed image-sized blocks stay in the heap for the next sample."""
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
import numpy as np
from yolox.data.loader.malloc_tuning import raise_malloc_thresholds

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
applied = raise_malloc_thresholds()
assert raise_malloc_thresholds() == applied  # once per process
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


@pytest.mark.slow
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


def test_every_project_loader_tunes_its_process_and_its_workers(monkeypatch):
    """The data layer owns the tuning: BatchSlotLoader (the base of yolox.data.DataLoader and the
    Exp's eval loader) applies it in the building process and first thing in each worker."""
    import numpy as np

    from yolox.data import DataLoader
    from yolox.data.loader import base_loader

    calls, seen_ids = [], []
    monkeypatch.setattr(base_loader, "raise_malloc_thresholds", lambda: calls.append("tuned"))
    images = [np.zeros((2, 2), np.float32)] * 4
    DataLoader(images, batch_size=2)
    assert calls == ["tuned"]
    loader = DataLoader(images, batch_size=2, num_workers=2, worker_init_fn=seen_ids.append)
    loader.worker_init_fn(1)  # what torch calls first in worker 1
    assert calls == ["tuned"] * 3 and seen_ids == [1]
