"""What the trainer tells its sinks, one small record per reporting point.

Each record carries plain numbers and paths, so a sink never reaches into the trainer; the few
live objects (the experiment, the evaluation's dataset) are there for sinks that need to read
configuration or draw validation images.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

__all__ = ["RunStart", "IterationLog", "EvaluationLog", "EpochLog", "CheckpointLog", "RunEnd"]


@dataclass(frozen=True)
class RunStart:
    """Training is about to run its first iteration (a resumed run: the first after the checkpoint).

    run_dir: the run's output folder (train_log.txt, checkpoints); run_name: its name (-expn or the
    experiment's); exp: the experiment; args: tools/train.py's parsed flags (a script may pass fewer);
    class_names: the training data's, when it names them.
    """

    run_dir: Path
    run_name: str
    exp: Any
    args: Any
    start_epoch: int  # 0-based
    max_epoch: int
    iters_per_epoch: int
    class_names: Optional[Sequence[str]] = None


@dataclass(frozen=True)
class IterationLog:
    """The losses at a print interval: the mean over the ranks of each term's mean over the interval."""

    step: int  # iterations done, over the whole run
    epoch: int  # 1-based
    iteration: int  # 1-based, within the epoch
    losses: Dict[str, float]
    lr: float


@dataclass(frozen=True)
class EvaluationLog:
    """One evaluation of the model training evaluates (the EMA's when it has one).

    detections: ``{image_id: {"bboxes": [[x, y, w, h]] original pixels, "scores", "categories"}}``
    (dataset category ids), as COCOEvaluator's ``return_outputs`` gives them; None when no sink asked
    for them or the evaluator gives another form. dataset: the evaluation's dataset (``records`` hold
    each image's ground truth; ``load_image(index)`` the picture).
    """

    epoch: int  # 1-based
    ap50_95: float
    ap50: float
    best_ap50_95: float
    best_epoch: int  # 1-based
    improved: bool
    detections: Optional[dict] = None
    dataset: Any = None


@dataclass(frozen=True)
class EpochLog:
    """One finished epoch, its evaluation included when it had one (one results.csv row)."""

    epoch: int  # 1-based
    losses: Dict[str, float]  # means over the epoch's iterations and the ranks
    lr: float  # at the epoch's last iteration
    epoch_time_s: float  # training iterations only, evaluation not counted
    images_per_s: float  # training images (all ranks) per second of epoch_time_s
    ap50_95: Optional[float] = None
    ap50: Optional[float] = None


@dataclass(frozen=True)
class CheckpointLog:
    """Checkpoints written at the end of an epoch: ``paths`` by name ("latest", "best", "epoch_N")."""

    epoch: int  # 1-based
    paths: Dict[str, Path] = field(default_factory=dict)
    improved: bool = False
    best_ap50_95: float = 0.0


@dataclass(frozen=True)
class RunEnd:
    """The run stopped: "done", "preempted" or "failed" (``failure`` says why)."""

    status: str
    run_dir: Path
    best_ap50_95: float
    best_epoch: int  # 1-based; 0 when nothing was evaluated
    failure: Optional[str] = None
