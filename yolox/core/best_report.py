"""After training: the evaluation report of best_ckpt.pth, in ``<run dir>/eval/<timestamp>/``.

The trainer calls ``report_best_checkpoint`` once, on rank 0, when a run ends normally (not on a
failure or a preemption, whose process should exit quickly). It evaluates the best checkpoint's
weights on the whole evaluation set in this one process and writes the report
(``yolox.evaluators.report``). ``Exp.report_after_train = False`` turns it off.
"""
import copy
import time
from pathlib import Path
from typing import Optional, Union

from loguru import logger
from torch import nn

from yolox.evaluators.report import evaluator_report, report_folder, report_kind
from yolox.utils.checkpoint import checkpoint_weights, load_exact_weights, read_checkpoint

__all__ = ["report_best_checkpoint"]


def report_best_checkpoint(exp, *, run_dir: Union[str, Path], model: nn.Module, evaluator,
                           distributed: bool) -> Optional[Path]:
    """Evaluate ``run_dir/best_ckpt.pth`` and write its report; returns the report's folder (None
    when off, without a best checkpoint or for an evaluator the report cannot read).

    model: the trained model (unwrapped), copied to hold the best weights; evaluator: the one
    training used, reused unless ``distributed`` (its loader then holds only rank 0's share, so a
    one-process evaluator is built with the same batch size).
    """
    if not getattr(exp, "report_after_train", True):
        return None
    run_dir = Path(run_dir)
    best = run_dir / "best_ckpt.pth"
    if not best.is_file() or report_kind(evaluator) is None:
        logger.info("no evaluation report after training: {}", f"no {best}" if not best.is_file() else
                    f"it reads COCOEvaluator and VOCEvaluator, not {type(evaluator).__name__}")
        return None
    try:
        return _write(exp, best, model=model, evaluator=evaluator, distributed=distributed)
    except Exception:  # noqa: BLE001 -- the run has finished and its checkpoints are saved: a report
        # that fails (a full disk, a broken font cache) must not turn a finished training into a failed one.
        logger.exception("the evaluation report of {} failed; `python tools/eval.py -f <exp> -c {} --report` "
                         "writes it again", best, best)
        return None


def _write(exp, best: Path, *, model: nn.Module, evaluator, distributed: bool) -> Path:
    start = time.perf_counter()
    if distributed:
        batch_size = getattr(evaluator.dataloader, "batch_size", None) or 8
        evaluator = exp.get_evaluator(batch_size=batch_size, is_distributed=False)
    best_model = copy.deepcopy(model)
    load_exact_weights(best_model, checkpoint_weights(read_checkpoint(best)), source=str(best))
    evaluator.keep_predictions = True
    try:
        ap50_95, ap50, _ = exp.eval(best_model, evaluator, False)
        folder = report_folder(best.parent.parent, best.parent.name)
        report = evaluator_report(evaluator, folder, title=f"{getattr(exp, 'exp_name', best.parent.name)} best_ckpt")
    finally:
        evaluator.keep_predictions = False
        evaluator.last_predictions = None  # a whole pass of detections: not kept past the report
    logger.info("best_ckpt.pth: AP50:95 {:.4f}, AP50 {:.4f}; {} (in {:.1f} s)", ap50_95, ap50, report.text(),
                time.perf_counter() - start)
    return folder
