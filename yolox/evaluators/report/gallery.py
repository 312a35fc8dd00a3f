"""The worst images of an evaluation: most boxes missed plus false detections at the report's
confidence, each drawn with its ground truth and its detections in two colours."""
import math
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import cv2
import numpy as np

from yolox.utils.visualize import draw_box

from .confusion import image_errors
from .matching import Matches

__all__ = ["GT_COLOR", "DET_COLOR", "worst_images", "plot_gallery"]

GT_COLOR = (60, 180, 60)  # BGR green: ground truth
DET_COLOR = (40, 40, 220)  # BGR red: detections at or above the confidence


def worst_images(matches: Matches, *, confidence: float, count: int) -> List[dict]:
    """Up to ``count`` images with errors, most first: [{"index", "image_id", "file_name",
    "missed", "false", "confused"}]; a box found under the wrong class counts as one missed box and
    one false detection, as in the per-class table."""
    rows = []
    for index, (image, match) in enumerate(zip(matches.images, matches.per_image)):
        errors = image_errors(image, match, confidence=confidence, iou_thresh=matches.iou_thresh)
        confused = len(errors["confused"])
        rows.append({"index": index, "image_id": image.image_id, "file_name": image.file_name,
                     "missed": len(errors["missed"]) + confused, "false": len(errors["false"]) + confused,
                     "confused": confused})
    rows = [r for r in rows if r["missed"] + r["false"] > 0]
    rows.sort(key=lambda r: (-(r["missed"] + r["false"]), r["image_id"]))
    return rows[:count]


def _drawn(img: np.ndarray, image, *, confidence: float, names: Sequence[str], max_side: int) -> np.ndarray:
    """A copy of ``img`` (BGR) resized to ``max_side`` with GT and detections drawn, as RGB. Small
    images are enlarged first, so that the labels, drawn at a fixed pixel size, do not cover them."""
    scale = max_side / max(img.shape[:2])
    img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                     interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)
    for box, cls, ignored in zip(image.gt_boxes, image.gt_classes, image.gt_ignore):
        label = names[cls] + (" (ignored)" if ignored else "")
        draw_box(img, box * scale, color=GT_COLOR, label=label, thickness=1 if ignored else 2)
    for box, cls, score in zip(image.det_boxes, image.det_classes, image.det_scores):
        if score >= confidence:
            draw_box(img, box * scale, color=DET_COLOR, label=f"{names[cls]} {score:.2f}")
    return img[:, :, ::-1]


def plot_gallery(matches: Matches, worst: List[dict], *, image_path: Callable[[int], Optional[Path]],
                 names: Sequence[str], confidence: float, title: str, max_side: int = 400):
    """A grid of the ``worst`` images (``worst_images``'s rows); ``image_path(image_id)`` finds
    each file. None when no image could be read. Pictures are drawn at ``max_side`` pixels, about
    a panel's size in the saved figure, so the box labels keep their size there."""
    from .figures import new_figure

    pictures = []
    for row in worst:
        path = image_path(row["image_id"])
        img = cv2.imread(str(path)) if path is not None else None
        if img is not None:
            image = matches.images[row["index"]]
            pictures.append((row, _drawn(img, image, confidence=confidence, names=names, max_side=max_side)))
    if not pictures:
        return None
    cols = min(4, len(pictures))
    rows = math.ceil(len(pictures) / cols)
    figure = new_figure((4.6 * cols, 4.0 * rows + 0.6))
    for n, (row, picture) in enumerate(pictures):
        ax = figure.add_subplot(rows, cols, n + 1)
        ax.imshow(picture)
        ax.set_title(f"{row['file_name']}\n{row['missed']} missed, {row['false']} false", fontsize=9)
        ax.axis("off")
    figure.suptitle(f"{title}\ngreen: ground truth, red: detections with confidence >= {confidence:.3f} (IoU 0.50)")
    return figure
