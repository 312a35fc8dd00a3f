"""The training DataLoader: a ``YoloBatchSampler`` by default, ``close_mosaic`` and ``fast_forward``."""
from typing import Optional

from torch.utils.data.sampler import RandomSampler, SequentialSampler

from ..samplers import YoloBatchSampler
from .base_loader import BatchSlotLoader

__all__ = ["DataLoader"]


class DataLoader(BatchSlotLoader):
    """torch DataLoader whose default batch sampler is a ``YoloBatchSampler``, plus ``close_mosaic``;
    workers reuse shared-memory batch slots (``yolox.data.loader.slots``).

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
