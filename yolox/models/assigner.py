"""SimOTA label assignment (YOLOX): which anchors learn which ground-truth box.

Two stages, batched over images (GT slots padded to the batch maximum, with a validity mask):

1. Prefilter. An anchor is a *candidate* of an image when its centre ``((x + 0.5) s, (y + 0.5) s)``
   lies strictly inside some GT box or strictly inside the square of half-side ``center_radius * s``
   around some GT centre ("box_or_center", the classic YOLOX assigner), or strictly inside such a
   square ("center", the newer Megvii "geometry constraint", used with ``center_radius=1.5``).
   A (GT, candidate) pair is *in constraint* when the centre is inside that GT's box and its square
   ("box_or_center"), or inside its square ("center"); other pairs pay ``outside_penalty``.
2. SimOTA. For every (GT, candidate) pair,
   ``cost = cls_weight * sum_c BCE(sqrt(sigmoid(cls_c) * sigmoid(obj)), onehot_c)
   + iou_weight * -log(IoU + 1e-8) + outside_penalty * (pair out of constraint)``.
   GT ``g`` takes its ``k_g = max(1, int(sum of its candidate_topk largest IoUs))`` cheapest
   candidates; an anchor taken by several GTs goes to the GT of lowest cost over *all* GTs of the
   image (lowest index on an exact tie).

How it stays fast and bounded:

* Boxes and squares are axis-aligned and anchors sit on grids, so "inside" splits into a column test
  and a row test per GT ([B, G, W] and [B, G, H]); the candidate mask of a level is then one
  0/1 batched matrix product (GT count per cell), and a pair's constraint is two lookups.
* Costs exist only over candidates; GTs are processed in chunks of at most ``chunk_pairs``
  (image, GT, candidate) triples.
* The class cost needs no ``[G, candidates, C]`` tensor: with ``p = sqrt(sigmoid(cls) * sigmoid(obj))``
  and torch's BCE (logs clamped at -100), ``sum_c BCE(p_c, onehot(g)_c) = sum_c L0_c + (L1 - L0)_{class(g)}``
  with ``L0 = -max(log(1 - p), -100)`` and ``L1 = -max(log p, -100)``: one per-candidate sum plus one
  gathered term per pair.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from yolox.utils.boxes import aligned_iou, cxcywh_to_xyxy

from .anchors import anchor_grid

__all__ = ["SimOTAAssigner", "SimOTAAssignment", "ImageAssignment", "DEFAULT_OUTSIDE_PENALTY",
           "REFERENCE_CENTER_RADIUS"]

# The reference adds 1e5 (classic) or 1e6 (geometry) to out-of-constraint pairs: large enough that
# every in-constraint pair is cheaper (class cost <= 100 * C, IoU cost <= 3 * 18.5).
DEFAULT_OUTSIDE_PENALTY: Dict[str, float] = {"box_or_center": 1e5, "center": 1e6}
# The centre-square half-side (in strides) each prefilter was published with; the constructor's
# default stays the classic 2.5, an Exp picks the matching one (``Exp.assigner_center_radius``).
REFERENCE_CENTER_RADIUS: Dict[str, float] = {"box_or_center": 2.5, "center": 1.5}
_LOG_CLAMP = -100.0  # torch.nn.functional.binary_cross_entropy clamps its logs here


@dataclass
class ImageAssignment:
    """The assignment of one image, in the reference's per-image layout.

    fg_mask [A] bool; matched_gt_inds, gt_matched_classes [num_fg] int64 and
    pred_ious_this_matching [num_fg] float32, all in increasing anchor order, matched_gt_inds being
    GT slots (label rows) of the image; prefilter_mask [A] bool; dynamic_ks [num_gt] int64, one per
    valid slot in slot order.
    """

    fg_mask: torch.Tensor
    matched_gt_inds: torch.Tensor
    gt_matched_classes: torch.Tensor
    pred_ious_this_matching: torch.Tensor
    prefilter_mask: torch.Tensor
    dynamic_ks: torch.Tensor
    num_fg: int
    num_gt: int
    num_candidates: int
    in_constraint_count: int
    multi_gt_anchors: int


@dataclass
class SimOTAAssignment:
    """The assignment of a batch (B images, A anchors in anchor order, G GT slots).

    Invariants: each foreground anchor has exactly one GT (``matched_gt_inds >= 0`` exactly where
    ``fg_mask``), a valid slot of its own image; foreground anchors are candidates (``fg_mask``
    implies ``prefilter_mask``); an image without valid GT has no foreground and no candidate.

    fg_mask [B, A] bool; matched_gt_inds [B, A] int64 GT slot, -1 for background;
    matched_classes [B, A] int64, -1 for background; matched_ious [B, A] float32 IoU between the
    anchor's decoded box and its GT, 0 for background (detached: the class-target weight);
    prefilter_mask [B, A] bool; dynamic_ks [B, G] int64, 0 on invalid slots; gt_valid [B, G] bool;
    in_constraint_count [B] int64 (GT, anchor) pairs without penalty; multi_gt_anchors [B] int64
    anchors taken by more than one GT before conflicts are resolved.
    """

    fg_mask: torch.Tensor
    matched_gt_inds: torch.Tensor
    matched_classes: torch.Tensor
    matched_ious: torch.Tensor
    prefilter_mask: torch.Tensor
    dynamic_ks: torch.Tensor
    gt_valid: torch.Tensor
    in_constraint_count: torch.Tensor
    multi_gt_anchors: torch.Tensor

    @property
    def num_fg(self) -> torch.Tensor:
        """[B] int64 foreground anchors per image."""
        return self.fg_mask.sum(dim=1)

    @property
    def num_candidates(self) -> torch.Tensor:
        """[B] int64 candidate anchors per image."""
        return self.prefilter_mask.sum(dim=1)

    def image(self, b: int) -> ImageAssignment:
        """The per-image view of image ``b`` (syncs with the device; for tests and inspection)."""
        fg = self.fg_mask[b]
        return ImageAssignment(
            fg_mask=fg,
            matched_gt_inds=self.matched_gt_inds[b][fg],
            gt_matched_classes=self.matched_classes[b][fg],
            pred_ious_this_matching=self.matched_ious[b][fg],
            prefilter_mask=self.prefilter_mask[b],
            dynamic_ks=self.dynamic_ks[b][self.gt_valid[b]],
            num_fg=int(fg.sum()),
            num_gt=int(self.gt_valid[b].sum()),
            num_candidates=int(self.prefilter_mask[b].sum()),
            in_constraint_count=int(self.in_constraint_count[b]),
            multi_gt_anchors=int(self.multi_gt_anchors[b]),
        )


@dataclass
class _AxisMasks:
    """Column and row tests of every GT slot against the anchor grid of every level.

    The X columns of all levels are concatenated (level by level), likewise the Y rows.
    prefilter_x [B, G, X] / prefilter_y [B, G, Y]: the tests whose products make the candidate mask,
    stacked as 1 or 2 tests along G ("center" or "box_or_center"); constraint_x [B, G, X] /
    constraint_y [B, G, Y]: a pair is in constraint iff both hold at its column and row.
    """

    prefilter_x: torch.Tensor
    prefilter_y: torch.Tensor
    constraint_x: torch.Tensor
    constraint_y: torch.Tensor


@dataclass
class _Grid:
    """Anchor layout. level_slices: per level (x0, x1, y0, y1) into the concatenated axes;
    xs [X] / ys [Y]: column / row centres in pixels; radius_x [X] / radius_y [Y]: centre-square
    half-sides; column, row: [A] each anchor's column and row in the concatenated axes."""

    level_slices: List[Tuple[int, int, int, int]]
    xs: torch.Tensor
    ys: torch.Tensor
    radius_x: torch.Tensor
    radius_y: torch.Tensor
    column: torch.Tensor
    row: torch.Tensor


