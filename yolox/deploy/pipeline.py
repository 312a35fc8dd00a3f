"""The Detector's pre- and post-processing, the same for every backend: letterbox, decode of raw
outputs, score filter + NMS (``yolox.utils.boxes.postprocess``'s rules), undo the letterbox.

Imports only numpy and cv2 (through the torch-free letterbox, demo_utils, visualize modules), so
the ONNX Runtime path runs without torch.
"""
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from yolox.utils.demo_utils import demo_postprocess, nms
from yolox.utils.letterbox import legacy_normalize, preproc

from .detections import Detections

__all__ = ["ImageSource", "read_image", "letterbox_images", "anchor_count", "decode_outputs", "select_detections",
           "postprocess_numpy", "to_detections"]

ImageSource = Union[str, Path, np.ndarray]


def read_image(source: ImageSource) -> np.ndarray:
    """A path (read with cv2) or an [H, W, 3] uint8 BGR array -> [H, W, 3] uint8 BGR."""
    if isinstance(source, (str, Path)):
        img = cv2.imread(str(source))
        if img is None:
            raise FileNotFoundError(f"cannot read the image {str(source)!r} (missing or not an image)")
        return img
    if not isinstance(source, np.ndarray) or source.ndim != 3 or source.shape[2] != 3:
        raise ValueError(f"expected an image path or an [H, W, 3] BGR array, got "
                         f"{getattr(source, 'shape', type(source).__name__)}")
    return source


def letterbox_images(images: Sequence[np.ndarray], input_size: Tuple[int, int], *,
                     legacy: bool = False) -> Tuple[np.ndarray, List[float]]:
    """images: B [H, W, 3] BGR -> ([B, 3, h, w] float32 letterboxed as ValTransform does, B resize ratios)."""
    blobs, ratios = [], []
    for img in images:
        blob, ratio = preproc(img, tuple(input_size))
        blobs.append(legacy_normalize(blob) if legacy else blob)
        ratios.append(ratio)
    return np.stack(blobs), ratios


def anchor_count(input_size: Tuple[int, int], strides: Sequence[int]) -> int:
    """A: the number of predictions of an input of input_size (h, w) over the levels ``strides``."""
    return sum((input_size[0] // s) * (input_size[1] // s) for s in strides)


def decode_outputs(outputs: np.ndarray, input_size: Tuple[int, int], strides: Sequence[int]) -> np.ndarray:
    """outputs: [B, A, 5 + C] raw (dx, dy, log w, log h) -> a new [B, A, 5 + C] float32 with cx, cy, w, h
    in input pixels (``demo_postprocess`` on a copy)."""
    expected = anchor_count(input_size, strides)
    if outputs.ndim != 3 or outputs.shape[1] != expected:
        raise ValueError(f"the model returns {tuple(outputs.shape)}, but an input of {tuple(input_size)} with "
                         f"strides {tuple(strides)} has {expected} predictions: check the file's input size")
    return demo_postprocess(np.array(outputs, dtype=np.float32), input_size, strides=strides)


def select_detections(prediction: np.ndarray, *, conf: float, nms_thr: float) -> Optional[np.ndarray]:
    """prediction: [A, 5 + C] decoded -> [N, 7] x1, y1, x2, y2, objectness, class confidence, class
    (input pixels, best score first), or None; ``postprocess``'s rules: each box keeps its best class,
    score = objectness x class confidence >= conf, NMS within each class with torchvision's IoU."""
    class_conf = prediction[:, 5:].max(axis=1)
    class_pred = prediction[:, 5:].argmax(axis=1)
    scores = prediction[:, 4] * class_conf
    rows = np.nonzero(scores >= conf)[0]
    if rows.size == 0:
        return None
    cx, cy, w, h = (prediction[rows, k] for k in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)  # [N, 4] x1, y1, x2, y2
    det = np.concatenate([boxes, prediction[rows, 4:5], class_conf[rows, None],
                          class_pred[rows, None].astype(prediction.dtype)], axis=1)
    candidate_scores = scores[rows]
    kept = np.concatenate([group[nms(boxes[group], candidate_scores[group], nms_thr, inclusive=False)]
                           for group in _indices_per_class(class_pred[rows])])
    order = np.argsort(-candidate_scores[kept], kind="stable")
    return det[kept[order]]


def _indices_per_class(classes: np.ndarray) -> List[np.ndarray]:
    """classes: [N] -> the indices of each class present, class by class."""
    return [np.nonzero(classes == c)[0] for c in np.unique(classes)]


def postprocess_numpy(outputs: np.ndarray, *, conf: float, nms_thr: float) -> List[Optional[np.ndarray]]:
    """outputs: [B, A, 5 + C] decoded -> per image [N, 7] (``select_detections``) or None, as
    ``yolox.utils.boxes.postprocess`` (class-aware) returns them."""
    return [select_detections(prediction, conf=conf, nms_thr=nms_thr) for prediction in outputs]


def to_detections(det: Optional[np.ndarray], ratio: float, *, class_names: Optional[Sequence[str]] = None,
                  inference_ms: float = 0.0) -> Detections:
    """det: [N, 7] in letterboxed pixels (or None) -> Detections in original-image pixels."""
    if det is None:
        return Detections.empty(inference_ms, class_names)
    return Detections(boxes=(det[:, :4] / ratio).astype(np.float32), scores=(det[:, 4] * det[:, 5]).astype(np.float32),
                      class_ids=det[:, 6].astype(np.int64), inference_ms=inference_ms, class_names=class_names)
