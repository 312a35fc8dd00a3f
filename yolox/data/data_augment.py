"""Image + box augmentations (numpy, cv2) and the train / val transforms.

Conventions: images are [H, W, 3] uint8 BGR until the final transform; boxes are [N, 4]
x1, y1, x2, y2 in continuous pixel coordinates (pixel i spans [i, i+1]); ``targets`` are
[N, 5] boxes + class. Random draws use Python's ``random`` (scalars) and ``np.random`` (HSV
gains), both seeded per DataLoader worker by ``worker_init_reset_seed``.
"""
import math
import random
from typing import Sequence, Tuple, Union

import cv2
import numpy as np
from loguru import logger

from yolox.utils.boxes import xyxy_to_cxcywh
# preproc lives with the torch-free letterbox helpers (the ONNX Runtime demo loads them without torch);
# this module keeps Megvii's import path yolox.data.data_augment.preproc.
from yolox.utils.letterbox import PAD_VALUE, legacy_normalize, preproc

__all__ = [
    "augment_hsv", "hflip", "get_aug_params", "get_affine_matrix", "affine_boxes", "warp_affine",
    "random_affine", "apply_affine", "source_window", "preproc", "TrainTransform", "ValTransform",
]

Range = Union[float, Sequence[float]]


def augment_hsv(img: np.ndarray, hgain: float = 5, sgain: float = 30, vgain: float = 30) -> np.ndarray:
    """Shift hue / saturation / value of img [H, W, 3] uint8 BGR in place (each channel with
    probability 0.5, by up to the gain) and return it."""
    gains = np.random.uniform(-1, 1, 3) * [hgain, sgain, vgain] * np.random.randint(0, 2, 3)
    dh, ds, dv = gains.astype(np.int16)
    if dh == 0 and ds == 0 and dv == 0:
        return img
    x = np.arange(256, dtype=np.int16)
    # One 3-channel lookup table: a single cv2.LUT call shifts all three channels.
    lut = np.stack([(x + dh) % 180, np.clip(x + ds, 0, 255), np.clip(x + dv, 0, 255)], axis=-1)
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    cv2.LUT(hsv, lut.astype(np.uint8).reshape(256, 1, 3), dst=hsv)
    cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR, dst=img)
    return img


