"""One evaluation run as tools/eval.py performs it: build the model the checkpoint describes, load
its weights, run the experiment's evaluator; returns the COCO figures and the summary with the
per-class table and the time per image."""
import time
from dataclasses import dataclass
from typing import Optional

import torch
from loguru import logger

from yolox.deploy.model_loading import load_model
from yolox.evaluators.inference import predict_loader
from yolox.utils.dist import is_main_process
from yolox.utils.setup_env import seed_everything


__all__ = ["EvalRequest", "EvalOutcome", "run_evaluation"]


@dataclass
class EvalRequest:
    """What tools/eval.py asks for (Megvii's flags)."""

    ckpt: Optional[str] = None
    batch_size: int = 64
    distributed: bool = False
    fp16: bool = False
    fuse: bool = False
    testdev: bool = False
    legacy: bool = False
    speed: bool = False  # time the forward pass and NMS only: no checkpoint needed, no scoring
    compile: bool = False  # torch.compile the model first (about a minute per input shape on CPU)
    seed: Optional[int] = None
    results_file: Optional[str] = None
    allow_pickle: bool = False  # load a checkpoint holding Python objects (runs code from the file)


@dataclass
class EvalOutcome:
    """What one evaluation found: the printable summary (AP and per-class table, or timing only) and,
    when scored, AP50:95 and AP50 at full precision (training logs them with 4 decimals)."""

    summary: str
    ap50_95: Optional[float] = None
    ap50: Optional[float] = None


def run_evaluation(exp, request: EvalRequest, device: str = "cpu") -> EvalOutcome:
    """Evaluate as ``request`` asks; no AP with ``speed`` or ``testdev`` (nothing is scored)."""
    if request.seed is not None:
        seed_everything(request.seed)
    loaded = load_model(exp, None if request.speed else request.ckpt, device=device, fuse=request.fuse,
                        allow_pickle=request.allow_pickle)
    if request.speed:
        logger.info("--speed: timing random weights, no scoring")
    elif request.ckpt is None:
        logger.warning("no checkpoint (-c): evaluating random weights")
    evaluator = exp.get_evaluator(request.batch_size, request.distributed, request.testdev, request.legacy)
    _check_classes(loaded.num_classes, evaluator.dataloader.dataset)
    model = compiled(loaded.model, evaluator.dataloader, device) if request.compile else loaded.model
    if request.results_file is not None:
        evaluator.results_file = request.results_file
    if request.speed:
        _, timing = predict_loader(model, evaluator.dataloader, num_classes=loaded.num_classes,
                                   confthre=evaluator.confthre, nmsthre=evaluator.nmsthre, half=request.fp16,
                                   progress=is_main_process())
        return EvalOutcome(summary=timing.summary_line())
    ap50_95, ap50, summary = evaluator.evaluate(model, request.distributed, request.fp16)
    if request.testdev:
        return EvalOutcome(summary=summary)
    return EvalOutcome(summary=summary, ap50_95=float(ap50_95), ap50=float(ap50))


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
