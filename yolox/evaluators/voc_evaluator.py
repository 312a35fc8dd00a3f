"""VOCEvaluator: Pascal VOC mAP of a model on an eval loader (Megvii YOLOX's interface).

Ground truth comes from the dataset's ``coco`` (for VOC xml it is built in memory) with its
``class_ids``; an annotation flagged ``difficult`` (or ``ignore`` / ``iscrowd``) is a difficult
box. Reports mAP@0.5 with the VOC07 11-point and the area rule, and mAP@[.5:.95] (the mean of
the mAP at IoU 0.50, 0.55, ..., 0.95).
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from loguru import logger
from tabulate import tabulate

from .base_evaluator import DetectionEvaluator, EvalResult
from .coco_results import category_to_contiguous, letterbox_ratio, undo_letterbox
from .inference import ImagePrediction, InferenceTiming
from .voc_metrics import ClassDetections, ClassGroundTruth, voc_class_ap

__all__ = ["VOCEvaluator", "VOCScores", "score_voc", "voc_ground_truth", "voc_detections"]

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


@dataclass
class VOCScores:
    """Per class (contiguous order, NaN for classes without non-difficult boxes): AP@0.5 by both
    rules and AP@[.5:.95] by the chosen rule; the means over classes that have boxes."""

    names: List[str]
    ap50_07: List[float]
    ap50_area: List[float]
    ap50_95: List[float]
    use_07_metric: bool

    @property
    def map50(self) -> float:
        return _nanmean(self.ap50_07 if self.use_07_metric else self.ap50_area)

    @property
    def map50_95(self) -> float:
        return _nanmean(self.ap50_95)

    def table(self) -> str:
        def fmt(v: float) -> str:
            return "-" if math.isnan(v) else f"{v:.4f}"

        rows = [[n, fmt(a), fmt(b), fmt(c)] for n, a, b, c in zip(self.names, self.ap50_07, self.ap50_area,
                                                                   self.ap50_95)]
        rows.append(["mean", fmt(_nanmean(self.ap50_07)), fmt(_nanmean(self.ap50_area)), fmt(self.map50_95)])
        rule = "VOC07 11-point" if self.use_07_metric else "area"
        return tabulate(rows, headers=["class", "AP50 (11-point)", "AP50 (area)", f"AP50:95 ({rule})"],
                        tablefmt="github", disable_numparse=True)


def _nanmean(values: Sequence[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else 0.0


def voc_ground_truth(coco, image_ids: Sequence[int], class_ids: Sequence[int]) -> List[Dict[int, ClassGroundTruth]]:
    """Per contiguous class, {image_id: ClassGroundTruth} for ``image_ids`` (boxes x1, y1, x2, y2)."""
    to_class = category_to_contiguous(class_ids)
    per_class: List[Dict[int, list]] = [{} for _ in class_ids]
    for image_id in image_ids:
        for c in range(len(class_ids)):
            per_class[c][int(image_id)] = []
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[int(image_id)])):
            if ann["category_id"] not in to_class:
                raise ValueError(f"annotation {ann.get('id')} of image {image_id}: category_id "
                                 f"{ann['category_id']} is not among the dataset's class_ids")
            x, y, w, h = ann["bbox"]
            difficult = bool(ann.get("difficult", 0) or ann.get("ignore", 0) or ann.get("iscrowd", 0))
            per_class[to_class[ann["category_id"]]][int(image_id)].append((x, y, x + w, y + h, difficult))
    return [{i: _as_ground_truth(rows) for i, rows in images.items()} for images in per_class]


def _as_ground_truth(rows: list) -> ClassGroundTruth:
    array = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return ClassGroundTruth(boxes=array[:, :4], difficult=array[:, 4].astype(bool))


def voc_detections(predictions: Sequence[ImagePrediction], *, test_size: Tuple[int, int],
                   num_classes: int) -> List[ClassDetections]:
    """Per contiguous class, all its detections in original-image pixels (score = obj * cls_conf)."""
    rows: List[list] = [[] for _ in range(num_classes)]
    for p in predictions:
        if p.detections is None:
            continue
        det = p.detections.float()
        if det.numel() and int(det[:, 6].max()) >= num_classes:
            raise ValueError(f"image {p.image_id}: predicted class {int(det[:, 6].max())} but the dataset has only "
                             f"{num_classes} classes; the model's num_classes does not match the dataset")
        boxes = undo_letterbox(det[:, :4], letterbox_ratio(p.orig_size, test_size)).numpy()
        scores = (det[:, 4] * det[:, 5]).numpy()
        for box, score, c in zip(boxes, scores, det[:, 6].long().tolist()):
            rows[c].append((p.image_id, score, *box))
    out = []
    for class_rows in rows:
        array = np.asarray(class_rows, dtype=np.float64).reshape(-1, 6)
        out.append(ClassDetections(image_ids=array[:, 0].astype(np.int64), scores=array[:, 1], boxes=array[:, 2:]))
    return out


def score_voc(detections: List[ClassDetections], ground_truth: List[Dict[int, ClassGroundTruth]], *,
              names: Sequence[str], use_07_metric: bool, pixel_offset: float = 0.0) -> VOCScores:
    """VOC AP of every class at IoU 0.5 (both rules) and averaged over IoU 0.5:0.95 (chosen rule)."""
    ap50_07, ap50_area, ap50_95 = [], [], []
    for dets, gt in zip(detections, ground_truth):
        ap50_07.append(voc_class_ap(dets, gt, iou_thresh=0.5, use_07_metric=True, pixel_offset=pixel_offset))
        ap50_area.append(voc_class_ap(dets, gt, iou_thresh=0.5, use_07_metric=False, pixel_offset=pixel_offset))
        per_threshold = [voc_class_ap(dets, gt, iou_thresh=t, use_07_metric=use_07_metric, pixel_offset=pixel_offset)
                         for t in IOU_THRESHOLDS]
        ap50_95.append(float(np.mean(per_threshold)))
    return VOCScores(names=list(names), ap50_07=ap50_07, ap50_area=ap50_area, ap50_95=ap50_95,
                     use_07_metric=use_07_metric)


class VOCEvaluator(DetectionEvaluator):
    """VOC mAP of a detector on ``dataloader`` (dataset exposing ``coco`` and ``class_ids``).

    use_07_metric: the VOC2007 11-point rule (the reference's choice for VOC2007 test) or, False,
    the area rule of VOC2010+. pixel_offset: 0 for continuous pixel coordinates (what the datasets
    give), 1 for the devkit's inclusive integer corners. ``evaluate`` returns ``(mAP@[.5:.95],
    mAP@0.5, summary str)``, plus the per-image predictions when ``return_outputs``.
    """

    def __init__(self, dataloader, img_size: Tuple[int, int], confthre: float, nmsthre: float, num_classes: int,
                 *, use_07_metric: bool = True, pixel_offset: float = 0.0):
        super().__init__(dataloader=dataloader, img_size=img_size, confthre=confthre, nmsthre=nmsthre,
                         num_classes=num_classes)
        self.use_07_metric = use_07_metric
        self.pixel_offset = pixel_offset
        self.last_scores: Optional[VOCScores] = None

    def _score(self, predictions: List[ImagePrediction], timing: InferenceTiming) -> EvalResult:
        class_ids = list(self.dataset.class_ids)
        if all(p.detections is None for p in predictions):
            logger.warning("No detections above the confidence threshold {}: VOC mAP is 0", self.confthre)
        ground_truth = voc_ground_truth(self.dataset.coco, [p.image_id for p in predictions], class_ids)
        detections = voc_detections(predictions, test_size=self.img_size, num_classes=len(class_ids))
        names = [c["name"] for c in self.dataset.coco.loadCats(class_ids)]
        scores = score_voc(detections, ground_truth, names=names, use_07_metric=self.use_07_metric,
                           pixel_offset=self.pixel_offset)
        self.last_scores = scores
        return EvalResult(ap50_95=scores.map50_95, ap50=scores.map50,
                          summary=f"{timing.summary_line()}\n{scores.table()}\n", outputs=predictions)
