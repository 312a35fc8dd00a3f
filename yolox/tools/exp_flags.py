"""The experiment a tool's command line names, and the experiment built from it.

One declaration of the flags every experiment-building tool shares: ``-f/--exp_file`` or
``-n/--name``, the checkpoint (``-c/--ckpt``, ``--unsafe-load``), ``--tsize`` and the trailing
``KEY VALUE`` overrides. ``-c`` also takes an official model name (``-c yolox-s``, or
``-c yolox_s.pth`` where no such file exists): build_exp resolves it to Megvii's file, downloaded
once into the weights cache, and without -f or -n builds that model's bundled experiment. Each
process (spawned, torchrun, or the only one) builds its own experiment from the parsed flags:
experiment files are loaded by path, so an Exp object cannot be pickled to spawned processes, and
rebuilding it is deterministic.
"""
import argparse
import os
from typing import Any, Dict, Optional

from loguru import logger

from yolox.exp import get_exp
from yolox.exp.build import ExperimentNotFoundError, check_exp_value
from yolox.utils.checkpoint import (UNSAFE_FLAG, UNSAFE_FLAG_HELP, WeightsDownloadError, official_model_name,
                                    resolve_checkpoint)

__all__ = ["add_exp_flags", "build_exp", "resolve_checkpoint_flag"]

OVERRIDES_HELP = "KEY VALUE pairs overriding experiment attributes (an unknown key is an error)"


def add_exp_flags(parser: argparse.ArgumentParser, *, ckpt_help: Optional[str] = None, tsize: bool = False,
                  short_name: bool = True, overrides: bool = True) -> None:
    """Declare the experiment flags in an "experiment" section of ``parser``'s help.

    ckpt_help: the tool reads a checkpoint; ``-c/--ckpt`` with this help (what the tool does with
    it) and ``--unsafe-load``. tsize: the tool takes ``--tsize`` (build_exp sets exp.test_size).
    short_name: ``-n`` as well as ``--name`` (tools/visualize_data.py keeps ``-n`` for its image
    count). overrides: the trailing ``KEY VALUE`` pairs as ``opts``; everything after the first of
    them is taken, so call this after the tool's own flags. tools/demo.py passes False: its
    positional mode stops argparse from collecting them, and it reads them from parse_known_args.
    """
    group = parser.add_argument_group("experiment")
    group.add_argument("-f", "--exp_file", default=None, type=str,
                       help="experiment file (a Python file with an Exp class)")
    group.add_argument(*(["-n", "--name"] if short_name else ["--name"]), default=None, type=str,
                       help="bundled experiment by model name instead of -f, e.g. yolox-s")
    if ckpt_help is not None:
        group.add_argument("-c", "--ckpt", default=None, type=str, help=ckpt_help)
        group.add_argument(UNSAFE_FLAG, dest="unsafe_load", default=False, action="store_true",
                           help=UNSAFE_FLAG_HELP)
    if tsize:
        group.add_argument("--tsize", default=None, type=int,
                           help="square test (input) size, sets exp.test_size (default: the experiment's)")
    if overrides:
        group.add_argument("opts", nargs=argparse.REMAINDER, default=None, help=OVERRIDES_HELP)


def build_exp(args: argparse.Namespace, *, overrides: Optional[Dict[str, Any]] = None):
    """The experiment of a tool's parsed flags: ``exp_file`` (``-f``) or ``name`` (``-n``), the
    trailing ``KEY VALUE`` overrides (``opts``), where the tool has it ``--tsize`` (square test size),
    then ``overrides`` (attribute -> value: a tool's own flags, such as tools/eval.py's ``--conf``);
    sizes are checked last, so no flag slips a size off the stride grid past the check.
    ``args.ckpt`` becomes the file it means (``resolve_checkpoint_flag``)."""
    try:
        exp = get_exp(args.exp_file, getattr(args, "name", None) or _name_of_official_ckpt(args))
    except ExperimentNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
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
    resolve_checkpoint_flag(args)
    return exp


def _name_of_official_ckpt(args: argparse.Namespace) -> Optional[str]:
    """Without -f and -n, the bundled experiment of an official checkpoint name given to -c
    (``-c yolox_s.pth`` or ``-c yolox-s``: yolox-s), as that file was trained with it; else None."""
    ckpt = getattr(args, "ckpt", None)
    if args.exp_file is not None or not ckpt:
        return None
    name = official_model_name(os.path.basename(str(ckpt)))
    if name is not None:
        logger.info("no -f or -n: the bundled experiment {} of the official checkpoint {}", name, ckpt)
    return name


def resolve_checkpoint_flag(args: argparse.Namespace) -> None:
    """Replace ``args.ckpt`` by the checkpoint file it means: an existing file stays as it is, an
    official name (``yolox-s``, ``yolox_s.pth``) becomes Megvii's file in the weights cache,
    downloaded now if missing. A missing file or a failed download (no network: the message gives
    the URL to fetch by hand and where to put the file) exits with that one line, before any
    process starts. ``--resume`` is left alone: it continues a run of one's own, so a missing file
    there stays the trainer's error, never a download.

    Called in the tool's process before ``launch``, so spawned ranks get the resolved path; ranks
    that torchrun started each resolve it (the cache's atomic rename keeps that safe)."""
    ckpt = getattr(args, "ckpt", None)
    if not ckpt or getattr(args, "resume", False):
        return
    try:
        args.ckpt = str(resolve_checkpoint(ckpt))
    except (FileNotFoundError, WeightsDownloadError) as err:
        raise SystemExit(f"error: -c {ckpt}: {err}") from None
