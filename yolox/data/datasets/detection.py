"""The format-agnostic detection dataset: COCO, VOC and YOLO-txt readers only build ImageRecords.

Everything after parsing (file checks, resizing, caching, skipping unreadable images, the item
contract, the COCO view for evaluation) lives here once.
"""
import os
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from loguru import logger
from pycocotools.coco import COCO

from yolox.utils.boxes import letterbox_scale

from ..cache import build_disk_cache, build_ram_cache, disk_cache_name
from ..errors import ImageReadError
from ..image_io import read_image, resize_keep_ratio
from .coco_view import coco_from_dict, records_to_coco_dict
from .datasets_wrapper import Dataset

__all__ = ["ImageRecord", "DetectionDataset", "get_yolox_datadir"]


def get_yolox_datadir() -> str:
    """Root of the datasets: $YOLOX_DATADIR, else ``datasets`` under the current working directory."""
    return os.environ.get("YOLOX_DATADIR", "datasets")


@dataclass
class ImageRecord:
    """One image and its cleaned annotation.

    boxes: [N, 4] float32 x1, y1, x2, y2 in original pixels, inside the image, positive size;
    classes: [N] int64 contiguous class index; difficult: [N] bool (VOC's flag, else all False).
    """

    img_id: int
    file_name: str  # as the annotation names it, relative to the image folder
    path: str  # the file on disk
    height: int
    width: int
    boxes: np.ndarray
    classes: np.ndarray
    difficult: np.ndarray


