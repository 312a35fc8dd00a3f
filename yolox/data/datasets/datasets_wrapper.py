"""The dataset base that understands the batch sampler's ``(mosaic, index)`` items (YOLOX protocol),
and Megvii's wrappers that chain datasets into one."""
import bisect
from functools import wraps
from typing import Callable, Iterable, Sequence, Tuple

from torch.utils.data import ConcatDataset as TorchConcatDataset
from torch.utils.data import Dataset as TorchDataset

from ..sample_seeds import seeded_rngs

__all__ = ["Dataset", "ConcatDataset", "MixConcatDataset"]


class Dataset(TorchDataset):
    """Base for YOLOX datasets: a fixed network input size and a mosaic switch set per item.

    ``YoloBatchSampler`` yields ``(mosaic_flag, index)`` pairs (plus a per-sample seed when the
    run has a seed); ``__getitem__`` methods decorated
    with :meth:`mosaic_getitem` store the flag in ``enable_mosaic`` before running. The flag
    travels with every index, so switching mosaic off in the sampler reaches worker processes,
    which hold their own copy of the dataset.
    """

    def __init__(self, input_dimension: Sequence[int], mosaic: bool = True):
        super().__init__()
        self._input_dim = tuple(input_dimension[:2])
        self.enable_mosaic = mosaic

    @property
    def input_dim(self) -> Tuple[int, int]:
        """(height, width) of the network input the items are prepared for."""
        return self._input_dim

    @staticmethod
    def mosaic_getitem(getitem_fn: Callable) -> Callable:
        """Decorator: accept ``index``, ``(mosaic_flag, index)`` or ``(mosaic_flag, index, seed)``;
        with a seed the item is made with the RNGs seeded by it (``yolox.data.sample_seeds``)."""

        @wraps(getitem_fn)
        def wrapper(self, index):
            if not isinstance(index, (tuple, list)):
                return getitem_fn(self, index)
            self.enable_mosaic = bool(index[0])
            if len(index) > 2 and index[2] is not None:
                with seeded_rngs(index[2]):
                    return getitem_fn(self, index[1])
            return getitem_fn(self, index[1])

        return wrapper


class ConcatDataset(TorchConcatDataset):
    """Detection datasets one after another as one (e.g. a COCO set and a custom set in the same
    classes), to wrap in ``MosaicDetection``: ``pull_item`` and ``load_anno`` reach the part an
    index falls in; ``input_dim`` and ``class_names`` are the first part's. Parts that name their
    classes must name the same ones, in the same order, or a class index would mean two classes."""

    def __init__(self, datasets: Iterable[TorchDataset]):
        super().__init__(datasets)
        named = [(i, tuple(d.class_names)) for i, d in enumerate(self.datasets) if hasattr(d, "class_names")]
        for i, names in named[1:]:
            if names != named[0][1]:
                raise ValueError(f"ConcatDataset: part {i} has classes {list(names)}, part {named[0][0]} has "
                                 f"{list(named[0][1])}; map them to one list before joining the datasets")

    @property
    def input_dim(self) -> Tuple[int, int]:
        return self.datasets[0].input_dim

    @property
    def class_names(self) -> Tuple[str, ...]:
        return tuple(self.datasets[0].class_names)

    def locate(self, index: int) -> Tuple[int, int]:
        """(part, index within the part) of item ``index`` (negative counts from the end)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} items")
        index %= len(self)
        part = bisect.bisect_right(self.cumulative_sizes, index)
        return part, index - (self.cumulative_sizes[part - 1] if part else 0)

    def pull_item(self, index: int):
        part, local = self.locate(index)
        return self.datasets[part].pull_item(local)

    def load_anno(self, index: int):
        part, local = self.locate(index)
        return self.datasets[part].load_anno(local)


class MixConcatDataset(ConcatDataset):
    """A ``ConcatDataset`` of YOLOX datasets that takes the batch sampler's ``(mosaic, index[, seed])``
    items: the index is mapped into its part, the flag (and seed) passed on with it."""

    def __getitem__(self, index):
        if not isinstance(index, (tuple, list)):
            return super().__getitem__(index)
        part, local = self.locate(index[1])
        return self.datasets[part][(index[0], local, *index[2:])]
