"""Pascal VOC average precision of one class: matching, precision/recall, 11-point and area AP.

Matching follows the VOC devkit: detections in decreasing score; each takes the unmatched-or-not
ground-truth box of its image with the highest IoU; above the threshold it is a true positive if
that box is not "difficult" and not yet matched, ignored if the box is difficult, otherwise (and
below the threshold) a false positive. Difficult boxes do not count in the recall denominator.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

__all__ = ["ClassGroundTruth", "ClassDetections", "voc_ap", "precision_recall", "voc_class_ap"]


@dataclass
class ClassGroundTruth:
    """One image's boxes of one class: boxes [N, 4] x1, y1, x2, y2; difficult [N] bool."""

    boxes: np.ndarray
    difficult: np.ndarray


@dataclass
class ClassDetections:
    """All detections of one class: image_ids [D], scores [D], boxes [D, 4] x1, y1, x2, y2."""

    image_ids: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray


def voc_ap(recall: np.ndarray, precision: np.ndarray, *, use_07_metric: bool) -> float:
    """AP from a precision/recall curve ([D] each, in detection order).

    VOC07: the mean over recall levels 0, 0.1, ..., 1 of the best precision at recall >= level.
    Area (VOC2010+): the area under the curve after making precision non-increasing.
    """
    if use_07_metric:
        levels = np.linspace(0.0, 1.0, 11)
        return float(np.mean([precision[recall >= t].max() if np.any(recall >= t) else 0.0 for t in levels]))
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([0.0], precision, [0.0]))
    p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope, right to left
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def _iou_one_to_many(box: np.ndarray, boxes: np.ndarray, pixel_offset: float) -> np.ndarray:
    """box [4], boxes [N, 4] -> IoU [N]; ``pixel_offset`` 1 is the devkit's inclusive-pixel rule."""
    iw = np.maximum(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]) + pixel_offset, 0.0)
    ih = np.maximum(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]) + pixel_offset, 0.0)
    inter = iw * ih
    area = (box[2] - box[0] + pixel_offset) * (box[3] - box[1] + pixel_offset)
    areas = (boxes[:, 2] - boxes[:, 0] + pixel_offset) * (boxes[:, 3] - boxes[:, 1] + pixel_offset)
    return inter / np.maximum(area + areas - inter, np.finfo(np.float64).eps)


def precision_recall(detections: ClassDetections, ground_truth: Dict[int, ClassGroundTruth], *,
                     iou_thresh: float, pixel_offset: float = 0.0) -> Tuple[np.ndarray, np.ndarray, int]:
    """(recall [D'], precision [D'], number of non-difficult GT boxes), D' = detections not ignored."""
    num_pos = int(sum((~gt.difficult.astype(bool)).sum() for gt in ground_truth.values()))
    order = np.argsort(-detections.scores, kind="stable")
    matched = {image_id: np.zeros(len(gt.boxes), dtype=bool) for image_id, gt in ground_truth.items()}
    outcomes = []  # 1 true positive, 0 false positive; difficult matches are skipped
    for d in order:
        gt = ground_truth.get(int(detections.image_ids[d]))
        if gt is None or len(gt.boxes) == 0:
            outcomes.append(0)
            continue
        ious = _iou_one_to_many(detections.boxes[d].astype(np.float64), gt.boxes.astype(np.float64), pixel_offset)
        best = int(np.argmax(ious))
        if ious[best] <= iou_thresh:
            outcomes.append(0)
        elif gt.difficult[best]:
            continue
        elif not matched[int(detections.image_ids[d])][best]:
            matched[int(detections.image_ids[d])][best] = True
            outcomes.append(1)
        else:
            outcomes.append(0)
    tp = np.cumsum(np.asarray(outcomes, dtype=np.float64))
    fp = np.cumsum(1.0 - np.asarray(outcomes, dtype=np.float64))
    recall = tp / max(num_pos, 1)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return recall, precision, num_pos


def voc_class_ap(detections: ClassDetections, ground_truth: Dict[int, ClassGroundTruth], *, iou_thresh: float,
                 use_07_metric: bool, pixel_offset: float = 0.0) -> float:
    """The class's VOC AP at ``iou_thresh``; NaN when it has no non-difficult ground-truth box
    (the class is then left out of the mean)."""
    recall, precision, num_pos = precision_recall(detections, ground_truth, iou_thresh=iou_thresh,
                                                  pixel_offset=pixel_offset)
    if num_pos == 0:
        return float("nan")
    if recall.size == 0:
        return 0.0
    return voc_ap(recall, precision, use_07_metric=use_07_metric)
