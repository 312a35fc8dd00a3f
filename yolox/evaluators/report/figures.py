"""Matplotlib figures without pyplot: each report figure is a ``Figure`` on its own Agg canvas,
so drawing one neither needs a display nor changes the backend of the process that asked for it
(a notebook, a training run), and no figure lingers in pyplot's registry."""
import io
from pathlib import Path
from typing import Optional, Tuple

from yolox.utils.atomic_io import atomic_write_bytes

__all__ = ["new_figure", "save_figure"]


def new_figure(size: Tuple[float, float], *, layout: Optional[str] = "constrained"):
    """A blank Figure of ``size`` inches (width, height) with an Agg canvas; ``layout`` as
    matplotlib's (None: the caller places the axes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, path: Path, *, dpi: int = 100) -> Path:
    """Render ``figure`` to PNG and write it atomically at ``path``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    atomic_write_bytes(buffer.getvalue(), path)
    return path
