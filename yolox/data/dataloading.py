"""The training DataLoader (with ``close_mosaic``) and per-worker seeding."""
import os
import random
import signal
import threading
from typing import Optional

import cv2
import numpy as np
import torch
from torch.utils.data.sampler import RandomSampler, SequentialSampler

from .batch_slots import BatchSlotLoader
from .datasets.detection import get_yolox_datadir
from .samplers import YoloBatchSampler

__all__ = ["DataLoader", "worker_init_reset_seed", "shield_worker_from_preemption", "get_yolox_datadir"]


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


class DataLoader(BatchSlotLoader):
    """torch DataLoader whose default batch sampler is a ``YoloBatchSampler``, plus ``close_mosaic``;
    workers reuse shared-memory batch slots (``yolox.data.batch_slots``).

    Build it with ``batch_sampler=YoloBatchSampler(InfiniteSampler(len(ds), seed=...), batch_size,
    drop_last=False)`` for training, as ``Exp.get_data_loader`` does.
    """

    def __init__(self, dataset, *args, **kwargs):
        if kwargs.get("batch_sampler") is None and not args:
            batch_size = kwargs.pop("batch_size", 1)
            drop_last = kwargs.pop("drop_last", False)
            sampler = kwargs.pop("sampler", None)
            if sampler is None:
                sampler = RandomSampler(dataset) if kwargs.pop("shuffle", False) else SequentialSampler(dataset)
            kwargs.pop("shuffle", None)
            kwargs["batch_sampler"] = YoloBatchSampler(sampler, batch_size, drop_last,
                                                       mosaic=getattr(dataset, "enable_mosaic", False))
        super().__init__(dataset, *args, **kwargs)

    def fast_forward(self, batches: int) -> None:
        """Make the next iterator start after ``batches`` batches of an endless ``InfiniteSampler``
        stream (a resumed run), without loading them. Call it before iterating."""
        sampler = getattr(self.batch_sampler, "sampler", None)
        if not hasattr(sampler, "start"):
            raise TypeError(f"fast_forward needs a batch sampler over an InfiniteSampler, got {type(sampler).__name__}")
        sampler.start = batches * self.batch_sampler.batch_size

    def close_mosaic(self, from_batch: Optional[int] = None) -> None:
        """Stop mosaic/MixUp. Now (Megvii's call, at the first no-aug epoch): the sampler flag reaches
        the workers with the indices they ask for next, the dataset switch this process; batches
        the workers made ahead keep their mosaic. ``from_batch``: exactly from that batch of the
        stream on, prefetched or not (the trainer's call at the start, so that a run resumed in
        the no-aug epochs sees the batches of the uninterrupted one)."""
        if from_batch is not None and hasattr(self.batch_sampler, "mosaic_off_from"):
            self.batch_sampler.mosaic_off_from = int(from_batch)
            return
        if hasattr(self.batch_sampler, "mosaic"):
            self.batch_sampler.mosaic = False
        if hasattr(self.dataset, "close_mosaic"):
            self.dataset.close_mosaic()
