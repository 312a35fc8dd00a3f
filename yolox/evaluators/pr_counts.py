"""Precision/recall counts per class at one IoU threshold, from an evaluation's detections and the
dataset's ground truth: what TensorBoard's PR-curve panel draws.

Matching is COCO's at a single IoU, the evaluation report's (``report.matching``): within an image
and class, detections in descending score take the unmatched ground-truth box they overlap most,
when that IoU reaches the threshold. Unlike
COCOeval, crowd regions are not special (the dataset's records hold no crowd boxes) and every
detection counts (no 100-per-image cap), so the curves are a picture of the model, not the AP.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np

from .coco_results import category_to_contiguous
from .report.images import ImageBoxes
from .report.matching import match_images

__all__ = ["ClassMatches", "PRCounts", "match_detections", "pr_counts"]


@dataclass
class ClassMatches:
    """One class over all images: scores [D] of its detections and whether each matched a box
    (true_positive [D] bool), and how many ground-truth boxes it has (num_gt)."""

    scores: np.ndarray
    true_positive: np.ndarray
    num_gt: int


@dataclass
class PRCounts:
    """Counts at each of ``thresholds`` [T] (a detection counts when its score >= the threshold)."""

    thresholds: np.ndarray
    true_positives: np.ndarray  # [T]
    false_positives: np.ndarray  # [T]
    false_negatives: np.ndarray  # [T]
    precision: np.ndarray  # [T]; 0 where nothing scores above the threshold
    recall: np.ndarray  # [T]; 0 for a class without ground truth


def match_detections(*, detections: dict, records: Sequence, class_ids: Sequence[int],
                     iou_threshold: float = 0.5) -> Dict[int, ClassMatches]:
    """{contiguous class: ClassMatches} over the images of ``records``.

    detections: ``{image_id: {"bboxes": [[x, y, w, h]], "scores", "categories"}}`` in original pixels
    with dataset category ids (COCOEvaluator's outputs); records: the dataset's ``ImageRecord``s
    (``img_id``, ``boxes`` [N, 4] x1, y1, x2, y2, ``classes`` [N] contiguous); class_ids: the
    category id of each contiguous class. Detections of other categories are left out. The matching
    is the evaluation report's (``report.matching.match_images``).
    """
    images = [_image_boxes(detections.get(record.img_id), record, class_ids) for record in records]
    matches = match_images(images, num_classes=len(class_ids), iou_thresh=iou_threshold)
    return {cls: ClassMatches(scores=matches.scores[matches.classes == cls],
                              true_positive=matches.tp[matches.classes == cls].astype(bool),
                              num_gt=int(matches.gt_counts[cls]))
            for cls in range(len(class_ids))}


def _image_boxes(found: Optional[dict], record, class_ids: Sequence[int]) -> ImageBoxes:
    """One record and its detections as the report's ImageBoxes (detections by decreasing score;
    no box is ignored: every ground-truth box counts)."""
    found = found or {"bboxes": [], "scores": [], "categories": []}
    contiguous = category_to_contiguous(class_ids)
    det_classes = np.array([contiguous.get(int(c), -1) for c in found["categories"]], dtype=np.int64)
    keep = np.flatnonzero(det_classes >= 0)
    scores = np.asarray(found["scores"], dtype=np.float64)[keep]
    order = keep[np.argsort(-scores, kind="stable")]
    xywh = np.asarray(found["bboxes"], dtype=np.float64).reshape(-1, 4)[order]
    gt_boxes = np.asarray(record.boxes, dtype=np.float64).reshape(-1, 4)
    return ImageBoxes(image_id=int(record.img_id), file_name="", gt_boxes=gt_boxes,
                      gt_classes=np.asarray(record.classes, dtype=np.int64),
                      gt_ignore=np.zeros(len(gt_boxes), dtype=bool),
                      det_boxes=np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1),
                      det_scores=np.asarray(found["scores"], dtype=np.float64)[order],
                      det_classes=det_classes[order])


def pr_counts(matches: ClassMatches, *, num_thresholds: int = 101) -> PRCounts:
    """Cumulative counts of ``matches`` at ``num_thresholds`` score thresholds evenly over [0, 1]."""
    thresholds = np.linspace(0.0, 1.0, num_thresholds)
    above = matches.scores[None, :] >= thresholds[:, None]  # [T, D]
    tp = (above & matches.true_positive[None, :]).sum(axis=1).astype(np.float64)
    fp = (above & ~matches.true_positive[None, :]).sum(axis=1).astype(np.float64)
    fn = matches.num_gt - tp
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = tp / matches.num_gt if matches.num_gt else np.zeros_like(tp)
    return PRCounts(thresholds=thresholds, true_positives=tp, false_positives=fp, false_negatives=fn,
                    precision=precision, recall=recall)
