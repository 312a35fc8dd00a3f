"""What a dataset holds, from its annotations alone (no image is decoded): the numbers to look at
first when a custom training shows AP 0.

``summarize_dataset`` reads the cleaned ``ImageRecord``s any ``DetectionDataset`` (COCO, VOC,
YOLO-txt) exposes; ``format_report`` turns the result into the text ``tools/check_dataset.py``
prints. Validation itself happens where the dataset is built: bad annotations raise there, dropped
boxes are counted in the dataset's ``box_report``, which is carried over here.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["SIZE_BUCKETS", "SplitReport", "summarize_dataset", "num_classes_warning", "compare_splits",
           "format_report"]

# COCO's object-size ranges on the box area in original-image pixels: area < 32^2 is small,
# 32^2 <= area < 96^2 medium, the rest large.
SIZE_BUCKETS: Tuple[Tuple[str, float, float], ...] = (
    ("small", 0.0, 32.0 ** 2),
    ("medium", 32.0 ** 2, 96.0 ** 2),
    ("large", 96.0 ** 2, math.inf),
)


@dataclass
class SplitReport:
    """Counts over one split. Boxes are the ones training uses: crowd regions and boxes dropped
    as unusable (``dropped``) are not among them."""

    split: str
    source: str  # the annotation the dataset was read from
    num_images: int
    num_boxes: int
    boxes_per_image: Tuple[int, float, int]  # min, mean, max over all images (negatives included)
    images_without_boxes: int
    class_names: Tuple[str, ...]
    class_counts: Tuple[int, ...]  # boxes per contiguous class, same order as class_names
    size_counts: Dict[str, int]  # SIZE_BUCKETS name -> boxes
    exp_num_classes: Optional[int] = None
    crowd_ignored: int = 0
    dropped: Dict[str, int] = field(default_factory=dict)  # reason -> boxes dropped while reading

    @property
    def num_classes_matches(self) -> bool:
        return self.exp_num_classes is None or self.exp_num_classes == len(self.class_names)


def _size_counts(areas: np.ndarray) -> Dict[str, int]:
    """areas: [N] box areas in original pixels -> boxes per SIZE_BUCKETS name."""
    return {name: int(((areas >= lo) & (areas < hi)).sum()) for name, lo, hi in SIZE_BUCKETS}


def _crowd_count(dataset) -> int:
    """Crowd annotations in the dataset's COCO view (only a COCO json has any)."""
    coco = getattr(dataset, "coco", None)  # COCO: the json as written; VOC / YOLO-txt: built from the records
    if coco is None:
        return 0
    return sum(1 for ann in coco.dataset.get("annotations", []) if ann.get("iscrowd", 0))


def summarize_dataset(dataset, *, split: str, exp_num_classes: Optional[int] = None) -> SplitReport:
    """Count images, boxes, classes and box sizes of ``dataset`` (a ``DetectionDataset``).

    Reads ``dataset.records`` (boxes [N, 4] x1, y1, x2, y2 in original pixels, classes [N]),
    ``dataset.class_names`` and, when present, ``dataset.box_report``; no image file is opened.
    """
    records = dataset.records
    names = tuple(dataset.class_names)
    per_image = np.array([len(rec.boxes) for rec in records], dtype=np.int64)
    boxes = np.concatenate([rec.boxes for rec in records]).reshape(-1, 4) if records else np.zeros((0, 4))
    classes = np.concatenate([rec.classes for rec in records]).astype(np.int64) if records else np.zeros(0, int)
    areas = (boxes[:, 2] - boxes[:, 0]).astype(np.float64) * (boxes[:, 3] - boxes[:, 1])
    report = getattr(dataset, "box_report", None)
    return SplitReport(
        split=split,
        source=report.source if report is not None else type(dataset).__name__,
        num_images=len(records),
        num_boxes=int(per_image.sum()),
        boxes_per_image=(int(per_image.min()), float(per_image.mean()), int(per_image.max())) if records
        else (0, 0.0, 0),
        images_without_boxes=int((per_image == 0).sum()),
        class_names=names,
        class_counts=tuple(int(n) for n in np.bincount(classes, minlength=len(names))[:len(names)]),
        size_counts=_size_counts(areas),
        exp_num_classes=exp_num_classes,
        crowd_ignored=_crowd_count(dataset),
        dropped=dict(report.counts) if report is not None else {},
    )


def num_classes_warning(exp_num_classes: Optional[int], class_names: Sequence[str]) -> Optional[str]:
    """None when the experiment's ``num_classes`` equals the number of classes in the data, else
    a message that says which way it is off and what to set."""
    data_classes = len(class_names)
    if exp_num_classes is None or exp_num_classes == data_classes:
        return None
    listed = ", ".join(class_names[:10]) + (", ..." if data_classes > 10 else "")
    if exp_num_classes > data_classes:
        effect = (f"the head learns {exp_num_classes - data_classes} classes that never occur "
                  f"and the checkpoint records {exp_num_classes} classes")
    else:
        shown = range(exp_num_classes, min(data_classes, exp_num_classes + 5))
        beyond = ", ".join(f"{i} {class_names[i]}" for i in shown) + (", ..." if data_classes > shown.stop else "")
        effect = f"the labels of {data_classes - exp_num_classes} classes ({beyond}) have no output in the head"
    return (f"WARNING: exp.num_classes = {exp_num_classes} but the data has {data_classes} classes "
            f"({listed}): {effect}; set self.num_classes = {data_classes} in the experiment")


def compare_splits(reports: Sequence[SplitReport]) -> List[str]:
    """Warnings about disagreements between splits (class lists that differ)."""
    warnings = []
    for other in reports[1:]:
        if other.class_names != reports[0].class_names:
            warnings.append(f"WARNING: the {reports[0].split} and {other.split} splits name different classes: "
                            f"{list(reports[0].class_names)} vs {list(other.class_names)}")
    return warnings


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}%" if whole else "   - "


def format_report(report: SplitReport) -> str:
    """The report as plain text lines: counts, class histogram, size buckets, class-count check."""
    lo, mean, hi = report.boxes_per_image
    lines = [
        f"[{report.split}] {report.source}",
        f"  images: {report.num_images}   boxes: {report.num_boxes}   "
        f"boxes per image: min {lo} / mean {mean:.2f} / max {hi}",
        f"  images without boxes: {report.images_without_boxes}",
    ]
    if report.crowd_ignored:
        lines.append(f"  crowd annotations ignored: {report.crowd_ignored}")
    if report.dropped:
        lines.append("  boxes dropped while reading: " + ", ".join(f"{n} {why}" for why, n in report.dropped.items()))
    width = max([len(n) for n in report.class_names] + [5])
    lines.append(f"  classes ({len(report.class_names)}):")
    for index, (name, count) in enumerate(zip(report.class_names, report.class_counts)):
        lines.append(f"    {index:>3}  {name:<{width}}  {count:>7}  {_percent(count, report.num_boxes)}")
    lines.append("  box sizes (COCO areas, original pixels): " + "   ".join(
        f"{name} {report.size_counts[name]} ({_percent(report.size_counts[name], report.num_boxes).strip()})"
        for name, _, _ in SIZE_BUCKETS))
    warning = num_classes_warning(report.exp_num_classes, report.class_names)
    if warning:
        lines.append("  " + warning)
    elif report.exp_num_classes is not None:
        lines.append(f"  num_classes: exp.num_classes = {report.exp_num_classes} matches the data")
    return "\n".join(lines)
