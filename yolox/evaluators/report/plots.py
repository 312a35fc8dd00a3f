"""The report's charts: confusion matrix, precision-recall curves, P/R/F1 against confidence.

Every chart says what it shows in its title (IoU, confidence), names its axes, and labels
classes by name. Past ``MANY_CLASSES`` classes the per-class lines turn thin and grey (a legend of
80 names reads as noise) and the per-class panels carry the names instead.
"""
import math
from typing import Optional, Sequence

import numpy as np

from .confidence import ConfidenceCurves
from .confusion import ConfusionMatrix
from .pr_curves import PRCurves

__all__ = ["MANY_CLASSES", "plot_confusion", "plot_pr_curves", "plot_pr_per_class", "plot_confidence_curves"]

MANY_CLASSES = 10
_ANNOTATE_UP_TO = 30  # cell numbers stay legible up to about this many classes


def _fmt(v: float) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.3f}"


def _shown_classes(counts: np.ndarray) -> list:
    """The class indices a many-class matrix keeps: those with boxes or detections (all of them
    for up to _ANNOTATE_UP_TO classes, where an empty row reads as "none of these here")."""
    c = len(counts) - 1
    if c <= _ANNOTATE_UP_TO:
        return list(range(c))
    return [k for k in range(c) if counts[k].any() or counts[:, k].any()]


def plot_confusion(matrix: ConfusionMatrix, names: Sequence[str], *, normalised: bool, title: str):
    """counts (or row fractions) as a heat map, true class down, predicted across."""
    from .figures import new_figure

    keep = _shown_classes(matrix.counts) + [len(names)]
    labels = [names[k] for k in keep[:-1]] + ["background"]
    values = (matrix.row_normalised() if normalised else matrix.counts)[np.ix_(keep, keep)]
    n = len(labels)
    side = min(max(5.0, 0.22 * n + 1.5), 20.0)  # the matrix itself, in inches
    # Fixed margins (inches) for the names, the titles and the colour bar: constrained layout took
    # most of the drawing time of an 80-class matrix.
    left, bottom, top, right = 1.7, 1.8, 1.0, 1.5
    width, height = left + side + right, bottom + side + top
    figure = new_figure((width, height), layout=None)
    ax = figure.add_axes((left / width, bottom / height, side / width, side / height))
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0 if normalised else max(1, int(values.max())),
                      interpolation="nearest")
    bar_label = "fraction of the true class's boxes" if normalised else "count"
    bar_axes = figure.add_axes(((left + side + 0.3) / width, (bottom + 0.1 * side) / height, 0.25 / width,
                                0.8 * side / height))
    bar = figure.colorbar(image, cax=bar_axes, label=bar_label)
    if not normalised:
        from matplotlib.ticker import MaxNLocator

        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    font = 10.0 if n <= 15 else 8.0 if n <= 40 else 7.0  # a cell is 0.22 in (16 pt) wide past 15 classes
    ax.set_xticks(range(n), labels, rotation=90, fontsize=font)
    ax.set_yticks(range(n), labels, fontsize=font)
    ax.set_xlabel("predicted class (background: missed boxes)")
    ax.set_ylabel("true class (background: false detections)")
    left_out = len(names) + 1 - n
    ax.set_title(f"{title}\nIoU {matrix.iou_thresh:.2f}, confidence >= {matrix.confidence:.3f}"
                 + (", rows normalised" if normalised else ", counts")
                 + (f"\n({left_out} classes without boxes or detections left out)" if left_out else ""))
    if n <= _ANNOTATE_UP_TO + 1:
        top = values.max() if values.max() > 0 else 1
        for (i, j), v in np.ndenumerate(values):
            if v:
                ax.text(j, i, f"{v:.2f}" if normalised else str(int(v)), ha="center", va="center", fontsize=font,
                        color="white" if v > 0.6 * top else "black")
    return figure


def _class_lines(ax, x: np.ndarray, rows: np.ndarray, names: Sequence[str], label_of) -> None:
    """One line per class with boxes: coloured and in the legend for few classes, grey otherwise."""
    defined = [k for k in range(len(rows)) if not np.isnan(rows[k]).all()]
    many = len(defined) > MANY_CLASSES
    for k in defined:
        if many:
            ax.plot(x, rows[k], color="0.7", linewidth=0.6)
        else:
            ax.plot(x, rows[k], linewidth=1.2, label=label_of(k))


