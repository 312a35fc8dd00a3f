"""Evaluate a checkpoint: COCO AP (12 stats), a per-class table, and the time per image.

    python tools/eval.py -n yolox-s -c yolox_s.pth -b 8 --conf 0.001
    python tools/eval.py -f exps/my_exp.py -c YOLOX_outputs/my_exp/best_ckpt.pth --fuse
    python tools/eval.py -f exps/my_exp.py -c best_ckpt.pth data_dir /data/coco val_ann mini.json
    python tools/eval.py -f exps/my_exp.py -c best_ckpt.pth --report  # + YOLOX_outputs/<exp>/eval/<time>/
    python tools/eval.py -f exps/my_exp.py -c yolox.onnx  # an exported file (.onnx, .xml, TorchScript), same scorer

Trailing KEY VALUE pairs override experiment attributes (an unknown key is an error).
"""
import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import torch
from loguru import logger

from yolox.evaluators import BACKENDS
from yolox.evaluators.inference import predict_loader
from yolox.deploy.backends import is_exported_model
from yolox.deploy.model_loading import load_model
from yolox.utils.dist import get_world_size, is_main_process
from yolox.utils.launch import launch, launched_by_torchrun
from yolox.utils.precision import AMP_CHOICES, amp_request
from yolox.utils.setup_env import seed_everything

from .exp_flags import add_exp_flags, build_exp

__all__ = ["EvalRequest", "EvalOutcome", "run_evaluation"]

# One evaluation as each process of the tool runs it: build the model the checkpoint describes,
# load its weights, run the experiment's evaluator; it returns the COCO figures and the summary
# with the per-class table and the time per image (tests call it without the command line).


@dataclass
class EvalRequest:
    """What tools/eval.py asks for (Megvii's flags)."""

    ckpt: Optional[str] = None
    batch_size: int = 64
    distributed: bool = False
    fp16: bool = False  # the device's reduced precision (Precision.resolve): fp16 on CUDA, bf16 on a CPU
    amp: Optional[str] = None  # "fp16" / "bf16" by name, over fp16
    fuse: bool = False
    testdev: bool = False
    legacy: bool = False
    speed: bool = False  # time the forward pass and NMS only: no checkpoint needed, no scoring
    compile: bool = False  # torch.compile the model first (about a minute per input shape on CPU)
    seed: Optional[int] = None
    results_file: Optional[str] = None
    allow_pickle: bool = False  # load a checkpoint holding Python objects (runs code from the file)
    report: bool = False  # write the evaluation report (figures, CSV, JSON) into report_dir
    report_dir: Optional[str] = None  # default: <exp.output_dir>/<exp.exp_name>/eval/<timestamp>/
    report_conf: Optional[float] = None  # the report's confidence; default the best-F1 one


@dataclass
class EvalOutcome:
    """What one evaluation found: the printable summary (AP and per-class table, or timing only) and,
    when scored, AP50:95 and AP50 at full precision (training logs them with 4 decimals)."""

    summary: str
    ap50_95: Optional[float] = None
    ap50: Optional[float] = None
    report_dir: Optional[Path] = None


