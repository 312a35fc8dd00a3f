"""Megvii's ConcatDataset and MixConcatDataset: an index reaches the right part, with the batch
sampler's mosaic flag and seed passed on, and a chain of datasets feeds MosaicDetection."""
import random

import numpy as np
import pytest

from _data_helpers import TinyDataset

from yolox.data import ConcatDataset, Dataset, MixConcatDataset, MosaicDetection


@pytest.fixture(scope="module")
def parts():
    return TinyDataset(num_images=3, seed=0), TinyDataset(num_images=4, seed=1)


def _same_item(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_pull_item_and_load_anno_reach_the_part_an_index_falls_in(parts):
    first, second = parts
    joined = ConcatDataset([first, second])
    assert len(joined) == 7 and joined.input_dim == (64, 64)
    assert joined.locate(2) == (0, 2) and joined.locate(3) == (1, 0) and joined.locate(-1) == (1, 3)
    assert _same_item(joined.pull_item(3), second.pull_item(0))
    assert _same_item(joined.pull_item(-7), first.pull_item(0))
    np.testing.assert_array_equal(joined.load_anno(6), second.load_anno(3))
    with pytest.raises(IndexError, match="index 7 is out of range for 7 items"):
        joined.pull_item(7)


def test_a_mosaic_over_joined_datasets_draws_from_both(parts):
    mosaic = MosaicDetection(ConcatDataset(parts), (64, 64), preproc=None)
    random.seed(0)
    np.random.seed(0)
    img, targets, _, _ = mosaic[(True, 5)]
    assert img.shape == (64, 64, 3) and targets.shape[1] == 5
    assert mosaic[(False, 4)][3] == 1  # no mosaic: item 4 is the second part's image 1, as it is


class _Recording(Dataset):
    """Returns what its __getitem__ was given, after the mosaic_getitem decorator has read the flag."""

    def __init__(self, name: str, size: int):
        super().__init__((32, 32))
        self.name, self.size = name, size

    def __len__(self):
        return self.size

    @Dataset.mosaic_getitem
    def __getitem__(self, index):
        return self.name, self.enable_mosaic, index, random.random()


def test_mix_concat_passes_the_mosaic_flag_and_seed_to_the_part():
    joined = MixConcatDataset([_Recording("a", 2), _Recording("b", 3)])
    assert joined[(False, 3)][:3] == ("b", False, 1)
    assert joined[(True, 0)][:3] == ("a", True, 0)
    assert joined[4][:3] == ("b", False, 2)  # a plain index leaves the flag as the first call set it
    seeded = joined[(True, 4, 123)]
    assert seeded[:3] == ("b", True, 2) and joined[(True, 4, 123)][3] == seeded[3]  # the seed fixes the draw


class _Named(TinyDataset):
    def __init__(self, names):
        super().__init__(num_images=1)
        self.class_names = names


def test_parts_naming_other_classes_are_refused():
    assert ConcatDataset([_Named(("cat", "dog")), _Named(("cat", "dog"))]).class_names == ("cat", "dog")
    with pytest.raises(ValueError, match=r"part 1 has classes \['dog', 'cat'\]"):
        ConcatDataset([_Named(("cat", "dog")), _Named(("dog", "cat"))])
