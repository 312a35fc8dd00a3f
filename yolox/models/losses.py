"""YOLOX training losses.

* ``IOUloss``: per-box ``1 - IoU^2`` ("iou") or ``1 - GIoU`` ("giou").
* ``YOLOXCriterion``: raw head outputs + targets -> decode -> ``SimOTAAssigner`` -> the four loss
  terms -> one weighted dict. ``YOLOXHead.get_losses`` is this criterion on Megvii labels.
* ``YOLOXLoss``: the seed API (per-level class / box / objectness maps, per-image xyxy lists), a thin
  adapter that rearranges its inputs for the same criterion.

Normalisation follows the reference: every term is a sum divided by ``N = max(#foreground, 1)``
over the whole batch, the objectness term summing over all anchors of all images.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from yolox.utils.boxes import aligned_giou, aligned_iou, xyxy_to_cxcywh

from .anchors import anchor_grid
from .assigner import SimOTAAssigner, SimOTAAssignment

__all__ = ["IOUloss", "LossWeights", "DetectionTargets", "HeadOutputs", "YOLOXCriterion", "YOLOXLoss"]

IOU_TYPES = ("iou", "giou")


class IOUloss(nn.Module):
    """Box regression loss on cx, cy, w, h boxes: ``1 - IoU^2`` ("iou") or ``1 - GIoU`` ("giou").

    pred, target: [N, 4] cx, cy, w, h (same units) -> [N] ("none"), or the "sum" / "mean" of it.
    The IoU has 1e-16 added to the union, so empty boxes give loss 1, not NaN.
    """

    def __init__(self, reduction: str = "none", loss_type: str = "iou"):
        super().__init__()
        if loss_type not in IOU_TYPES:
            raise ValueError(f"IOUloss: loss_type must be one of {IOU_TYPES}, got {loss_type!r}")
        if reduction not in ("none", "sum", "mean"):
            raise ValueError(f"IOUloss: reduction must be 'none', 'sum' or 'mean', got {reduction!r}")
        self.reduction = reduction
        self.loss_type = loss_type

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = pred.reshape(-1, 4), target.reshape(-1, 4)
        if self.loss_type == "iou":
            loss = 1 - aligned_iou(pred, target, fmt="cxcywh") ** 2
        else:
            loss = 1 - aligned_giou(pred, target, fmt="cxcywh")
        if self.reduction == "sum":
            return loss.sum()
        if self.reduction == "mean":
            return loss.mean()
        return loss


@dataclass(frozen=True)
class LossWeights:
    """Multipliers of the four loss terms (the reference: box IoU 5, everything else 1)."""

    iou: float = 5.0
    obj: float = 1.0
    cls: float = 1.0
    l1: float = 1.0


@dataclass
class DetectionTargets:
    """Ground truth of a batch, padded to G slots per image.

    boxes: [B, G, 4] cx, cy, w, h in input pixels; classes: [B, G] int64 in [0, C);
    valid: [B, G] bool (False for padding; padding boxes and classes are never read).
    Slot ``g`` of image ``b`` is what ``SimOTAAssignment.matched_gt_inds`` refers to.
    """

    boxes: torch.Tensor
    classes: torch.Tensor
    valid: torch.Tensor

    @classmethod
    def from_labels(cls, labels: torch.Tensor) -> "DetectionTargets":
        """labels: [B, M, 5] Megvii rows (class, cx, cy, w, h), zero rows as padding.

        A row is a GT when its width and height are both > 0; any other row is padding, wherever it
        sits. (Megvii counts rows whose sum is > 0 and takes that many from the top, so it reads a
        zero row *before* a real one as a box and drops the last real row; the two rules agree when
        padding is at the end and every real box has a positive size.) Slots are label rows: the
        GT index of an anchor is its row in ``labels[b]``; G is trimmed after the last real row.
        """
        if labels.dim() != 3 or labels.shape[2] != 5:
            raise ValueError(f"labels must be [B, M, 5] (class, cx, cy, w, h), got {tuple(labels.shape)}")
        valid = (labels[..., 3] > 0) & (labels[..., 4] > 0)  # [B, M]
        rows = valid.any(dim=0).nonzero()
        num_slots = int(rows.max()) + 1 if rows.numel() else 0
        labels, valid = labels[:, :num_slots], valid[:, :num_slots]
        return cls(boxes=labels[..., 1:5], classes=labels[..., 0].long(), valid=valid)

    @classmethod
    def from_xyxy_lists(cls, boxes: Sequence[torch.Tensor], classes: Sequence[torch.Tensor], *,
                        device: Optional[torch.device] = None) -> "DetectionTargets":
        """boxes: per image [n_b, 4] x1, y1, x2, y2 in input pixels; classes: per image [n_b] int64."""
        if len(boxes) != len(classes):
            raise ValueError(f"{len(boxes)} images of ground-truth boxes but {len(classes)} of labels")
        num_slots = max((len(b) for b in boxes), default=0)
        out = cls(boxes=torch.zeros(len(boxes), num_slots, 4, device=device),
                  classes=torch.zeros(len(boxes), num_slots, dtype=torch.long, device=device),
                  valid=torch.zeros(len(boxes), num_slots, dtype=torch.bool, device=device))
        for i, (image_boxes, image_classes) in enumerate(zip(boxes, classes)):
            _check_xyxy(image_boxes, image_classes, image=i)
            n = len(image_boxes)
            out.boxes[i, :n] = xyxy_to_cxcywh(image_boxes.to(device=device, dtype=out.boxes.dtype))
            out.classes[i, :n] = image_classes.to(device)
            out.valid[i, :n] = True
        return out

    @property
    def num_gts(self) -> torch.Tensor:
        """0-d int64: real GT boxes in the batch."""
        return self.valid.sum()


def _check_xyxy(boxes: torch.Tensor, classes: torch.Tensor, *, image: int) -> None:
    if boxes.dim() != 2 or boxes.shape[1] != 4 or classes.shape != (boxes.shape[0],):
        raise ValueError(f"image {image}: ground-truth boxes must be [n, 4] and labels [n], got "
                         f"{tuple(boxes.shape)} and {tuple(classes.shape)}")
    degenerate = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if bool(degenerate.any()):
        j = int(degenerate.nonzero()[0])
        raise ValueError(f"image {image}, box {j}: x1, y1, x2, y2 = {boxes[j].tolist()} has no positive "
                         "width and height")


@dataclass
class HeadOutputs:
    """The head's raw outputs flattened to anchors (A = sum of H_k * W_k, in anchor order).

    boxes: [B, A, 4] decoded cx = (dx + x) s, cy = (dy + y) s, w = exp(dw) s, h = exp(dh) s, in input
    pixels (differentiable); obj_logits: [B, A]; cls_logits: [B, A, C]; reg_raw: [B, A, 4] raw
    dx, dy, dw, dh; grid: [A, 2] cell x, y; strides: [A]; level_shapes: [(H_k, W_k)] per level.
    """

    boxes: torch.Tensor
    obj_logits: torch.Tensor
    cls_logits: torch.Tensor
    reg_raw: torch.Tensor
    grid: torch.Tensor
    strides: torch.Tensor
    level_shapes: List[Tuple[int, int]]


class YOLOXCriterion(nn.Module):
    """The YOLOX training loss: decode, assign (``assigner``, SimOTA by default), then

    * ``iou_loss``  = w.iou * sum over foreground of IOUloss(pred box, GT box) / N
    * ``conf_loss`` = w.obj * sum over all anchors of BCE-with-logits(obj, is foreground) / N
    * ``cls_loss``  = w.cls * sum over foreground of BCE-with-logits(cls, one_hot(GT class) * IoU) / N,
      the IoU being the assigner's (detached) matched IoU
    * ``l1_loss``   = w.l1 * sum over foreground of |raw offsets - encoded GT| / N when ``use_l1``, else 0

    with ``N = max(#foreground, 1)``; ``total_loss`` is their sum and ``num_fg`` is
    ``max(#foreground, 1) / max(#GT, 1)`` (as the reference reports it). All values are 0-d tensors.
    """

    def __init__(self, *, num_classes: int, strides: Sequence[int] = (8, 16, 32),
                 assigner: Optional[nn.Module] = None, iou_type: str = "iou",
                 weights: Optional[LossWeights] = None):
        super().__init__()
        self.num_classes = int(num_classes)
        self.strides = [int(s) for s in strides]
        self.assigner = assigner if assigner is not None else SimOTAAssigner()
        self.iou_loss = IOUloss(reduction="none", loss_type=iou_type)
        self.weights = weights if weights is not None else LossWeights()

    @property
    def iou_type(self) -> str:
        return self.iou_loss.loss_type

    def forward(self, raw_outputs: Sequence[torch.Tensor], targets: DetectionTargets, *,
                use_l1: bool = False) -> Dict[str, torch.Tensor]:
        """raw_outputs: per level [B, 5 + C, H_k, W_k] (dx, dy, dw, dh, obj, cls...) -> the loss dict."""
        outputs = self.decode(raw_outputs)
        assignment = self.assign(outputs, targets)
        sums = self.loss_sums(outputs, targets, assignment, use_l1=use_l1)
        return self.weighted(sums, num_fg=assignment.fg_mask.sum(), num_gts=targets.num_gts)

    def decode(self, raw_outputs: Sequence[torch.Tensor]) -> HeadOutputs:
        """Per level [B, 5 + C, H_k, W_k] -> ``HeadOutputs`` in float32 (float64 stays float64)."""
        self._check_outputs(raw_outputs)
        level_shapes = [tuple(out.shape[-2:]) for out in raw_outputs]
        flat = torch.cat([out.flatten(start_dim=2) for out in raw_outputs], dim=2).transpose(1, 2)
        # Half precision would overflow exp(dw) * s and lose the small BCE terms.
        flat = flat.to(torch.promote_types(flat.dtype, torch.float32))  # [B, A, 5 + C]
        grid, strides = anchor_grid(level_shapes, self.strides, device=flat.device, dtype=flat.dtype)
        reg = flat[..., :4]
        boxes = torch.cat([(reg[..., :2] + grid) * strides[:, None], torch.exp(reg[..., 2:4]) * strides[:, None]],
                          dim=-1)
        return HeadOutputs(boxes=boxes, obj_logits=flat[..., 4], cls_logits=flat[..., 5:], reg_raw=reg,
                           grid=grid, strides=strides, level_shapes=level_shapes)

    def assign(self, outputs: HeadOutputs, targets: DetectionTargets) -> SimOTAAssignment:
        """Run the assigner on detached predictions (it is no_grad itself)."""
        if targets.boxes.shape[0] != outputs.boxes.shape[0]:
            raise ValueError(f"targets hold {targets.boxes.shape[0]} images but the outputs {outputs.boxes.shape[0]}")
        return self.assigner(
            pred_boxes=outputs.boxes.detach(), obj_logits=outputs.obj_logits.detach(),
            cls_logits=outputs.cls_logits.detach(), level_shapes=outputs.level_shapes, strides=self.strides,
            gt_boxes=targets.boxes, gt_classes=targets.classes,
            gt_valid=targets.valid)

    def loss_sums(self, outputs: HeadOutputs, targets: DetectionTargets, assignment: SimOTAAssignment, *,
                  use_l1: bool) -> Dict[str, torch.Tensor]:
        """Un-normalised, unweighted sums {"iou", "obj", "cls", "l1"} (0-d tensors)."""
        dtype = outputs.boxes.dtype
        fg = assignment.fg_mask  # [B, A]
        b_idx, a_idx = fg.nonzero(as_tuple=True)  # foreground, image by image, in anchor order
        g_idx = assignment.matched_gt_inds[b_idx, a_idx]
        gt_boxes = targets.boxes[b_idx, g_idx].to(dtype)  # [F, 4]
        cls_target = F.one_hot(assignment.matched_classes[b_idx, a_idx], self.num_classes).to(dtype)
        cls_target = cls_target * assignment.matched_ious[b_idx, a_idx, None].to(dtype)
        sums = {
            "iou": self.iou_loss(outputs.boxes[b_idx, a_idx], gt_boxes).sum(),
            "obj": F.binary_cross_entropy_with_logits(outputs.obj_logits, fg.to(dtype), reduction="sum"),
            "cls": F.binary_cross_entropy_with_logits(outputs.cls_logits[b_idx, a_idx], cls_target,
                                                      reduction="sum"),
            "l1": outputs.boxes.new_zeros(()),
        }
        if use_l1:
            target = _encode_l1_target(gt_boxes, outputs.grid[a_idx], outputs.strides[a_idx])
            sums["l1"] = (outputs.reg_raw[b_idx, a_idx] - target).abs().sum()
        return sums

    def weighted(self, sums: Dict[str, torch.Tensor], *, num_fg: torch.Tensor,
                 num_gts: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The one place weights and the ``N = max(#fg, 1)`` normalisation are applied."""
        n = num_fg.clamp(min=1).to(sums["obj"].dtype)
        w = self.weights
        losses = {
            "iou_loss": w.iou * (sums["iou"] / n),
            "conf_loss": w.obj * (sums["obj"] / n),
            "cls_loss": w.cls * (sums["cls"] / n),
            "l1_loss": w.l1 * (sums["l1"] / n),
        }
        total = losses["iou_loss"] + losses["conf_loss"] + losses["cls_loss"] + losses["l1_loss"]
        return {"total_loss": total, **losses, "num_fg": n / num_gts.clamp(min=1).to(n.dtype)}

    def _check_outputs(self, raw_outputs: Sequence[torch.Tensor]) -> None:
        if len(raw_outputs) != len(self.strides):
            raise ValueError(f"{len(raw_outputs)} output levels but {len(self.strides)} strides")
        for k, out in enumerate(raw_outputs):
            if out.dim() != 4 or out.shape[1] != 5 + self.num_classes:
                raise ValueError(f"output level {k}: expected [B, 5 + {self.num_classes}, H, W], "
                                 f"got {tuple(out.shape)}")


def _encode_l1_target(gt_boxes: torch.Tensor, grid: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """gt_boxes [F, 4] cx, cy, w, h px, grid [F, 2], strides [F] -> [F, 4] raw-offset targets
    (cx / s - x, cy / s - y, log(w / s + 1e-8), log(h / s + 1e-8)), the inverse of the decoding."""
    s = strides[:, None]
    return torch.cat([gt_boxes[:, :2] / s - grid, torch.log(gt_boxes[:, 2:] / s + 1e-8)], dim=1)


class YOLOXLoss(nn.Module):
    """The seed API: ``YOLOXLoss(num_classes)(class_scores, predicted_bboxes, objectness_scores,
    ground_truth_bboxes, ground_truth_labels)``.

    class_scores: per level [B, C, H_k, W_k] logits; predicted_bboxes: per level [B, 4, H_k, W_k] raw
    dx, dy, dw, dh; objectness_scores: per level [B, 1, H_k, W_k] logits; ground_truth_bboxes: per
    image [n_b, 4] x1, y1, x2, y2 in input pixels; ground_truth_labels: per image [n_b] int64.
    Returns {"loss_cls", "loss_bbox", "loss_obj"} (+ "loss_l1" when ``use_l1``), each weighted and
    normalised as in ``YOLOXCriterion``, which does all the work: this class only rearranges inputs.
    """

    def __init__(self, num_classes: int, bbox_loss_weight: float = 5.0, class_loss_weight: float = 1.0,
                 objectness_loss_weight: float = 1.0, l1_loss_weight: float = 1.0, use_l1: bool = False,
                 strides: Sequence[int] = (8, 16, 32), *, assigner: Optional[nn.Module] = None,
                 iou_type: str = "iou"):
        super().__init__()
        self.use_l1 = use_l1
        weights = LossWeights(iou=bbox_loss_weight, obj=objectness_loss_weight, cls=class_loss_weight,
                              l1=l1_loss_weight)
        self.criterion = YOLOXCriterion(num_classes=num_classes, strides=strides, assigner=assigner,
                                        iou_type=iou_type, weights=weights)

    def forward(self, class_scores: List[torch.Tensor], predicted_bboxes: List[torch.Tensor],
                objectness_scores: List[torch.Tensor], ground_truth_bboxes: List[torch.Tensor],
                ground_truth_labels: List[torch.Tensor]) -> Dict[str, torch.Tensor]:
        if not len(class_scores) == len(predicted_bboxes) == len(objectness_scores):
            raise ValueError(f"per-level lists differ in length: {len(class_scores)} class, "
                             f"{len(predicted_bboxes)} box, {len(objectness_scores)} objectness")
        raw_outputs = [torch.cat([reg, obj, cls], dim=1)
                       for cls, reg, obj in zip(class_scores, predicted_bboxes, objectness_scores)]
        targets = DetectionTargets.from_xyxy_lists(ground_truth_bboxes, ground_truth_labels,
                                                   device=raw_outputs[0].device)
        losses = self.criterion(raw_outputs, targets, use_l1=self.use_l1)
        out = {"loss_cls": losses["cls_loss"], "loss_bbox": losses["iou_loss"], "loss_obj": losses["conf_loss"]}
        if self.use_l1:
            out["loss_l1"] = losses["l1_loss"]
        return out
