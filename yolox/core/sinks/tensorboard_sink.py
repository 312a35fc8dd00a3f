"""TensorBoard: the training losses and LR per print interval, the validation AP per evaluation,
per-class precision-recall curves at IoU 0.5, and a few validation images with their detections.

Tags are Megvii's (``train/<loss>``, ``train/lr``, ``val/COCOAP50``, ``val/COCOAP50_95``), so
dashboards built on its runs read these.
"""
from pathlib import Path

import numpy as np
from loguru import logger

from yolox.evaluators.pr_counts import match_detections, pr_counts

from .base import Sink
from .events import EvaluationLog, IterationLog, RunEnd, RunStart
from .val_images import draw_detections, first_images

__all__ = ["TensorBoardSink"]


class TensorBoardSink(Sink):
    wants_detections = True

    def __init__(self, log_dir: Path, *, num_images: int = 4, pr_iou: float = 0.5):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir))
        self.num_images = num_images
        self.pr_iou = pr_iou
        self.class_names = None
        self._said_no_detections = False

    def on_start(self, run: RunStart) -> None:
        self.class_names = run.class_names

    def on_iteration(self, log: IterationLog) -> None:
        self.writer.add_scalar("train/lr", log.lr, log.step)
        for key, value in log.losses.items():
            self.writer.add_scalar(f"train/{key}", value, log.step)

    def on_evaluation(self, log: EvaluationLog) -> None:
        self.writer.add_scalar("val/COCOAP50", log.ap50, log.epoch)
        self.writer.add_scalar("val/COCOAP50_95", log.ap50_95, log.epoch)
        if log.detections is None or not hasattr(log.dataset, "records"):
            if not self._said_no_detections:
                logger.info("TensorBoard: this evaluator gives no COCO detections; no PR curves or images")
                self._said_no_detections = True
            return
        self.add_pr_curves(log)
        for item in first_images(log.dataset, log.detections, self.num_images):
            self.writer.add_image(f"val_images/{item.image_id}", draw_detections(item, self.class_names),
                                  log.epoch, dataformats="HWC")
        self.writer.flush()

    def add_pr_curves(self, log: EvaluationLog) -> None:
        matches = match_detections(detections=log.detections, records=log.dataset.records,
                                   class_ids=log.dataset.class_ids, iou_threshold=self.pr_iou)
        names = self.class_names or getattr(log.dataset, "class_names", None)
        for cls, found in matches.items():
            counts = pr_counts(found)
            name = names[cls] if names is not None and cls < len(names) else str(cls)
            self.writer.add_pr_curve_raw(
                f"val_pr_iou{int(self.pr_iou * 100)}/{name}", true_positive_counts=counts.true_positives,
                false_positive_counts=counts.false_positives,
                true_negative_counts=np.zeros_like(counts.false_negatives),  # detection has no negatives to count
                false_negative_counts=counts.false_negatives, precision=counts.precision, recall=counts.recall,
                global_step=log.epoch, num_thresholds=len(counts.thresholds))

    def on_end(self, end: RunEnd) -> None:
        self.writer.close()
