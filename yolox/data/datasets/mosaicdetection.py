"""MosaicDetection: 4-image mosaic -> random affine -> MixUp, wrapped around any detection dataset."""
import random
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import cv2
import numpy as np

from yolox.utils.boxes import letterbox_scale

from ..data_augment import PAD_VALUE, affine_boxes, apply_affine, get_affine_matrix, source_window, warp_affine
from ..image_io import resize_keep_ratio
from .datasets_wrapper import Dataset

__all__ = ["MosaicDetection"]

_MIXUP_TRIES = 10  # random draws to find an image with boxes for MixUp before giving up on it


def _resize_to_fit(img: np.ndarray, size_hw: Tuple[int, int]) -> Tuple[np.ndarray, float]:
    """(img resized to fit inside size_hw with its aspect ratio kept (no copy when it already
    fits exactly), the resize factor applied): how each mosaic tile is scaled."""
    return resize_keep_ratio(img, size_hw), letterbox_scale(img.shape[:2], size_hw)


def _fill_around(canvas: np.ndarray, area: Tuple[int, int, int, int], inner: Tuple[int, int, int, int]) -> None:
    """Fill the part of ``area`` (x1, y1, x2, y2) of canvas [H, W, 3] outside ``inner`` (inside
    area) with the pad value: the canvas is never filled whole, only where no tile lands."""
    ax1, ay1, ax2, ay2 = area
    x1, y1, x2, y2 = inner
    canvas[ay1:y1, ax1:ax2] = PAD_VALUE
    canvas[y2:ay2, ax1:ax2] = PAD_VALUE
    canvas[y1:y2, ax1:x1] = PAD_VALUE
    canvas[y1:y2, x2:ax2] = PAD_VALUE


@dataclass(frozen=True)
class _TilePlacement:
    """Where a tile [h, w, 3] lands on the 2h x 2w mosaic canvas.

    ``origin``: (x, y) of the tile's top-left corner in canvas pixels (may lie off the canvas).
    ``canvas``: (x1, y1, x2, y2) in canvas pixels, the part of the tile that lies on the canvas.
    ``source``: (x1, y1, x2, y2) in tile pixels, the same part: ``canvas`` minus ``origin``.
    """

    origin: Tuple[int, int]
    canvas: Tuple[int, int, int, int]

    @property
    def source(self) -> Tuple[int, int, int, int]:
        (ox, oy), (x1, y1, x2, y2) = self.origin, self.canvas
        return x1 - ox, y1 - oy, x2 - ox, y2 - oy


