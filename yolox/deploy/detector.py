"""``Detector``: one API for every model file. The backend follows the file (checkpoint, TorchScript,
ONNX, OpenVINO); letterbox, decode, NMS and undoing the letterbox are this module's, the same for all.

    from yolox import Detector
    detector = Detector("model.onnx", conf=0.3)
    dets = detector("photo.jpg")                  # Detections: boxes, scores, class_ids, labels
    batch = detector([img_bgr, "other.jpg"])      # a list in, a list out
    cv2.imwrite("drawn.jpg", detector.draw(img_bgr, batch[0]))

Imports only numpy and cv2 at the top: an ONNX file runs where torch is not installed.
"""
import time
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

from yolox.utils.visualize import vis

from .backends import Backend, open_backend
from .detections import Detections
from .metadata import ModelMetadata
from .pipeline import ImageSource, decode_outputs, letterbox_images, postprocess_numpy, read_image, to_detections

__all__ = ["Detector"]

DEFAULT_MAX_BATCH = 8  # images per forward pass when the file takes any batch size


class Detector:
    """source: a model file (.pth checkpoint, TorchScript, .onnx, OpenVINO .xml) or an opened Backend.

    exp: the experiment (a checkpoint without its own network description, a file without
    metadata); conf: score threshold (objectness x class confidence); nms: NMS IoU threshold;
    device: "cpu", "cuda", ... (None: the backend's choice); precision: None / "fp32", or "bf16" /
    "fp16" (the torch backend's autocast; others run their file's precision); class_names:
    replace the file's names; legacy: Megvii's old preprocessing (default: the file's metadata);
    max_batch: images per forward pass when the file takes any batch. Further keywords
    (input_size, decoded, fuse, channels_last, allow_pickle) go to ``open_backend``.
    """

    def __init__(self, source: Union[str, Path, Backend], *, exp=None, conf: float = 0.25, nms: float = 0.45,
                 device: Optional[str] = None, precision: Optional[str] = None,
                 class_names: Optional[Sequence[str]] = None, legacy: Optional[bool] = None,
                 max_batch: int = DEFAULT_MAX_BATCH, **backend_options):
        if isinstance(source, (str, Path)):
            source = open_backend(source, exp=exp, device=device, precision=precision, class_names=class_names,
                                  **backend_options)
        self.backend: Backend = source
        self.conf = conf
        self.nms = nms
        self.legacy = self.metadata.legacy if legacy is None else bool(legacy)
        self.max_batch = max(1, int(max_batch))

    @property
    def metadata(self) -> ModelMetadata:
        return self.backend.metadata

    @property
    def class_names(self) -> List[str]:
        return list(self.metadata.class_names)

    def __call__(self, images: Union[ImageSource, Sequence[ImageSource]]) -> Union[Detections, List[Detections]]:
        """An image (path or [H, W, 3] BGR array) -> its Detections; a list of them -> a list."""
        if isinstance(images, (str, Path, np.ndarray)):
            return self.predict(images)
        return self.detect_batch(list(images))

    def predict(self, image: ImageSource) -> Detections:
        """One image's Detections (``Predictor.predict``'s contract: what the demo loop calls)."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[ImageSource]) -> List[Detections]:
        """Detections of each image in its own pixels, forward passes of ``batch_size`` images."""
        results: List[Detections] = []
        step = self.batch_size
        for start in range(0, len(images), step):
            results.extend(self._predict_batch([read_image(img) for img in images[start:start + step]]))
        return results

    @property
    def batch_size(self) -> int:
        """Images per forward pass: the file's fixed batch, else ``max_batch``."""
        return self.metadata.batch_size or self.max_batch

    def forward(self, blob: np.ndarray) -> np.ndarray:
        """blob: [B, 3, h, w] letterboxed -> [B, A, 5 + C] decoded (cx, cy, w, h in input pixels); a
        file with a fixed batch gets its batch, the missing images zero-filled and their rows dropped."""
        count, fixed = blob.shape[0], self.metadata.batch_size
        if fixed and count != fixed:
            if count > fixed:
                return np.concatenate([self.forward(blob[i:i + fixed]) for i in range(0, count, fixed)])
            blob = np.concatenate([blob, np.zeros((fixed - count, *blob.shape[1:]), blob.dtype)])
        outputs = self.backend(blob)[:count]
        if self.metadata.decoded:
            return outputs
        return decode_outputs(outputs, self.metadata.input_size, self.metadata.strides)

    def _predict_batch(self, images: List[np.ndarray]) -> List[Detections]:
        blob, ratios = letterbox_images(images, self.metadata.input_size, legacy=self.legacy)
        start = time.perf_counter()
        outputs = self.forward(blob)
        per_image_ms = 1000.0 * (time.perf_counter() - start) / len(images)
        detections = postprocess_numpy(outputs, conf=self.conf, nms_thr=self.nms)
        return [to_detections(det, ratio, class_names=self.class_names, inference_ms=per_image_ms)
                for det, ratio in zip(detections, ratios)]

    def draw(self, image: ImageSource, detections: Detections) -> np.ndarray:
        """A copy of the image with every detection drawn and named (they already passed ``conf``)."""
        img = read_image(image).copy()
        return vis(img, detections.boxes, detections.scores, detections.class_ids, conf=0.0,
                   class_names=self.class_names)

    def __repr__(self) -> str:
        meta = self.metadata
        return (f"Detector({self.backend.name}, {meta.num_classes} classes, input {meta.input_size}, "
                f"conf={self.conf}, nms={self.nms})")
