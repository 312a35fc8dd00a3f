"""Predictor: one BGR image in, detections in that image's pixels out (the demo's engine)."""
import time
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from yolox.utils.boxes import letterbox_scale, postprocess
from yolox.utils.precision import Precision
from yolox.utils.visualize import vis

from .detections import Detections  # re-exported: its home before the Detector

__all__ = ["Detections", "Predictor"]


class Predictor:
    """Letterbox (ValTransform) -> model -> postprocess -> undo the letterbox.

    model: a YOLOX in eval mode whose head decodes boxes; test_size: (height, width);
    conf / nms: score and NMS IoU thresholds; fp16: autocast in the device's reduced precision
    (fp16 on CUDA, bf16 on a CPU; ``yolox.utils.precision``), or "fp16" / "bf16" by name.
    """

    def __init__(self, model: nn.Module, *, num_classes: int, test_size: Tuple[int, int], conf: float = 0.3,
                 nms: float = 0.45, class_names: Optional[Sequence[str]] = None, fp16: Union[bool, str, None] = False,
                 legacy: bool = False):
        from yolox.data.data_augment import ValTransform

        self.model = model
        self.num_classes = num_classes
        self.test_size = tuple(test_size)
        self.conf = conf
        self.nms = nms
        self.class_names = list(class_names) if class_names is not None else None
        self.fp16 = fp16
        self.device = next(model.parameters()).device
        self.precision = Precision.resolve(fp16, self.device)
        self.preproc = ValTransform(legacy=legacy)

    def preprocess(self, img: np.ndarray) -> Tuple[torch.Tensor, float]:
        """img [H, W, 3] uint8 BGR -> ([1, 3, h, w] float32 on the model's device, resize ratio)."""
        if img is None or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"Predictor expects an [H, W, 3] BGR image, got "
                             f"{None if img is None else img.shape}")
        tensor, _ = self.preproc(img, None, self.test_size)
        ratio = letterbox_scale(img.shape[:2], self.test_size)
        return torch.from_numpy(tensor).unsqueeze(0).to(self.device), ratio

    @torch.no_grad()
    def predict(self, img: np.ndarray) -> Detections:
        """Detections of ``img`` above ``conf`` after NMS, in its own pixels."""
        tensor, ratio = self.preprocess(img)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the image's copy and earlier GPU work stay out of the time
        start = time.perf_counter()
        with self.precision.autocast():
            outputs = self.model(tensor)  # [1, A, 5 + C]
        (det,) = postprocess(outputs.float(), self.num_classes, self.conf, self.nms)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed_ms = 1000.0 * (time.perf_counter() - start)
        if det is None:
            return Detections.empty(elapsed_ms, self.class_names)
        det = det.cpu()
        return Detections(
            boxes=(det[:, :4] / ratio).numpy().astype(np.float32),
            scores=(det[:, 4] * det[:, 5]).numpy().astype(np.float32),
            class_ids=det[:, 6].long().numpy(),
            inference_ms=elapsed_ms,
            class_names=self.class_names,
        )

    def draw(self, img: np.ndarray, detections: Detections) -> np.ndarray:
        """A copy of ``img`` with the detections drawn (every one: they already passed ``conf``)."""
        return vis(img.copy(), detections.boxes, detections.scores, detections.class_ids, conf=0.0,
                   class_names=self.class_names)