def _place_tile(k: int, tile_hw: Tuple[int, int], centre_xy: Tuple[int, int], in_hw: Tuple[int, int]) -> _TilePlacement:
    """Placement of tile k (0..3: top-left, top-right, bottom-left, bottom-right of the centre)
    of size tile_hw (h, w) on the canvas of an in_hw (h, w) input: its corner touches the centre."""
    (h, w), (xc, yc), (in_h, in_w) = tile_hw, centre_xy, in_hw
    x0 = xc - w if k in (0, 2) else xc
    y0 = yc - h if k in (0, 1) else yc
    return _TilePlacement(origin=(x0, y0),
                          canvas=(max(x0, 0), max(y0, 0), min(x0 + w, 2 * in_w), min(y0 + h, 2 * in_h)))


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether boxes a and b (x1, y1, x2, y2) share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class MosaicDetection(Dataset):
    """Training-time mosaic, affine and MixUp over ``dataset`` (anything with ``pull_item``,
    ``load_anno`` and ``input_dim``).

    Items: ``preproc(img, targets, input_dim)`` results + (img_info, img_id); with
    ``preproc=None`` the raw (img [h, w, 3] uint8, targets [N, 5] xyxy + cls) are returned.
    Mosaic is used when the sampler's flag (``enable_mosaic``) is on, ``close_mosaic()`` has not
    been called, and a draw falls under ``mosaic_prob``. Every returned box lies inside the image
    with positive size.
    """

    def __init__(
        self,
        dataset,
        img_size: Tuple[int, int],
        mosaic: bool = True,
        preproc: Optional[Callable] = None,
        degrees: float = 10.0,
        translate: float = 0.1,
        mosaic_scale: Sequence[float] = (0.5, 1.5),
        mixup_scale: Sequence[float] = (0.5, 1.5),
        shear: float = 2.0,
        enable_mixup: bool = True,
        mosaic_prob: float = 1.0,
        mixup_prob: float = 1.0,
    ):
        super().__init__(img_size, mosaic=mosaic)
        self._dataset = dataset
        self.preproc = preproc
        self.degrees = degrees
        self.translate = translate
        self.scale = mosaic_scale
        self.shear = shear
        self.mixup_scale = mixup_scale
        self.enable_mixup = enable_mixup
        self.mosaic_prob = mosaic_prob
        self.mixup_prob = mixup_prob
        self._mosaic_closed = not mosaic

    def __len__(self) -> int:
        return len(self._dataset)

    @property
    def dataset(self):
        """The wrapped dataset (class names, class_ids, coco view, records)."""
        return self._dataset

    @property
    def class_names(self) -> Tuple[str, ...]:
        return tuple(self._dataset.class_names)

    def close_mosaic(self) -> None:
        """Plain samples (no mosaic, no MixUp) from now on; the last epochs of YOLOX training."""
        self._mosaic_closed = True
        self.enable_mosaic = False

    @Dataset.mosaic_getitem
    def __getitem__(self, idx: int):
        if self.enable_mosaic and not self._mosaic_closed and random.random() < self.mosaic_prob:
            img, labels, img_id = self._mosaic(idx)
            if self.enable_mixup and len(labels) and random.random() < self.mixup_prob:
                img, labels = self.mixup(img, labels, self.input_dim)
            img_info = img.shape[:2]
        else:
            img, labels, img_info, img_id = self._dataset.pull_item(idx)
        if self.preproc is not None:
            img, labels = self.preproc(img, labels, self.input_dim)
        return img, labels, img_info, img_id

    def _mosaic(self, idx: int):
        """(img [h, w, 3] uint8, targets [N, 5], img_id of ``idx``): 4 tiles around a random
        centre of a 2h x 2w canvas, then one random affine down to the input size.

        The affine is drawn first, so a tile it would not show at all is not even decoded (when
        the wrapped dataset knows its image sizes, ``resized_shape``); its boxes would all be
        dropped anyway, and the random draws are the same as in decoding order."""
        in_h, in_w = self._dataset.input_dim
        yc, xc = int(random.uniform(0.5 * in_h, 1.5 * in_h)), int(random.uniform(0.5 * in_w, 1.5 * in_w))
        indices = [idx] + [random.randint(0, len(self._dataset) - 1) for _ in range(3)]
        M, _ = get_affine_matrix((in_w, in_h), self.degrees, self.translate, self.scale, self.shear,
                                 src_size=(2 * in_w, 2 * in_h))
        seen = source_window(M, (in_w, in_h))
        canvas = np.empty((2 * in_h, 2 * in_w, 3), dtype=np.uint8)
        quadrants = [(0, 0, xc, yc), (xc, 0, 2 * in_w, yc), (0, yc, xc, 2 * in_h), (xc, yc, 2 * in_w, 2 * in_h)]
        all_labels, first_id = [], None
        for k, index in enumerate(indices):
            known_hw = self._fitted_shape(index, (in_h, in_w)) if k else None  # tile 0 names the sample
            if known_hw is not None and not _overlaps(_place_tile(k, known_hw, (xc, yc), (in_h, in_w)).canvas, seen):
                qx1, qy1, qx2, qy2 = quadrants[k]
                canvas[qy1:qy2, qx1:qx2] = PAD_VALUE
                continue
            img, labels, _, img_id = self._dataset.pull_item(index)
            first_id = img_id if k == 0 else first_id
            img, r = _resize_to_fit(img, (in_h, in_w))
            tile = _place_tile(k, img.shape[:2], (xc, yc), (in_h, in_w))
            (x0, y0), (x1, y1, x2, y2), (sx1, sy1, sx2, sy2) = tile.origin, tile.canvas, tile.source
            canvas[y1:y2, x1:x2] = img[sy1:sy2, sx1:sx2]
            _fill_around(canvas, quadrants[k], tile.canvas)  # each tile stays in its quadrant
            placed = labels.astype(np.float32, copy=True)
            placed[:, :4] = np.clip(placed[:, :4] * r + [x0, y0, x0, y0], [x1, y1, x1, y1], [x2, y2, x2, y2])
            all_labels.append(placed)
        labels = np.concatenate(all_labels, axis=0)
        labels = labels[(labels[:, 2] > labels[:, 0]) & (labels[:, 3] > labels[:, 1])]
        img, labels = apply_affine(canvas, labels, M, (in_w, in_h))
        return img, labels, first_id

    def _fitted_shape(self, index: int, size_hw: Tuple[int, int]) -> Optional[Tuple[int, int]]:
        """(h, w) that ``_resize_to_fit(pull_item(index)[0], size_hw)`` will have, without decoding; None when
        the wrapped dataset cannot tell."""
        shape_of = getattr(self._dataset, "resized_shape", None)
        if shape_of is None:
            return None
        h, w = shape_of(index)
        r = letterbox_scale((h, w), size_hw)
        return int(h * r), int(w * r)

    def _mixup_index(self) -> Optional[int]:
        for _ in range(_MIXUP_TRIES):
            index = random.randint(0, len(self._dataset) - 1)
            if len(self._dataset.load_anno(index)):
                return index
        return None

    def mixup(self, origin_img: np.ndarray, origin_labels: np.ndarray, input_dim: Tuple[int, int]):
        """Blend 50/50 with another image (scaled by a ``mixup_scale`` jitter, maybe mirrored,
        randomly cropped); its boxes are added. Returns (img [h, w, 3] uint8, targets [N, 5])."""
        index = self._mixup_index()
        if index is None:
            return origin_img, origin_labels
        img, labels, _, _ = self._dataset.pull_item(index)
        jitter = random.uniform(*self.mixup_scale)
        mirror = random.random() > 0.5
        th, tw = origin_img.shape[:2]
        scale = letterbox_scale(img.shape[:2], input_dim) * jitter
        extent_w, extent_h = int(input_dim[1] * jitter), int(input_dim[0] * jitter)
        x_off = random.randint(0, max(0, extent_w - tw))
        y_off = random.randint(0, max(0, extent_h - th))
        # One matrix does the scale, the mirror and the crop: a single warp, no padded temporaries.
        sx = -scale if mirror else scale
        M = np.array([[sx, 0.0, (extent_w if mirror else 0) - x_off], [0.0, scale, -y_off]])
        other = warp_affine(img, M, (tw, th))
        boxes, keep = affine_boxes(labels[:, :4].astype(np.float32), M, (tw, th))
        added = np.concatenate([boxes, labels[:, 4:5]], axis=1)[keep]
        blended = cv2.addWeighted(origin_img, 0.5, other, 0.5, 0.0)
        return blended, np.concatenate([origin_labels, added.astype(np.float32)], axis=0)
