"""Augmentations: padding layout of the transforms, and labels that move with the image content."""
import random

import numpy as np
import pytest

from yolox.data import TrainTransform, ValTransform, preproc, random_affine
from yolox.data.data_augment import augment_hsv, get_affine_matrix, hflip, warp_affine


def _scene(hw=(40, 60), box=(10, 8, 30, 24), value=250):
    """[h, w, 3] uint8 dark image with one bright box; box x1, y1, x2, y2 on whole pixels."""
    img = np.full((*hw, 3), 20, dtype=np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = value
    return img


def _bright_fractions(img, box):
    """(share of the bright pixels that lie in box, share of box pixels that are bright)."""
    bright = img.max(axis=2) > 128
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    inside = bright[y1:y2, x1:x2]
    return inside.sum() / max(bright.sum(), 1), inside.mean()


def test_train_transform_letterboxes_top_left_and_pads_labels_in_order():
    img = np.zeros((20, 40, 3), dtype=np.uint8)
    img[:] = (10, 20, 30)  # B, G, R
    targets = np.array([[4, 2, 14, 12, 2], [0, 0, 0.5, 5, 1], [20, 10, 40, 20, 0]], dtype=np.float32)
    image, labels = TrainTransform(max_labels=5, flip_prob=0.0, hsv_prob=0.0)(img, targets, (64, 64))
    assert image.shape == (3, 64, 64) and image.dtype == np.float32
    np.testing.assert_array_equal(image[:, 0, 0], [10, 20, 30])  # BGR kept, 0-255, no normalisation
    np.testing.assert_array_equal(image[:, 31, 63], [10, 20, 30])  # resized by 1.6 to 32 x 64
    assert (image[:, 32:, :] == 114).all()  # padding below the image
    # r = 1.6; the 0.5 px wide box (0.8 px after resizing) is dropped; order kept; zero rows after.
    np.testing.assert_allclose(labels, [[2, 14.4, 11.2, 16, 16], [0, 48, 24, 32, 16], [0] * 5, [0] * 5, [0] * 5],
                               rtol=1e-6)


def test_train_transform_keeps_at_most_max_labels():
    targets = np.array([[i, i, i + 5, i + 5, 1] for i in range(8)], dtype=np.float32)
    _, labels = TrainTransform(max_labels=3, flip_prob=0, hsv_prob=0)(np.zeros((20, 20, 3), np.uint8), targets,
                                                                      (20, 20))
    assert labels.shape == (3, 5) and labels[:, 1].tolist() == [2.5, 3.5, 4.5]


def test_train_transform_without_boxes_gives_all_zero_labels():
    image, labels = TrainTransform(max_labels=4)(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 5)), (16, 16))
    assert image.shape == (3, 16, 16) and labels.shape == (4, 5) and not labels.any()


def test_val_transform_letterboxes_and_returns_a_placeholder():
    img = np.full((32, 10, 3), 7, dtype=np.uint8)
    image, placeholder = ValTransform()(img, None, (64, 32))  # r = 2: 64 x 20, then 12 columns of padding
    assert image.shape == (3, 64, 32) and (image[:, :, :20] == 7).all() and (image[:, :, 20:] == 114).all()
    assert placeholder.shape == (1, 5) and not placeholder.any()
    legacy, _ = ValTransform(legacy=True)(img, None, (64, 32))
    np.testing.assert_allclose(legacy[:, 0, 0], (7 / 255 - np.array([0.485, 0.456, 0.406])) / [0.229, 0.224, 0.225],
                               rtol=1e-5)


@pytest.mark.parametrize("size", [(24, 16), (12, 24), (20, 30)])  # padding below / right / both
def test_preproc_with_another_channel_order(size):
    img = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    chw, r = preproc(img, size)
    hwc, _ = preproc(img, size, swap=(0, 1, 2))
    assert hwc.shape == size + (3,) and chw.shape == (3,) + size
    np.testing.assert_array_equal(chw, hwc.transpose(2, 0, 1))
    nh, nw = int(12 * r), int(16 * r)
    assert (hwc[nh:] == 114).all() and (hwc[:, nw:] == 114).all() and not (hwc[:nh, :nw] == 114).all()


def test_flip_moves_the_box_with_the_content():
    img = _scene()
    flipped, boxes = hflip(img, np.array([[10, 8, 30, 24]], dtype=np.float32))
    np.testing.assert_array_equal(boxes, [[30, 8, 50, 24]])
    assert _bright_fractions(flipped, boxes[0]) == (1.0, 1.0)
    again, back = hflip(flipped, boxes)
    np.testing.assert_array_equal(again, img)
    np.testing.assert_array_equal(back, [[10, 8, 30, 24]])


def test_train_transform_flip_keeps_label_on_the_content():
    random.seed(0)
    image, labels = TrainTransform(max_labels=2, flip_prob=1.0, hsv_prob=0.0)(
        _scene(), np.array([[10, 8, 30, 24, 0]], np.float32), (40, 60))
    cx, cy, w, h = labels[0, 1:]
    np.testing.assert_allclose([cx, cy, w, h], [40, 16, 20, 16])
    assert _bright_fractions(image.transpose(1, 2, 0), (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)) == (1.0, 1.0)


@pytest.mark.parametrize("seed", range(20))
def test_random_affine_moves_the_box_with_the_content(seed):
    random.seed(seed)
    img = _scene(hw=(80, 100), box=(30, 25, 60, 50))
    out, targets = random_affine(img, np.array([[30, 25, 60, 50, 1]], np.float32), target_size=(100, 80),
                                 degrees=10, translate=0.1, scales=(0.6, 1.4), shear=2)
    assert out.shape == (80, 100, 3) and len(targets) == 1  # a central object cannot leave the image
    share_in_box, fill = _bright_fractions(out, targets[0, :4])
    assert targets[0, 4] == 1 and share_in_box > 0.97  # the object is where the label says
    assert fill > 0.6  # and the label is not much larger than the (rotated) object


def test_affine_matrix_sends_the_source_centre_to_the_output_centre():
    M, scale = get_affine_matrix((100, 80), degrees=0, translate=0, scales=(2, 2), shear=0, src_size=(200, 160))
    np.testing.assert_allclose(M @ [100, 80, 1], [50, 40])
    assert scale == 2


def test_warp_affine_keeps_pixel_areas_where_the_boxes_put_them():
    img = np.zeros((20, 20, 3), np.uint8)
    img[10:12, 10:12] = 255  # the box [10, 10, 12, 12]
    M = np.array([[2.0, 0, 0], [0, 2.0, 0]])
    out = warp_affine(img, M, (40, 40))
    assert (out[21:23, 21:23] == 255).all()  # inside [20, 24] away from the blurred edge
    assert out[18, 18].max() == 0 and out[25, 25].max() == 0


def test_hsv_changes_colours_in_place_and_keeps_shape():
    np.random.seed(3)
    img = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    original = img.copy()
    out = augment_hsv(img, hgain=50, sgain=100, vgain=100)
    assert out is img and out.dtype == np.uint8 and out.shape == (16, 16, 3)
    assert not np.array_equal(out, original)
    same = augment_hsv(original.copy(), hgain=0, sgain=0, vgain=0)
    np.testing.assert_array_equal(same, original)
