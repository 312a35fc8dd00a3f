"""Drawing detections, boxes and label assignments on BGR images with cv2 (the demo, the eval
previews, visualize_assign).

Imports only numpy and cv2 at the top: the torch-free ONNX Runtime demo loads this file alone.
"""
import colorsys
import random
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ["color_for", "random_color", "draw_box", "vis", "tensor_to_image", "draw_assignments",
           "visualize_assign"]


def color_for(index: int) -> Tuple[int, int, int]:
    """A distinct, bright BGR colour per class (or GT) index: hues spaced by the golden ratio,
    so neighbouring indices never look alike and the colour of an index never changes."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def random_color() -> Tuple[int, int, int]:
    """Three random channel values in [0, 255] (Megvii's name; ``color_for`` is the stable choice)."""
    return random.randint(0, 255), random.randint(0, 255), random.randint(0, 255)


def draw_box(img: np.ndarray, box: Sequence[float], *, color: Tuple[int, int, int], label: Optional[str] = None,
             thickness: int = 2) -> np.ndarray:
    """Draw box [4] x1, y1, x2, y2 (pixels) on img [H, W, 3] in place, with ``label`` on a filled tag.
    Corners beyond the picture (an untrained model's boxes can reach infinity) are drawn at its
    edge; a box with a NaN corner is not drawn."""
    corners = np.asarray([float(v) for v in box], dtype=np.float64)
    if np.isnan(corners).any():
        return img
    height, width = img.shape[:2]
    corners = np.clip(corners, -1.0, [width, height, width, height])
    x1, y1, x2, y2 = (int(round(v)) for v in corners)
    cv2.rectangle(img, (x1, y1), (x2, y2), color, thickness)
    if label:
        font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.4
        (text_w, text_h), baseline = cv2.getTextSize(label, font, scale, 1)
        # The tag sits above the box, or inside it when the box touches the top edge.
        top = y1 - text_h - baseline - 2 if y1 - text_h - baseline - 2 >= 0 else y1
        cv2.rectangle(img, (x1, top), (x1 + text_w + 2, top + text_h + baseline + 2), color, -1)
        text_color = (0, 0, 0) if sum(color) > 384 else (255, 255, 255)
        cv2.putText(img, label, (x1 + 1, top + text_h + 1), font, scale, text_color, 1, cv2.LINE_AA)
    return img


def vis(img: np.ndarray, boxes, scores, cls_ids, conf: float = 0.5,
        class_names: Optional[Sequence[str]] = None) -> np.ndarray:
    """Draw detections on ``img`` [H, W, 3] BGR uint8 in place and return it.

    boxes: [N, 4] x1, y1, x2, y2 in img pixels; scores: [N]; cls_ids: [N] contiguous class index;
    detections scoring below ``conf`` are skipped. Labels read "name score%".
    """
    boxes, scores, cls_ids = (np.asarray(_to_numpy(v)) for v in (boxes, scores, cls_ids))
    for box, score, cls in zip(boxes, scores, cls_ids):
        if score < conf:
            continue
        cls = int(cls)
        name = class_names[cls] if class_names is not None and 0 <= cls < len(class_names) else str(cls)
        draw_box(img, box, color=color_for(cls), label=f"{name} {100 * float(score):.1f}%")
    return img


def _to_numpy(values):
    """Tensors (any device) and sequences to numpy, without importing torch here."""
    if hasattr(values, "detach"):
        return values.detach().float().cpu().numpy()
    return values


def tensor_to_image(image) -> np.ndarray:
    """A torch tensor [3, H, W] float 0-255 BGR (what the loaders give) -> [H, W, 3] uint8 for cv2."""
    return np.ascontiguousarray(image.detach().cpu().clamp(0, 255).round().byte().permute(1, 2, 0).numpy())


def draw_assignments(img: np.ndarray, view, class_names: Optional[Sequence[str]] = None) -> np.ndarray:
    """A copy of ``img`` with each GT box and its anchor centres in the GT's colour; a dot's
    size grows with the anchor's stride (8, 16, 32), and each box is labelled "class: n anchors".

    ``view`` is a ``yolox.models.assignment_view.ImageAssignmentView`` (gt_boxes [G, 4] x1, y1, x2,
    y2 and anchor_centers [F, 2] in ``img`` pixels, gt_classes [G], anchor_strides [F], anchor_gt [F]).
    """
    out = img.copy()
    counts = view.anchors_per_gt()  # [G]
    for g, (box, cls) in enumerate(zip(view.gt_boxes, view.gt_classes)):
        name = class_names[int(cls)] if class_names is not None and int(cls) < len(class_names) else str(int(cls))
        label = f"{name}: {counts[g]} anchor{'' if counts[g] == 1 else 's'}"
        draw_box(out, box, color=color_for(g), label=label, thickness=1)
    for (x, y), stride, g in zip(view.anchor_centers, view.anchor_strides, view.anchor_gt):
        radius = max(2, int(stride) // 8 + 1)
        cv2.circle(out, (int(round(x)), int(round(y))), radius, color_for(int(g)), -1, cv2.LINE_AA)
        cv2.circle(out, (int(round(x)), int(round(y))), radius, (0, 0, 0), 1, cv2.LINE_AA)
    return out


UNMATCHED_COLOR = (0, 0, 255)  # BGR red


def visualize_assign(img: np.ndarray, boxes, coords, match_results, save_name: Optional[str] = None) -> np.ndarray:
    """Draw on ``img`` [H, W, 3] BGR, in place, each GT box and the centres of the anchors assigned to it
    in the box's colour; a box with no anchor is drawn red and labelled "unmatched" (Megvii's picture).

    boxes: [G, 4] x1, y1, x2, y2; coords: [F, 2] x, y of the foreground anchors; match_results: [F]
    the GT index of each, all in ``img`` pixels (tensors or arrays). ``save_name``: also write the
    picture there. Returns ``img``.
    """
    boxes, coords, match_results = (np.asarray(_to_numpy(v)) for v in (boxes, coords, match_results))
    for g, box in enumerate(boxes):
        assigned = coords[match_results == g]
        color = color_for(g) if len(assigned) else UNMATCHED_COLOR
        draw_box(img, box, color=color, label=None if len(assigned) else "unmatched")
        for x, y in assigned:
            cv2.circle(img, (int(round(float(x))), int(round(float(y)))), 3, color, -1)
    if save_name is not None:
        from yolox.utils.image_file import write_image  # here: the torch-free demo loads this file alone

        write_image(img, save_name)
    return img
