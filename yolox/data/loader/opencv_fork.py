"""OpenCV's thread pool and forked data-loader workers.

A process that has run OpenCV's parallel code (``cv2.resize`` of a large image, ``cv2.cvtColor``)
keeps a pool of threads. ``fork()`` copies the pool's locks but not its threads, so a forked worker
that then touches the pool (``cv2.setNumThreads`` in ``worker_init_reset_seed``, or any parallel cv2
call) can wait forever on a lock that no thread of the child will ever release: training stalls with
no error and no CPU use. Shrinking the pool to one thread joins those threads; forking then copies
no half-held lock, and the parent gets its setting back straight after.
"""
import multiprocessing
from contextlib import contextmanager
from typing import Iterator, Optional

import cv2

__all__ = ["forks_workers", "opencv_pool_closed"]


def forks_workers(num_workers: int, multiprocessing_context: Optional[object]) -> bool:
    """Whether a loader with these settings starts its workers with ``fork`` (spawn starts clean)."""
    if num_workers == 0:
        return False
    context = multiprocessing_context or multiprocessing.get_context()
    return context.get_start_method() == "fork"


@contextmanager
def opencv_pool_closed() -> Iterator[None]:
    """OpenCV single-threaded (its pool threads joined) inside the block, as before after it."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)
