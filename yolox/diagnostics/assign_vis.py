"""What SimOTA assigned: for each training image, its GT boxes and the anchor centres matched to
each one, one colour per GT. The picture to look at when training misbehaves (no anchors for
small boxes, everything on one level, a label shifted against its object)."""
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import cv2
import numpy as np
import torch
from loguru import logger
from torch import nn

from yolox.models.losses import DetectionTargets
from yolox.utils.boxes import cxcywh_to_xyxy
from yolox.utils.visualize import color_for, draw_box

__all__ = ["ImageAssignmentView", "compute_assignments", "draw_assignments", "tensor_to_image",
           "render_assignment_batches"]


@dataclass
class ImageAssignmentView:
    """One image's assignment in input pixels.

    gt_boxes: [G, 4] x1, y1, x2, y2; gt_classes: [G] int64; anchor_centers: [F, 2] x, y of the
    foreground anchors ((cell + 0.5) * stride, the point SimOTA tests against the boxes);
    anchor_strides: [F]; anchor_gt: [F] index into gt_boxes.
    """

    gt_boxes: np.ndarray
    gt_classes: np.ndarray
    anchor_centers: np.ndarray
    anchor_strides: np.ndarray
    anchor_gt: np.ndarray

    def anchors_per_gt(self) -> np.ndarray:
        """[G] int64: how many anchors each GT received."""
        return np.bincount(self.anchor_gt, minlength=len(self.gt_boxes))


@torch.no_grad()
def compute_assignments(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> List[ImageAssignmentView]:
    """Run ``model``'s backbone and head on images [B, 3, H, W] and its criterion's assigner on
    labels [B, M, 5] (class, cx, cy, w, h; zero rows pad). The model is left in the mode it had;
    it is run in eval mode so BatchNorm statistics are not touched."""
    was_training = model.training
    model.eval()
    try:
        raw = model.head.forward_raw(model.backbone(images))
        criterion = model.head.criterion
        outputs = criterion.decode(raw)
        targets = DetectionTargets.from_labels(labels.to(outputs.boxes.dtype))
        assignment = criterion.assign(outputs, targets)
    finally:
        model.train(was_training)
    centers = ((outputs.grid + 0.5) * outputs.strides[:, None]).cpu().numpy()  # [A, 2]
    strides = outputs.strides.cpu().numpy()
    views = []
    for b in range(images.shape[0]):
        valid = targets.valid[b].cpu()
        slots = valid.nonzero().flatten()  # GT slot -> row of gt_boxes
        row_of_slot = {int(s): i for i, s in enumerate(slots)}
        fg = assignment.fg_mask[b].cpu().numpy()
        matched = assignment.matched_gt_inds[b].cpu().numpy()[fg]
        views.append(ImageAssignmentView(
            gt_boxes=cxcywh_to_xyxy(targets.boxes[b][valid]).cpu().numpy(),
            gt_classes=targets.classes[b][valid].cpu().numpy(),
            anchor_centers=centers[fg],
            anchor_strides=strides[fg],
            anchor_gt=np.array([row_of_slot[int(s)] for s in matched], dtype=np.int64),
        ))
    return views


def tensor_to_image(image: torch.Tensor) -> np.ndarray:
    """[3, H, W] float 0-255 BGR (what the loaders give) -> [H, W, 3] uint8 for cv2."""
    return np.ascontiguousarray(image.detach().cpu().clamp(0, 255).round().byte().permute(1, 2, 0).numpy())


def draw_assignments(img: np.ndarray, view: ImageAssignmentView,
                     class_names: Optional[Sequence[str]] = None) -> np.ndarray:
    """A copy of ``img`` with each GT box and its anchor centres in the GT's colour; a dot's
    size grows with the anchor's stride (8, 16, 32), and each box is labelled "class: n anchors"."""
    out = img.copy()
    counts = view.anchors_per_gt()
    for g, (box, cls) in enumerate(zip(view.gt_boxes, view.gt_classes)):
        name = class_names[int(cls)] if class_names is not None and int(cls) < len(class_names) else str(int(cls))
        label = f"{name}: {counts[g]} anchor{'' if counts[g] == 1 else 's'}"
        draw_box(out, box, color_for(g), label, thickness=1)
    for (x, y), stride, g in zip(view.anchor_centers, view.anchor_strides, view.anchor_gt):
        radius = max(2, int(stride) // 8 + 1)
        cv2.circle(out, (int(round(x)), int(round(y))), radius, color_for(int(g)), -1, cv2.LINE_AA)
        cv2.circle(out, (int(round(x)), int(round(y))), radius, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def render_assignment_batches(model: nn.Module, loader: Iterable, *, save_dir: Path, max_batches: int = 1,
                              class_names: Optional[Sequence[str]] = None) -> List[Path]:
    """Draw the assignments of the first ``max_batches`` training batches ``(images, labels, ...)``
    into ``save_dir/assign_<batch>_<image>.png``; returns the files written."""
    from yolox.utils.image_file import write_image

    device = next(model.parameters()).device
    written: List[Path] = []
    for n, batch in enumerate(loader):
        if n >= max_batches:
            break
        images, labels = batch[0].to(device=device, dtype=torch.float32), batch[1].to(device)
        for i, view in enumerate(compute_assignments(model, images, labels)):
            picture = draw_assignments(tensor_to_image(images[i]), view, class_names)
            written.append(write_image(picture, save_dir / f"assign_{n}_{i}.png"))
            logger.info("batch {} image {}: {} GT boxes, anchors per GT {}", n, i, len(view.gt_boxes),
                        view.anchors_per_gt().tolist())
    return written
