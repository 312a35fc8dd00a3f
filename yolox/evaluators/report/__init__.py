"""Evaluation reports: confusion matrix, precision-recall curves, P/R/F1 against confidence, a
per-class table and the worst images, as PNG figures with their numbers in CSV and JSON.

    images (ground truth + detections, original pixels) -> matching at IoU 0.5 (COCO's rule)
    -> confusion matrix, per-class counts, confidence curves, worst images
    scorer's precision array (COCO) or VOC matching -> precision-recall curves and APs

matplotlib is imported only when a figure is drawn.
"""
from .class_table import COLUMNS, class_rows
from .confidence import ClassCounts, ConfidenceCurves, best_f1_confidence, class_counts, confidence_curves
from .confusion import ConfusionMatrix, confusion_matrix, image_errors
from .from_evaluator import evaluator_report, report_kind
from .images import ImageBoxes, collect_images
from .matching import FP, IGNORED, TP, ImageMatch, Matches, match_image, match_images
from .pr_curves import RECALL_POINTS, PRCurves, coco_pr_curves, voc_pr_curves
from .report import FALLBACK_CONFIDENCE, EvalReport, report_folder, write_report

__all__ = ["COLUMNS", "class_rows", "ClassCounts", "ConfidenceCurves", "best_f1_confidence", "class_counts",
           "confidence_curves", "ConfusionMatrix", "confusion_matrix", "image_errors", "evaluator_report",
           "report_kind", "ImageBoxes", "collect_images", "FP", "IGNORED", "TP", "ImageMatch", "Matches",
           "match_image", "match_images", "RECALL_POINTS", "PRCurves", "coco_pr_curves", "voc_pr_curves",
           "FALLBACK_CONFIDENCE", "EvalReport", "report_folder", "write_report"]
