"""Evaluate a checkpoint: COCO AP (12 stats), a per-class table, and the time per image.

    python tools/eval.py -n yolox-s -c yolox_s.pth -b 8 --conf 0.001
    python tools/eval.py -f exps/my_exp.py -c YOLOX_outputs/my_exp/best_ckpt.pth --fuse
    python tools/eval.py -f exps/my_exp.py -c best_ckpt.pth data_dir /data/coco val_ann mini.json

Trailing KEY VALUE pairs override experiment attributes (an unknown key is an error).
"""
import argparse
import sys

import torch
from loguru import logger

from yolox.core.evaluate import EvalRequest, run_evaluation
from yolox.core.launch import LaunchConfig, launch, launched_by_torchrun
from yolox.core.run import build_exp
from yolox.evaluators import BACKENDS
from yolox.utils.checkpoint import UNSAFE_FLAG, UNSAFE_FLAG_HELP
from yolox.utils.dist import get_world_size, is_main_process


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-expn", "--experiment-name", type=str, default=None, help="sets exp.exp_name (Megvii)")
    parser.add_argument("-n", "--name", type=str, default=None, help="bundled model name, e.g. yolox-s")
    parser.add_argument("-f", "--exp_file", default=None, type=str, help="experiment file")
    parser.add_argument("-c", "--ckpt", default=None, type=str, help="checkpoint (.pth)")
    parser.add_argument(UNSAFE_FLAG, dest="unsafe_load", action="store_true", help=UNSAFE_FLAG_HELP)
    parser.add_argument("-b", "--batch-size", type=int, default=64, help="images per batch (all devices)")
    parser.add_argument("-d", "--devices", default=None, type=int,
                        help="processes on this machine (GPUs; CPU processes without CUDA): they split the images "
                             "and rank 0 scores them all (default 1; under torchrun, one per process)")
    parser.add_argument("--conf", default=None, type=float, help="score threshold (default: exp.test_conf)")
    parser.add_argument("--nms", default=None, type=float, help="NMS IoU threshold (default: exp.nmsthre)")
    parser.add_argument("--tsize", default=None, type=int, help="square test size (default: exp.test_size)")
    parser.add_argument("--seed", default=None, type=int, help="random seed")
    parser.add_argument("--fp16", action="store_true", help="fp16 autocast (GPU only)")
    parser.add_argument("--fuse", action="store_true", help="fold BatchNorm into the convolutions")
    parser.add_argument("--trt", action="store_true", help="TensorRT: not supported (rejected)")
    parser.add_argument("--legacy", action="store_true", help="old YOLOX preprocessing (RGB, mean/std)")
    parser.add_argument("--test", dest="test", action="store_true", help="test-dev: write results, no scoring")
    parser.add_argument("--speed", action="store_true", help="time forward + NMS only (no checkpoint, no AP)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model first: ~1.5x faster forward on CPU, about a minute of "
                             "compiling per input shape, so worth it on large sets only")
    parser.add_argument("--results", default=None, type=str, help="also write the COCO results json here")
    parser.add_argument("--coco-backend", default=None, choices=BACKENDS,
                        help="COCO scorer: faster_coco_eval (C++, several times faster) or pycocotools (the reference "
                             "implementation); same numbers (default: exp.coco_backend, faster_coco_eval)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE experiment overrides")
    return parser


def flag_overrides(args: argparse.Namespace) -> dict:
    """Experiment attributes this tool's own flags set (those given), applied after KEY VALUE
    (build_exp applies ``--tsize`` itself)."""
    overrides = {"test_conf": args.conf, "nmsthre": args.nms, "coco_backend": args.coco_backend}
    return {key: value for key, value in overrides.items() if value is not None}


def evaluate_rank(args: argparse.Namespace) -> None:
    """One process's share: the ranks split the images, rank 0 gathers and scores them and prints."""
    exp = build_exp(args, overrides=flag_overrides(args))
    world_size = get_world_size()
    device = "cuda" if torch.cuda.is_available() else "cpu"  # launch has set this rank's GPU
    request = EvalRequest(ckpt=args.ckpt, batch_size=max(1, args.batch_size // world_size), fp16=args.fp16,
                          fuse=args.fuse, testdev=args.test, legacy=args.legacy, speed=args.speed, seed=args.seed,
                          results_file=args.results, compile=args.compile, allow_pickle=args.unsafe_load,
                          distributed=world_size > 1)
    outcome = run_evaluation(exp, request, device=device)
    if is_main_process():
        logger.info("\n" + outcome.summary)
        if outcome.ap50_95 is not None:
            logger.info("AP50:95 {:.4f}, AP50 {:.4f}", outcome.ap50_95, outcome.ap50)  # as training logs them


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    if args.trt:
        raise SystemExit("--trt: TensorRT evaluation is not supported; export with tools/export_onnx.py "
                         "and build the engine with your TensorRT tools")
    build_exp(args, overrides=flag_overrides(args))  # a bad file or flag fails here, before any process starts
    devices = 1 if launched_by_torchrun() else (args.devices or 1)
    if torch.cuda.is_available() and devices > torch.cuda.device_count():
        raise SystemExit(f"-d {devices}: only {torch.cuda.device_count()} GPUs are visible")
    launch(evaluate_rank, LaunchConfig(num_gpus_per_machine=devices), args=(args,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
