"""The experiment of a tool's command line, and one rank's training run from tools/train.py's.

Each process (spawned, torchrun, or the only one) builds its own experiment from the file name
and overrides: experiment files are loaded by path, so an Exp object cannot be pickled to
spawned processes, and rebuilding it is deterministic.
"""
import sys
from argparse import Namespace
from typing import Any, Dict, Optional

from yolox.exp import get_exp
from yolox.exp.build import check_exp_value
from yolox.utils.checkpoint import CheckpointFileError

from .preemption import PREEMPTED_EXIT_CODE

__all__ = ["build_exp", "check_train_data", "run_training"]


def build_exp(args: Namespace, *, overrides: Optional[Dict[str, Any]] = None):
    """The experiment of a tool's parsed flags: ``exp_file`` (``-f``) or ``name`` (``-n``), the
    trailing ``KEY VALUE`` overrides (``opts``), where the tool has it ``--tsize`` (square test size),
    then ``overrides`` (attribute -> value: a tool's own flags, such as tools/eval.py's ``--conf``);
    sizes are checked last, so no flag slips a size off the stride grid past the check."""
    exp = get_exp(args.exp_file, getattr(args, "name", None))
    exp.merge(list(getattr(args, "opts", None) or []))
    tsize = getattr(args, "tsize", None)
    if tsize is not None:
        exp.test_size = (tsize, tsize)
    for key, value in (overrides or {}).items():
        setattr(exp, key, value)
    check_exp_value(exp)
    if getattr(args, "experiment_name", None):
        exp.exp_name = args.experiment_name
    if getattr(args, "batch_size", 0) is None:
        # Resolved here, before any process starts, so every rank and the LR agree on it.
        args.batch_size = int(getattr(exp, "batch_size", 64))
    return exp


def check_train_data(exp) -> None:
    """Fail before any process starts when a COCO experiment's training annotation is missing
    (DatasetNotFoundError says where it should be), once the experiment has had the chance to
    make its data (``prepare_data``); other formats are checked as they load."""
    from yolox.data.datasets import dataset_format
    from yolox.data.datasets.coco import require_coco_annotation

    prepare = getattr(exp, "prepare_data", None)  # experiments on BaseExp alone lack it
    if prepare is not None:
        prepare()
    ann = exp.train_ann
    if dataset_format(ann) == "coco":
        require_coco_annotation(exp.data_dir, ann, getattr(exp, "train_img_dir", None) or "train2017")


def run_training(args: Namespace) -> None:
    """One rank's training; a run stopped by SIGTERM/SIGUSR1 (after its checkpoint) exits with
    ``PREEMPTED_EXIT_CODE`` so a job script can requeue it."""
    exp = build_exp(args)
    trainer = exp.get_trainer(args)
    try:
        trainer.train()
    except CheckpointFileError as err:  # a full disk, a read-only folder, a cut-short --resume file
        # One line, not a traceback, from whichever process (spawned ranks included) hit it.
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    if getattr(trainer, "preempted", False):
        raise SystemExit(PREEMPTED_EXIT_CODE)
