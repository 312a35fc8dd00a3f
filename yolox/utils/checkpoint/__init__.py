"""Checkpoints, in one place: what a file holds (``layout``), reading and atomic writing
(``files``), what goes wrong with a file (``faults``), the RNG states it keeps (``rng``),
loading its weights into a model (``weights``), and Megvii's official files by name, downloaded
into a cache folder (``download``: ``resolve_checkpoint``).

Training, resume, evaluation, the demo and the exporters all import from here; nothing else calls
``torch.save`` or ``torch.load`` on a checkpoint. ``load_ckpt`` and ``save_checkpoint`` keep
Megvii's names, signatures and meaning. Building a model from an experiment *and* a checkpoint
(the checkpoint's num_classes and class names win) is ``yolox.deploy.model_loading``.
"""
from .download import (OFFICIAL_WEIGHTS, OFFICIAL_WEIGHTS_URL, WeightsDownloadError, official_model_name,
                       official_weights_file, resolve_checkpoint, weights_cache_dir)
from .faults import CheckpointFileError, CheckpointWriteError, CorruptCheckpointError
from .files import UNSAFE_FLAG, UNSAFE_FLAG_HELP, UnsafeCheckpointError, read_checkpoint, save_checkpoint
from .layout import (ARCH_FIELDS, ResumeWeights, RunProgress, checkpoint_architecture, checkpoint_weights,
                     infer_num_classes, model_meta, resume_weights, run_progress, training_checkpoint)
from .rng import capture_rng_state, restore_rng_state
from .weights import FineTuneReport, load_ckpt, load_exact_weights, load_matching_weights

__all__ = ["CheckpointFileError", "CheckpointWriteError", "CorruptCheckpointError", "UNSAFE_FLAG",
           "UNSAFE_FLAG_HELP", "UnsafeCheckpointError", "read_checkpoint", "save_checkpoint", "ARCH_FIELDS",
           "ResumeWeights", "RunProgress", "checkpoint_architecture", "checkpoint_weights", "infer_num_classes",
           "model_meta", "resume_weights", "run_progress", "training_checkpoint", "capture_rng_state",
           "restore_rng_state", "FineTuneReport", "load_ckpt", "load_exact_weights", "load_matching_weights",
           "OFFICIAL_WEIGHTS", "OFFICIAL_WEIGHTS_URL", "WeightsDownloadError", "official_model_name",
           "official_weights_file", "resolve_checkpoint", "weights_cache_dir"]
