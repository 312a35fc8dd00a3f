"""The training DataLoader (with ``close_mosaic``) and per-worker seeding."""
import random

import cv2
import numpy as np
import torch
from torch.utils.data.sampler import RandomSampler, SequentialSampler

from .batch_slots import BatchSlotLoader
from .datasets.detection import get_yolox_datadir
from .samplers import YoloBatchSampler

__all__ = ["DataLoader", "worker_init_reset_seed", "get_yolox_datadir"]


def worker_init_reset_seed(worker_id: int) -> None:
    """Seed ``random`` and ``np.random`` of a DataLoader worker from its torch seed.

    torch gives each worker ``base_seed + worker_id``, and ``base_seed`` comes from the loader's
    generator (or the global torch RNG): augmentations differ across workers and repeat for a
    fixed seed. cv2 gets one thread per worker: the workers already use the cores.
    """
    seed = torch.initial_seed() % 2 ** 32
    random.seed(seed)
    np.random.seed(seed)
    cv2.setNumThreads(1)


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

    def close_mosaic(self) -> None:
        """Stop mosaic/MixUp: the sampler flag reaches the workers, the dataset switch this process."""
        if hasattr(self.batch_sampler, "mosaic"):
            self.batch_sampler.mosaic = False
        if hasattr(self.dataset, "close_mosaic"):
            self.dataset.close_mosaic()
