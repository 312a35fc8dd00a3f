"""Where a training run reports: results.csv/png always, plus the logger of ``-l`` (TensorBoard by
default, Weights & Biases, MLflow, or none). The trainer calls one ``Sinks`` at fixed points
(``base.py`` lists them) and knows no logger by name."""
from pathlib import Path
from typing import Any, Dict, Optional

from loguru import logger

from .base import Sink, Sinks
from .events import CheckpointLog, EpochLog, EvaluationLog, IterationLog, RunEnd, RunStart
from .libraries import LOGGER_LIBRARIES, LoggerLibraryMissing, import_logger_library
from .results_csv import RESULTS_COLUMNS, ResultsCsvSink, read_results
from .wandb_sink import split_wandb_options

__all__ = ["LOGGERS", "Sink", "Sinks", "build_sinks", "check_logger", "RunStart", "IterationLog", "EvaluationLog",
           "EpochLog", "CheckpointLog", "RunEnd", "ResultsCsvSink", "RESULTS_COLUMNS", "read_results",
           "LoggerLibraryMissing", "split_wandb_options"]

# tools/train.py's -l choices: Megvii's three, and none.
LOGGERS = ("tensorboard", "wandb", "mlflow", "none")


def check_logger(choice: str) -> None:
    """Raise LoggerLibraryMissing (what to pip install) now, before training starts, when ``-l``'s
    library is not installed; ValueError for a name that is not a logger."""
    if choice not in LOGGERS:
        raise ValueError(f"logger {choice!r}: expected one of {', '.join(LOGGERS)}")
    if choice in LOGGER_LIBRARIES:
        import_logger_library(choice)


def build_sinks(choice: str, *, run_dir: Path, wandb_options: Optional[Dict[str, Any]] = None) -> Sinks:
    """results.csv/png, then the sink of logger ``choice`` (``LOGGERS``), writing under ``run_dir``."""
    check_logger(choice)
    if wandb_options and choice != "wandb":
        logger.warning("wandb-* options ({}) are ignored: the logger is -l {}", ", ".join(wandb_options), choice)
    sinks = [ResultsCsvSink(run_dir)]
    if choice == "tensorboard":
        from .tensorboard_sink import TensorBoardSink

        sinks.append(TensorBoardSink(Path(run_dir) / "tensorboard"))
    elif choice == "wandb":
        from .wandb_sink import WandbSink

        sinks.append(WandbSink(wandb_options))
    elif choice == "mlflow":
        from .mlflow_sink import MlflowSink

        sinks.append(MlflowSink())
    return Sinks(sinks)
