"""MosaicDetection: every box inside the image with positive size (many seeds), labels on their
content, MixUp geometry, and the mosaic switches."""
import random

import numpy as np
import pytest

from _data_helpers import COLOURS, TinyDataset

from yolox.data import Dataset, MosaicDetection, TrainTransform

def _assert_boxes_valid(targets, width, height):
    x1, y1, x2, y2 = targets[:, 0], targets[:, 1], targets[:, 2], targets[:, 3]
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= width).all() and (y2 <= height).all()
    assert (x2 > x1).all() and (y2 > y1).all()
    assert np.isin(targets[:, 4], [0, 1, 2]).all()


@pytest.fixture(scope="module")
def tiny():
    return TinyDataset()


def test_every_box_lies_inside_the_image_with_positive_size_over_many_seeds(tiny):
    strong = dict(degrees=30.0, translate=0.3, mosaic_scale=(0.2, 2.5), mixup_scale=(0.3, 2.0), shear=10.0)
    raw = MosaicDetection(tiny, (64, 64), preproc=None, **strong)
    final = MosaicDetection(tiny, (64, 64), preproc=TrainTransform(max_labels=60, flip_prob=0.5), **strong)
    seen = 0
    for seed in range(300):
        random.seed(seed)
        np.random.seed(seed)
        img, targets, _, _ = raw[seed % len(tiny)]
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        _assert_boxes_valid(targets, 64, 64)
        random.seed(seed)
        _, labels, _, _ = final[seed % len(tiny)]
        real = labels[labels[:, 3] > 0]
        cx, cy, w, h = real[:, 1], real[:, 2], real[:, 3], real[:, 4]
        assert (w > 1).all() and (h > 1).all()
        assert (cx - w / 2 >= -1e-4).all() and (cx + w / 2 <= 64 + 1e-4).all()
        assert (cy - h / 2 >= -1e-4).all() and (cy + h / 2 <= 64 + 1e-4).all()
        seen += len(real)
    assert seen > 300 * 3  # the property was checked on many boxes, not on empty outputs


def test_mosaic_labels_sit_on_their_coloured_content(tiny):
    # No rotation here: the box of a rotated thin object is mostly background by design; rotation
    # is checked on a compact object in test_data_augment.
    ds = MosaicDetection(tiny, (64, 64), preproc=None, degrees=0.0, shear=0.0, translate=0.2,
                         mosaic_scale=(0.6, 1.6), enable_mixup=False)
    checked = 0
    for seed in range(40):
        random.seed(seed)
        img, targets, _, _ = ds[seed % len(tiny)]
        for x1, y1, x2, y2, cls in targets:
            if min(x2 - x1, y2 - y1) < 6:
                continue  # thin boxes: edge interpolation dominates
            patch = img[int(np.ceil(y1)) + 1:int(y2) - 1, int(np.ceil(x1)) + 1:int(x2) - 1].astype(int)
            match = (np.abs(patch - COLOURS[int(cls)].astype(int)).sum(axis=2) < 120).mean()
            assert match > 0.9, (seed, (x1, y1, x2, y2, cls), match)
            checked += 1
    assert checked > 50


def test_mixup_blends_a_second_image_whose_boxes_follow_it():
    class OneBox(Dataset):
        def __init__(self):
            super().__init__((64, 64))

        def __len__(self):
            return 1

        def load_anno(self, index):
            return np.array([[16, 16, 48, 48, 2]], np.float32)

        def pull_item(self, index):
            img = np.zeros((64, 64, 3), np.uint8)
            img[16:48, 16:48] = 200
            return img, self.load_anno(index), (64, 64), 0

    ds = MosaicDetection(OneBox(), (64, 64), mixup_scale=(0.6, 1.6))
    origin = np.zeros((64, 64, 3), np.uint8)
    for seed in range(20):
        random.seed(seed)
        img, labels = ds.mixup(origin, np.array([[0, 0, 4, 4, 1]], np.float32), (64, 64))
        np.testing.assert_array_equal(labels[0], [0, 0, 4, 4, 1])  # the original boxes come first
        assert len(labels) == 2 and labels[1, 4] == 2
        x1, y1, x2, y2 = labels[1, :4]
        inner = img[int(np.ceil(y1)) + 1:int(y2) - 1, int(np.ceil(x1)) + 1:int(x2) - 1]
        assert inner.size and (np.abs(inner.astype(int) - 100) <= 1).all()  # 0.5 * 200 + 0.5 * 0


