"""The per-class table: images, instances, P, R, F1, TP, FP, FN at the report's confidence, and
AP50, AP50:95 from the scorer."""
import csv
import io
import math
from pathlib import Path
from typing import List, Sequence

import numpy as np
from tabulate import tabulate

from yolox.utils.atomic_io import atomic_write

from .confidence import ClassCounts
from .matching import Matches

__all__ = ["COLUMNS", "class_rows", "table_text", "write_csv"]

COLUMNS = ("class", "images", "instances", "P", "R", "F1", "TP", "FP", "FN", "AP50", "AP50:95")


def class_rows(matches: Matches, counts: ClassCounts, *, names: Sequence[str], ap50: Sequence[float],
               ap50_95: Sequence[float]) -> List[dict]:
    """One dict per class (COLUMNS' keys), then "all": counts pooled, P/R/F1 of the pooled counts,
    APs the mean over classes with boxes (the scorer's mAP)."""
    rows = []
    for k, name in enumerate(names):
        rows.append(dict(zip(COLUMNS, (name, int(matches.gt_images[k]), int(matches.gt_counts[k]),
                                       counts.precision[k], counts.recall[k], counts.f1[k], int(counts.tp[k]),
                                       int(counts.fp[k]), int(counts.fn[k]), float(ap50[k]), float(ap50_95[k])))))
    pooled = counts.pooled()
    images_with_boxes = sum(1 for im in matches.images if (~im.gt_ignore).any())
    rows.append(dict(zip(COLUMNS, ("all", images_with_boxes, int(matches.gt_counts.sum()), pooled.precision[0],
                                   pooled.recall[0], pooled.f1[0], int(pooled.tp[0]), int(pooled.fp[0]),
                                   int(pooled.fn[0]), _nanmean(ap50), _nanmean(ap50_95)))))
    return rows


def _nanmean(values: Sequence[float]) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _cell(value) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def table_text(rows: List[dict]) -> str:
    return tabulate([[_cell(r[c]) for c in COLUMNS] for r in rows], headers=list(COLUMNS), tablefmt="github",
                    disable_numparse=True)


def write_csv(rows: List[dict], path: Path) -> Path:
    """The table as CSV (empty cells where a figure is undefined), written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS))
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()})
    with atomic_write(path, "w") as handle:
        handle.write(buffer.getvalue())
    return path
