"""Weights & Biases: Megvii's ``-l wandb`` and its ``wandb-<key> <value>`` options on the command line.

Options (trailing pairs, as Megvii's): ``wandb-project``, ``wandb-name``, ``wandb-id``,
``wandb-entity``, ``wandb-save_dir`` (wandb.init's ``dir``), ``wandb-num_eval_images`` (validation
images logged with their detections at each evaluation; default 100, -1 for all) and
``wandb-log_checkpoints`` (True: each epoch's checkpoint as a model artifact, aliases "latest",
"best" when it is, and "epoch-N"). Any other ``wandb-<key>`` goes to ``wandb.init`` as ``key``.
Values that read as integers become integers, as in Megvii.

Metric names and steps are Megvii's: ``train/<loss>`` and ``train/lr`` against ``train/step``,
``val/COCOAP50`` and ``val/COCOAP50_95`` against ``train/epoch``. ``WANDB_MODE=offline`` and the
other WANDB_* variables work as wandb documents them.
"""
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from loguru import logger

from .base import Sink
from .events import CheckpointLog, EvaluationLog, IterationLog, RunEnd, RunStart
from .libraries import import_logger_library
from .val_images import first_images

__all__ = ["WandbSink", "WANDB_PREFIX", "split_wandb_options"]

WANDB_PREFIX = "wandb-"
_SINK_OPTIONS = ("num_eval_images", "log_checkpoints")
_INIT_RENAMES = {"save_dir": "dir"}


def split_wandb_options(opts: Sequence[str]) -> Tuple[list, Dict[str, Any]]:
    """Trailing ``KEY VALUE`` pairs -> (the experiment's pairs, {wandb option: value}); an odd list is
    left whole to the experiment, whose merge names the problem."""
    opts = list(opts or [])
    if len(opts) % 2:
        return opts, {}
    exp_pairs, options = [], {}
    for key, value in zip(opts[0::2], opts[1::2]):
        if isinstance(key, str) and key.startswith(WANDB_PREFIX):
            options[key[len(WANDB_PREFIX):]] = _int_or_text(value)
        else:
            exp_pairs += [key, value]
    return exp_pairs, options


def _int_or_text(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


class WandbSink(Sink):
    wants_detections = True

    def __init__(self, options: Optional[Dict[str, Any]] = None):
        self.wandb = import_logger_library("wandb")
        options = dict(options or {})
        self.num_eval_images = int(options.pop("num_eval_images", 100))
        self.log_checkpoints = _truthy(options.pop("log_checkpoints", False))
        self.init_kwargs = {_INIT_RENAMES.get(k, k): v for k, v in options.items()}
        self.run = None
        self.class_names = None

    def on_start(self, run: RunStart) -> None:
        self.class_names = run.class_names
        kwargs = {"resume": "allow", "config": _plain_config(run.exp), **self.init_kwargs}
        if kwargs.get("dir"):
            Path(kwargs["dir"]).mkdir(parents=True, exist_ok=True)
        if self.wandb.run is not None:
            # Megvii's behaviour: a run already started in this process (a notebook) is used as it is.
            logger.warning("wandb: a run is already active in this process; logging to it")
            self.run = self.wandb.run
        else:
            self.run = self.wandb.init(**kwargs)
        self.run.define_metric("train/epoch")
        self.run.define_metric("val/*", step_metric="train/epoch")
        self.run.define_metric("train/step")
        self.run.define_metric("train/*", step_metric="train/step")

    def on_iteration(self, log: IterationLog) -> None:
        metrics = {f"train/{k}": v for k, v in log.losses.items()}
        self.run.log({**metrics, "train/lr": log.lr, "train/step": log.step})

    def on_evaluation(self, log: EvaluationLog) -> None:
        metrics = {"val/COCOAP50": log.ap50, "val/COCOAP50_95": log.ap50_95, "train/epoch": log.epoch}
        if log.detections is not None and hasattr(log.dataset, "records") and self.num_eval_images != 0:
            count = len(log.dataset.records) if self.num_eval_images < 0 else self.num_eval_images
            metrics["val/predictions"] = [self._image(item, log.dataset)
                                          for item in first_images(log.dataset, log.detections, count)]
        self.run.log(metrics)

    def _image(self, item, dataset):
        names = self.class_names or getattr(dataset, "class_names", None) or []
        labels = {i: str(n) for i, n in enumerate(names)}
        boxes = [{"position": {"minX": float(x1), "minY": float(y1), "maxX": float(x2), "maxY": float(y2)},
                  "domain": "pixel", "class_id": int(c), "scores": {"score": float(s)},
                  "box_caption": f"{labels.get(int(c), int(c))} {s:.2f}"}
                 for (x1, y1, x2, y2), s, c in zip(item.boxes, item.scores, item.classes)]
        return self.wandb.Image(item.image, caption=str(item.image_id),
                                boxes={"predictions": {"box_data": boxes, "class_labels": labels}})

    def on_checkpoint(self, log: CheckpointLog) -> None:
        if not self.log_checkpoints or "latest" not in log.paths:
            return
        artifact = self.wandb.Artifact(name=f"run_{self.run.id}_model", type="model",
                                       metadata={"epoch": log.epoch, "best_ap": log.best_ap50_95})
        artifact.add_file(str(log.paths["latest"]), name="model_ckpt.pth")
        aliases = ["latest", f"epoch-{log.epoch}"] + (["best"] if log.improved else [])
        self.run.log_artifact(artifact, aliases=aliases)

    def on_end(self, end: RunEnd) -> None:
        if self.run is not None:
            self.run.finish(exit_code=0 if end.status != "failed" else 1)


def _plain_config(exp) -> Dict[str, Any]:
    """The experiment's public attributes that wandb's config can hold (numbers, text, lists of them)."""
    plain = (bool, int, float, str, type(None))
    config = {}
    for key, value in vars(exp).items():
        if key.startswith("_"):
            continue
        if isinstance(value, plain) or (isinstance(value, (list, tuple)) and all(isinstance(v, plain) for v in value)):
            config[key] = value
    return config
