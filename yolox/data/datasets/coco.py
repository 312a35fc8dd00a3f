"""COCODataset: COCO json annotations (Megvii YOLOX's constructor and item contract)."""
import os
from typing import Callable, Optional, Tuple

from .coco_format import coco_records, load_coco_json
from .coco_view import coco_from_dict
from .detection import DetectionDataset, get_yolox_datadir

__all__ = ["COCODataset"]


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
        ann_path = os.path.join(self.data_dir, "annotations", json_file)
        data = load_coco_json(ann_path)
        records, class_ids, names, self.box_report = coco_records(data, os.path.join(self.data_dir, name), ann_path)
        cache_dir = os.path.join(self.data_dir, f"cache_{name.replace('/', '_')}_{img_size[0]}x{img_size[1]}")
        super().__init__(records=records, class_names=names, class_ids=class_ids, img_size=img_size,
                         preproc=preproc, cache=cache, cache_type=cache_type, cache_dir=cache_dir,
                         skip_bad_images=skip_bad_images)
        self._coco = coco_from_dict(data)
