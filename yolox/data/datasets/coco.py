"""COCODataset: COCO json annotations (Megvii YOLOX's constructor and item contract)."""
import os
from typing import Callable, Optional, Tuple

from ..errors import DatasetNotFoundError, missing_coco_message
from .coco_json import coco_records, load_coco_json
from .coco_view import coco_from_dict
from .detection import DetectionDataset, get_yolox_datadir

__all__ = ["COCODataset", "require_coco_annotation"]


def require_coco_annotation(data_dir: Optional[str], json_file: str, name: str) -> str:
    """``<data_dir>/annotations/<json_file>`` (``data_dir`` None: datasets/COCO), or
    DatasetNotFoundError with the expected tree when that file does not exist."""
    default_dir = os.path.join(get_yolox_datadir(), "COCO")
    root = data_dir if data_dir is not None else default_dir
    ann_path = os.path.join(root, "annotations", json_file)
    if not os.path.isfile(ann_path):
        is_default = os.path.abspath(root) == os.path.abspath(default_dir)
        raise DatasetNotFoundError(missing_coco_message(ann_path, os.path.join(root, name), is_default))
    return ann_path


class COCODataset(DetectionDataset):
    """COCO-format detection data.

    Annotation: ``<data_dir>/annotations/<json_file>``; images: ``<data_dir>/<name>/<file_name>``.
    Contiguous class ``i`` is category id ``class_ids[i]`` (category ids sorted); ``coco`` is the
    pycocotools index of the json as written (crowd boxes included, for evaluation).
    """

    def __init__(
        self,
        data_dir: Optional[str] = None,
        json_file: str = "instances_train2017.json",
        name: str = "train2017",
        img_size: Tuple[int, int] = (416, 416),
        preproc: Optional[Callable] = None,
        cache: bool = False,
        cache_type: str = "ram",
        *,
        skip_bad_images: bool = False,
    ):
        self.data_dir = data_dir if data_dir is not None else os.path.join(get_yolox_datadir(), "COCO")
        self.json_file = json_file
        self.name = name
        ann_path = require_coco_annotation(self.data_dir, json_file, name)
        data = load_coco_json(ann_path)
        parsed = coco_records(data, os.path.join(self.data_dir, name), ann_path)
        self.box_report = parsed.box_report
        cache_dir = os.path.join(self.data_dir, f"cache_{name.replace('/', '_')}_{img_size[0]}x{img_size[1]}")
        super().__init__(records=parsed.records, class_names=parsed.class_names, class_ids=parsed.class_ids,
                         img_size=img_size, preproc=preproc, cache=cache, cache_type=cache_type, cache_dir=cache_dir,
                         skip_bad_images=skip_bad_images)
        self._coco = coco_from_dict(data)
