"""Precision, recall and F1 against the confidence threshold, and the threshold of the best F1.

Counts at confidence t are those of the matched detections scoring t or more (``matching``):
TP(t), FP(t), and FN(t) = boxes - TP(t). "All classes" pools every class's counts (micro
average), so the F1-optimal threshold is the one that gets the most boxes right for the fewest
false detections over the whole set.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .matching import Matches

__all__ = ["ClassCounts", "ConfidenceCurves", "class_counts", "confidence_curves", "best_f1_confidence"]


@dataclass
class ClassCounts:
    """At one confidence: tp, fp, fn [C] int64 per class, and precision, recall, f1 [C] (NaN
    where undefined: no detections for precision, no boxes for recall)."""

    confidence: float
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @property
    def precision(self) -> np.ndarray:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> np.ndarray:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> np.ndarray:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def pooled(self) -> "ClassCounts":
        """All classes' counts added up, as a one-class ClassCounts."""
        return ClassCounts(self.confidence, self.tp.sum(keepdims=True), self.fp.sum(keepdims=True),
                           self.fn.sum(keepdims=True))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def class_counts(matches: Matches, *, confidence: float) -> ClassCounts:
    above = matches.scores >= confidence
    c = matches.num_classes
    tp = np.bincount(matches.classes[above & matches.tp], minlength=c)[:c]
    fp = np.bincount(matches.classes[above & ~matches.tp], minlength=c)[:c]
    return ClassCounts(confidence=confidence, tp=tp, fp=fp, fn=matches.gt_counts - tp)


@dataclass
class ConfidenceCurves:
    """thresholds [S]; precision, recall, f1 [C + 1, S]: one row per class, the last all classes
    pooled (NaN where undefined)."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


def confidence_curves(matches: Matches, *, steps: int = 201) -> ConfidenceCurves:
    thresholds = np.linspace(0.0, 1.0, steps)
    rows = {"precision": [], "recall": [], "f1": []}
    # Cumulative counts over the score-sorted detections, read at each threshold: O(N + S) per class.
    count_above = np.searchsorted(-matches.scores, -thresholds, side="right")  # detections scoring >= t
    for k in list(range(matches.num_classes)) + [None]:
        mine = np.ones(len(matches.scores), bool) if k is None else matches.classes == k
        tp_cum = np.concatenate([[0], np.cumsum(matches.tp & mine)])
        det_cum = np.concatenate([[0], np.cumsum(mine)])
        boxes = matches.gt_counts.sum() if k is None else matches.gt_counts[k]
        counts = ClassCounts(0.0, tp_cum[count_above], det_cum[count_above] - tp_cum[count_above],
                             boxes - tp_cum[count_above])
        for name in rows:
            rows[name].append(getattr(counts, name))
    return ConfidenceCurves(thresholds=thresholds, **{name: np.stack(v) for name, v in rows.items()})


def best_f1_confidence(matches: Matches) -> Optional[float]:
    """The confidence of the highest pooled F1, searched over every detection's score (exact, not
    on a grid); on a tie the higher confidence. None without true positives."""
    if not matches.tp.any():
        return None
    tp_cum = np.cumsum(matches.tp)
    f1 = 2 * tp_cum / (np.arange(1, len(matches.tp) + 1) + matches.gt_counts.sum())
    # A threshold keeps every detection of equal score: only the last of a run of ties is reachable.
    last_of_tie = np.append(matches.scores[1:] != matches.scores[:-1], True)
    f1 = np.where(last_of_tie, f1, -1.0)
    return float(matches.scores[int(np.argmax(f1))])