@dataclass
class _Candidates:
    """Candidate anchors of each image, packed to the front and padded to the batch maximum K.

    index [B, K] anchor index (padding columns hold distinct non-candidates, so scattering back is
    safe); count [B]; boxes_xyxy [B, K, 4] (padding: empty boxes at 0, IoU 0); column, row [B, K];
    cls_base [B, K] = sum_c L0_c (+inf on padding, so padding costs +inf);
    cls_delta [B, C + 1, K] = L1_c - L0_c, row C being +inf (the class index of inactive slots).
    """

    index: torch.Tensor
    count: torch.Tensor
    boxes_xyxy: torch.Tensor
    column: torch.Tensor
    row: torch.Tensor
    cls_base: torch.Tensor
    cls_delta: torch.Tensor


@dataclass
class _MatchState:
    """Running state over GT chunks, [B, K] per candidate unless noted.

    count: GTs that picked the candidate (duplicates counted); picking_slot_sum: the sum of their
    slots, so the slot of the one GT that picked it when count == 1; best_cost / best_gt: lowest
    cost over all GTs so far and its slot; dynamic_ks [B, G].
    """

    count: torch.Tensor
    picking_slot_sum: torch.Tensor
    best_cost: torch.Tensor
    best_gt: torch.Tensor
    dynamic_ks: torch.Tensor


