"""Write an evaluation report into one folder: figures a person reads (PNG) and their numbers
(CSV, JSON). Files:

    summary.json                     confidence used, best-F1 confidence, pooled P/R/F1, mAPs, files
    per_class.csv                    class, images, instances, P, R, F1, TP, FP, FN, AP50, AP50:95
    confusion_matrix.png / .csv      counts at IoU 0.5 and the confidence, background row and column
    confusion_matrix_normalized.png  the same, each true class's row as fractions
    pr_curves.png / .csv             precision-recall, all classes and each, IoU 0.5 and 0.5:0.95
    pr_curves_per_class.png          one panel per class
    confidence_curves.png / .csv     precision, recall, F1 against the confidence threshold
    worst_images.png / .csv          the images with the most missed boxes and false detections

The confidence defaults to the one of the best pooled F1 (``confidence.best_f1_confidence``).
"""
import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from yolox.utils.atomic_io import atomic_write

from .class_table import class_rows, table_text, write_csv
from .confidence import best_f1_confidence, class_counts, confidence_curves
from .confusion import confusion_matrix
from .gallery import plot_gallery, worst_images
from .images import ImageBoxes
from .matching import match_images
from .plots import plot_confidence_curves, plot_confusion, plot_pr_curves, plot_pr_per_class
from .pr_curves import PRCurves

__all__ = ["FALLBACK_CONFIDENCE", "EvalReport", "report_folder", "write_report"]

# Without a single true positive there is no best F1; this is the demo's default threshold.
FALLBACK_CONFIDENCE = 0.3


def report_folder(output_dir: Union[str, Path], exp_name: str) -> Path:
    """``<output_dir>/<exp_name>/eval/<timestamp>/``, a new folder (a suffix if that second is taken)."""
    base = Path(output_dir) / exp_name / "eval" / time.strftime("%Y_%m_%d_%H_%M_%S")
    folder, n = base, 1
    while folder.exists():
        folder, n = base.with_name(f"{base.name}_{n}"), n + 1
    return folder


@dataclass
class EvalReport:
    """What was written: the folder, its files, the confidence used and the per-class rows."""

    folder: Path
    confidence: float
    best_f1_confidence: Optional[float]
    rows: List[dict]
    files: List[Path] = field(default_factory=list)

    def text(self) -> str:
        best = "none (no true positive)" if self.best_f1_confidence is None else f"{self.best_f1_confidence:.4f}"
        return (f"evaluation report in {self.folder}\nbest-F1 confidence: {best}; the table, the confusion matrix "
                f"and the worst images use confidence >= {self.confidence:.4f} at IoU 0.50\n{table_text(self.rows)}")


def _write_text(text: str, path: Path) -> Path:
    with atomic_write(path, "w") as handle:
        handle.write(text)
    return path


def _csv_text(header: Sequence[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in row])
    return buffer.getvalue()


