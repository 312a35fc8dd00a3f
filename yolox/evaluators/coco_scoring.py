"""Score COCO-format detections against a ground truth: the 12 COCO stats and per-class figures.

Backends: ``"faster_coco_eval"`` (the default: faster-coco-eval, a C++ implementation of
pycocotools' COCOeval with the same numbers, several times faster on large sets) and
``"pycocotools"`` (the reference implementation, for checking).
"""
import contextlib
import io
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from tabulate import tabulate

__all__ = ["COCO_STAT_NAMES", "BACKENDS", "DEFAULT_BACKEND", "ClassScores", "COCOScores", "check_backend",
           "score_coco_detections", "summary_text", "unlearned_classes"]

# The order of COCOeval.stats.
COCO_STAT_NAMES = ("AP50:95", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
                   "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")
# What each stat averages over: (AP or AR, IoU threshold or None for 0.50:0.95, area, max detections).
_STAT_SETTINGS = (("AP", None, "all", 100), ("AP", 0.5, "all", 100), ("AP", 0.75, "all", 100),
                  ("AP", None, "small", 100), ("AP", None, "medium", 100), ("AP", None, "large", 100),
                  ("AR", None, "all", 1), ("AR", None, "all", 10), ("AR", None, "all", 100),
                  ("AR", None, "small", 100), ("AR", None, "medium", 100), ("AR", None, "large", 100))
BACKENDS = ("faster_coco_eval", "pycocotools")
DEFAULT_BACKEND = "faster_coco_eval"


@dataclass
class ClassScores:
    """One category's figures at area "all"; NaN when the evaluated images hold none of its boxes."""

    category_id: int
    name: str
    ap50_95: float
    ap50: float
    ar100: float


@dataclass
class COCOScores:
    """stats: the 12 COCO numbers by name (COCO_STAT_NAMES); per_class in category-id order;
    text: the printed COCO summary. precision: the scorer's own ``eval["precision"]`` at area
    "all" and 100 detections, [T, R, K] (IoU 0.50:0.05:0.95, recall 0:0.01:1, per_class's order;
    -1 where a class has no boxes), kept so the report's curves are the AP's (None without
    detections)."""

    stats: Dict[str, float]
    per_class: List[ClassScores] = field(default_factory=list)
    text: str = ""
    precision: Optional[np.ndarray] = None

    @property
    def ap50_95(self) -> float:
        return self.stats["AP50:95"]

    @property
    def ap50(self) -> float:
        return self.stats["AP50"]

    def per_class_table(self, *, with_ap: bool = True, with_ar: bool = True, groups: int = 2) -> str:
        """A table of class, AP50:95, AP50, AR100 (0-1 like the summary; "-" for classes without
        boxes in the evaluated images), classes laid out in ``groups`` side-by-side column groups."""
        if not self.per_class:
            return ""
        headers = ["class"] + (["AP50:95", "AP50"] if with_ap else []) + (["AR100"] if with_ar else [])
        cells = []
        for c in self.per_class:
            values = ([c.ap50_95, c.ap50] if with_ap else []) + ([c.ar100] if with_ar else [])
            cells.append([c.name] + ["-" if math.isnan(v) else f"{v:.3f}" for v in values])
        per_group = math.ceil(len(cells) / groups)
        blank = [""] * len(headers)
        rows = [sum((cells[g * per_group + r] if g * per_group + r < len(cells) else blank for g in range(groups)),
                    []) for r in range(per_group)]
        return tabulate(rows, headers=headers * groups, tablefmt="github", disable_numparse=True)


def unlearned_classes(scores: COCOScores) -> List[ClassScores]:
    """The classes that have boxes in the evaluated images but AP 0 (no box of theirs detected at
    IoU 0.5 or above with their label) while some other class has AP above 0: a class the model
    has not learned, as opposed to a model that has learned nothing yet."""
    present = [c for c in scores.per_class if not math.isnan(c.ap50_95)]
    if not any(c.ap50_95 > 0 for c in present):
        return []
    return [c for c in present if c.ap50_95 == 0]


