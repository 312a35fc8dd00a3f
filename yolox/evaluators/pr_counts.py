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
    category id of each contiguous class.
    """
    contiguous = {int(cat): i for i, cat in enumerate(class_ids)}
    scores = {c: [] for c in range(len(class_ids))}
    hits = {c: [] for c in range(len(class_ids))}
    num_gt = {c: 0 for c in range(len(class_ids))}
    for record in records:
        found = detections.get(record.img_id) or {"bboxes": [], "scores": [], "categories": []}
        det_classes = np.array([contiguous.get(int(c), -1) for c in found["categories"]], dtype=np.int64)
        det_boxes = xywh_to_xyxy(torch.as_tensor(found["bboxes"], dtype=torch.float64).reshape(-1, 4))
        det_scores = np.asarray(found["scores"], dtype=np.float64)
        gt_boxes = torch.as_tensor(record.boxes, dtype=torch.float64).reshape(-1, 4)
        gt_classes = np.asarray(record.classes, dtype=np.int64)
        for cls in range(len(class_ids)):
            gt = gt_boxes[torch.from_numpy(gt_classes == cls)]
            mine = np.flatnonzero(det_classes == cls)
            num_gt[cls] += len(gt)
            if not len(mine):
                continue
            order = mine[np.argsort(-det_scores[mine], kind="stable")]
            scores[cls].append(det_scores[order])
            hits[cls].append(_greedy_hits(det_boxes[torch.from_numpy(order)], gt, iou_threshold))
    return {c: ClassMatches(scores=np.concatenate(scores[c]) if scores[c] else np.zeros(0),
                            true_positive=np.concatenate(hits[c]) if hits[c] else np.zeros(0, dtype=bool),
                            num_gt=num_gt[c]) for c in scores}


def _greedy_hits(boxes: torch.Tensor, gt: torch.Tensor, iou_threshold: float) -> np.ndarray:
    """boxes [D, 4] in descending score, gt [G, 4] -> [D] bool: took a free box at IoU >= the threshold."""
    hits = np.zeros(len(boxes), dtype=bool)
    if not len(gt):
        return hits
    iou = pairwise_iou(boxes, gt).numpy()  # [D, G]
    free = np.ones(len(gt), dtype=bool)
    for d in range(len(boxes)):
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
