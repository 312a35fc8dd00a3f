"""Evaluation of a detector on a loader: COCO bbox AP (faster-coco-eval by default, pycocotools as
the reference) and Pascal VOC mAP."""
from .base_evaluator import DetectionEvaluator, EvalResult
from .coco_evaluator import COCOEvaluator
from .coco_results import (
    category_to_contiguous,
    contiguous_to_category,
    detections_to_coco,
    letterbox_ratio,
    predictions_to_coco,
    undo_letterbox,
    write_coco_results,
)
from .coco_scoring import (
    BACKENDS,
    COCO_STAT_NAMES,
    DEFAULT_BACKEND,
    ClassScores,
    COCOScores,
    score_coco_detections,
    unlearned_classes,
)
from .inference import ImagePrediction, InferenceTiming, predict_loader
from .voc_evaluator import VOCEvaluator, VOCScores, score_voc, voc_detections, voc_ground_truth
from .voc_metrics import ClassDetections, ClassGroundTruth, precision_recall, voc_ap, voc_class_ap
