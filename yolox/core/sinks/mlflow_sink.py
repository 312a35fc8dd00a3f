"""MLflow: Megvii's ``-l mlflow``, configured by the environment variables Megvii's logger reads
(and, as there, a ``.env`` file found from the working directory; variables already set win).

- ``MLFLOW_TRACKING_URI``: where to log (a server, ``file:<folder>``, databricks); unset: MLflow's default.
- ``MLFLOW_EXPERIMENT_NAME`` (created when missing), ``MLFLOW_TAGS`` (a JSON object of run tags),
  ``MLFLOW_NESTED_RUN`` (start as a child of the active run), ``MLFLOW_RUN_ID`` (log into that run).
- ``YOLOX_MLFLOW_RUN_NAME``: the run's name (empty or unset: MLflow picks one).
- ``YOLOX_MLFLOW_FLATTEN_PARAMS``: dict-valued parameters logged as ``key.subkey``.
- ``YOLOX_MLFLOW_LOG_MODEL_ARTIFACTS``: log checkpoints as artifacts: ``best_ckpt.pth`` (when it
  changed) with train_log.txt every ``YOLOX_MLFLOW_LOG_MODEL_PER_n_EPOCHS`` epochs (default 30) and at
  the end, under ``<run name>/best_ckpt/``; with ``YOLOX_MLFLOW_LOG_Nth_EPOCH_MODELS`` also that
  epoch's ``epoch_N_ckpt.pth`` under ``<run name>/hist_epochs/``.

At the end of every run, train_log.txt, results.csv and results.png go up under ``<run name>/``.
Metrics are Megvii's names: ``train/<loss>`` and ``train/lr`` (step: the global iteration),
``val/COCOAP50``, ``val/COCOAP50_95``, ``val/best_ap`` and ``train/epoch`` (step: the epoch).
Checkpoints go up as plain files (``torch.load`` them), not as Megvii's pyfunc model wrapper.
"""
import json
import os
from pathlib import Path
from typing import Any, Dict, Optional

from loguru import logger

from .base import Sink
from .events import CheckpointLog, EvaluationLog, IterationLog, RunEnd, RunStart
from .libraries import import_logger_library

__all__ = ["MlflowSink", "MlflowSettings"]

_TRUE = {"1", "ON", "YES", "TRUE"}
# What Megvii logs as parameters: these flags and these experiment attributes.
_ARG_PARAMS = ("experiment_name", "batch_size", "exp_file", "resume", "ckpt", "start_epoch", "num_machines", "fp16",
               "logger")
_EXP_PARAMS = ("max_epoch", "num_classes", "input_size", "output_dir", "data_dir", "train_ann", "val_ann",
               "test_ann", "test_conf", "nmsthre")


def _flag(environ, name: str) -> bool:
    return environ.get(name, "False").strip().upper() in _TRUE


class MlflowSettings:
    """The YOLOX_MLFLOW_* and MLFLOW_* variables, read once when the run starts."""

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self.tracking_uri: Optional[str] = env.get("MLFLOW_TRACKING_URI") or None
        self.experiment_name: Optional[str] = env.get("MLFLOW_EXPERIMENT_NAME") or None
        self.log_artifacts = _flag(env, "YOLOX_MLFLOW_LOG_MODEL_ARTIFACTS")
        self.log_every_n_epochs = int(env.get("YOLOX_MLFLOW_LOG_MODEL_PER_n_EPOCHS", 30))
        self.log_epoch_models = _flag(env, "YOLOX_MLFLOW_LOG_Nth_EPOCH_MODELS")
        self.run_name: Optional[str] = (env.get("YOLOX_MLFLOW_RUN_NAME") or "").strip() or None
        self.flatten_params = _flag(env, "YOLOX_MLFLOW_FLATTEN_PARAMS")
        self.nested_run = _flag(env, "MLFLOW_NESTED_RUN")
        self.run_id: Optional[str] = env.get("MLFLOW_RUN_ID") or None
        self.tags: Optional[Dict[str, Any]] = json.loads(env["MLFLOW_TAGS"]) if env.get("MLFLOW_TAGS") else None
        if self.log_every_n_epochs < 1:
            raise ValueError(f"YOLOX_MLFLOW_LOG_MODEL_PER_n_EPOCHS={self.log_every_n_epochs}: expected 1 or more")


