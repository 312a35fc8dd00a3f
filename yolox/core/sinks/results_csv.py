"""results.csv and results.png in the run folder: one row per epoch, the main curves drawn from them.

The csv is rewritten whole after every epoch, the picture after an evaluation (at most once every
``png_interval_s``, counted from the start: drawing takes about a second, which matters only when
epochs are seconds long, as in tests) and at the end; each atomically, so a reader (a plotting
notebook, a dashboard tailing the file) never sees half a file. A resumed run keeps the rows of the
epochs its checkpoint had finished.
"""
import csv
import io
import math
import time
from pathlib import Path
from typing import Dict, List, Optional

from loguru import logger

from yolox.utils.atomic_io import atomic_write_bytes

from .base import Sink
from .events import EpochLog, RunEnd, RunStart
from .results_plot import plot_results

__all__ = ["ResultsCsvSink", "RESULTS_COLUMNS", "read_results"]

LOSS_COLUMNS = ("total_loss", "iou_loss", "l1_loss", "conf_loss", "cls_loss")
RESULTS_COLUMNS = ("epoch",) + LOSS_COLUMNS + ("lr", "ap50_95", "ap50", "epoch_time_s", "images_per_s")


def read_results(path: Path) -> List[Dict[str, Optional[float]]]:
    """The rows of a results.csv, numbers as floats (epoch as int) and empty cells as None."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{key: _number(key, value) for key, value in row.items()} for row in rows]


def _number(key: str, text: str):
    if text in ("", None):
        return None
    return int(text) if key == "epoch" else float(text)


class ResultsCsvSink(Sink):
    def __init__(self, run_dir: Path, *, png_interval_s: float = 60.0):
        self.csv_path = Path(run_dir) / "results.csv"
        self.png_path = Path(run_dir) / "results.png"
        self.png_interval_s = png_interval_s
        self.rows: List[Dict[str, Optional[float]]] = []
        self._plotted = 0  # rows drawn in the picture on disk
        self._plotted_at = time.monotonic()  # of the last drawing; the start counts as one

    def on_start(self, run: RunStart) -> None:
        self._plotted_at = time.monotonic()
        if run.start_epoch > 0 and self.csv_path.is_file():
            self.rows = [row for row in read_results(self.csv_path) if row["epoch"] <= run.start_epoch]
        elif self.csv_path.is_file():
            logger.info("a new run in {}: results.csv starts again", self.csv_path.parent)

    def on_epoch(self, log: EpochLog) -> None:
        row = {"epoch": log.epoch, **{k: log.losses.get(k) for k in LOSS_COLUMNS}, "lr": log.lr,
               "ap50_95": log.ap50_95, "ap50": log.ap50, "epoch_time_s": log.epoch_time_s,
               "images_per_s": log.images_per_s}
        self.rows = [r for r in self.rows if r["epoch"] < log.epoch] + [row]
        self.write_csv()
        if log.ap50_95 is not None and time.monotonic() - self._plotted_at >= self.png_interval_s:
            self.write_png()

    def on_end(self, end: RunEnd) -> None:
        if self.rows and self._plotted != len(self.rows):
            self.write_png()

    def write_csv(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=RESULTS_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({key: _cell(row.get(key)) for key in RESULTS_COLUMNS})
        self._write(text.getvalue().encode(), self.csv_path)

    def write_png(self) -> None:
        self._write(plot_results(self.rows), self.png_path)
        self._plotted, self._plotted_at = len(self.rows), time.monotonic()

    def _write(self, data: bytes, path: Path) -> None:
        """A failed write (a full disk) is a warning: these files are redrawn from the rows each
        epoch, and the checkpoint save that follows reports the disk by name and stops the run."""
        try:
            atomic_write_bytes(data, path)
        except OSError as err:
            logger.warning("could not write {}: {}; it is written again after the next epoch", path, err)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
