"""COCOEvaluator: COCO bbox AP of a model on an eval loader (Megvii YOLOX's interface).

Flow (predict and gather in DetectionEvaluator): loader -> model -> postprocess (score, NMS) ->
gather on rank 0 -> undo letterbox -> contiguous class -> dataset category id -> COCO results ->
COCOeval -> summary + per-class table.
"""
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch
from loguru import logger

from yolox.utils.dist import is_main_process

from .base_evaluator import DetectionEvaluator, EvalResult
from .coco_results import predictions_to_coco, write_coco_results
from .coco_scoring import DEFAULT_BACKEND, COCOScores, check_backend, score_coco_detections
from .inference import ImagePrediction, InferenceTiming, split_image_infos

__all__ = ["COCOEvaluator"]

TESTDEV_RESULTS_FILE = "yolox_testdev_2017.json"


class COCOEvaluator(DetectionEvaluator):
    """COCO AP of a detector on ``dataloader``, whose dataset exposes ``coco`` (pycocotools COCO of
    the ground truth) and ``class_ids`` (category id of each contiguous class).

    img_size: (height, width) the loader letterboxes to; confthre / nmsthre: postprocess thresholds;
    testdev: no ground truth, only write the results file. Keyword-only extras: ``backend``
    ("faster_coco_eval", the default, or "pycocotools", the reference; same numbers) and
    ``results_file`` (write the COCO results json there on every evaluation). ``evaluate``
    returns ``(ap50_95, ap50, summary)``, plus ``{image_id: {"bboxes", "scores", "categories"}}``
    in original pixels when ``return_outputs``. After it, ``last_scores`` and ``last_timing`` hold
    the structured figures behind the summary text.
    """

    def __init__(self, dataloader, img_size: Tuple[int, int], confthre: float, nmsthre: float, num_classes: int,
                 testdev: bool = False, per_class_AP: bool = True, per_class_AR: bool = True, *,
                 backend: str = DEFAULT_BACKEND, results_file: Optional[Union[str, Path]] = None):
        super().__init__(dataloader=dataloader, img_size=img_size, confthre=confthre, nmsthre=nmsthre,
                         num_classes=num_classes)
        self.testdev = testdev
        self.per_class_AP = per_class_AP
        self.per_class_AR = per_class_AR
        self.backend = check_backend(backend)
        self.results_file = results_file
        self.last_scores: Optional[COCOScores] = None

    def _score(self, predictions: List[ImagePrediction], timing: InferenceTiming) -> EvalResult:
        records = predictions_to_coco(predictions, test_size=self.img_size, class_ids=self.dataset.class_ids)
        return self._score_records(records, image_ids=[p.image_id for p in predictions], timing=timing)

    def _score_records(self, records: List[dict], *, image_ids: Optional[Sequence[int]],
                       timing: InferenceTiming) -> EvalResult:
        """Figures of COCO result ``records`` over ``image_ids`` (None: every ground-truth image)."""
        outputs = _outputs_by_image(records)
        results_file = self.results_file or (TESTDEV_RESULTS_FILE if self.testdev else None)
        if results_file is not None:
            path = write_coco_results(records, results_file)
            logger.info("wrote {} COCO detection results to {}", len(records), path)
        if self.testdev:
            self.last_scores = None
            summary = f"{timing.summary_line()}\ntest-dev: no ground truth here; submit {results_file}"
            return EvalResult(ap50_95=0.0, ap50=0.0, summary=summary, outputs=outputs)
        scores = score_coco_detections(self.dataset.coco, records, image_ids=image_ids, backend=self.backend)
        if not records:
            logger.warning(scores.text)
        self.last_scores = scores
        return EvalResult(ap50_95=scores.ap50_95, ap50=scores.ap50, summary=self._summary(scores, timing),
                          outputs=outputs)

    def convert_to_coco_format(self, outputs: Sequence[Optional[torch.Tensor]], info_imgs, ids,
                               return_outputs: bool = False):
        """Megvii's step from one batch's ``postprocess`` output to COCO result records.

        outputs: per image [N, 7] x1, y1, x2, y2, obj, cls_conf, class in letterboxed pixels, or
        None; info_imgs: the batch's original sizes as the loader collates them ((heights,
        widths)); ids: the image ids. Returns the records (``{"image_id", "category_id", "bbox":
        [x, y, w, h] original pixels, "score"}``), and with ``return_outputs`` also
        ``{image_id: {"bboxes": [[x1, y1, x2, y2]] original pixels, "scores", "categories"}}`` for
        the images with detections, as Megvii's (its trackers read these corners).
        """
        sizes = split_image_infos(info_imgs, len(ids))
        predictions = [ImagePrediction(image_id=int(i), orig_size=size, detections=det)
                       for det, size, i in zip(outputs, sizes, ids)]
        records = predictions_to_coco(predictions, test_size=self.img_size, class_ids=self.dataset.class_ids)
        if not return_outputs:
            return records
        return records, _outputs_by_image(records, corners=True)

    def evaluate_prediction(self, data_dict: List[dict], statistics) -> Tuple[float, float, Optional[str]]:
        """Megvii's scoring step: COCO result records (``convert_to_coco_format``'s, all batches)
        and ``statistics`` [3] (forward seconds, NMS seconds, number of timed batches) ->
        ``(ap50_95, ap50, summary)`` over every ground-truth image. Other ranks than 0 get
        ``(0, 0, None)``, as in Megvii."""
        if not is_main_process():
            return 0, 0, None
        forward_s, nms_s, batches = (float(v) for v in statistics)
        batch_size = getattr(self.dataloader, "batch_size", None) or 1
        timing = InferenceTiming(images=int(round(batches * batch_size)), forward_s=forward_s, nms_s=nms_s)
        result = self._score_records(list(data_dict), image_ids=None, timing=timing)
        return result.ap50_95, result.ap50, result.summary

    def _summary(self, scores: COCOScores, timing: InferenceTiming) -> str:
        parts = [timing.summary_line(), scores.text]
        table = scores.per_class_table(with_ap=self.per_class_AP, with_ar=self.per_class_AR)
        if table and (self.per_class_AP or self.per_class_AR):
            parts.append("per class (area all):\n" + table)
        return "\n".join(parts) + "\n"


def _outputs_by_image(records: Sequence[dict], *, corners: bool = False) -> dict:
    """COCO result records grouped by image: {image_id: {"bboxes": [[x, y, w, h]], "scores", "categories"}},
    boxes as [x1, y1, x2, y2] when ``corners``."""
    outputs: dict = {}
    for r in records:
        entry = outputs.setdefault(r["image_id"], {"bboxes": [], "scores": [], "categories": []})
        x, y, w, h = r["bbox"]
        entry["bboxes"].append([x, y, x + w, y + h] if corners else r["bbox"])
        entry["scores"].append(r["score"])
        entry["categories"].append(r["category_id"])
    return outputs
