"""COCO annotation json -> validated dict -> ImageRecords and class tables (no pycocotools needed here)."""
import json
import os
from dataclasses import dataclass
from numbers import Real
from typing import Dict, List, Tuple

import numpy as np

from yolox.utils.boxes import xywh_to_xyxy

from ..errors import AnnotationError
from .box_checks import BoxDropReport, clip_and_check, report_dropped_boxes
from .detection import ImageRecord

__all__ = ["load_coco_json", "validate_coco_dict", "CocoRecords", "coco_records"]


def load_coco_json(path: str) -> Dict:
    """Parse and validate a COCO json file; AnnotationError says what is wrong and where."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"COCO annotation file not found: {path}")
    with open(path, "r", encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as err:
            raise AnnotationError(f"{path}: not valid JSON: {err}") from err
    validate_coco_dict(data, path)
    return data


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_sections(data, source: str) -> None:
    if not isinstance(data, dict):
        raise AnnotationError(
            f"{source}: not a COCO annotation file (top level is {type(data).__name__}, not an object)"
        )
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise AnnotationError(f"{source}: not a COCO annotation file: the '{key}' list is missing")
        if not isinstance(data[key], list):
            raise AnnotationError(f"{source}: '{key}' must be a list, got {type(data[key]).__name__}")


def _unique_ids(entries: List[Dict], section: str, required: Tuple[str, ...], source: str) -> set:
    ids = set()
    for i, entry in enumerate(entries):
        absent = [k for k in required if not isinstance(entry, dict) or k not in entry]
        if absent:
            raise AnnotationError(f"{source}: {section}[{i}] lacks {', '.join(absent)}")
        if entry["id"] in ids:
            raise AnnotationError(f"{source}: {section} id {entry['id']} appears twice")
        ids.add(entry["id"])
    return ids


def _check_image_sizes(images: List[Dict], source: str) -> None:
    for img in images:
        if not all(_is_number(img[k]) and img[k] > 0 for k in ("width", "height")):
            raise AnnotationError(f"{source}: image {img['id']} ({img['file_name']}) has no positive width/height")


def validate_coco_dict(data, source: str) -> None:
    """Structure checks the training code relies on: sections, ids, references, bbox shape."""
    _check_sections(data, source)
    image_ids = _unique_ids(data["images"], "images", ("id", "file_name", "width", "height"), source)
    _check_image_sizes(data["images"], source)
    category_ids = _unique_ids(data["categories"], "categories", ("id", "name"), source)
    _unique_ids(data["annotations"], "annotations", ("id", "image_id", "category_id", "bbox"), source)
    for ann in data["annotations"]:
        if ann["image_id"] not in image_ids:
            raise AnnotationError(f"{source}: annotation {ann['id']} refers to unknown image_id {ann['image_id']!r}")
        if ann["category_id"] not in category_ids:
            raise AnnotationError(
                f"{source}: annotation {ann['id']} has unknown category_id {ann['category_id']!r} "
                f"(categories: {sorted(category_ids)})"
            )
        bbox = ann["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(v is None or _is_number(v) for v in bbox):
            raise AnnotationError(f"{source}: annotation {ann['id']} bbox must be 4 numbers [x, y, w, h], got {bbox!r}")


@dataclass
class CocoRecords:
    """What a COCO annotation file holds, ready for ``DetectionDataset``.

    ``records``: one ImageRecord per json image, in json order. ``class_ids[k]`` and
    ``class_names[k]``: the category id and name of contiguous class k (categories sorted by id).
    ``box_report``: the boxes dropped as unusable, and why.
    """

    records: List[ImageRecord]
    class_ids: List[int]
    class_names: List[str]
    box_report: BoxDropReport


def coco_records(data: Dict, image_root: str, source: str) -> CocoRecords:
    """ImageRecords in json image order, classes contiguous over the sorted category ids.

    Crowd annotations are left out; boxes are clipped to their image and the unusable ones
    dropped with one summarised warning. Images without annotations stay, as negatives.
    """
    categories = sorted(data["categories"], key=lambda c: c["id"])
    class_ids = [c["id"] for c in categories]
    contiguous = {cid: i for i, cid in enumerate(class_ids)}
    image_index = {img["id"]: i for i, img in enumerate(data["images"])}
    anns = [a for a in data["annotations"] if not a.get("iscrowd", 0)]

    owner = np.array([image_index[a["image_id"]] for a in anns], dtype=np.int64)
    classes = np.array([contiguous[a["category_id"]] for a in anns], dtype=np.int64)
    xywh = np.array([[np.nan if v is None else v for v in a["bbox"]] for a in anns], dtype=np.float64).reshape(-1, 4)
    sizes = np.array([[img["width"], img["height"]] for img in data["images"]], dtype=np.float64).reshape(-1, 2)
    boxes, reason = clip_and_check(xywh_to_xyxy(xywh), sizes[owner])

    def describe(i: int) -> str:
        img = data["images"][owner[i]]
        return f"annotation {anns[i]['id']} of image {img['id']} ({img['file_name']}) bbox {anns[i]['bbox']}"

    report = report_dropped_boxes(source, reason, describe)
    keep = reason == 0
    owner, classes, boxes = owner[keep], classes[keep], boxes[keep]
    order = np.argsort(owner, kind="stable")  # group by image, annotation order kept inside an image
    splits = np.searchsorted(owner[order], np.arange(1, len(data["images"])))
    per_image = zip(np.split(boxes[order], splits), np.split(classes[order], splits))
    records = [
        ImageRecord(img_id=img["id"], file_name=img["file_name"], path=os.path.join(image_root, img["file_name"]),
                    height=int(img["height"]), width=int(img["width"]), boxes=b, classes=c,
                    difficult=np.zeros(len(b), dtype=bool))
        for img, (b, c) in zip(data["images"], per_image)
    ]
    return CocoRecords(records=records, class_ids=class_ids, class_names=[c["name"] for c in categories],
                       box_report=report)
