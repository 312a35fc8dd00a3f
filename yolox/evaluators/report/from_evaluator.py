"""The report of an evaluator's last pass: what ``COCOEvaluator`` and ``VOCEvaluator`` kept
(``keep_predictions``) turned into ``write_report``'s inputs, with each kind's own curves and APs."""
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from ..coco_evaluator import COCOEvaluator
from ..coco_results import predictions_to_coco
from ..voc_evaluator import IOU_THRESHOLDS, VOCEvaluator, voc_detections, voc_ground_truth
from .images import ImageBoxes, collect_images
from .pr_curves import RECALL_POINTS, PRCurves, coco_pr_curves, voc_pr_curves
from .report import EvalReport, image_paths_of, write_report

__all__ = ["report_kind", "evaluator_report"]


def report_kind(evaluator) -> Optional[str]:
    """"coco", "voc", or None for an evaluator the report cannot read (an experiment's own)."""
    if isinstance(evaluator, VOCEvaluator):
        return "voc"
    if isinstance(evaluator, COCOEvaluator) and not evaluator.testdev:
        return "coco"
    return None


def _no_detection_curves(images: List[ImageBoxes], num_classes: int) -> PRCurves:
    """Precision 0 for every class with boxes (NaN without): the scorer's answer to no detections."""
    has_boxes = np.zeros(num_classes, dtype=bool)
    for im in images:
        has_boxes[im.gt_classes[~im.gt_ignore]] = True
    rows = np.where(has_boxes[:, None], 0.0, np.nan) * np.ones(len(RECALL_POINTS))
    return PRCurves(recall=RECALL_POINTS.copy(), at_50=rows, at_50_95=rows.copy())


def _coco_curves(evaluator: COCOEvaluator, images: List[ImageBoxes], class_ids: List[int]) -> PRCurves:
    scores = evaluator.last_scores
    if scores is None or scores.precision is None:
        return _no_detection_curves(images, len(class_ids))
    # The scorer's classes are its category ids in its order; the report's are the dataset's.
    position = {c.category_id: k for k, c in enumerate(scores.per_class)}
    order = [position[c] for c in class_ids]
    return coco_pr_curves(scores.precision[:, :, order])


def evaluator_report(evaluator, folder: Union[str, Path], *, confidence: Optional[float] = None, worst: int = 8,
                     title: str = "evaluation") -> EvalReport:
    """Write the report of ``evaluator``'s last ``evaluate`` (run with ``keep_predictions`` set)."""
    kind = report_kind(evaluator)
    predictions = getattr(evaluator, "last_predictions", None)
    if kind is None or predictions is None:
        raise ValueError(f"no report for {type(evaluator).__name__}: it needs a COCOEvaluator (not test-dev) or a "
                         "VOCEvaluator whose evaluate ran with keep_predictions = True")
    dataset = evaluator.dataset
    class_ids = [int(c) for c in dataset.class_ids]
    names = [c["name"] for c in dataset.coco.loadCats(class_ids)]
    image_ids = [p.image_id for p in predictions]
    records = predictions_to_coco(predictions, test_size=evaluator.img_size, class_ids=class_ids)
    images = collect_images(dataset.coco, records, class_ids=class_ids, image_ids=image_ids)
    paths = image_paths_of(dataset)
    common = dict(images=images, names=names, confidence=confidence, worst=worst, title=title,
                  image_path=paths.get if paths else None)
    if kind == "coco":
        return write_report(folder, curves=_coco_curves(evaluator, images, class_ids), **common)
    scores = evaluator.last_scores
    curves = voc_pr_curves(voc_detections(predictions, test_size=evaluator.img_size, num_classes=len(class_ids)),
                           voc_ground_truth(dataset.coco, image_ids, class_ids), iou_thresholds=IOU_THRESHOLDS,
                           pixel_offset=evaluator.pixel_offset)
    ap50 = scores.ap50_07 if scores.use_07_metric else scores.ap50_area
    return write_report(folder, curves=curves, ap50=ap50, ap50_95=scores.ap50_95, **common)
