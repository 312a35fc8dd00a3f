"""One entry point that picks the dataset class from the annotation an experiment names."""
from typing import Callable, Optional, Sequence, Tuple, Union

from .coco import COCODataset
from .detection import DetectionDataset
from .voc import VOCDetection
from .yolo_txt import YOLODataset

__all__ = ["build_dataset", "dataset_format"]

_DEFAULT_COCO_FOLDERS = {"train": "train2017", "val": "val2017", "test": "test2017"}


def dataset_format(ann: Union[str, Sequence]) -> str:
    """'coco' for ``*.json``, 'yolo' for ``*.yaml``/``*.yml``, 'voc' for an image-set name
    (``"trainval"``) or a list of VOC image sets (``[("2007", "trainval")]``)."""
    if not isinstance(ann, str):
        return "voc"
    lowered = ann.lower()
    if lowered.endswith(".json"):
        return "coco"
    if lowered.endswith((".yaml", ".yml")):
        return "yolo"
    if "." in lowered.rsplit("/", 1)[-1]:
        raise ValueError(f"annotation {ann!r}: expected a COCO .json, a YOLO data .yaml or a VOC image-set name")
    return "voc"


def build_dataset(
    *,
    data_dir: Optional[str],
    ann: Union[str, Sequence],
    split: str,
    img_size: Tuple[int, int],
    preproc: Optional[Callable] = None,
    cache: bool = False,
    cache_type: str = "ram",
    name: Optional[str] = None,
) -> DetectionDataset:
    """The dataset for ``ann`` (see :func:`dataset_format`); ``split`` is train / val / test.

    COCO: images in ``<data_dir>/<name>`` (default train2017 / val2017 / test2017, YOLOX's layout).
    YOLO: the data yaml's ``<split>`` folder. VOC: ``<data_dir>/ImageSets/Main/<ann>.txt``.
    """
    kind = dataset_format(ann)
    common = dict(img_size=img_size, preproc=preproc, cache=cache, cache_type=cache_type)
    if kind == "coco":
        return COCODataset(data_dir=data_dir, json_file=ann, name=name or _DEFAULT_COCO_FOLDERS.get(split, split),
                           **common)
    if data_dir is None:
        raise ValueError(f"a {kind.upper()} dataset needs data_dir (annotation {ann!r})")
    if kind == "yolo":
        return YOLODataset(data_dir, split=split, data_yaml=ann, **common)
    image_sets = [ann] if isinstance(ann, str) else list(ann)
    return VOCDetection(data_dir, image_sets=image_sets, **common)
