"""What the COCO and VOC evaluators share: their construction and the flow

    predict every rank's share of the loader -> gather on rank 0 -> score on rank 0
    -> rank 0's figures on every rank (so all ranks agree on best-checkpoint decisions).

A subclass only says how it turns the gathered predictions into figures (``_score``).
"""
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from torch import nn

from yolox.utils.dist import is_main_process

from .distributed import broadcast_from_main, gather_predictions
from .inference import ImagePrediction, InferenceTiming, predict_loader

__all__ = ["EvalResult", "DetectionEvaluator"]


@dataclass
class EvalResult:
    """A scored evaluation: the two headline numbers (0-1), the printable summary, and what
    ``evaluate(..., return_outputs=True)`` hands back as its fourth item."""

    ap50_95: float
    ap50: float
    summary: str
    outputs: Any = None


class DetectionEvaluator:
    """A detector evaluated on ``dataloader``, whose batches are ``(images, targets, img_infos,
    img_ids)`` and whose dataset exposes ``coco`` (the ground truth) and ``class_ids``.

    img_size: (height, width) the loader letterboxes to; confthre / nmsthre: postprocess
    thresholds; num_classes: the model's classes. After ``evaluate``, ``last_timing`` holds the
    forward and NMS times of the pass, and, when ``keep_predictions`` is set, ``last_predictions``
    every image's detections (rank 0; what an evaluation report is drawn from).
    """

    def __init__(self, *, dataloader, img_size: Tuple[int, int], confthre: float, nmsthre: float,
                 num_classes: int):
        self.dataloader = dataloader
        self.img_size = tuple(img_size)
        self.confthre = confthre
        self.nmsthre = nmsthre
        self.num_classes = num_classes
        self.last_timing: Optional[InferenceTiming] = None
        # Off by default: training evaluates often and would hold a whole pass of detections for nothing.
        self.keep_predictions = False
        self.last_predictions: Optional[List[ImagePrediction]] = None

    @property
    def dataset(self):
        return self.dataloader.dataset

    def evaluate(self, model: nn.Module, distributed: bool = False, half: bool = False, trt_file: Optional[str] = None,
                 decoder=None, test_size=None, return_outputs: bool = False):
        """Returns ``(ap50_95, ap50, summary)`` (``summary`` a printable str), plus the subclass's
        per-image outputs when ``return_outputs``. Every rank gets rank 0's figures. ``half``: autocast
        in the device's reduced precision (fp16 on CUDA, bf16 on a CPU), or "fp16" / "bf16" by name.

        trt_file, decoder, test_size: Megvii's parameters, in Megvii's places (its tools/eval.py
        passes all six by position). Its TensorRT path, a ``trt_file`` and the ``decoder`` of the
        raw outputs of such an engine, is not supported and refused; ``test_size`` is not read (the
        loader letterboxes to ``img_size``).
        """
        if trt_file is not None or decoder is not None:
            raise ValueError("evaluate: TensorRT models (trt_file, decoder) are not supported; evaluate the PyTorch "
                             "model, or export it with tools/export_onnx.py for your TensorRT tools")
        predictions, timing = predict_loader(model, self.dataloader, num_classes=self.num_classes,
                                             confthre=self.confthre, nmsthre=self.nmsthre, half=half,
                                             progress=is_main_process())
        if distributed:
            predictions = gather_predictions(predictions)
        result = None
        if is_main_process():
            self.last_timing = timing
            self.last_predictions = predictions if self.keep_predictions else None
            scored = self._score(predictions, timing)
            result = (scored.ap50_95, scored.ap50, scored.summary) + ((scored.outputs,) if return_outputs else ())
        if distributed:
            result = broadcast_from_main(result)
        return result

    def _score(self, predictions: List[ImagePrediction], timing: InferenceTiming) -> EvalResult:
        """Figures of all images' ``predictions`` (rank 0 only; detections still in letterboxed pixels)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _score")