def test_close_mosaic_and_the_sampler_flag_switch_mosaic_off(tiny):
    ds = MosaicDetection(tiny, (64, 64), preproc=None, enable_mixup=False)
    plain = tiny.pull_item(1)[0]
    assert ds[(True, 1)][0].shape == (64, 64, 3)
    np.testing.assert_array_equal(ds[(False, 1)][0], plain)  # the sampler said no mosaic
    ds.close_mosaic()
    assert ds.enable_mosaic is False
    np.testing.assert_array_equal(ds[(True, 1)][0], plain)  # closed stays closed
    np.testing.assert_array_equal(ds[1][0], plain)


def test_mosaic_prob_zero_gives_plain_items_with_original_info(tiny):
    ds = MosaicDetection(tiny, (64, 64), preproc=None, mosaic_prob=0.0)
    img, targets, info, img_id = ds[2]
    assert img_id == 2 and info == tiny.items[2][0].shape[:2]
    np.testing.assert_array_equal(targets, tiny.pull_item(2)[1])


def test_wrapper_exposes_the_wrapped_dataset(tiny):
    ds = MosaicDetection(tiny, (64, 64))
    assert ds.dataset is tiny and len(ds) == len(tiny) and ds.input_dim == (64, 64)


def test_mosaic_pads_exactly_where_no_tile_lands(tiny, monkeypatch):
    """The canvas is allocated unfilled and padded only around the tiles: poison the allocation
    and no poisoned pixel may reach the output (an identity affine shows the canvas centre)."""
    import yolox.data.datasets.mosaicdetection as mosaic_module

    class PoisonedNumpy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def empty(shape, dtype=float):
            return np.full(shape, 77, dtype=dtype)  # 77: neither a tile colour, black nor the pad

    monkeypatch.setattr(mosaic_module, "np", PoisonedNumpy())
    identity = dict(degrees=0.0, translate=0.0, mosaic_scale=(1.0, 1.0), shear=0.0, enable_mixup=False)
    mosaic = MosaicDetection(tiny, (64, 64), preproc=None, **identity)
    padded = 0
    for seed in range(60):
        random.seed(seed)
        img, _, _, _ = mosaic[seed % len(tiny)]
        assert set(np.unique(img)) <= {0, 114, 255}
        padded += int((img == 114).all(axis=2).any())
    assert padded > 30  # most draws leave padding in view


class SizedTinyDataset(TinyDataset):
    """TinyDataset that tells its fitted image sizes (as DetectionDataset does) and counts reads."""

    reads = 0

    def resized_shape(self, index):
        h, w = self.items[index][0].shape[:2]
        r = min(self.input_dim[0] / h, self.input_dim[1] / w)
        return int(h * r), int(w * r)

    def pull_item(self, index):
        SizedTinyDataset.reads += 1
        return super().pull_item(index)


