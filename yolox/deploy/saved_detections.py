"""The demo's detections saved as data: a COCO results json and/or YOLO txt files, in the
original image's pixels.

COCO results json: one list of ``{"image_id", "file_name", "category_id", "bbox": [x, y, w, h],
"score"}`` (plus ``"frame"`` for a video), the format ``COCO.loadRes`` and the evaluators read.
An image's id is the number its file name spells when it is one (COCO's 000000000139.jpg is 139,
so the file scores against COCO's ground truth), else its position in the sorted listing; a video
frame's id is its index. ``category_id`` is COCO's category id when the model's classes are
COCO's 80, else the contiguous class index.

YOLO txt: one ``<image stem>.txt`` (``<video stem>_<frame>.txt``) per image, a line per detection
``class cx cy w h score``, box normalised by the image size, the score appended as a sixth column
(as ultralytics' --save-conf). An image without detections gets an empty file, so "nothing found"
and "not run" differ. Every file is written atomically.
"""
import json
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from yolox.utils.atomic_io import atomic_write

from .detections import Detections

__all__ = ["COCO_CATEGORY_IDS", "SavedDetections", "image_id_of", "coco_records", "default_category_ids",
           "yolo_txt_lines"]

# The category ids of COCO's 80 classes, in COCO_CLASSES' order (1..90 with gaps).
COCO_CATEGORY_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
                     31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
                     56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
                     85, 86, 87, 88, 89, 90)


def image_id_of(path: Union[str, Path], position: int) -> int:
    """The id of an image file: the number its stem spells, else ``position``."""
    stem = Path(path).stem
    return int(stem) if stem.isdigit() else position


def default_category_ids(class_names: Optional[Sequence[str]]) -> Optional[Tuple[int, ...]]:
    """COCO's category ids when ``class_names`` are COCO's 80 classes, else None (the class index)."""
    from yolox.data.datasets.coco_classes import COCO_CLASSES

    return COCO_CATEGORY_IDS if class_names is not None and tuple(class_names) == tuple(COCO_CLASSES) else None


def coco_records(detections: Detections, *, image_id: int, category_ids: Optional[Sequence[int]] = None) -> List[dict]:
    """One COCO results record per detection: image_id, category_id (``category_ids[class]``, else
    the class index), bbox [x, y, w, h] and score, rounded to 0.01 px and 1e-5."""
    boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)  # [N, 4] x1, y1, x2, y2 pixels
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)  # numpy: boxes.py needs torch
    return [{"image_id": int(image_id), "category_id": int(category_ids[c]) if category_ids else c,
             "bbox": [round(v, 2) for v in box], "score": round(float(score), 5)}
            for box, c, score in zip(xywh.tolist(), [int(c) for c in detections.class_ids], detections.scores)]


def yolo_txt_lines(detections: Detections, image_hw: Tuple[int, int]) -> List[str]:
    """One ``class cx cy w h score\\n`` line per detection, box normalised by image_hw (h, w)."""
    h, w = image_hw
    boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)
    return [f"{int(c)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f} "
            f"{float(score):.5f}\n"
            for (x1, y1, x2, y2), c, score in zip(boxes.tolist(), detections.class_ids, detections.scores)]


class SavedDetections:
    """Collects a demo's detections; ``add`` writes an image's txt at once, ``close`` the json.

    json_path: where the COCO results json goes (None: no json); txt_dir: the folder of the YOLO
    txt files (None: none); class_names: the model's, to tell COCO's classes.
    """

    def __init__(self, *, json_path: Optional[Path] = None, txt_dir: Optional[Path] = None,
                 class_names: Optional[Sequence[str]] = None):
        self.json_path = json_path
        self.txt_dir = txt_dir
        self.category_ids = default_category_ids(class_names)
        self.records: List[dict] = []
        self.images = 0

    def add(self, detections: Detections, *, image_id: int, file_name: str, size: Tuple[int, int],
            frame: Optional[int] = None) -> None:
        """One image's (or frame's) detections; size: its (height, width)."""
        self.images += 1
        if self.json_path is not None:
            for record in coco_records(detections, image_id=image_id, category_ids=self.category_ids):
                record = {"image_id": record["image_id"], "file_name": file_name, **record}
                if frame is not None:
                    record["frame"] = frame
                self.records.append(record)
        if self.txt_dir is not None:
            stem = Path(file_name).stem if frame is None else f"{Path(file_name).stem}_{frame:06d}"
            with atomic_write(self.txt_dir / f"{stem}.txt", "w") as handle:
                handle.writelines(yolo_txt_lines(detections, size))

    def close(self) -> Optional[Path]:
        """Write the json (when asked for); returns its path."""
        if self.json_path is None:
            return None
        with atomic_write(self.json_path, "w") as handle:
            json.dump(self.records, handle)
        return self.json_path
