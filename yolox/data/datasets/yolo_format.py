"""Reading Ultralytics YOLO-txt labels (``class cx cy w h``, normalised) into ImageRecords."""
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from yolox.utils.boxes import cxcywh_to_xyxy

from ..errors import AnnotationError
from .box_checks import BoxDropReport, clip_and_check, report_dropped_boxes
from .detection import ImageRecord
from .image_size import image_size_hw

__all__ = ["IMAGE_EXTENSIONS", "list_images", "labels_dir_for", "parse_yolo_label", "read_class_names",
           "read_data_yaml", "yolo_records"]

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(images_dir: str) -> List[str]:
    """Image files under ``images_dir`` (recursive), as sorted paths relative to it."""
    if not os.path.isdir(images_dir):
        raise FileNotFoundError(f"YOLO image folder not found: {images_dir}")
    root = Path(images_dir)
    found = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(found)


def labels_dir_for(images_dir: str) -> str:
    """Ultralytics rule: the last ``images`` folder of the path becomes ``labels``."""
    parts = Path(images_dir).parts
    if "images" not in parts:
        raise ValueError(f"cannot derive the labels folder of {images_dir} (no 'images' in the path); pass labels_dir=")
    k = len(parts) - 1 - parts[::-1].index("images")
    return str(Path(*parts[:k], "labels", *parts[k + 1:]))


def read_data_yaml(path: str) -> Dict:
    """An Ultralytics data yaml (``path``, ``train``, ``val``, ``test``, ``names``)."""
    import yaml  # only data yaml files need PyYAML

    with open(path, "r", encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict) or "names" not in data:
        raise AnnotationError(f"{path}: a YOLO data yaml needs a 'names' entry")
    return data


def _names_from(value, source: str) -> List[str]:
    if isinstance(value, dict):  # {0: person, 1: bicycle, ...}
        keys = sorted(int(k) for k in value)
        if keys != list(range(len(keys))):
            raise AnnotationError(f"{source}: class indices in 'names' must be 0..N-1, got {keys}")
        return [str(value[k]) for k in keys]
    return [str(v) for v in value]


def read_class_names(source) -> List[str]:
    """Class names from a sequence, a data yaml (``names``) or a text file with one name a line."""
    if not isinstance(source, (str, os.PathLike)):
        return [str(v) for v in source]
    path = str(source)
    if path.endswith((".yaml", ".yml")):
        return _names_from(read_data_yaml(path)["names"], path)
    with open(path, "r", encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def _parse_line(line: str, where: str, num_classes: int) -> List[float]:
    parts = line.split()
    if len(parts) != 5:
        raise AnnotationError(f"{where}: expected 'class cx cy w h', got {len(parts)} values: {line.strip()!r}")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        raise AnnotationError(f"{where}: not numbers: {line.strip()!r}") from None
    if not values[0].is_integer() or not 0 <= values[0] < num_classes:
        raise AnnotationError(f"{where}: class {parts[0]} is not an integer in 0..{num_classes - 1}")
    return values


def parse_yolo_label(path: str, num_classes: int) -> np.ndarray:
    """[N, 5] class, cx, cy, w, h (normalised) from one label file; a missing file means no boxes."""
    if not os.path.isfile(path):
        return np.zeros((0, 5), dtype=np.float64)
    with open(path, "r", encoding="utf-8") as handle:
        rows = [_parse_line(line, f"{path}:{n}", num_classes) for n, line in enumerate(handle, 1) if line.strip()]
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def yolo_records(images_dir: str, labels_dir: str, class_names: Sequence[str]) -> Tuple[List[ImageRecord],
                                                                                      BoxDropReport]:
    """ImageRecords for every image under images_dir; image ids are positions; no label file = negative."""
    files = list_images(images_dir)
    paths = [os.path.join(images_dir, f) for f in files]
    label_paths = [os.path.join(labels_dir, os.path.splitext(f)[0] + ".txt") for f in files]
    with ThreadPoolExecutor(8) as pool:  # header reads are I/O bound
        sizes = list(pool.map(image_size_hw, paths))
    labels = [parse_yolo_label(p, len(class_names)) for p in label_paths]
    counts = [len(lab) for lab in labels]
    owner = np.repeat(np.arange(len(files)), counts)
    rows = np.concatenate(labels) if labels else np.zeros((0, 5))
    wh = np.array([[w, h] for h, w in sizes], dtype=np.float64).reshape(-1, 2)[owner]
    boxes, reason = clip_and_check(cxcywh_to_xyxy(rows[:, 1:5]) * np.tile(wh, 2), wh)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def describe(i: int) -> str:
        return f"{label_paths[owner[i]]} line {i - starts[owner[i]] + 1} {rows[i].tolist()}"

    report = report_dropped_boxes(f"YOLO labels in {labels_dir}", reason, describe)
    records = []
    for k, (h, w) in enumerate(sizes):
        keep = reason[starts[k]:starts[k + 1]] == 0
        records.append(ImageRecord(
            img_id=k, file_name=files[k], path=paths[k], height=int(h), width=int(w),
            boxes=boxes[starts[k]:starts[k + 1]][keep], classes=rows[starts[k]:starts[k + 1], 0][keep].astype(np.int64),
            difficult=np.zeros(int(keep.sum()), dtype=bool),
        ))
    return records, report