def test_skipping_unseen_tiles_changes_nothing_else():
    """With and without image sizes known up front, the same draws give the same samples (mosaic,
    affine and MixUp), over many random draws."""
    zoomed = dict(degrees=10.0, translate=0.1, mosaic_scale=(0.5, 2.5), shear=2.0, mixup_scale=(0.5, 1.5))
    plain = MosaicDetection(TinyDataset(), (64, 64), preproc=None, **zoomed)
    sized = MosaicDetection(SizedTinyDataset(), (64, 64), preproc=None, **zoomed)
    SizedTinyDataset.reads = 0
    samples = 200
    for seed in range(samples):
        outputs = []
        for mosaic in (plain, sized):
            random.seed(seed)
            np.random.seed(seed)
            outputs.append(mosaic[seed % 6])
        (img_a, targets_a, info_a, id_a), (img_b, targets_b, info_b, id_b) = outputs
        np.testing.assert_array_equal(img_a, img_b)
        np.testing.assert_array_equal(targets_a, targets_b)
        assert (info_a, id_a) == (info_b, id_b)
    assert SizedTinyDataset.reads < samples * 5  # some tiles were skipped (the exact count: below)


class FourTiles(Dataset):
    """Four solid images already at their fitted sizes for a 64x64 input (h x w): 64x64, a short
    16x64 strip, 64x64, 64x64; image k has value 40 * (k + 1). Counts reads per index."""

    SIZES = ((64, 64), (16, 64), (64, 64), (64, 64))

    def __init__(self, *, knows_sizes: bool):
        super().__init__((64, 64))
        self.reads = []
        if knows_sizes:
            self.resized_shape = lambda index: self.SIZES[index]

    def __len__(self):
        return 4

    def pull_item(self, index):
        self.reads.append(index)
        h, w = self.SIZES[index]
        return np.full((h, w, 3), 40 * (index + 1), np.uint8), np.array([[0, 0, w, h, 0]], np.float32), (h, w), index


class ScriptedRandom:
    """Stands in for ``random`` in the mosaic module: mosaic drawn, centre (64, 64), tiles 1, 2, 3."""

    def __init__(self):
        self._tiles = iter([1, 2, 3])

    def random(self):
        return 0.0

    def uniform(self, low, high):
        return 64.0

    def randint(self, low, high):
        return next(self._tiles)


# The 128 x 128 canvas around the centre (64, 64) holds, as (x1, y1, x2, y2):
#   tile 0 (0, 0, 64, 64)   tile 1, the strip, (64, 48, 128, 64)
#   tile 2 (0, 64, 64, 128) tile 3 (64, 64, 128, 128)
# A translation by (-tx, -ty) shows the canvas window (tx, ty, tx + 64, ty + 64), widened by the
# 2 pixels bilinear interpolation may read around it (source_window's margin). Tile 0 names the
# sample and is always read.
@pytest.mark.parametrize("tx, ty, expected_reads", [
    (-10, -10, [0]),  # window (-12, -12, 56, 56): tile 0 only
    (32, 32, [0, 1, 2, 3]),  # window (30, 30, 98, 98): all four
    (32, -30, [0]),  # window (30, -32, 98, 36): tile 1's quadrant is in view, the strip (y >= 48) is not
    (32, -10, [0, 1]),  # window (30, -12, 98, 56): now the strip is (48 < 56)
    (-10, 32, [0, 2]),  # window (-12, 30, 56, 98): the left column
])
def test_tiles_the_affine_cannot_show_are_not_decoded(monkeypatch, tx, ty, expected_reads):
    import yolox.data.datasets.mosaicdetection as mosaic_module

    shift = np.array([[1.0, 0.0, -tx], [0.0, 1.0, -ty]])
    monkeypatch.setattr(mosaic_module, "get_affine_matrix", lambda *args, **kwargs: (shift, 1.0))
    outputs = {}
    for knows_sizes in (True, False):
        dataset = FourTiles(knows_sizes=knows_sizes)
        monkeypatch.setattr(mosaic_module, "random", ScriptedRandom())
        outputs[knows_sizes] = MosaicDetection(dataset, (64, 64), preproc=None, enable_mixup=False)[0]
        if knows_sizes:
            assert dataset.reads == expected_reads
        else:
            assert dataset.reads == [0, 1, 2, 3]  # sizes unknown: every tile is decoded
    np.testing.assert_array_equal(outputs[True][0], outputs[False][0])
    np.testing.assert_array_equal(outputs[True][1], outputs[False][1])
