"""What SimOTA assigned, per image, in input pixels: each GT box and the anchor centres matched to
it. The view to look at when training misbehaves (no anchors for small boxes, everything on one
level, a label shifted against its object); ``yolox.utils.visualize.draw_assignments`` draws it."""
from dataclasses import dataclass
from typing import List

import numpy as np
import torch
from torch import nn

from yolox.utils.boxes import cxcywh_to_xyxy

from .losses import DetectionTargets

__all__ = ["ImageAssignmentView", "compute_assignments"]


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