def plot_pr_curves(curves: PRCurves, names: Sequence[str], *, title: str):
    """Two panels, IoU 0.5 and 0.5:0.95: every class and, in bold, the mean over classes."""
    from .figures import new_figure

    figure = new_figure((13.0, 6.0))
    mean = curves.all_classes()
    panels = (("at_50", "IoU 0.50", curves.ap_50), ("at_50_95", "IoU 0.50:0.95 (mean over 10 IoUs)", curves.ap_50_95))
    for col, (key, which, ap) in enumerate(panels):
        ax = figure.add_subplot(1, 2, col + 1)
        _class_lines(ax, curves.recall, getattr(curves, key), names, lambda k, ap=ap: f"{names[k]} {_fmt(ap[k])}")
        ax.plot(curves.recall, mean[key], color="tab:blue" if len(names) > MANY_CLASSES else "black",
                linewidth=3.0, label=f"all classes {_fmt(float(np.nanmean(ap)) if np.isfinite(ap).any() else 0.0)}")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
               title=f"{which} (legend: AP of each curve)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
    figure.suptitle(title)
    return figure


def plot_pr_per_class(curves: PRCurves, names: Sequence[str], *, title: str):
    """One small panel per class with boxes, both IoU settings, the class's APs above it.

    The panels are drawn into one axes, each shifted to its place in the grid, as two line
    collections: 80 real axes cost seconds to lay out and render, this a fraction of one.
    """
    from matplotlib.collections import LineCollection

    from .figures import new_figure

    defined = [k for k in range(len(names)) if not np.isnan(curves.at_50[k]).all()]
    cols = max(1, math.ceil(math.sqrt(len(defined))))
    rows = max(1, math.ceil(len(defined) / cols))
    step_x, step_y = 1.25, 1.55  # panel 1 x 1 plus the gaps for the next panel's title
    # At least 8 in wide, so the title's two lines fit above a grid of a few classes.
    figure = new_figure((max(2.2 * cols + 0.6, 8.0), 2.3 * rows + 1.0))
    ax = figure.add_subplot()
    frames, quarter_lines, at_50, at_50_95 = [], [], [], []
    for n, k in enumerate(defined):
        x0, y0 = (n % cols) * step_x, -(n // cols) * step_y
        frames.append([(x0, y0), (x0 + 1, y0), (x0 + 1, y0 + 1), (x0, y0 + 1), (x0, y0)])
        for v in (0.25, 0.5, 0.75):
            quarter_lines += [[(x0 + v, y0), (x0 + v, y0 + 1)], [(x0, y0 + v), (x0 + 1, y0 + v)]]
        at_50.append(np.stack([x0 + curves.recall, y0 + curves.at_50[k]], axis=1))
        at_50_95.append(np.stack([x0 + curves.recall, y0 + curves.at_50_95[k]], axis=1))
        ax.text(x0 + 0.5, y0 + 1.04, f"{names[k]}\nAP50 {_fmt(curves.ap_50[k])}  AP {_fmt(curves.ap_50_95[k])}",
                ha="center", va="bottom", fontsize=8)
    ax.add_collection(LineCollection(quarter_lines, colors="0.9", linewidths=0.5))
    ax.add_collection(LineCollection(frames, colors="0.3", linewidths=0.8))
    ax.add_collection(LineCollection(at_50, colors="tab:blue", linewidths=1.2, label="IoU 0.50"))
    ax.add_collection(LineCollection(at_50_95, colors="tab:orange", linewidths=1.2, label="IoU 0.50:0.95"))
    ax.set_aspect("equal")  # square panels, however wide the figure
    ax.set_xlim(-0.1, (cols - 1) * step_x + 1.1)
    ax.set_ylim(-(rows - 1) * step_y - 0.1, 1.45)
    ax.axis("off")
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 1.0 + 0.6 / (2.3 * rows + 1.0)), ncol=2, fontsize=9,
              frameon=False)
    figure.suptitle(f"{title}\neach panel: recall 0-1 across, precision 0-1 up, grid every 0.25")
    return figure


def plot_confidence_curves(curves: ConfidenceCurves, names: Sequence[str], *, best: Optional[float], title: str):
    """Precision, recall and F1 against the confidence threshold; the F1-optimal one marked."""
    from .figures import new_figure

    figure = new_figure((16.0, 5.2))
    for col, key in enumerate(("precision", "recall", "f1")):
        ax = figure.add_subplot(1, 3, col + 1)
        rows = getattr(curves, key)
        _class_lines(ax, curves.thresholds, rows[:-1], names, lambda k: names[k])
        ax.plot(curves.thresholds, rows[-1], color="tab:blue" if len(names) > MANY_CLASSES else "black",
                linewidth=3.0, label="all classes")
        if best is not None:
            ax.axvline(best, color="tab:red", linestyle="--", linewidth=1.0, label=f"best F1 at {best:.3f}")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence threshold", ylabel=key if key != "f1" else "F1",
               title={"precision": "precision", "recall": "recall", "f1": "F1"}[key] + " at IoU 0.50")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    figure.suptitle(title)
    return figure