def check_backend(backend: str) -> str:
    """``backend`` if it is one of BACKENDS; a ValueError naming the choices otherwise."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown COCO evaluation backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return backend


def summary_text(stats: Sequence[float]) -> str:
    """The 12 stats as pycocotools' ``summarize`` prints them (-1.000 where a range has no ground
    truth). Written here so both backends print the same 12 lines (faster-coco-eval adds two)."""
    lines = []
    for value, (kind, iou, area, max_dets) in zip(stats, _STAT_SETTINGS):
        title = "Average Precision  (AP)" if kind == "AP" else "Average Recall     (AR)"
        iou_text = "0.50:0.95" if iou is None else f"{iou:0.2f}"
        lines.append(f" {title} @[ IoU={iou_text:<9} | area={area:>6s} | maxDets={max_dets:>3d} ] = {value:0.3f}")
    return "\n".join(lines)


def zero_scores(reason: str) -> COCOScores:
    """All 12 stats at 0 (not -1: nothing was detected, which is AP 0, not "no ground truth")."""
    return COCOScores(stats={name: 0.0 for name in COCO_STAT_NAMES}, text=reason)


def score_coco_detections(coco_gt, detections: Sequence[dict], *, image_ids: Optional[Sequence[int]] = None,
                          backend: str = DEFAULT_BACKEND) -> COCOScores:
    """Evaluate bbox ``detections`` (COCO result dicts) against ``coco_gt`` (a pycocotools COCO).

    image_ids: the images that were run (default: all of coco_gt); images outside it are not
    counted as misses. Empty ``detections`` give all-zero stats and say so in ``text``.
    backend: one of BACKENDS; both give the same numbers.
    """
    check_backend(backend)
    if len(detections) == 0:
        return zero_scores("No detections above the confidence threshold: AP is 0 "
                           "(an untrained model, a too high --conf, or a num_classes that does not match the data).")
    evaluator = _run_cocoeval(coco_gt, detections, image_ids=image_ids, backend=backend)
    values = [float(v) for v in evaluator.stats[:len(COCO_STAT_NAMES)]]
    names = {c["id"]: c.get("name", str(c["id"])) for c in coco_gt.dataset.get("categories", [])}
    per_class = _per_class(evaluator.eval, list(evaluator.params.catIds), names)
    precision = np.asarray(evaluator.eval["precision"], dtype=np.float64)[:, :, :, 0, -1]
    return COCOScores(stats=dict(zip(COCO_STAT_NAMES, values)), per_class=per_class, text=summary_text(values),
                      precision=precision)


def _run_cocoeval(coco_gt, detections: Sequence[dict], *, image_ids: Optional[Sequence[int]], backend: str):
    """A bbox COCOeval of ``backend`` after evaluate, accumulate and summarize, their chatter
    kept off stdout."""
    # loadRes adds keys (id, area, iscrowd, segmentation) to the dicts it is given but changes no
    # value in them: shallow copies keep the callers' clean (a deep copy took 1.4 s of 7 here).
    detections = [dict(d) for d in detections]
    with contextlib.redirect_stdout(io.StringIO()):
        if backend == "faster_coco_eval":
            evaluator = _faster_cocoeval(coco_gt, detections)
        else:
            from pycocotools.cocoeval import COCOeval

            evaluator = COCOeval(coco_gt, coco_gt.loadRes(detections), iouType="bbox")
        if image_ids is not None:
            evaluator.params.imgIds = sorted({int(i) for i in image_ids})
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def _faster_cocoeval(coco_gt, detections: List[dict]):
    """faster-coco-eval's COCOeval over its own COCO of ``coco_gt``'s dataset. Its evaluation
    writes keys ("ignore") into the annotation dicts, so it gets shallow copies of them."""
    from faster_coco_eval import COCO, COCOeval_faster

    dataset = dict(coco_gt.dataset, annotations=[dict(a) for a in coco_gt.dataset.get("annotations", [])])
    gt = COCO(dataset)
    return COCOeval_faster(gt, gt.loadRes(detections), iouType="bbox")


def _per_class(accumulated: dict, cat_ids: Sequence[int], names: Dict[int, str]) -> List[ClassScores]:
    """From COCOeval.eval: precision [T, R, K, A, M] and recall [T, K, A, M], -1 where undefined.
    Area index 0 is "all", max-detections index -1 is 100."""
    precision = np.asarray(accumulated["precision"])
    recall = np.asarray(accumulated["recall"])
    rows = []
    for k, cat_id in enumerate(cat_ids):
        rows.append(ClassScores(
            category_id=int(cat_id),
            name=names.get(cat_id, str(cat_id)),
            ap50_95=_mean_defined(precision[:, :, k, 0, -1]),
            ap50=_mean_defined(precision[0, :, k, 0, -1]),
            ar100=_mean_defined(recall[:, k, 0, -1]),
        ))
    return rows


def _mean_defined(values: np.ndarray) -> float:
    defined = values[values > -1]
    return float(defined.mean()) if defined.size else float("nan")
