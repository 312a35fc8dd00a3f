"""Precision/recall counts per class at one IoU threshold, from an evaluation's detections and the
dataset's ground truth: what TensorBoard's PR-curve panel draws.

Matching is COCO's at a single IoU: within an image and class, detections in descending score take
the unmatched ground-truth box they overlap most, when that IoU reaches the threshold. Unlike
COCOeval, crowd regions are not special (the dataset's records hold no crowd boxes) and every
detection counts (no 100-per-image cap), so the curves are a picture of the model, not the AP.
"""
from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np
import torch

from yolox.utils.boxes import pairwise_iou, xywh_to_xyxy

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
    category id of each contiguous class. Detections of other categories are left out.
    """
    num_classes = len(class_ids)
    contiguous = {int(cat): i for i, cat in enumerate(class_ids)}
    scores, hits, classes = [], [], []
    num_gt = np.zeros(num_classes, dtype=np.int64)
    for record in records:
        found = detections.get(record.img_id) or {"bboxes": [], "scores": [], "categories": []}
        det_classes = np.array([contiguous.get(int(c), -1) for c in found["categories"]], dtype=np.int64)
        keep = det_classes >= 0
        det_boxes = xywh_to_xyxy(torch.as_tensor(found["bboxes"], dtype=torch.float64).reshape(-1, 4))[keep]
        gt_classes = np.asarray(record.classes, dtype=np.int64)
        num_gt += np.bincount(gt_classes, minlength=num_classes)[:num_classes]
        scores.append(np.asarray(found["scores"], dtype=np.float64)[keep])
        classes.append(det_classes[keep])
        gt_boxes = torch.as_tensor(record.boxes, dtype=torch.float64).reshape(-1, 4)
        hits.append(_image_hits(det_boxes, scores[-1], classes[-1], gt_boxes, gt_classes, iou_threshold))
    scores, hits, classes = (np.concatenate(x) if x else np.zeros(0) for x in (scores, hits, classes))
    result = {}
    for cls in range(num_classes):
        mine = np.flatnonzero(classes == cls)
        order = mine[np.argsort(-scores[mine], kind="stable")]
        result[cls] = ClassMatches(scores=scores[order], true_positive=hits[order].astype(bool),
                                   num_gt=int(num_gt[cls]))
    return result


def _image_hits(boxes: torch.Tensor, scores: np.ndarray, classes: np.ndarray, gt_boxes: torch.Tensor,
                gt_classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """One image: boxes [D, 4], scores [D], classes [D]; gt_boxes [G, 4], gt_classes [G] -> [D] bool,
    True where the detection took a free box of its class at IoU >= the threshold (in descending score)."""
    hits = np.zeros(len(boxes), dtype=bool)
    if not len(boxes) or not len(gt_boxes):
        return hits
    iou = pairwise_iou(boxes, gt_boxes).numpy()  # [D, G]
    iou[classes[:, None] != gt_classes[None, :]] = -1.0  # classes never match across
    order = np.argsort(-scores, kind="stable")
    # Only detections that reach the threshold with some box can take one: on a real image, a few.
    contenders = order[iou[order].max(axis=1) >= iou_threshold]
    free = np.ones(len(gt_boxes), dtype=bool)
    for d in contenders:
        candidates = np.where(free, iou[d], -1.0)
        best = int(candidates.argmax())
        if candidates[best] >= iou_threshold:
            hits[d], free[best] = True, False
    return hits


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
