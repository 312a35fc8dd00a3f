"""Cleaning annotated boxes: clip to the image, drop the unusable ones, report them once."""
from dataclasses import dataclass, field
from typing import Callable, Dict, List

import numpy as np
from loguru import logger

__all__ = ["BoxDropReport", "clip_and_check", "report_dropped_boxes", "DROP_REASONS"]

# Reason codes returned by clip_and_check; 0 means the box is kept.
DROP_REASONS = {
    1: "with a NaN or infinite coordinate",
    2: "with zero or negative width or height",
    3: "fully outside the image",
}


def clip_and_check(boxes: np.ndarray, img_wh: np.ndarray):
    """Clip boxes to their images and tell which to drop.

    boxes: [N, 4] x1, y1, x2, y2 in original pixels; img_wh: [N, 2] width, height of each box's image.
    Returns (clipped [N, 4] float32, reason [N] int8 with 0 = keep, else a DROP_REASONS code).
    Size is judged before clipping, so "zero size" and "outside the image" stay distinguishable.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    reason = np.zeros(len(boxes), dtype=np.int8)
    finite = np.isfinite(boxes).all(axis=1)
    reason[~finite] = 1
    with np.errstate(invalid="ignore"):
        positive = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        reason[finite & ~positive] = 2
        upper = np.tile(np.asarray(img_wh, dtype=np.float64).reshape(-1, 2), 2)  # [N, 4] w, h, w, h
        clipped = np.minimum(np.maximum(boxes, 0.0), upper)
        inside = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    reason[(reason == 0) & ~inside] = 3
    return clipped.astype(np.float32), reason


@dataclass
class BoxDropReport:
    """What was dropped from one annotation source: counts per reason and a few examples."""

    source: str
    total: int = 0
    counts: Dict[str, int] = field(default_factory=dict)
    examples: List[str] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return sum(self.counts.values())


def report_dropped_boxes(
    source: str, reason: np.ndarray, describe: Callable[[int], str], max_examples: int = 3
) -> BoxDropReport:
    """Log ONE warning for all dropped boxes of ``source``; ``describe(i)`` names box i for the examples."""
    bad = np.flatnonzero(reason)
    report = BoxDropReport(source=source, total=len(reason))
    if len(bad) == 0:
        return report
    codes, counts = np.unique(reason[bad], return_counts=True)
    report.counts = {DROP_REASONS[int(c)]: int(n) for c, n in zip(codes, counts)}
    report.examples = [describe(int(i)) for i in bad[:max_examples]]
    per_reason = ", ".join(f"{n} {why}" for why, n in report.counts.items())
    logger.warning(
        f"{source}: dropped {report.dropped} of {report.total} boxes ({per_reason}); "
        f"e.g. {'; '.join(report.examples)}"
    )
    return report
