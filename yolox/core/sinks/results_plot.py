"""results.png: the curves of results.csv's rows, one small panel per column, as PNG bytes.

Drawn with matplotlib's object API on an Agg canvas, never pyplot: no GUI backend is chosen or
needed, and nothing global changes for a notebook or program that trains in-process.
"""
import io
import math
from typing import Dict, Optional, Sequence

__all__ = ["plot_results", "PANELS"]

# (title, columns drawn in it); columns as results.csv names them.
PANELS = (
    ("total loss", ("total_loss",)), ("IoU loss", ("iou_loss",)), ("objectness loss", ("conf_loss",)),
    ("class loss", ("cls_loss",)), ("L1 loss", ("l1_loss",)), ("learning rate", ("lr",)),
    ("validation AP", ("ap50_95", "ap50")), ("training images/s", ("images_per_s",)),
)


def plot_results(rows: Sequence[Dict[str, Optional[float]]]) -> bytes:
    """A 2x4 grid of curves over the epochs of ``rows``; a column with no values leaves its panel empty."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(16, 7), dpi=80)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 4)
    # Fixed margins: a layout engine ("constrained", "tight") doubles the drawing time.
    figure.subplots_adjust(left=0.04, right=0.99, bottom=0.08, top=0.95, wspace=0.25, hspace=0.35)
    for ax, (title, columns) in zip(axes.flat, PANELS):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        for column in columns:
            epochs, values = _series(rows, column)
            if values:
                # Markers: an AP measured every few epochs is a handful of points.
                ax.plot(epochs, values, marker="o", markersize=3, label=column)
        if len(columns) > 1:
            ax.legend()
        ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _series(rows, column: str):
    points = [(row["epoch"], row.get(column)) for row in rows]
    points = [(e, v) for e, v in points if v is not None and not math.isnan(v)]
    return [e for e, _ in points], [v for _, v in points]
