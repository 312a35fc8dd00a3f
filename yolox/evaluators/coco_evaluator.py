"""COCOEvaluator: COCO bbox AP of a model on an eval loader (Megvii YOLOX's interface).

Flow: loader -> model -> postprocess (score, NMS) -> gather on rank 0 -> undo letterbox ->
contiguous class -> dataset category id -> COCO results -> COCOeval -> summary + per-class table.
"""
import json
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

from loguru import logger
from torch import nn

from yolox.utils.atomic_io import atomic_write

from .coco_results import predictions_to_coco
from .coco_scoring import DEFAULT_BACKEND, COCOScores, check_backend, score_coco_detections
from .distributed import broadcast_from_main, gather_predictions, is_main_process
from .inference import InferenceTiming, predict_loader

__all__ = ["COCOEvaluator", "write_coco_results"]

TESTDEV_RESULTS_FILE = "yolox_testdev_2017.json"


def write_coco_results(records: Sequence[dict], path: Union[str, Path]) -> Path:
    """Write COCO detection results (a json list) atomically; returns the path."""
    path = Path(path)
    with atomic_write(path, "w") as handle:
        json.dump(list(records), handle)
    return path


class COCOEvaluator:
    """COCO AP of a detector on ``dataloader``, whose dataset exposes ``coco`` (pycocotools COCO of
    the ground truth) and ``class_ids`` (category id of each contiguous class).

    img_size: (height, width) the loader letterboxes to; confthre / nmsthre: postprocess thresholds;
    testdev: no ground truth, only write the results file. Keyword-only extras: ``backend``
    ("faster_coco_eval", the default, or "pycocotools", the reference; same numbers) and
    ``results_file`` (write the COCO results json there on every evaluation). After ``evaluate``, ``last_scores`` and
    ``last_timing`` hold the structured figures behind the summary text.
    """

    def __init__(self, dataloader, img_size: Tuple[int, int], confthre: float, nmsthre: float, num_classes: int,
                 testdev: bool = False, per_class_AP: bool = True, per_class_AR: bool = True, *,
                 backend: str = DEFAULT_BACKEND, results_file: Optional[Union[str, Path]] = None):
        self.dataloader = dataloader
        self.img_size = tuple(img_size)
        self.confthre = confthre
        self.nmsthre = nmsthre
        self.num_classes = num_classes
        self.testdev = testdev
        self.per_class_AP = per_class_AP
        self.per_class_AR = per_class_AR
        self.backend = check_backend(backend)
        self.results_file = results_file
        self.last_scores: Optional[COCOScores] = None
        self.last_timing: Optional[InferenceTiming] = None

    @property
    def dataset(self):
        return self.dataloader.dataset

    def evaluate(self, model: nn.Module, distributed: bool = False, half: bool = False,
                 return_outputs: bool = False):
        """Returns ``(ap50_95, ap50, summary)`` (``summary`` a printable str), plus a dict
        ``{image_id: {"bboxes", "scores", "categories"}}`` in original pixels when ``return_outputs``.
        Every rank gets rank 0's figures."""
        predictions, timing = predict_loader(model, self.dataloader, num_classes=self.num_classes,
                                             confthre=self.confthre, nmsthre=self.nmsthre, half=half,
                                             progress=is_main_process())
        if distributed:
            predictions = gather_predictions(predictions)
        result = None
        if is_main_process():
            records = predictions_to_coco(predictions, test_size=self.img_size, class_ids=self.dataset.class_ids)
            result = self._score(records, [p.image_id for p in predictions], timing)
            result = result + ((_outputs_by_image(records),) if return_outputs else ())
        if distributed:
            result = broadcast_from_main(result)
        return result

    def _score(self, records: list, image_ids: list, timing: InferenceTiming) -> Tuple[float, float, str]:
        self.last_timing = timing
        results_file = self.results_file or (TESTDEV_RESULTS_FILE if self.testdev else None)
        if results_file is not None:
            path = write_coco_results(records, results_file)
            logger.info("wrote {} COCO detection results to {}", len(records), path)
        if self.testdev:
            self.last_scores = None
            return 0.0, 0.0, f"{timing.summary_line()}\ntest-dev: no ground truth here; submit {results_file}"
        scores = score_coco_detections(self.dataset.coco, records, image_ids=image_ids, backend=self.backend)
        if not records:
            logger.warning(scores.text)
        self.last_scores = scores
        return scores.ap50_95, scores.ap50, self._summary(scores, timing)

    def _summary(self, scores: COCOScores, timing: InferenceTiming) -> str:
        parts = [timing.summary_line(), scores.text]
        table = scores.per_class_table(with_ap=self.per_class_AP, with_ar=self.per_class_AR)
        if table and (self.per_class_AP or self.per_class_AR):
            parts.append("per class (area all):\n" + table)
        return "\n".join(parts) + "\n"


def _outputs_by_image(records: Sequence[dict]) -> dict:
    """COCO result records grouped by image: {image_id: {"bboxes": [[x, y, w, h]], "scores", "categories"}}."""
    outputs: dict = {}
    for r in records:
        entry = outputs.setdefault(r["image_id"], {"bboxes": [], "scores": [], "categories": []})
        entry["bboxes"].append(r["bbox"])
        entry["scores"].append(r["score"])
        entry["categories"].append(r["category_id"])
    return outputs
