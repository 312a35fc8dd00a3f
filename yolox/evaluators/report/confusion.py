"""The confusion matrix at one IoU and one confidence, with a background row and column.

Rows are the true class, columns the predicted one; the last row and column are "background":
[c, background] counts boxes of class c nothing found (missed), [background, c] detections of
class c on nothing (false detections). Filled in two steps so that its diagonal is exactly the
per-class true positives of the report's table:

1. the detections at or above the confidence keep their COCO-rule match (``matching``): a true
   positive is a diagonal count;
2. what is left, boxes not found and detections not matched, is paired across classes by
   decreasing IoU (at or above the threshold, each box and detection once): a box found under
   the wrong class. The rest goes to the background row and column.
"""
from dataclasses import dataclass
from typing import List

import numpy as np

from .matching import FP, TP, ImageMatch, Matches
from .images import ImageBoxes

__all__ = ["ConfusionMatrix", "confusion_matrix", "image_errors"]


@dataclass
class ConfusionMatrix:
    """counts [C + 1, C + 1] int64 (true row, predicted column, index C background)."""

    counts: np.ndarray
    confidence: float
    iou_thresh: float

    def row_normalised(self) -> np.ndarray:
        """Each true class's row as fractions of its boxes (the background row: of its false
        detections); all-zero rows stay zero."""
        totals = self.counts.sum(axis=1, keepdims=True)
        return self.counts / np.maximum(totals, 1)


def _cross_class_pairs(iou: np.ndarray, dets: np.ndarray, gts: np.ndarray, iou_thresh: float) -> List[tuple]:
    """Greedy one-to-one (det, gt) pairs among ``dets`` x ``gts`` by decreasing IoU."""
    if len(dets) == 0 or len(gts) == 0:
        return []
    sub = iou[np.ix_(dets, gts)]
    rows, cols = np.nonzero(sub >= iou_thresh)
    pairs, used_d, used_g = [], set(), set()
    for k in np.argsort(-sub[rows, cols], kind="stable"):
        d, g = int(dets[rows[k]]), int(gts[cols[k]])
        if d not in used_d and g not in used_g:
            used_d.add(d)
            used_g.add(g)
            pairs.append((d, g))
    return pairs


def image_errors(image: ImageBoxes, match: ImageMatch, *, confidence: float, iou_thresh: float) -> dict:
    """One image at ``confidence``: {"tp": [(det, gt)], "confused": [(det, gt)], "missed": [gt],
    "false": [det]} (indices into the image's boxes and detections)."""
    above = image.det_scores >= confidence
    tp = [(int(d), int(match.matched_gt[d])) for d in np.nonzero(above & (match.state == TP))[0]]
    found = {g for _, g in tp}
    open_gt = np.array([g for g in range(len(image.gt_boxes)) if g not in found and not image.gt_ignore[g]],
                       dtype=np.int64)
    open_det = np.nonzero(above & (match.state == FP))[0]
    confused = _cross_class_pairs(match.iou, open_det, open_gt, iou_thresh)
    paired_d = {d for d, _ in confused}
    paired_g = {g for _, g in confused}
    return {"tp": tp, "confused": confused, "missed": [int(g) for g in open_gt if g not in paired_g],
            "false": [int(d) for d in open_det if d not in paired_d]}


def confusion_matrix(matches: Matches, *, confidence: float) -> ConfusionMatrix:
    c = matches.num_classes
    counts = np.zeros((c + 1, c + 1), dtype=np.int64)
    for image, match in zip(matches.images, matches.per_image):
        errors = image_errors(image, match, confidence=confidence, iou_thresh=matches.iou_thresh)
        for d, g in errors["tp"] + errors["confused"]:
            counts[image.gt_classes[g], image.det_classes[d]] += 1
        for g in errors["missed"]:
            counts[image.gt_classes[g], c] += 1
        for d in errors["false"]:
            counts[c, image.det_classes[d]] += 1
    return ConfusionMatrix(counts=counts, confidence=confidence, iou_thresh=matches.iou_thresh)