def run_evaluation(exp, request: EvalRequest, device: str = "cpu") -> EvalOutcome:
    """Evaluate as ``request`` asks; no AP with ``speed`` or ``testdev`` (nothing is scored)."""
    if request.seed is not None:
        seed_everything(request.seed)
    if is_exported_model(request.ckpt):
        model, num_classes = file_model(exp, request)
    else:
        loaded = load_model(exp, None if request.speed else request.ckpt, device=device, fuse=request.fuse,
                            allow_pickle=request.allow_pickle)
        model, num_classes = loaded.model, loaded.num_classes
        if request.speed:
            logger.info("--speed: timing random weights, no scoring")
        elif request.ckpt is None:
            logger.warning("no checkpoint (-c): evaluating random weights")
    evaluator = exp.get_evaluator(request.batch_size, request.distributed, request.testdev, request.legacy)
    _check_classes(num_classes, evaluator.dataloader.dataset)
    model = compiled(model, evaluator.dataloader, device) if request.compile else model
    half = amp_request(request.fp16, request.amp)  # "fp16", "bf16" or None: Precision.resolve on the device
    if request.results_file is not None:
        evaluator.results_file = request.results_file
    reporting = request.report and not request.speed and _can_report(evaluator, request)
    if reporting:
        evaluator.keep_predictions = True
    if request.speed:
        _, timing = predict_loader(model, evaluator.dataloader, num_classes=num_classes,
                                   confthre=evaluator.confthre, nmsthre=evaluator.nmsthre, half=half,
                                   progress=is_main_process())
        return EvalOutcome(summary=timing.summary_line())
    ap50_95, ap50, summary = evaluator.evaluate(model, request.distributed, half)
    if request.testdev:
        return EvalOutcome(summary=summary)
    outcome = EvalOutcome(summary=summary, ap50_95=float(ap50_95), ap50=float(ap50))
    if reporting and is_main_process():
        outcome.report_dir, text = write_eval_report(exp, evaluator, request)
        outcome.summary += "\n" + text
    return outcome


def torch_only_flags(request: EvalRequest) -> List[str]:
    """The flags given that change how PyTorch runs a checkpoint, which an exported file ignores."""
    flags = {"--fp16": request.fp16, "--amp": request.amp, "--fuse": request.fuse, "--compile": request.compile}
    return [flag for flag, value in flags.items() if value]


def file_model(exp, request: EvalRequest) -> Tuple[object, int]:
    """(the evaluators' callable for the model file ``request.ckpt``, its class count); the
    experiment's test_size and ``request.legacy`` follow the file's metadata."""
    from yolox.deploy.backend_model import BackendModel
    from yolox.deploy.detector import Detector

    rejected = torch_only_flags(request)
    if rejected:
        raise ValueError(f"{' '.join(rejected)}: for a .pth checkpoint; {request.ckpt} runs in the precision it was "
                         "exported in (evaluate the checkpoint, or export the file you want to measure)")
    detector = Detector(request.ckpt, exp=exp)
    meta = detector.metadata
    if tuple(exp.test_size) != tuple(meta.input_size):
        logger.info("{}: test_size {} (the file's input size; the experiment had {})", request.ckpt,
                    tuple(meta.input_size), tuple(exp.test_size))
        exp.test_size = tuple(meta.input_size)
    if meta.legacy and not request.legacy:
        logger.info("{}: legacy preprocessing (the file's metadata)", request.ckpt)
        request.legacy = True
    # OpenVINO compiles an fp32 IR in bf16 on CPUs that have it: say which precision is scored.
    computed = getattr(detector.backend, "inference_precision", meta.precision)
    logger.info("evaluating {} with the {} backend ({} classes, computing in {})", request.ckpt,
                detector.backend.name, meta.num_classes, computed)
    return BackendModel(detector), meta.num_classes


def _can_report(evaluator, request: EvalRequest) -> bool:
    """Whether --report can read ``evaluator``: COCO (not test-dev: no ground truth) or VOC."""
    from yolox.evaluators.report import report_kind

    if report_kind(evaluator) is None:
        logger.warning("--report: not written; it reads COCOEvaluator (not --test) and VOCEvaluator, not {}",
                       type(evaluator).__name__)
        return False
    return True


def write_eval_report(exp, evaluator, request: EvalRequest) -> Tuple[Path, str]:
    """Write the report of ``evaluator``'s last pass; (its folder, the text to print)."""
    from yolox.evaluators.report import evaluator_report, report_folder

    start = time.perf_counter()
    folder = Path(request.report_dir) if request.report_dir else report_folder(exp.output_dir, exp.exp_name)
    report = evaluator_report(evaluator, folder, confidence=request.report_conf, title=exp.exp_name)
    logger.info("evaluation report written in {:.1f} s", time.perf_counter() - start)
    return folder, report.text()