class DetectionDataset(Dataset):
    """Items: ``pull_item(i)`` -> (img [h, w, 3] uint8 BGR fitted into img_size, targets [N, 5]
    x1, y1, x2, y2, cls in resized pixels, (orig_h, orig_w), img_id); ``__getitem__`` applies
    ``preproc(img, targets, input_dim)``.

    Contiguous class ``c`` is category ``class_ids[c]`` in the ``coco`` view.
    """

    def __init__(
        self,
        *,
        records: List[ImageRecord],
        class_names: Sequence[str],
        class_ids: Sequence[int],
        img_size: Tuple[int, int],
        preproc: Optional[Callable] = None,
        cache: bool = False,
        cache_type: str = "ram",
        cache_dir: Optional[str] = None,
        skip_bad_images: bool = False,
    ):
        super().__init__(img_size)
        self.img_size = tuple(img_size)
        self.preproc = preproc
        self.class_names = tuple(class_names)
        self.class_ids = [int(c) for c in class_ids]
        self.skip_bad_images = skip_bad_images
        self.records = self._drop_missing_files(records)
        self.ids = [rec.img_id for rec in self.records]
        self._bad_indices = set()
        self._coco: Optional[COCO] = None
        self.cache = bool(cache)
        self.cache_type = cache_type
        self._image_cache = self._build_cache(cache_dir) if cache else None

    def __len__(self) -> int:
        return len(self.records)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def coco(self) -> COCO:
        """pycocotools view of the annotation (built in memory for VOC and YOLO-txt)."""
        if self._coco is None:
            self._coco = coco_from_dict(records_to_coco_dict(self.records, self.class_names, self.class_ids))
        return self._coco

    # ------------------------------------------------------------------ files
    def _drop_missing_files(self, records: List[ImageRecord]) -> List[ImageRecord]:
        missing = [rec for rec in records if not os.path.isfile(rec.path)]
        if not missing:
            return records
        examples = "; ".join(f"image id {rec.img_id}: {rec.path}" for rec in missing[:3])
        if not self.skip_bad_images:
            raise ImageReadError(
                f"{len(missing)} of {len(records)} image files not found, e.g. {examples} "
                f"(pass skip_bad_images=True to train without them)",
                path=missing[0].path, img_id=missing[0].img_id,
            )
        logger.warning(f"skipping {len(missing)} of {len(records)} images whose files are missing, e.g. {examples}")
        missing_ids = {id(rec) for rec in missing}
        return [rec for rec in records if id(rec) not in missing_ids]

    def _build_cache(self, cache_dir: Optional[str]):
        shapes = [self.resized_shape(i) for i in range(len(self))]
        if self.cache_type == "ram":
            return build_ram_cache(self.load_resized_img, shapes, skip_errors=self.skip_bad_images)
        if self.cache_type == "disk":
            if cache_dir is None:
                raise ValueError(f"{type(self).__name__} has no folder for a disk cache")
            paths = [os.path.join(cache_dir, disk_cache_name(rec.file_name, rec.path, shape))
                     for rec, shape in zip(self.records, shapes)]
            return build_disk_cache(self.load_resized_img, shapes, paths, skip_errors=self.skip_bad_images)
        raise ValueError(f"cache_type must be 'ram' or 'disk', got {self.cache_type!r}")

    # ------------------------------------------------------------------ sizes and targets
    def resized_shape(self, index: int) -> Tuple[int, int]:
        """(h, w) of image ``index`` after fitting it into img_size."""
        rec = self.records[index]
        r = letterbox_scale((rec.height, rec.width), self.img_size)
        return int(rec.height * r), int(rec.width * r)

    def load_anno(self, index: int) -> np.ndarray:
        """targets: [N, 5] float32 x1, y1, x2, y2, cls in resized pixels (no image read)."""
        rec = self.records[index]
        r = letterbox_scale((rec.height, rec.width), self.img_size)
        h, w = self.resized_shape(index)
        targets = np.empty((len(rec.boxes), 5), dtype=np.float32)
        # The resized image is int(w * r) wide: clip so no box pokes out by the truncated fraction.
        np.clip(rec.boxes * r, 0, [w, h, w, h], out=targets[:, :4])
        targets[:, 4] = rec.classes
        keep = (targets[:, 2] > targets[:, 0]) & (targets[:, 3] > targets[:, 1])
        return targets if keep.all() else targets[keep]

    # ------------------------------------------------------------------ images
    def load_image(self, index: int) -> np.ndarray:
        """[H, W, 3] uint8 BGR at original size; ImageReadError names the file and image id."""
        rec = self.records[index]
        return read_image(rec.path, rec.img_id, expected_hw=(rec.height, rec.width))

    def load_resized_img(self, index: int) -> np.ndarray:
        """[h, w, 3] uint8 BGR fitted into img_size, aspect ratio kept."""
        return resize_keep_ratio(self.load_image(index), self.img_size)

    def read_img(self, index: int) -> np.ndarray:
        """Resized image from the cache when there is one, else from the file."""
        if self._image_cache is not None:
            img = self._image_cache.get(index)
            if img is not None:
                return img
        return self.load_resized_img(index)

    def pull_item(self, index: int):
        """-> (img [h, w, 3] uint8, targets [N, 5] x1, y1, x2, y2, cls, (orig_h, orig_w), img_id).

        With ``skip_bad_images`` an unreadable image is reported once and the next readable one
        is returned in its place.
        """
        for step in range(len(self)):
            i = (index + step) % len(self)
            if i in self._bad_indices:
                continue
            try:
                img = self.read_img(i)
            except ImageReadError as err:
                if not self.skip_bad_images:
                    raise
                self._bad_indices.add(i)
                logger.warning(f"{err}; skipped (skip_bad_images=True), another image is used in its place")
                continue
            rec = self.records[i]
            return img, self.load_anno(i), (rec.height, rec.width), rec.img_id
        raise ImageReadError(f"none of the {len(self)} images of the dataset could be read")

    @Dataset.mosaic_getitem
    def __getitem__(self, index: int):
        """-> preproc(img, targets, input_dim) + (img_info (orig_h, orig_w), img_id)."""
        img, target, img_info, img_id = self.pull_item(index)
        if self.preproc is not None:
            img, target = self.preproc(img, target, self.input_dim)
        return img, target, img_info, img_id