def _json_number(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def write_report(folder: Union[str, Path], *, images: Sequence[ImageBoxes], names: Sequence[str],
                 curves: PRCurves, ap50: Optional[Sequence[float]] = None, ap50_95: Optional[Sequence[float]] = None,
                 confidence: Optional[float] = None, image_path: Optional[Callable[[int], Optional[Path]]] = None,
                 worst: int = 8, title: str = "evaluation") -> EvalReport:
    """Draw and write the report of ``images`` (ground truth and detections) into ``folder``.

    curves: the precision-recall curves (the scorer's); ap50 / ap50_95 [K]: the scorer's per-class
    APs (default: the curves' means); confidence: the threshold of the table, matrix and gallery
    (default the best-F1 one); image_path(image_id): the file of an image, for the gallery
    (None: no gallery).
    """
    folder = Path(folder)
    names = list(names)
    ap50 = curves.ap_50 if ap50 is None else np.asarray(ap50, dtype=np.float64)
    ap50_95 = curves.ap_50_95 if ap50_95 is None else np.asarray(ap50_95, dtype=np.float64)
    matches = match_images(images, num_classes=len(names), iou_thresh=0.5)
    best = best_f1_confidence(matches)
    chosen = confidence if confidence is not None else (best if best is not None else FALLBACK_CONFIDENCE)
    rows = class_rows(matches, class_counts(matches, confidence=chosen), names=names, ap50=ap50, ap50_95=ap50_95)
    report = EvalReport(folder=folder, confidence=chosen, best_f1_confidence=best, rows=rows)
    files = report.files
    files.append(write_csv(rows, folder / "per_class.csv"))
    files.extend(_confusion_files(matches, names, folder, confidence=chosen, title=title))
    files.extend(_pr_files(curves, names, folder, title=title))
    files.extend(_confidence_files(matches, names, folder, best=best, title=title))
    if image_path is not None and worst > 0:
        files.extend(_gallery_files(matches, names, folder, confidence=chosen, image_path=image_path, count=worst,
                                    title=title))
    summary = {"title": title, "images": len(images), "iou": 0.5, "confidence": chosen, "best_f1_confidence": best,
               "all_classes": {k: _json_number(v) for k, v in rows[-1].items() if k != "class"},
               "files": [p.name for p in files] + ["summary.json"]}
    files.append(_write_text(json.dumps(summary, indent=2), folder / "summary.json"))
    return report


def _confusion_files(matches, names, folder: Path, *, confidence: float, title: str) -> List[Path]:
    from .figures import save_figure

    matrix = confusion_matrix(matches, confidence=confidence)
    labels = list(names) + ["background"]
    rows = ([label] + counts for label, counts in zip(labels, matrix.counts.tolist()))
    table = _csv_text(["true \\ predicted"] + labels, rows)
    return [_write_text(table, folder / "confusion_matrix.csv"),
            save_figure(plot_confusion(matrix, names, normalised=False, title=f"{title}: confusion matrix"),
                        folder / "confusion_matrix.png"),
            save_figure(plot_confusion(matrix, names, normalised=True, title=f"{title}: confusion matrix"),
                        folder / "confusion_matrix_normalized.png")]


def _pr_files(curves: PRCurves, names, folder: Path, *, title: str) -> List[Path]:
    from .figures import save_figure

    mean = curves.all_classes()
    header = ["recall", "all IoU0.50", "all IoU0.50:0.95"]
    columns = [curves.recall, mean["at_50"], mean["at_50_95"]]
    for k, name in enumerate(names):
        header += [f"{name} IoU0.50", f"{name} IoU0.50:0.95"]
        columns += [curves.at_50[k], curves.at_50_95[k]]
    table = _csv_text(header, (np.round(row, 6).tolist() for row in np.stack(columns, axis=1)))
    return [_write_text(table, folder / "pr_curves.csv"),
            save_figure(plot_pr_curves(curves, names, title=f"{title}: precision-recall"), folder / "pr_curves.png"),
            save_figure(plot_pr_per_class(curves, names, title=f"{title}: precision-recall per class"),
                        folder / "pr_curves_per_class.png")]


def _confidence_files(matches, names, folder: Path, *, best: Optional[float], title: str) -> List[Path]:
    from .figures import save_figure

    curves = confidence_curves(matches)
    header = ["confidence"]
    columns: List[np.ndarray] = [curves.thresholds]
    for k, name in enumerate(list(names) + ["all"]):
        header += [f"{name} P", f"{name} R", f"{name} F1"]
        columns += [curves.precision[k], curves.recall[k], curves.f1[k]]
    table = _csv_text(header, (np.round(row, 6).tolist() for row in np.stack(columns, axis=1)))
    figure = plot_confidence_curves(curves, names, best=best, title=f"{title}: precision, recall, F1 vs confidence")
    return [_write_text(table, folder / "confidence_curves.csv"), save_figure(figure, folder / "confidence_curves.png")]


def _gallery_files(matches, names, folder: Path, *, confidence: float, image_path, count: int,
                   title: str) -> List[Path]:
    from .figures import save_figure

    rows = worst_images(matches, confidence=confidence, count=count)
    keys = ["image_id", "file_name", "missed", "false", "confused"]
    files = [_write_text(_csv_text(keys, ([r[k] for k in keys] for r in rows)), folder / "worst_images.csv")]
    figure = plot_gallery(matches, rows, image_path=image_path, names=names, confidence=confidence,
                          title=f"{title}: worst images")
    if figure is not None:
        files.append(save_figure(figure, folder / "worst_images.png", dpi=90))
    return files


def image_paths_of(dataset) -> Dict[int, Path]:
    """{image_id: file} of a dataset that lists its records (the project's datasets); empty otherwise."""
    return {int(r.img_id): Path(r.path) for r in getattr(dataset, "records", None) or []}
