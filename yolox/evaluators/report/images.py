"""What a report is drawn from: every evaluated image's ground truth and detections side by side,
in original-image pixels and contiguous class indices.

Built from the evaluators' own representations, COCO result records (``predictions_to_coco``'s)
and the dataset's ``coco`` ground truth, so the COCO and VOC reports read the same thing.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..coco_results import category_to_contiguous

__all__ = ["ImageBoxes", "collect_images"]


@dataclass
class ImageBoxes:
    """One image. gt_boxes [G, 4] and det_boxes [D, 4] x1, y1, x2, y2 original pixels; gt_classes
    [G] and det_classes [D] int64 contiguous class; gt_ignore [G] bool (crowd or difficult: neither
    found nor missed); det_scores [D] float64, detections sorted by decreasing score."""

    image_id: int
    file_name: str
    gt_boxes: np.ndarray
    gt_classes: np.ndarray
    gt_ignore: np.ndarray
    det_boxes: np.ndarray
    det_scores: np.ndarray
    det_classes: np.ndarray


def _corners(xywh: List[List[float]]) -> np.ndarray:
    boxes = np.asarray(xywh, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def _ignored(ann: dict) -> bool:
    # The flags both evaluators honour: COCO's crowd regions, VOC's difficult boxes.
    return bool(ann.get("iscrowd", 0) or ann.get("ignore", 0) or ann.get("difficult", 0))


def collect_images(coco, records: Sequence[dict], *, class_ids: Sequence[int],
                   image_ids: Optional[Sequence[int]] = None) -> List[ImageBoxes]:
    """One ImageBoxes per image of ``image_ids`` (default: every image of ``coco``), in that order.

    records: COCO result dicts ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``;
    class_ids: the dataset category id of each contiguous class.
    """
    to_class = category_to_contiguous(class_ids)
    ids = [int(i) for i in (image_ids if image_ids is not None else sorted(coco.getImgIds()))]
    by_image: Dict[int, List[dict]] = {i: [] for i in ids}
    for r in records:
        if int(r["image_id"]) in by_image:
            by_image[int(r["image_id"])].append(r)
    images = []
    for image_id in ids:
        anns = [a for a in coco.imgToAnns.get(image_id, []) if a["category_id"] in to_class]
        dets = sorted(by_image[image_id], key=lambda r: -float(r["score"]))
        images.append(ImageBoxes(
            image_id=image_id,
            file_name=str(coco.imgs.get(image_id, {}).get("file_name", image_id)),
            gt_boxes=_corners([a["bbox"] for a in anns]),
            gt_classes=np.asarray([to_class[a["category_id"]] for a in anns], dtype=np.int64),
            gt_ignore=np.asarray([_ignored(a) for a in anns], dtype=bool),
            det_boxes=_corners([r["bbox"] for r in dets]),
            det_scores=np.asarray([float(r["score"]) for r in dets], dtype=np.float64),
            det_classes=np.asarray([to_class[int(r["category_id"])] for r in dets], dtype=np.int64),
        ))
    return images
