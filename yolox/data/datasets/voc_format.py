"""Reading PASCAL VOC xml annotations into ImageRecords.

VOC corners are 1-based and inclusive (pixel i spans [i-1, i]), so a box covers
[xmin - 1, xmax] in the 0-based continuous coordinates the rest of the code uses: the same box a
COCO json made with the usual conversion holds (width xmax - xmin + 1). A box with xmax == xmin
or ymax == ymin is a click without a drag, not a one-pixel object: it is dropped as zero size.
"""
import glob
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import AnnotationError
from .box_checks import BoxDropReport, clip_and_check, report_dropped_boxes
from .detection import ImageRecord

__all__ = ["VocAnnotation", "parse_voc_xml", "voc_to_xyxy", "discover_voc_classes", "voc_records", "read_image_set"]


@dataclass
class VocAnnotation:
    """One xml file: image size (None when absent), object names, raw 1-based corners [N, 4], difficult [N]."""

    path: str
    width: Optional[int]
    height: Optional[int]
    names: List[str]
    corners: np.ndarray
    difficult: np.ndarray


def _parse_xml(path: str) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise AnnotationError(f"{path}: not valid VOC xml: {err}") from err


def _number(obj: ET.Element, tag: str, path: str, index: int) -> float:
    text = obj.findtext(f"bndbox/{tag}")
    try:
        return float(text)
    except (TypeError, ValueError):
        raise AnnotationError(f"{path}: object {index} has no numeric bndbox/{tag} (got {text!r})") from None


def parse_voc_xml(path: str) -> VocAnnotation:
    """Parse one VOC xml file; objects without a name or a numeric bndbox are errors."""
    root = _parse_xml(path)
    names, corners, difficult = [], [], []
    for i, obj in enumerate(root.iter("object")):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise AnnotationError(f"{path}: object {i} has no <name>")
        names.append(name)
        corners.append([_number(obj, tag, path, i) for tag in ("xmin", "ymin", "xmax", "ymax")])
        difficult.append(int(float(obj.findtext("difficult") or 0)) == 1)
    size = root.find("size")
    width = int(float(size.findtext("width") or 0)) if size is not None else 0
    height = int(float(size.findtext("height") or 0)) if size is not None else 0
    return VocAnnotation(path, width or None, height or None, names,
                         np.array(corners, dtype=np.float64).reshape(-1, 4), np.array(difficult, dtype=bool))


def voc_to_xyxy(corners: np.ndarray) -> np.ndarray:
    """[N, 4] 1-based inclusive VOC corners -> [N, 4] x1, y1, x2, y2 (0-based, continuous)."""
    x1, y1 = corners[:, 0] - 1, corners[:, 1] - 1
    # Equal min and max is a zero-size click: keep it zero-size so it is dropped, not one pixel wide.
    x2 = np.where(corners[:, 2] > corners[:, 0], corners[:, 2], x1)
    y2 = np.where(corners[:, 3] > corners[:, 1], corners[:, 3], y1)
    return np.stack([x1, y1, x2, y2], axis=1)


def read_image_set(root: str, image_set: str) -> List[str]:
    """Image ids listed in ``<root>/ImageSets/Main/<image_set>.txt``."""
    path = os.path.join(root, "ImageSets", "Main", f"{image_set}.txt")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VOC image set file not found: {path}")
    with open(path, "r", encoding="utf-8") as handle:
        return [line.split()[0] for line in handle if line.strip()]


def discover_voc_classes(roots: Sequence[str]) -> List[str]:
    """Sorted object names over every xml in ``<root>/Annotations`` (the same for all splits)."""
    names = set()
    for root in roots:
        for path in glob.glob(os.path.join(root, "Annotations", "*.xml")):
            names.update((obj.findtext("name") or "").strip() for obj in _parse_xml(path).iter("object"))
    names.discard("")
    return sorted(names)


def _class_indices(ann: VocAnnotation, lookup: Dict[str, int]) -> np.ndarray:
    unknown = sorted({n for n in ann.names if n not in lookup})
    if unknown:
        raise AnnotationError(
            f"{ann.path}: class name(s) {unknown} not in class_names {list(lookup)}; pass class_names= to VOCDetection"
        )
    return np.array([lookup[n] for n in ann.names], dtype=np.int64)


def voc_records(
    entries: Sequence[Tuple[str, str]], class_names: Sequence[str], image_size_fn, source: str = "VOC annotations"
) -> Tuple[List[ImageRecord], BoxDropReport]:
    """ImageRecords for (root, image id) pairs; image ids of the records are their positions.

    ``image_size_fn(path) -> (h, w)`` is used when an xml has no <size>.
    """
    lookup = {name: i for i, name in enumerate(class_names)}
    anns = [parse_voc_xml(os.path.join(root, "Annotations", f"{name}.xml")) for root, name in entries]
    paths = [os.path.join(root, "JPEGImages", f"{name}.jpg") for root, name in entries]
    sizes = [(a.height, a.width) if a.width and a.height else image_size_fn(p) for a, p in zip(anns, paths)]
    counts = [len(a.names) for a in anns]
    owner = np.repeat(np.arange(len(anns)), counts)
    corners = np.concatenate([a.corners for a in anns]) if anns else np.zeros((0, 4))
    img_wh = np.array([[w, h] for h, w in sizes], dtype=np.float64).reshape(-1, 2)[owner]
    boxes, reason = clip_and_check(voc_to_xyxy(corners), img_wh)
    starts = np.concatenate([[0], np.cumsum(counts)])

    def describe(i: int) -> str:
        a = anns[owner[i]]
        obj = i - starts[owner[i]]
        return f"{os.path.basename(a.path)} object {obj} ({a.names[obj]}) at {corners[i].astype(int).tolist()}"

    report = report_dropped_boxes(source, reason, describe)
    records = []
    for k, (ann, (_, name), (h, w)) in enumerate(zip(anns, entries, sizes)):
        keep = reason[starts[k]:starts[k + 1]] == 0
        records.append(ImageRecord(
            img_id=k, file_name=f"{name}.jpg", path=paths[k], height=int(h), width=int(w),
            boxes=boxes[starts[k]:starts[k + 1]][keep], classes=_class_indices(ann, lookup)[keep],
            difficult=ann.difficult[keep],
        ))
    return records, report