class SimOTAAssigner(nn.Module):
    """SimOTA label assignment; the module docstring gives the exact rule.

    Hyperparameters: ``center_radius`` (half-side of the centre square, in strides),
    ``candidate_topk`` (IoUs summed for the dynamic k), ``iou_weight`` and ``cls_weight`` (cost
    weights), ``prefilter`` ("box_or_center" or "center"), ``outside_penalty`` (cost added to pairs
    out of constraint; default 1e5 for "box_or_center", 1e6 for "center", the reference values),
    ``chunk_pairs`` (most (image, GT, candidate) triples held at once; memory, not results).
    No parameters or buffers: adding it to a model leaves the state dict unchanged.
    """

    def __init__(self, *, center_radius: float = 2.5, candidate_topk: int = 10, iou_weight: float = 3.0,
                 cls_weight: float = 1.0, prefilter: str = "box_or_center",
                 outside_penalty: Optional[float] = None, chunk_pairs: int = 1 << 21):
        super().__init__()
        if prefilter not in DEFAULT_OUTSIDE_PENALTY:
            raise ValueError(f"SimOTAAssigner: prefilter must be one of {sorted(DEFAULT_OUTSIDE_PENALTY)}, "
                             f"got {prefilter!r}")
        if candidate_topk < 1 or chunk_pairs < 1 or center_radius <= 0:
            raise ValueError(f"SimOTAAssigner: center_radius ({center_radius}), candidate_topk ({candidate_topk}) "
                             f"and chunk_pairs ({chunk_pairs}) must be positive")
        self.center_radius = float(center_radius)
        self.candidate_topk = int(candidate_topk)
        self.iou_weight = float(iou_weight)
        self.cls_weight = float(cls_weight)
        self.prefilter = prefilter
        self.outside_penalty = float(DEFAULT_OUTSIDE_PENALTY[prefilter] if outside_penalty is None
                                     else outside_penalty)
        self.chunk_pairs = int(chunk_pairs)

    def extra_repr(self) -> str:
        return (f"center_radius={self.center_radius}, candidate_topk={self.candidate_topk}, "
                f"iou_weight={self.iou_weight}, cls_weight={self.cls_weight}, prefilter={self.prefilter!r}, "
                f"outside_penalty={self.outside_penalty:g}")

    @torch.no_grad()
    def forward(self, *, pred_boxes: torch.Tensor, obj_logits: torch.Tensor, cls_logits: torch.Tensor,
                level_shapes: Sequence[Tuple[int, int]], strides: Sequence[int], gt_boxes: torch.Tensor,
                gt_classes: torch.Tensor, gt_valid: torch.Tensor) -> SimOTAAssignment:
        """Assign anchors to GTs. Computed in float32, also for float64 inputs and under autocast.

        pred_boxes: [B, A, 4] decoded predictions cx, cy, w, h in input pixels, anchors in the order
        of ``anchor_grid(level_shapes, strides)``; obj_logits: [B, A]; cls_logits: [B, A, C];
        level_shapes: [(H_k, W_k)] per level; strides: [s_k] per level;
        gt_boxes: [B, G, 4] cx, cy, w, h in input pixels; gt_classes: [B, G] int64 in [0, C);
        gt_valid: [B, G] bool (False for padding slots, whose boxes and classes are never read).
        """
        with torch.autocast(device_type=pred_boxes.device.type, enabled=False):
            grid = self._grid(level_shapes, strides, device=pred_boxes.device)
            if grid.column.numel() != pred_boxes.shape[1]:
                raise ValueError(f"SimOTAAssigner: {pred_boxes.shape[1]} predictions per image but the levels "
                                 f"{list(level_shapes)} hold {grid.column.numel()} anchors")
            gt_valid = gt_valid.bool()
            gt_classes = _checked_classes(gt_classes.long(), gt_valid, num_classes=cls_logits.shape[2])
            gt_boxes = gt_boxes.float().masked_fill(~gt_valid[:, :, None], 0.0)  # padding may hold anything
            return self._assign(grid, pred_boxes=pred_boxes.float(), obj_logits=obj_logits.float(),
                                cls_logits=cls_logits.float(), gt_boxes=gt_boxes, gt_classes=gt_classes,
                                gt_valid=gt_valid)

    def _assign(self, grid: _Grid, *, pred_boxes: torch.Tensor, obj_logits: torch.Tensor, cls_logits: torch.Tensor,
                gt_boxes: torch.Tensor, gt_classes: torch.Tensor, gt_valid: torch.Tensor) -> SimOTAAssignment:
        """``forward`` on checked float32 inputs of the same shapes (padding slots zeroed)."""
        canonical, multiplicity = _duplicate_groups(gt_boxes, gt_classes, gt_valid)
        # Exact duplicate GTs have equal cost rows; computing each row once (on the group's first
        # slot) makes "the first index wins" exact, whatever rounding vectorised kernels do.
        active = multiplicity > 0  # [B, G]
        axes = self._axis_masks(grid, gt_boxes, active)
        prefilter = _candidate_mask(axes, grid)
        cand = _gather_candidates(prefilter, grid, pred_boxes=pred_boxes, obj_logits=obj_logits,
                                  cls_logits=cls_logits)
        # Inactive slots look up the +inf class row, so their costs are +inf and never win.
        cost_classes = gt_classes.masked_fill(~active, cls_logits.shape[2])
        state = _empty_state(cand, gt_valid)
        gt_xyxy = cxcywh_to_xyxy(gt_boxes)
        chunk = max(1, self.chunk_pairs // max(1, cand.index.numel()))
        num_chunks = -(-gt_boxes.shape[1] // chunk) if cand.index.shape[1] > 0 else 0
        for i in range(num_chunks):
            rows = slice(i * chunk, (i + 1) * chunk)
            self._match_chunk(state, cand, rows, axes=axes, gt_xyxy=gt_xyxy, gt_classes=cost_classes,
                              multiplicity=multiplicity)
        in_constraint = (_constraint_counts(axes, grid) * multiplicity).sum(dim=1)
        return _finish(state, cand, prefilter, gt_xyxy=gt_xyxy, gt_classes=gt_classes, gt_valid=gt_valid,
                       canonical=canonical, in_constraint=in_constraint)

    def _grid(self, level_shapes: Sequence[Tuple[int, int]], strides: Sequence[int], *, device) -> _Grid:
        """The anchor layout of ``anchor_grid``, split into per-level column and row axes."""
        grid, stride = anchor_grid(level_shapes, strides, device=device, dtype=torch.float32)
        centers = (grid + 0.5) * stride[:, None]  # [A, 2]; exact for integer cells and strides
        radius = self.center_radius * stride  # [A], formed as the reference forms it
        parts: Dict[str, list] = {"xs": [], "ys": [], "radius_x": [], "radius_y": [], "column": [], "row": []}
        slices = []
        offset = x0 = y0 = 0
        for h, w in level_shapes:
            first_row, first_column = slice(offset, offset + w), slice(offset, offset + h * w, w)
            parts["xs"].append(centers[first_row, 0])
            parts["ys"].append(centers[first_column, 1])
            parts["radius_x"].append(radius[first_row])
            parts["radius_y"].append(radius[first_column])
            parts["column"].append(grid[offset:offset + h * w, 0].long() + x0)
            parts["row"].append(grid[offset:offset + h * w, 1].long() + y0)
            slices.append((x0, x0 + w, y0, y0 + h))
            offset, x0, y0 = offset + h * w, x0 + w, y0 + h
        return _Grid(level_slices=slices, **{name: torch.cat(values) for name, values in parts.items()})

    def _axis_masks(self, grid: _Grid, gt_boxes: torch.Tensor, active: torch.Tensor) -> _AxisMasks:
        """Strict column / row tests. Edges are formed as ``cx - 0.5 * w`` and ``cx - radius * s``
        and compared with the centres, which rounds exactly like the reference's ``centre - edge > 0``."""
        cx, cy, w, h = (gt_boxes[..., i:i + 1] for i in range(4))  # [B, G, 1]
        live = active[:, :, None]
        center_x = (grid.xs > cx - grid.radius_x) & (grid.xs < cx + grid.radius_x) & live  # [B, G, X]
        center_y = (grid.ys > cy - grid.radius_y) & (grid.ys < cy + grid.radius_y)  # [B, G, Y]
        if self.prefilter == "center":
            return _AxisMasks(prefilter_x=center_x, prefilter_y=center_y, constraint_x=center_x,
                              constraint_y=center_y)
        box_x = (grid.xs > cx - 0.5 * w) & (grid.xs < cx + 0.5 * w) & live
        box_y = (grid.ys > cy - 0.5 * h) & (grid.ys < cy + 0.5 * h)
        return _AxisMasks(prefilter_x=torch.cat([box_x, center_x], dim=1),
                          prefilter_y=torch.cat([box_y, center_y], dim=1),
                          constraint_x=box_x & center_x, constraint_y=box_y & center_y)

    def _pair_costs(self, cand: _Candidates, rows: slice, *, axes: _AxisMasks, gt_xyxy: torch.Tensor,
                    gt_classes: torch.Tensor) -> Dict[str, torch.Tensor]:
        """One chunk of GT slots -> {"cost", "iou"} [B, Gc, K]. Cost is +inf on inactive slots and
        padding candidates (through the class terms); IoU is 0 on padding candidates."""
        Gc, K = gt_xyxy[:, rows].shape[1], cand.index.shape[1]
        iou = aligned_iou(gt_xyxy[:, rows, None, :], cand.boxes_xyxy[:, None, :, :])  # [B, Gc, K]
        cost = cand.cls_delta.gather(1, gt_classes[:, rows, None].expand(-1, -1, K)).add_(cand.cls_base[:, None, :])
        if self.cls_weight != 1.0:
            cost.mul_(self.cls_weight)
        # Same operation order as the reference: (cls + w * -log(IoU + 1e-8)) + penalty.
        cost.add_(torch.log(iou + 1e-8).mul_(-self.iou_weight))
        inside = (axes.constraint_x[:, rows].gather(2, cand.column[:, None, :].expand(-1, Gc, -1))
                  & axes.constraint_y[:, rows].gather(2, cand.row[:, None, :].expand(-1, Gc, -1)))
        cost.add_(~inside, alpha=self.outside_penalty)
        return {"cost": cost, "iou": iou}

    def _match_chunk(self, state: _MatchState, cand: _Candidates, rows: slice, *, axes: _AxisMasks,
                     gt_xyxy: torch.Tensor, gt_classes: torch.Tensor, multiplicity: torch.Tensor) -> None:
        """Dynamic k and the k cheapest candidates of the GT slots in ``rows``, folded into ``state``."""
        pair = self._pair_costs(cand, rows, axes=axes, gt_xyxy=gt_xyxy, gt_classes=gt_classes)
        cost, mult = pair["cost"], multiplicity[:, rows]  # [B, Gc, K], [B, Gc]
        top_iou_sum = pair["iou"].topk(min(self.candidate_topk, cost.shape[2]), dim=2).values.sum(dim=2)
        ks = top_iou_sum.long().clamp_(min=1)
        ks = torch.minimum(ks, cand.count[:, None]).masked_fill_(mult == 0, 0)  # no candidate: no pick
        state.dynamic_ks[:, rows] = ks

        k_max = int(ks.max())
        if k_max > 0:
            picked = cost.topk(k_max, dim=2, largest=False).indices.flatten(1)  # [B, Gc * k_max]
            rank = torch.arange(k_max, device=cost.device)
            weight = (rank < ks[:, :, None]) * mult[:, :, None]  # a group of duplicates picks m times
            slots = torch.arange(rows.start, rows.start + cost.shape[1], device=cost.device)[None, :, None]
            state.count.scatter_add_(1, picked, weight.flatten(1))
            state.picking_slot_sum.scatter_add_(1, picked, (weight * slots).flatten(1))
        chunk_min, chunk_arg = cost.min(dim=1)  # [B, K]; the first slot on exact ties
        better = chunk_min < state.best_cost  # strict: an earlier chunk keeps its ties
        state.best_cost = torch.where(better, chunk_min, state.best_cost)
        state.best_gt = torch.where(better, chunk_arg + rows.start, state.best_gt)


def _checked_classes(gt_classes: torch.Tensor, gt_valid: torch.Tensor, *, num_classes: int) -> torch.Tensor:
    """gt_classes [B, G] -> the same with padding slots set to 0 (safe to index with)."""
    bad = gt_valid & ((gt_classes < 0) | (gt_classes >= num_classes))
    if bool(bad.any()):
        b, g = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"SimOTAAssigner: image {b}, GT {g} has class {int(gt_classes[b, g])}, "
                         f"outside [0, {num_classes})")
    return gt_classes.masked_fill(~gt_valid, 0)


def _duplicate_groups(gt_boxes: torch.Tensor, gt_classes: torch.Tensor,
                      gt_valid: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """gt_boxes [B, G, 4], gt_classes [B, G], gt_valid [B, G] -> (canonical, multiplicity), [B, G] int64.

    Valid slots with equal image, class and box form a group; ``canonical`` is the group's first
    slot (a slot's own index when invalid), ``multiplicity`` the group size on that first slot and 0
    on every other slot.
    """
    B, G = gt_valid.shape
    canonical = torch.arange(G, device=gt_valid.device).expand(B, G).clone()
    multiplicity = torch.zeros(B, G, dtype=torch.long, device=gt_valid.device)
    flat_ids = gt_valid.flatten().nonzero().squeeze(1)  # [V] b * G + g, ascending
    if flat_ids.numel() == 0:
        return canonical, multiplicity
    image = torch.div(flat_ids, G, rounding_mode="floor")
    keys = torch.cat([image[:, None].double(), gt_classes.flatten()[flat_ids, None].double(),
                      gt_boxes.reshape(-1, 4)[flat_ids].double()], dim=1)  # [V, 6], exact in float64
    _, group = torch.unique(keys, dim=0, return_inverse=True)
    first = torch.full((int(group.max()) + 1,), B * G, dtype=torch.long, device=gt_valid.device)
    first = first.scatter_reduce(0, group, flat_ids, reduce="amin")[group]  # [V] the group's first id
    canonical.view(-1)[flat_ids] = first % G
    multiplicity.view(-1).index_add_(0, first, torch.ones_like(first))
    return canonical, multiplicity


def _candidate_mask(axes: _AxisMasks, grid: _Grid) -> torch.Tensor:
    """-> [B, A] bool: per level, (GT tests hitting each cell) = rows^T @ columns > 0.

    0/1 products summed in float32 are exact integer counts (far below 2^24)."""
    masks = []
    for x0, x1, y0, y1 in grid.level_slices:
        rows = axes.prefilter_y[:, :, y0:y1].transpose(1, 2).float()  # [B, H, G']
        cols = axes.prefilter_x[:, :, x0:x1].float()  # [B, G', W]
        masks.append(torch.bmm(rows, cols).flatten(1) > 0)  # [B, H * W], row by row
    return torch.cat(masks, dim=1)


def _constraint_counts(axes: _AxisMasks, grid: _Grid) -> torch.Tensor:
    """-> [B, G] anchors in constraint per slot: per level, (#columns passing) * (#rows passing)."""
    counts = [axes.constraint_x[:, :, x0:x1].sum(dim=2) * axes.constraint_y[:, :, y0:y1].sum(dim=2)
              for x0, x1, y0, y1 in grid.level_slices]
    return torch.stack(counts).sum(dim=0)


def _gather_candidates(prefilter: torch.Tensor, grid: _Grid, *, pred_boxes: torch.Tensor, obj_logits: torch.Tensor,
                       cls_logits: torch.Tensor) -> _Candidates:
    """prefilter [B, A] -> the candidates of each image packed into [B, K] (K = most candidates)."""
    count = prefilter.sum(dim=1)  # [B]
    K = int(count.max()) if count.numel() else 0
    # A stable sort puts each image's candidates first, in increasing anchor order.
    index = torch.sort((~prefilter).to(torch.uint8), dim=1, stable=True).indices[:, :K]  # [B, K]
    padding = torch.arange(K, device=prefilter.device)[None, :] >= count[:, None]
    boxes = pred_boxes.gather(1, index[:, :, None].expand(-1, -1, 4)).masked_fill_(padding[:, :, None], 0.0)
    # p = sqrt(sigmoid(cls) * sigmoid(obj)) formed as the reference does, then torch's clamped BCE logs.
    p = cls_logits.gather(1, index[:, :, None].expand(-1, -1, cls_logits.shape[2])).sigmoid_()
    p = p.mul_(obj_logits.gather(1, index).sigmoid()[:, :, None]).sqrt_()  # [B, K, C]
    loss_neg = torch.log1p(-p).clamp_(min=_LOG_CLAMP).neg_()  # BCE against target 0
    loss_pos = p.log_().clamp_(min=_LOG_CLAMP).neg_()  # BCE against target 1 (reuses p's memory)
    delta = loss_pos.sub_(loss_neg).transpose(1, 2)  # [B, C, K]
    inf_row = torch.full_like(delta[:, :1], float("inf"))
    return _Candidates(
        index=index, count=count, boxes_xyxy=cxcywh_to_xyxy(boxes), column=grid.column[index],
        row=grid.row[index], cls_base=loss_neg.sum(dim=2).masked_fill_(padding, float("inf")),
        cls_delta=torch.cat([delta, inf_row], dim=1),
    )


def _empty_state(cand: _Candidates, gt_valid: torch.Tensor) -> _MatchState:
    B, K = cand.index.shape
    device = gt_valid.device
    return _MatchState(
        count=torch.zeros(B, K, dtype=torch.long, device=device),
        picking_slot_sum=torch.zeros(B, K, dtype=torch.long, device=device),
        best_cost=torch.full((B, K), float("inf"), device=device),
        best_gt=torch.full((B, K), -1, dtype=torch.long, device=device),
        dynamic_ks=torch.zeros(gt_valid.shape, dtype=torch.long, device=device),
    )


def _finish(state: _MatchState, cand: _Candidates, prefilter: torch.Tensor, *, gt_xyxy: torch.Tensor,
            gt_classes: torch.Tensor, gt_valid: torch.Tensor, canonical: torch.Tensor,
            in_constraint: torch.Tensor) -> SimOTAAssignment:
    """Resolve conflicts (an anchor picked by several GTs goes to its cheapest GT) and scatter the
    per-candidate result back to [B, A]."""
    B, A = prefilter.shape
    device = prefilter.device
    picked = state.count > 0  # [B, K]; padding is never picked (its cost is +inf, k <= #candidates)
    owner = torch.where(state.count > 1, state.best_gt, state.picking_slot_sum).masked_fill_(~picked, -1)
    fg_mask = torch.zeros(B, A, dtype=torch.bool, device=device).scatter_(1, cand.index, picked)
    matched = torch.full((B, A), -1, dtype=torch.long, device=device).scatter_(1, cand.index, owner)

    b_idx, k_idx = picked.nonzero(as_tuple=True)  # same order as fg anchors: candidates are sorted
    g_idx = owner[b_idx, k_idx]
    a_idx = cand.index[b_idx, k_idx]
    matched_ious = torch.zeros(B, A, device=device)
    matched_ious[b_idx, a_idx] = aligned_iou(gt_xyxy[b_idx, g_idx], cand.boxes_xyxy[b_idx, k_idx])
    matched_classes = torch.full((B, A), -1, dtype=torch.long, device=device)
    matched_classes[b_idx, a_idx] = gt_classes[b_idx, g_idx]
    return SimOTAAssignment(
        fg_mask=fg_mask, matched_gt_inds=matched, matched_classes=matched_classes, matched_ious=matched_ious,
        prefilter_mask=prefilter, dynamic_ks=state.dynamic_ks.gather(1, canonical) * gt_valid,
        gt_valid=gt_valid, in_constraint_count=in_constraint, multi_gt_anchors=(state.count > 1).sum(dim=1),
    )
