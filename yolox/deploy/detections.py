"""One image's detections in its own pixels, and their conversion to COCO results and YOLO txt.

Imports only numpy (torch-free): what every Detector backend and the torch Predictor return.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["Detections"]


@dataclass
class Detections:
    """One image's detections in original-image pixels: boxes [N, 4] x1, y1, x2, y2 float32,
    scores [N] (objectness x class confidence), class_ids [N] int64 contiguous class index, best
    score first. class_names: the model's names, indexed by class id (None: unnamed)."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    inference_ms: float = 0.0
    class_names: Optional[Sequence[str]] = None

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, inference_ms: float = 0.0, class_names: Optional[Sequence[str]] = None) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), inference_ms,
                   class_names)

    @property
    def labels(self) -> List[str]:
        """[N] the class name of each detection (its id as text where the model has no names)."""
        names = self.class_names
        return [str(names[c]) if names is not None and c < len(names) else str(c) for c in self.class_ids.tolist()]

    def to_coco(self, image_id: int, category_ids: Optional[Sequence[int]] = None) -> List[dict]:
        """COCO results records ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``.

        category_ids: the dataset category id of each contiguous class; default COCO's ids when
        the classes are COCO's 80, else the class index itself."""
        from .saved_detections import coco_records, default_category_ids

        ids = category_ids if category_ids is not None else default_category_ids(self.class_names)
        return coco_records(self, image_id=image_id, category_ids=ids)

    def to_yolo_txt(self, image_hw: Tuple[int, int]) -> str:
        """YOLO txt: a line ``class cx cy w h score`` per detection, box normalised by image_hw (h, w)."""
        from .saved_detections import yolo_txt_lines

        return "".join(yolo_txt_lines(self, image_hw))
