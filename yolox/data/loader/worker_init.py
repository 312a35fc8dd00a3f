"""What each loader worker of a YOLOX experiment runs first: its seeds, one OpenCV thread, and a
shield against the preemption signals meant for the trainer."""
import os
import random
import signal
import threading

import cv2
import numpy as np
import torch

__all__ = ["worker_init_reset_seed", "shield_worker_from_preemption"]


def worker_init_reset_seed(worker_id: int) -> None:
    """Seed ``random`` and ``np.random`` of a DataLoader worker from its torch seed.

    torch gives each worker ``base_seed + worker_id``, and ``base_seed`` comes from the loader's
    generator (or the global torch RNG): augmentations differ across workers and repeat for a
    fixed seed. cv2 gets one thread per worker: the workers already use the cores.
    Workers are shielded from preemption signals (``shield_worker_from_preemption``).
    """
    seed = torch.initial_seed() % 2 ** 32
    random.seed(seed)
    np.random.seed(seed)
    cv2.setNumThreads(1)
    if torch.utils.data.get_worker_info() is not None:  # called in a worker, not by a user's code
        shield_worker_from_preemption()


def shield_worker_from_preemption() -> None:
    """In a loader worker: ignore SIGUSR1, and SIGTERM unless the parent sends it.

    A scheduler that preempts the job signals every process of it; a worker killed by that would
    fail the trainer's next batch before the trainer could write its checkpoint. But the parent's
    own SIGTERM (multiprocessing's terminate() when the loader or the interpreter shuts down)
    must still end the worker, or the parent waits for it forever. A plain handler cannot tell
    the sender apart, so the signals are blocked and one thread reads them with their sender.
    """
    if not hasattr(signal, "sigwaitinfo"):  # macOS: no sender to read; SIGTERM keeps torch's meaning
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        return
    parent = os.getppid()
    signals = {signal.SIGTERM, signal.SIGUSR1}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)

    def read_signals() -> None:
        while True:
            info = signal.sigwaitinfo(signals)
            if info.si_signo == signal.SIGTERM and info.si_pid == parent:
                os._exit(0)  # what torch's own worker handler does for its parent's SIGTERM

    threading.Thread(target=read_signals, name="preemption-signal-reader", daemon=True).start()