def hflip(img: np.ndarray, boxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mirror img [H, W, 3] and boxes [N, 4] xyxy left-right (new arrays)."""
    width = img.shape[1]
    flipped = boxes.copy()
    flipped[:, 0::2] = width - boxes[:, 2::-2]
    return cv2.flip(img, 1), flipped


def get_aug_params(value: Range, center: float = 0.0) -> float:
    """A number -> uniform in [center - value, center + value]; a (lo, hi) pair -> uniform in it."""
    if isinstance(value, (int, float)):
        return random.uniform(center - value, center + value)
    if len(value) == 2:
        return random.uniform(value[0], value[1])
    raise ValueError(f"an augmentation range is a number or a (low, high) pair, got {value!r}")


def get_affine_matrix(
    target_size: Tuple[int, int],
    degrees: Range = 10,
    translate: float = 0.1,
    scales: Range = 0.1,
    shear: Range = 10,
    *,
    src_size: Tuple[int, int] = None,
) -> Tuple[np.ndarray, float]:
    """Random [2, 3] matrix (continuous pixel coordinates) and its scale.

    Rotation, scale and shear act about the source centre, which lands at the output centre
    moved by up to ``translate`` of the output size. target_size, src_size: (width, height);
    src_size defaults to target_size.
    """
    tw, th = target_size
    sw, sh = src_size or target_size
    angle = get_aug_params(degrees)
    scale = get_aug_params(scales, center=1.0)
    if scale <= 0.0:
        raise ValueError(f"affine scale must be positive, drew {scale} from {scales!r}")
    rot = cv2.getRotationMatrix2D(center=(0.0, 0.0), angle=angle, scale=scale)[:, :2]
    shear_x = math.tan(math.radians(get_aug_params(shear)))
    shear_y = math.tan(math.radians(get_aug_params(shear)))
    linear = np.array([[1.0, shear_y], [shear_x, 1.0]]) @ rot
    centre_out = np.array([get_aug_params(translate, 0.5) * tw, get_aug_params(translate, 0.5) * th])
    offset = centre_out - linear @ np.array([sw / 2.0, sh / 2.0])
    return np.hstack([linear, offset[:, None]]), scale


def affine_boxes(
    boxes: np.ndarray, M: np.ndarray, out_wh: Tuple[int, int], *,
    wh_thr: float = 2.0, ar_thr: float = 20.0, area_thr: float = 0.2,
) -> Tuple[np.ndarray, np.ndarray]:
    """Map boxes [N, 4] xyxy by M [2, 3] through their corners; clip to the output.

    Returns (boxes [N, 4] clipped, keep [N] bool). A box is kept when both sides exceed
    ``wh_thr`` pixels, its aspect ratio is below ``ar_thr`` and clipping left more than
    ``area_thr`` of it visible (YOLOX's box-candidate rule).
    """
    corners = boxes[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)  # [N, 4 corners, xy]
    mapped = corners @ M[:, :2].T + M[:, 2]
    full = np.concatenate([mapped.min(axis=1), mapped.max(axis=1)], axis=1)  # [N, 4]
    w_out, h_out = out_wh
    clipped = np.clip(full, 0, [w_out, h_out, w_out, h_out])
    w, h = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    full_area = (full[:, 2] - full[:, 0]) * (full[:, 3] - full[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.maximum(w / h, h / w)
        visible = w * h / full_area
    keep = (w > wh_thr) & (h > wh_thr) & (aspect < ar_thr) & (visible > area_thr)
    return clipped.astype(np.float32), keep


def warp_affine(img: np.ndarray, M: np.ndarray, out_wh: Tuple[int, int]) -> np.ndarray:
    """cv2.warpAffine with M in continuous coordinates (cv2 puts pixel centres at integers)."""
    shift = 0.5 * (M[:, 0] + M[:, 1]) - 0.5  # keeps pixel centres where the boxes say they are
    M_cv = np.hstack([M[:, :2], (M[:, 2] + shift)[:, None]])
    return cv2.warpAffine(img, M_cv, dsize=tuple(int(v) for v in out_wh),
                          borderValue=(PAD_VALUE, PAD_VALUE, PAD_VALUE))


def random_affine(
    img: np.ndarray,
    targets: np.ndarray = (),
    target_size: Tuple[int, int] = (640, 640),
    degrees: Range = 10,
    translate: float = 0.1,
    scales: Range = 0.1,
    shear: Range = 10,
) -> Tuple[np.ndarray, np.ndarray]:
    """Random rotation / scale / shear / translation of img and targets [N, 5] xyxy + cls.

    target_size is (width, height) of the output; boxes that end up mostly outside it or
    too thin are removed (see :func:`affine_boxes`).
    """
    M, _ = get_affine_matrix(target_size, degrees, translate, scales, shear, src_size=img.shape[1::-1])
    return apply_affine(img, targets, M, target_size)


def apply_affine(img: np.ndarray, targets: np.ndarray, M: np.ndarray,
                 target_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Warp img by M [2, 3] into target_size (width, height); targets [N, 5] xyxy + cls follow,
    filtered as in :func:`affine_boxes`."""
    out = warp_affine(img, M, target_size)
    targets = np.asarray(targets, dtype=np.float32).reshape(-1, 5)
    if len(targets):
        boxes, keep = affine_boxes(targets[:, :4], M, target_size)
        targets = np.concatenate([boxes, targets[:, 4:5]], axis=1)[keep]
    return out, targets


def source_window(M: np.ndarray, target_size: Tuple[int, int], margin: float = 2.0) -> Tuple[float, ...]:
    """(x1, y1, x2, y2) in source pixels bounding all that warp_affine(M) shows in target_size
    (width, height); ``margin`` covers the pixels bilinear interpolation reads around it."""
    inverse = np.linalg.inv(np.vstack([M, [0.0, 0.0, 1.0]]))[:2]
    w, h = target_size
    corners = np.array([[0.0, 0.0], [w, 0.0], [0.0, h], [w, h]]) @ inverse[:, :2].T + inverse[:, 2]
    x1, y1 = corners.min(axis=0) - margin
    x2, y2 = corners.max(axis=0) + margin
    return float(x1), float(y1), float(x2), float(y2)


class TrainTransform:
    """HSV jitter, horizontal flip, letterbox; labels padded to a fixed count.

    ``__call__(image [H, W, 3] uint8 BGR, targets [N, 5] x1, y1, x2, y2, cls, input_dim (h, w))``
    -> (image [3, h, w] float32 0-255 BGR, labels [max_labels, 5] cls, cx, cy, w, h in input
    pixels; real boxes first, then zero rows). Boxes thinner than 1 px after resizing are dropped.
    """

    def __init__(self, max_labels: int = 50, flip_prob: float = 0.5, hsv_prob: float = 1.0):
        self.max_labels = max_labels
        self.flip_prob = flip_prob
        self.hsv_prob = hsv_prob
        self._warned_truncation = False

    def __call__(self, image: np.ndarray, targets: np.ndarray, input_dim: Tuple[int, int]):
        targets = np.asarray(targets, dtype=np.float32).reshape(-1, 5)
        boxes, classes = targets[:, :4], targets[:, 4]
        if random.random() < self.hsv_prob:
            image = augment_hsv(image)
        if random.random() < self.flip_prob:
            image, boxes = hflip(image, boxes)
        image, r = preproc(image, input_dim)
        cxcywh = xyxy_to_cxcywh(boxes * r)
        keep = np.minimum(cxcywh[:, 2], cxcywh[:, 3]) > 1
        return image, self._pad(classes[keep], cxcywh[keep])

    def _pad(self, classes: np.ndarray, cxcywh: np.ndarray) -> np.ndarray:
        if len(classes) > self.max_labels and not self._warned_truncation:
            self._warned_truncation = True
            logger.warning(f"a sample has {len(classes)} boxes; only max_labels={self.max_labels} are kept "
                           f"(reported once per process)")
        n = min(len(classes), self.max_labels)
        labels = np.zeros((self.max_labels, 5), dtype=np.float32)
        labels[:n, 0] = classes[:n]
        labels[:n, 1:] = cxcywh[:n]
        return labels


class ValTransform:
    """Letterbox only. ``__call__(img, targets, input_size)`` -> ([3, h, w] float32, zeros [1, 5]).

    ``legacy=True`` reproduces the old YOLOX input: RGB, /255, ImageNet mean / std.
    """

    def __init__(self, swap: Tuple[int, int, int] = (2, 0, 1), legacy: bool = False):
        self.swap = swap
        self.legacy = legacy

    def __call__(self, img: np.ndarray, res, input_size: Tuple[int, int]):
        img, _ = preproc(img, input_size, self.swap)
        if self.legacy:
            img = legacy_normalize(img)
        return img, np.zeros((1, 5), dtype=np.float32)
