"""One rank's training run, from the parsed command line of tools/train.py.

Each process (spawned, torchrun, or the only one) builds its own experiment from the file name
and overrides: experiment files are loaded by path, so an Exp object cannot be pickled to
spawned processes, and rebuilding it is deterministic.
"""
from argparse import Namespace

from yolox.exp import get_exp
from yolox.exp.build import check_exp_value

__all__ = ["build_exp", "run_training"]


def build_exp(args: Namespace):
    """The experiment of ``-f``/``-n`` with the trailing ``KEY VALUE`` overrides applied."""
    exp = get_exp(args.exp_file, args.name)
    exp.merge(list(args.opts or []))
    check_exp_value(exp)
    if args.experiment_name:
        exp.exp_name = args.experiment_name
    return exp


def run_training(args: Namespace) -> None:
    exp = build_exp(args)
    trainer = exp.get_trainer(args)
    trainer.train()
