"""Precision-recall curves per class and over all classes, at IoU 0.5 and averaged over 0.5:0.95.

COCO: the curves are the scorer's own ``eval["precision"]`` (``COCOScores.precision``, [T, R, K]
over COCO's 101 recall points), so the mean of a curve is exactly the AP the summary prints.
VOC: each class's curve comes from the VOC matching (``voc_metrics.precision_recall``), made
non-increasing and read at the same 101 recall points (precision 0 past the highest recall), so
the two kinds plot alike; its AP column is the VOC evaluator's.
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

from ..voc_metrics import ClassDetections, ClassGroundTruth, precision_recall

__all__ = ["RECALL_POINTS", "PRCurves", "coco_pr_curves", "voc_pr_curves"]

RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCOeval's recThrs


@dataclass
class PRCurves:
    """recall [R]; at_50 and at_50_95 [K, R] precision per class (NaN rows: the class has no
    boxes); ap_50 and ap_50_95 [K] each curve's mean (NaN likewise)."""

    recall: np.ndarray
    at_50: np.ndarray
    at_50_95: np.ndarray

    @property
    def ap_50(self) -> np.ndarray:
        return self.at_50.mean(axis=1)

    @property
    def ap_50_95(self) -> np.ndarray:
        return self.at_50_95.mean(axis=1)

    def all_classes(self) -> Dict[str, np.ndarray]:
        """{"at_50", "at_50_95"}: [R] mean over the classes that have boxes (zeros if none has)."""
        def mean(rows: np.ndarray) -> np.ndarray:
            defined = rows[~np.isnan(rows).any(axis=1)]
            return defined.mean(axis=0) if len(defined) else np.zeros(len(self.recall))

        return {"at_50": mean(self.at_50), "at_50_95": mean(self.at_50_95)}


def coco_pr_curves(precision: np.ndarray) -> PRCurves:
    """precision: [T, R, K] COCOeval's, -1 for classes without boxes (index 0 of T is IoU 0.5)."""
    precision = np.asarray(precision, dtype=np.float64)
    absent = (precision < 0).all(axis=(0, 1))  # [K]
    at_50 = precision[0].T.copy()  # [K, R]
    at_50_95 = precision.mean(axis=0).T  # [K, R]
    at_50[absent] = np.nan
    at_50_95[absent] = np.nan
    return PRCurves(recall=RECALL_POINTS.copy(), at_50=at_50, at_50_95=at_50_95)


def _on_recall_points(recall: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """A raw curve ([D] each, detection order) as the best precision at recall >= each point."""
    out = np.zeros(len(RECALL_POINTS))
    if recall.size == 0:
        return out
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    reach = np.searchsorted(recall, RECALL_POINTS, side="left")  # first detection reaching each point
    ok = reach < len(recall)
    out[ok] = envelope[reach[ok]]
    return out


def voc_pr_curves(detections: Sequence[ClassDetections], ground_truth: Sequence[Dict[int, ClassGroundTruth]], *,
                  iou_thresholds: Sequence[float], pixel_offset: float = 0.0) -> PRCurves:
    """Per class (the VOC evaluator's inputs), curves at iou_thresholds[0] (0.5) and their mean
    over all ``iou_thresholds``."""
    at_50: List[np.ndarray] = []
    at_50_95: List[np.ndarray] = []
    for dets, gt in zip(detections, ground_truth):
        curves = []
        for t in iou_thresholds:
            recall, precision, num_pos = precision_recall(dets, gt, iou_thresh=t, pixel_offset=pixel_offset)
            curves.append(_on_recall_points(recall, precision) if num_pos else np.full(len(RECALL_POINTS), np.nan))
        at_50.append(curves[0])
        at_50_95.append(np.mean(curves, axis=0))
    return PRCurves(recall=RECALL_POINTS.copy(), at_50=np.stack(at_50), at_50_95=np.stack(at_50_95))