def compiled(model: torch.nn.Module, dataloader, device: str) -> torch.nn.Module:
    """``torch.compile(model)``, compiled up front on one full batch so the printed times are the
    run's, not the compiler's (a smaller last batch compiles once more during the run)."""
    logger.info("--compile: compiling the model (about a minute per input shape on a CPU)")
    start = time.perf_counter()
    fast = torch.compile(model, dynamic=False)
    images, *_ = next(iter(dataloader))
    with torch.inference_mode():
        fast.eval()(images.to(device=device, dtype=torch.float32))
    logger.info("compiled in {:.0f} s", time.perf_counter() - start)
    return fast


def _check_classes(num_classes: int, dataset) -> None:
    """A model whose classes are not the dataset's would score garbage: say so up front."""
    data_classes = len(getattr(dataset, "class_ids", []) or [])
    if data_classes and data_classes != num_classes:
        raise ValueError(f"the model predicts {num_classes} classes but the evaluation dataset has {data_classes} "
                         "categories; evaluate with the experiment (-f) the checkpoint was trained for")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-expn", "--experiment-name", type=str, default=None, help="sets exp.exp_name (Megvii)")
    parser.add_argument("-b", "--batch-size", type=int, default=64, help="images per batch (all devices)")
    parser.add_argument("-d", "--devices", default=None, type=int,
                        help="processes on this machine (GPUs; CPU processes without CUDA): they split the images "
                             "and rank 0 scores them all (default 1; under torchrun, one per process)")
    parser.add_argument("--conf", default=None, type=float, help="score threshold (default: exp.test_conf)")
    parser.add_argument("--nms", default=None, type=float, help="NMS IoU threshold (default: exp.nmsthre)")
    parser.add_argument("--seed", default=None, type=int, help="random seed")
    parser.add_argument("--fp16", action="store_true", help="mixed precision: fp16 autocast on a GPU, bf16 on a CPU")
    parser.add_argument("--amp", default=None, choices=AMP_CHOICES, help="mixed precision by name: fp16 or bf16")
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
    parser.add_argument("--report", action="store_true",
                        help="also write an evaluation report: confusion matrix, precision-recall and P/R/F1-vs-"
                             "confidence curves, per-class table, worst images (PNG, CSV, JSON) into "
                             "<output_dir>/<exp>/eval/<timestamp>/")
    parser.add_argument("--report-dir", default=None, type=str, help="write the report here instead")
    parser.add_argument("--report-conf", default=None, type=float,
                        help="confidence of the report's table, confusion matrix and worst images "
                             "(default: the one of the best F1)")
    add_exp_flags(parser, ckpt_help="checkpoint (.pth) or exported model (TorchScript, .onnx, OpenVINO .xml) "
                  "to evaluate; random weights without", tsize=True)
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
                          amp=args.amp, fuse=args.fuse, testdev=args.test, legacy=args.legacy, speed=args.speed,
                          seed=args.seed,
                          results_file=args.results, compile=args.compile, allow_pickle=args.unsafe_load,
                          distributed=world_size > 1, report=args.report or args.report_dir is not None,
                          report_dir=args.report_dir, report_conf=args.report_conf)
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
    if is_exported_model(args.ckpt):
        rejected = torch_only_flags(EvalRequest(fp16=args.fp16, amp=args.amp, fuse=args.fuse, compile=args.compile))
        if rejected:
            raise SystemExit(f"{' '.join(rejected)}: for a .pth checkpoint; {args.ckpt} runs in the precision it "
                             "was exported in")
    devices = 1 if launched_by_torchrun() else (args.devices or 1)
    if torch.cuda.is_available() and devices > torch.cuda.device_count():
        raise SystemExit(f"-d {devices}: only {torch.cuda.device_count()} GPUs are visible")
    launch(evaluate_rank, devices, args=(args,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
