"""Loader workers start after OpenCV's thread pool ran in the parent (a notebook that looked at a
few images, a 0-worker loader earlier): they must not hang on a lock copied from the parent."""
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest

from yolox.data.loader.opencv_fork import forks_workers, opencv_pool_closed

REPO_ROOT = Path(__file__).resolve().parents[1]

# Torch's own DataLoader hangs on this script (checked by hand: no batch in 40 s, both workers
# inside cv2.setNumThreads); the project's loaders close OpenCV's pool around the fork.
SCRIPT = textwrap.dedent("""
    import cv2, numpy as np, torch
    from torch.utils.data import Dataset
    from yolox.data import BatchSlotLoader, worker_init_reset_seed

    class Resized(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return torch.from_numpy(cv2.resize(np.full((480, 640, 3), i, np.uint8), (320, 240)))

    big = np.random.randint(0, 255, (3000, 4000, 3), np.uint8)
    cv2.cvtColor(cv2.resize(big, (2000, 1500)), cv2.COLOR_BGR2HSV)  # the parent's pool is busy
    threads = cv2.getNumThreads()
    for epoch in range(2):
        loader = BatchSlotLoader(Resized(), batch_size=2, num_workers=2, worker_init_fn=worker_init_reset_seed)
        values = [int(batch[:, 0, 0, 0].sum()) for batch in loader]
        assert values == [1, 5, 9, 13], values
        cv2.resize(big, (2000, 1500))
    assert cv2.getNumThreads() == threads, (cv2.getNumThreads(), threads)
    print("loaded after OpenCV ran")
""")


@pytest.mark.slow
def test_workers_start_after_opencv_ran_in_the_parent():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loaded after OpenCV ran" in result.stdout


def test_the_pool_setting_comes_back_after_the_block():
    before = cv2.getNumThreads()
    with opencv_pool_closed():
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == before


def test_only_forked_workers_need_it():
    import multiprocessing

    assert not forks_workers(0, None)
    assert forks_workers(2, multiprocessing.get_context("fork"))
    assert not forks_workers(2, multiprocessing.get_context("spawn"))
