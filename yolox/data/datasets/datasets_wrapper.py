"""The dataset base that understands the batch sampler's ``(mosaic, index)`` items (YOLOX protocol)."""
from functools import wraps
from typing import Callable, Sequence, Tuple

from torch.utils.data import Dataset as TorchDataset

from ..sample_seeds import seeded_rngs

__all__ = ["Dataset"]


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
