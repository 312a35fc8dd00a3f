"""A few validation images with the model's detections drawn on, for the sinks that show pictures.

The same first images of the evaluation set every time, so a viewer sees one picture improve over
the epochs rather than a new one each evaluation.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence

import cv2
import numpy as np

from yolox.utils.visualize import vis

__all__ = ["ImageDetections", "first_images", "draw_detections", "DRAW_CONF"]

# Evaluation keeps detections down to test_conf (0.01): drawn, those would hide the picture.
DRAW_CONF = 0.3


@dataclass
class ImageDetections:
    """One image (RGB [H, W, 3] uint8, original size) and its detections: boxes [N, 4] x1, y1, x2, y2
    original pixels, scores [N], classes [N] contiguous."""

    image_id: int
    image: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def first_images(dataset, detections: dict, count: int) -> List[ImageDetections]:
    """The first ``count`` images of ``dataset`` (its ``records`` and ``load_image``) with their entries
    in ``detections`` (COCOEvaluator's outputs: x, y, w, h and category ids)."""
    contiguous = {int(cat): i for i, cat in enumerate(dataset.class_ids)}
    picked = []
    for index, record in enumerate(dataset.records[:max(0, count)]):
        found = detections.get(record.img_id) or {"bboxes": [], "scores": [], "categories": []}
        xywh = np.asarray(found["bboxes"], dtype=np.float64).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        classes = np.array([contiguous.get(int(c), -1) for c in found["categories"]], dtype=np.int64)
        image = cv2.cvtColor(dataset.load_image(index), cv2.COLOR_BGR2RGB)
        picked.append(ImageDetections(image_id=record.img_id, image=image, boxes=boxes,
                                      scores=np.asarray(found["scores"], dtype=np.float64), classes=classes))
    return picked


def draw_detections(item: ImageDetections, class_names: Optional[Sequence[str]] = None,
                    conf: float = DRAW_CONF) -> np.ndarray:
    """A copy of the image with the detections scoring at least ``conf`` drawn, RGB [H, W, 3] uint8."""
    return vis(item.image.copy(), item.boxes, item.scores, item.classes, conf=conf, class_names=class_names)