class MlflowSink(Sink):
    def __init__(self):
        self.mlflow = import_logger_library("mlflow")
        self.settings: Optional[MlflowSettings] = None
        self.run_dir: Optional[Path] = None
        self.artifact_root = "yolox"
        self.best_pending = False  # best_ckpt.pth changed since it was last logged
        self._started = False

    def on_start(self, run: RunStart) -> None:
        _load_dotenv()
        self.settings = settings = MlflowSettings()
        self.run_dir, self.artifact_root = Path(run.run_dir), run.run_name
        if settings.tracking_uri:
            self.mlflow.set_tracking_uri(settings.tracking_uri)
        if self.mlflow.active_run() is None or settings.nested_run or settings.run_id:
            if settings.experiment_name:
                self.mlflow.set_experiment(settings.experiment_name)
            # start_run reads MLFLOW_RUN_ID itself.
            self.mlflow.start_run(run_name=settings.run_name, nested=settings.nested_run)
            self._started = True
        logger.info("MLflow: logging to run {} at {}", self.mlflow.active_run().info.run_id,
                    self.mlflow.get_tracking_uri())
        self.log_params(run)
        if settings.tags:
            self.mlflow.set_tags(settings.tags)

    def log_params(self, run: RunStart) -> None:
        params = {k: getattr(run.exp, k) for k in _EXP_PARAMS if hasattr(run.exp, k)}
        params.update({k: getattr(run.args, k) for k in _ARG_PARAMS if hasattr(run.args, k)})
        params["experiment_name"] = run.run_name
        if self.settings.flatten_params:
            params = _flatten(params)
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH

        too_long = [k for k, v in params.items() if len(str(v)) > MAX_PARAM_VAL_LENGTH]
        for key in too_long:
            logger.warning("MLflow: parameter {} is longer than {} characters; not logged (YOLOX_MLFLOW_FLATTEN_PARAMS "
                           "splits dict values)", key, MAX_PARAM_VAL_LENGTH)
            del params[key]
        items = list(params.items())
        for start in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
            self.mlflow.log_params(dict(items[start:start + MAX_PARAMS_TAGS_PER_BATCH]))

    def on_iteration(self, log: IterationLog) -> None:
        metrics = {f"train/{k}": float(v) for k, v in log.losses.items()}
        self.mlflow.log_metrics({**metrics, "train/lr": float(log.lr)}, step=log.step)

    def on_evaluation(self, log: EvaluationLog) -> None:
        self.mlflow.log_metrics({"val/COCOAP50": log.ap50, "val/COCOAP50_95": log.ap50_95,
                                 "val/best_ap": round(log.best_ap50_95, 3), "train/epoch": log.epoch},
                                step=log.epoch)

    def on_checkpoint(self, log: CheckpointLog) -> None:
        if not self.settings.log_artifacts:
            return
        self.best_pending = self.best_pending or log.improved
        if log.epoch % self.settings.log_every_n_epochs:
            return
        self.log_file(self.run_dir / "train_log.txt", self.artifact_root)
        if self.best_pending:
            self.log_best()
        epoch_ckpt = log.paths.get(f"epoch_{log.epoch}")
        if self.settings.log_epoch_models and epoch_ckpt is not None:
            self.log_file(epoch_ckpt, f"{self.artifact_root}/hist_epochs/{Path(epoch_ckpt).stem}")

    def log_best(self) -> None:
        self.log_file(self.run_dir / "best_ckpt.pth", f"{self.artifact_root}/best_ckpt")
        self.best_pending = False

    def log_file(self, path: Path, artifact_path: str) -> None:
        if Path(path).is_file():
            logger.info("MLflow: logging {} as artifact {}", path, artifact_path)
            self.mlflow.log_artifact(str(path), artifact_path)

    def on_end(self, end: RunEnd) -> None:
        if self.settings is None or self.mlflow.active_run() is None:
            return
        self.log_file(self.run_dir / "train_log.txt", self.artifact_root)
        for name in ("results.csv", "results.png"):
            self.log_file(self.run_dir / name, self.artifact_root)
        if self.settings.log_artifacts and self.best_pending:
            self.log_best()
        if self._started:
            self.mlflow.end_run(status="FAILED" if end.status == "failed" else "FINISHED")


def _flatten(params: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _load_dotenv() -> None:
    """Megvii's logger reads a .env file (its documented way to set these variables); python-dotenv
    comes with MLflow, so this does too, leaving variables already set as they are."""
    from dotenv import find_dotenv, load_dotenv

    load_dotenv(find_dotenv(usecwd=True))
