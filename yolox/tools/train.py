"""Train a YOLOX experiment.

    python tools/train.py -f exps/example/yolox_nano_sample.py           # the built-in sample data
    python tools/train.py -f exps/yolox_s.py -d 8 -b 64 --fp16 -o        # COCO on 8 GPUs
    python tools/train.py -f exps/yolox_s.py -b 64 --resume              # continue latest_ckpt.pth
    python tools/train.py -f exps/example/yolox_nano_sample.py --amp bf16  # bfloat16 autocast (CPU or GPU)
    python tools/train.py -f my_exp.py -c yolox_s.pth max_epoch 50       # fine-tune, with an override
    torchrun --nproc_per_node 4 tools/train.py -f exps/yolox_s.py -b 64  # torchrun starts the ranks

    python tools/train.py -f exps/yolox_s.py -l wandb wandb-project yolox wandb-log_checkpoints True
    MLFLOW_TRACKING_URI=http://host:5000 python tools/train.py -f exps/yolox_s.py -l mlflow

Trailing KEY VALUE pairs override experiment attributes (an unknown key is an error), except
Megvii's wandb-<key> <value> pairs, which go to -l wandb.
Outputs go to <exp.output_dir>/<experiment name>/: train_log.txt, results.csv and results.png (one
row per epoch: losses, LR, AP, speed), tensorboard/, *_ckpt.pth.
On SIGTERM or SIGUSR1 (a scheduler's preemption) training saves latest_ckpt.pth at the current
iteration and exits with code 75; --resume continues with the next batch.
"""
import argparse
import sys

import torch

from yolox.data import DatasetNotFoundError
from yolox.data.datasets import dataset_format
from yolox.data.datasets.coco import require_coco_annotation
from yolox.utils.checkpoint import CheckpointFileError
from yolox.utils.launch import launch, launched_by_torchrun
from yolox.utils.precision import AMP_CHOICES

from .exp_flags import add_exp_flags, build_exp


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("-expn", "--experiment-name", type=str, default=None,
        help="output folder name under exp.output_dir (default: exp.exp_name, the exp file's name)")
    add("-b", "--batch-size", type=int, default=None,
        help="images per iteration over all devices (default: the experiment's batch_size, 64)")
    add("-d", "--devices", default=None, type=int,
        help="processes on this machine: GPUs to use (default: all), or CPU processes without CUDA (default 1)")
    add("--dist-backend", default="nccl", type=str, help="torch.distributed backend (gloo is used without CUDA)")
    add("--dist-url", default=None, type=str,
        help="tcp://<machine 0>:<port> for multi-node; default: a free local port")
    add("--num_machines", default=1, type=int, help="number of machines")
    add("--machine_rank", default=0, type=int, help="this machine's rank among --num_machines")
    add("--fp16", dest="fp16", default=False, action="store_true",
        help="mixed precision: fp16 autocast with a GradScaler on a GPU, bf16 autocast on a CPU")
    add("--amp", default=None, choices=AMP_CHOICES,
        help="mixed precision by name (implies --fp16): fp16, or bf16 (no GradScaler; Ampere+ GPUs, CPUs)")
    add("--resume", default=False, action="store_true",
        help="continue from latest_ckpt.pth of this experiment (or -c): model, EMA, optimizer, LR position")
    add("-e", "--start_epoch", default=None, type=int, help="with --resume: restart at this epoch (1-based)")
    add("--cache", type=str, nargs="?", const="ram", choices=["ram", "disk"], default=None,
        help="cache decoded images in RAM (--cache or --cache ram) or as .npy files next to the data (disk)")
    add("-o", "--occupy", dest="occupy", default=False, action="store_true",
        help="reserve most GPU memory at the start, so other jobs cannot take it")
    from yolox.core.sinks import LOGGERS  # the training layer loads when the tool runs, not when it is imported

    add("-l", "--logger", type=str, default="tensorboard", choices=LOGGERS,
        help="metrics logger besides train_log.txt and results.csv/png; wandb takes Megvii's trailing "
             "wandb-<key> <value> options, mlflow its MLFLOW_* / YOLOX_MLFLOW_* environment variables "
             "(both need their package: pip install -e \".[loggers]\")")
    add("--deterministic", default=False, action="store_true",
        help="deterministic kernels and no cuDNN autotuning: repeatable, slower")
    add("--sync-bn", dest="sync_bn", default=False, action="store_true",
        help="synchronise BatchNorm statistics across processes")
    add_exp_flags(parser, ckpt_help="checkpoint: with --resume the run to continue; alone, weights to fine-tune "
                                    "from (tensors of another shape, e.g. class predictions, are skipped and listed)")
    return parser


def check_train_data(exp) -> None:
    """Fail before any process starts when a COCO experiment's training annotation is missing
    (DatasetNotFoundError says where it should be), once the experiment has had the chance to
    make its data (``prepare_data``); other formats are checked as they load."""
    prepare = getattr(exp, "prepare_data", None)  # experiments on BaseExp alone lack it
    if prepare is not None:
        prepare()
    ann = exp.train_ann
    if dataset_format(ann) == "coco":
        require_coco_annotation(exp.data_dir, ann, getattr(exp, "train_img_dir", None) or "train2017")


def run_training(args: argparse.Namespace) -> None:
    """One rank's training (what ``launch`` runs in each process, pickled by its module's name);
    a run stopped by SIGTERM/SIGUSR1 (after its checkpoint) exits with ``PREEMPTED_EXIT_CODE`` so a
    job script can requeue it."""
    from yolox.core.preemption import PREEMPTED_EXIT_CODE

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


def main(argv=None) -> int:
    from yolox.core.sinks import LoggerLibraryMissing, check_logger, split_wandb_options

    args = make_parser().parse_args(argv)
    # Megvii's wandb-<key> <value> pairs are the logger's, not the experiment's.
    args.opts, args.wandb_options = split_wandb_options(args.opts)
    exp = build_exp(args)  # fail here, once, on a bad file or override, before any process starts
    try:
        check_logger(args.logger)
    except LoggerLibraryMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        check_train_data(exp)
    except DatasetNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if launched_by_torchrun():
        devices = 1  # torchrun already started one process per device
    elif args.devices is not None:
        devices = args.devices
    else:
        devices = torch.cuda.device_count() or 1
    if torch.cuda.is_available() and devices > torch.cuda.device_count():
        raise SystemExit(f"-d {devices}: only {torch.cuda.device_count()} GPUs are visible")
    # A rank's failed checkpoint read/write exits 1 with one line.
    launch(run_training, devices, num_machines=args.num_machines, machine_rank=args.machine_rank,
           backend=args.dist_backend, dist_url=args.dist_url, args=(args,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
