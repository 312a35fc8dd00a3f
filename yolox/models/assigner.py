"""SimOTA label assignment (YOLOX): which anchors learn which ground-truth box.

Two stages, both batched over images (GTs padded to the batch maximum, with a validity mask):

1. Prefilter. An anchor is a *candidate* of an image when its centre ``((x + 0.5) s, (y + 0.5) s)``
   lies strictly inside some GT box or strictly inside the square of half-side ``center_radius * s``
   around some GT centre ("box_or_center", the classic YOLOX assigner), or strictly inside such a
   square ("center", the newer Megvii "geometry constraint", used with ``center_radius=1.5``).
   A (GT, candidate) pair is *in constraint* when the centre is inside that GT's box and its square
   ("box_or_center") or inside its square ("center"); other pairs pay ``outside_penalty``.
2. SimOTA. For every (GT, candidate) pair,
   ``cost = cls_weight * sum_c BCE(sqrt(sigmoid(cls_c) * sigmoid(obj)), onehot_c)
   + iou_weight * -log(IoU + 1e-8) + outside_penalty * (pair out of constraint)``.
   GT ``g`` takes its ``k_g = max(1, int(sum of its candidate_topk largest IoUs))`` cheapest
   candidates; an anchor taken by several GTs goes to the GT of lowest cost over *all* GTs of the
   image (lowest index on an exact tie).

Memory stays bounded: costs exist only over candidates, GTs are processed in chunks of at most
``chunk_pairs`` (image, GT, candidate) triples, and the class cost never materialises a
``[G, candidates, C]`` tensor: with ``p = sqrt(sigmoid(cls) * sigmoid(obj))`` and torch's
BCE (log clamped at -100), ``sum_c BCE(p_c, onehot(g)_c) = sum_c L0_c + (L1 - L0)_{class(g)}``
where ``L0 = -max(log(1 - p), -100)`` and ``L1 = -max(log p, -100)``: one per-anchor sum plus one
gathered term per pair.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from yolox.utils.boxes import aligned_iou, cxcywh_to_xyxy

__all__ = ["SimOTAAssigner", "SimOTAAssignment", "ImageAssignment", "DEFAULT_OUTSIDE_PENALTY"]

# The reference adds 1e5 (classic) or 1e6 (geometry) to out-of-constraint pairs: large enough that
# every in-constraint pair is cheaper (class cost <= 100 * C, IoU cost <= 3 * 18.5).
DEFAULT_OUTSIDE_PENALTY: Dict[str, float] = {"box_or_center": 1e5, "center": 1e6}
_LOG_CLAMP = -100.0  # torch.nn.functional.binary_cross_entropy clamps its logs here


@dataclass
class ImageAssignment:
    """The assignment of one image, in the reference's per-image layout.

    fg_mask [A] bool; matched_gt_inds, gt_matched_classes [num_fg] int64 and
    pred_ious_this_matching [num_fg] float, all in increasing anchor order; matched_gt_inds index
    the image's GT rows. prefilter_mask [A] bool; dynamic_ks [num_gt] int64, one per valid GT row in
    row order.
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
    """The assignment of a batch (B images, A anchors, G GT slots).

    Invariants: every foreground anchor has exactly one GT (``matched_gt_inds >= 0`` exactly where
    ``fg_mask``), that GT is a valid slot of the same image, foreground anchors are candidates
    (``fg_mask`` implies ``prefilter_mask``), and an image without valid GTs has no foreground.

    fg_mask [B, A] bool; matched_gt_inds [B, A] int64 GT slot, -1 for background;
    matched_classes [B, A] int64, -1 for background; matched_ious [B, A] float32 IoU between the
    anchor's decoded box and its GT (0 for background); prefilter_mask [B, A] bool;
    dynamic_ks [B, G] int64 (0 for invalid slots); gt_valid [B, G] bool;
    in_constraint_count, multi_gt_anchors [B] int64: unpenalised (GT, candidate) pairs, and anchors
    taken by more than one GT before conflicts are resolved.
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
        """The per-image view of image ``b`` (host syncs; for tests and inspection)."""
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
class _Candidates:
    """Candidate anchors of each image, packed to the front and padded to the batch maximum K.

    index [B, K] anchor index (padding columns hold distinct non-candidate anchors, so scattering
    back is safe); valid [B, K]; count [B]; boxes_xyxy [B, K, 4]; centers [B, K, 2]; strides [B, K];
    cls_base [B, K] = sum_c L0_c; cls_delta [B, C, K] = L1_c - L0_c.
    """

    index: torch.Tensor
    valid: torch.Tensor
    count: torch.Tensor
    boxes_xyxy: torch.Tensor
    centers: torch.Tensor
    strides: torch.Tensor
    cls_base: torch.Tensor
    cls_delta: torch.Tensor


@dataclass
class _MatchState:
    """Running state over GT chunks; [B, K] per candidate unless noted.

    count: GTs that picked the candidate (duplicates counted); picker_sum: sum of their slots (the
    picker itself when count == 1); best_cost / best_gt: lowest cost over all GTs so far and its
    slot; dynamic_ks [B, G]; in_constraint [B].
    """

    count: torch.Tensor
    picker_sum: torch.Tensor
    best_cost: torch.Tensor
    best_gt: torch.Tensor
    dynamic_ks: torch.Tensor
    in_constraint: torch.Tensor


class SimOTAAssigner(nn.Module):
    """SimOTA label assignment; see the module docstring for the exact rule.

    Hyperparameters: ``center_radius`` (half-side of the centre square, in strides),
    ``candidate_topk`` (IoUs summed for the dynamic k), ``iou_weight`` and ``cls_weight`` (cost
    weights), ``prefilter`` ("box_or_center" or "center"), ``outside_penalty`` (cost added to pairs
    out of constraint; default 1e5 for "box_or_center", 1e6 for "center", the reference values),
    ``chunk_pairs`` (bound on the (image, GT, candidate) triples held at once; memory only).
    """

    def __init__(self, *, center_radius: float = 2.5, candidate_topk: int = 10, iou_weight: float = 3.0,
                 cls_weight: float = 1.0, prefilter: str = "box_or_center",
                 outside_penalty: Optional[float] = None, chunk_pairs: int = 1 << 21):
        super().__init__()
        if prefilter not in DEFAULT_OUTSIDE_PENALTY:
            raise ValueError(f"SimOTAAssigner: prefilter must be one of {sorted(DEFAULT_OUTSIDE_PENALTY)}, "
                             f"got {prefilter!r}")
        if candidate_topk < 1 or chunk_pairs < 1:
            raise ValueError(f"SimOTAAssigner: candidate_topk ({candidate_topk}) and chunk_pairs ({chunk_pairs}) "
                             "must be positive")
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
                anchor_centers: torch.Tensor, anchor_strides: torch.Tensor, gt_boxes: torch.Tensor,
                gt_classes: torch.Tensor, gt_valid: torch.Tensor) -> SimOTAAssignment:
        """Assign anchors to GTs. Everything is computed in float32, also under autocast.

        pred_boxes: [B, A, 4] decoded predictions cx, cy, w, h in input pixels;
        obj_logits: [B, A]; cls_logits: [B, A, C];
        anchor_centers: [A, 2] ((x + 0.5) s, (y + 0.5) s) in input pixels; anchor_strides: [A];
        gt_boxes: [B, G, 4] cx, cy, w, h in input pixels; gt_classes: [B, G] int64 in [0, C);
        gt_valid: [B, G] bool (False for padding slots; their boxes and classes are ignored).
        """
        with torch.autocast(device_type=pred_boxes.device.type, enabled=False):
            return self._assign(pred_boxes.float(), obj_logits.float(), cls_logits.float(),
                                anchor_centers.float(), anchor_strides.float(), gt_boxes.float(),
                                gt_classes.long(), gt_valid.bool())

    def _assign(self, pred_boxes, obj_logits, cls_logits, centers, strides, gt_boxes, gt_classes, gt_valid):
        gt_classes = _checked_classes(gt_classes, gt_valid, num_classes=cls_logits.shape[2])
        canonical, multiplicity = _duplicate_groups(gt_boxes, gt_classes, gt_valid)
        # Exact duplicates have identical cost rows; computing each row once makes the reference's
        # "first index wins" exact, whatever rounding the vectorised kernels do at row borders.
        active = multiplicity > 0  # [B, G] the first slot of each group of identical GTs
        prefilter = self._prefilter_mask(centers, strides, gt_boxes, active)
        cand = _gather_candidates(prefilter, pred_boxes, obj_logits, cls_logits, centers, strides)
        state = _empty_state(cand, gt_valid)
        gt_xyxy = cxcywh_to_xyxy(gt_boxes)
        chunk = max(1, self.chunk_pairs // max(1, cand.valid.numel()))
        for g0 in range(0, gt_boxes.shape[1] if cand.valid.shape[1] > 0 else 0, chunk):
            self._match_chunk(state, cand, slice(g0, g0 + chunk), gt_boxes, gt_xyxy, gt_classes, multiplicity)
        return _finish(state, cand, prefilter, gt_xyxy, gt_classes, gt_valid, canonical)

    def _inside(self, centers: torch.Tensor, strides: torch.Tensor,
                gt_boxes: torch.Tensor) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        """centers [b, K, 2], strides [b, K] (b is B or 1), gt_boxes [B, Gc, 4] ->
        (in_box or None for "center", in_center), each [B, Gc, K] bool, strict inequalities.

        Edges are computed as ``cx - 0.5 * w`` and ``cx - radius * s`` and compared directly, which
        rounds exactly like the reference's ``centre - edge > 0``.
        """
        x, y = centers[:, None, :, 0], centers[:, None, :, 1]  # [b, 1, K]
        cx, cy, w, h = (gt_boxes[..., i:i + 1] for i in range(4))  # [B, Gc, 1]
        r = (self.center_radius * strides)[:, None, :]  # [b, 1, K]
        in_center = (x > cx - r) & (x < cx + r) & (y > cy - r) & (y < cy + r)
        if self.prefilter == "center":
            return None, in_center
        in_box = (x > cx - 0.5 * w) & (x < cx + 0.5 * w) & (y > cy - 0.5 * h) & (y < cy + 0.5 * h)
        return in_box, in_center

    def _prefilter_mask(self, centers: torch.Tensor, strides: torch.Tensor, gt_boxes: torch.Tensor,
                        active: torch.Tensor) -> torch.Tensor:
        """centers [A, 2], strides [A], gt_boxes [B, G, 4], active [B, G] -> candidates [B, A] bool."""
        B, G = active.shape
        mask = torch.zeros(B, centers.shape[0], dtype=torch.bool, device=centers.device)
        chunk = max(1, self.chunk_pairs // max(1, B * centers.shape[0]))
        for g0 in range(0, G, chunk):
            in_box, in_center = self._inside(centers[None], strides[None], gt_boxes[:, g0:g0 + chunk])
            hit = in_center if in_box is None else in_center | in_box
            mask |= (hit & active[:, g0:g0 + chunk, None]).any(dim=1)
        return mask

    def _pair_costs(self, cand: _Candidates, gt_boxes: torch.Tensor, gt_xyxy: torch.Tensor,
                    gt_classes: torch.Tensor, active: torch.Tensor) -> Dict[str, torch.Tensor]:
        """One GT chunk: gt_* [B, Gc, ...], active [B, Gc] -> {"cost", "iou", "constraint"} [B, Gc, K];
        cost is +inf and iou 0 for inactive slots and padding candidates."""
        in_box, in_center = self._inside(cand.centers, cand.strides, gt_boxes)
        constraint = in_center if in_box is None else in_box & in_center
        pair_ok = active[:, :, None] & cand.valid[:, None, :]
        iou = aligned_iou(gt_xyxy[:, :, None, :], cand.boxes_xyxy[:, None, :, :])  # [B, Gc, K]
        index = gt_classes[:, :, None].expand(-1, -1, cand.valid.shape[1])
        cls_cost = cand.cls_base[:, None, :] + cand.cls_delta.gather(1, index)
        cost = self.cls_weight * cls_cost + self.iou_weight * -torch.log(iou + 1e-8)
        cost = torch.where(constraint, cost, cost + self.outside_penalty)
        cost = cost.masked_fill_(~pair_ok, float("inf"))
        return {"cost": cost, "iou": iou.masked_fill_(~pair_ok, 0.0), "constraint": constraint & pair_ok}

    def _match_chunk(self, state: _MatchState, cand: _Candidates, rows: slice, gt_boxes, gt_xyxy,
                     gt_classes, multiplicity) -> None:
        """Dynamic k and top-k picks of the GTs in ``rows``; folds them into ``state``."""
        mult = multiplicity[:, rows]  # [B, Gc]
        active = mult > 0
        pair = self._pair_costs(cand, gt_boxes[:, rows], gt_xyxy[:, rows], gt_classes[:, rows], active)
        cost = pair["cost"]
        K = cost.shape[2]
        top_iou_sum = pair["iou"].topk(min(self.candidate_topk, K), dim=2).values.sum(dim=2)  # [B, Gc]
        ks = top_iou_sum.long().clamp_(min=1)
        ks = torch.minimum(ks, cand.count[:, None]).masked_fill_(~active, 0)  # no candidates: no picks
        state.dynamic_ks[:, rows] = ks
        state.in_constraint += (pair["constraint"].sum(dim=2) * mult).sum(dim=1)

        k_max = int(ks.max()) if ks.numel() else 0
        if k_max > 0:
            picked_idx = cost.topk(k_max, dim=2, largest=False).indices  # [B, Gc, k_max]
            rank = torch.arange(k_max, device=cost.device)
            weight = (rank < ks[:, :, None]) * mult[:, :, None]  # duplicates pick as many times
            slots = torch.arange(rows.start, rows.start + cost.shape[1], device=cost.device)
            state.count.scatter_add_(1, picked_idx.flatten(1), weight.flatten(1))
            state.picker_sum.scatter_add_(1, picked_idx.flatten(1), (weight * slots[None, :, None]).flatten(1))
        chunk_min, chunk_arg = cost.min(dim=1)  # [B, K]; first slot on ties
        better = chunk_min < state.best_cost  # strict: an earlier chunk keeps its tie
        state.best_cost = torch.where(better, chunk_min, state.best_cost)
        state.best_gt = torch.where(better, chunk_arg + rows.start, state.best_gt)


def _checked_classes(gt_classes: torch.Tensor, gt_valid: torch.Tensor, *, num_classes: int) -> torch.Tensor:
    """gt_classes [B, G] -> the same with padding slots set to 0 (so they can index safely)."""
    bad = gt_valid & ((gt_classes < 0) | (gt_classes >= num_classes))
    if bool(bad.any()):
        b, g = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"SimOTAAssigner: image {b}, GT {g} has class {int(gt_classes[b, g])}, "
                         f"outside [0, {num_classes})")
    return gt_classes.masked_fill(~gt_valid, 0)


def _duplicate_groups(gt_boxes: torch.Tensor, gt_classes: torch.Tensor,
                      gt_valid: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """gt_boxes [B, G, 4], gt_classes [B, G], gt_valid [B, G] -> (canonical, multiplicity), [B, G] int64.

    Valid slots with the same image, class and box form a group; ``canonical`` is the group's
    first slot, ``multiplicity`` the group size on that slot and 0 elsewhere (and on invalid slots).
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
    first = first.scatter_reduce(0, group, flat_ids, reduce="amin")[group]  # [V] group's first flat id
    canonical.view(-1)[flat_ids] = first % G
    multiplicity.view(-1).index_add_(0, first, torch.ones_like(first))
    return canonical, multiplicity


def _gather_candidates(prefilter: torch.Tensor, pred_boxes: torch.Tensor, obj_logits: torch.Tensor,
                       cls_logits: torch.Tensor, centers: torch.Tensor, strides: torch.Tensor) -> _Candidates:
    """prefilter [B, A] -> the candidates of each image packed into [B, K] (K = most candidates)."""
    count = prefilter.sum(dim=1)  # [B]
    K = int(count.max()) if count.numel() else 0
    # A stable sort puts each image's candidates first, in increasing anchor order.
    index = torch.sort((~prefilter).to(torch.uint8), dim=1, stable=True).indices[:, :K]  # [B, K]
    valid = torch.arange(K, device=prefilter.device)[None, :] < count[:, None]
    boxes = pred_boxes.gather(1, index[:, :, None].expand(-1, -1, 4))
    # p = sqrt(sigmoid(cls) * sigmoid(obj)) as the reference forms it, then torch's clamped BCE logs.
    cls = cls_logits.gather(1, index[:, :, None].expand(-1, -1, cls_logits.shape[2])).sigmoid_()
    p = cls.mul_(obj_logits.gather(1, index).sigmoid()[:, :, None]).sqrt_()  # [B, K, C]
    loss_neg = torch.log1p(-p).clamp_(min=_LOG_CLAMP).neg_()  # BCE against target 0
    loss_pos = p.log_().clamp_(min=_LOG_CLAMP).neg_()  # BCE against target 1 (p reused in place)
    return _Candidates(
        index=index, valid=valid, count=count, boxes_xyxy=cxcywh_to_xyxy(boxes), centers=centers[index],
        strides=strides[index], cls_base=loss_neg.sum(dim=2),
        cls_delta=loss_pos.sub_(loss_neg).transpose(1, 2).contiguous(),
    )


def _empty_state(cand: _Candidates, gt_valid: torch.Tensor) -> _MatchState:
    B, K = cand.valid.shape
    device = gt_valid.device
    return _MatchState(
        count=torch.zeros(B, K, dtype=torch.long, device=device),
        picker_sum=torch.zeros(B, K, dtype=torch.long, device=device),
        best_cost=torch.full((B, K), float("inf"), device=device),
        best_gt=torch.full((B, K), -1, dtype=torch.long, device=device),
        dynamic_ks=torch.zeros(gt_valid.shape, dtype=torch.long, device=device),
        in_constraint=torch.zeros(B, dtype=torch.long, device=device),
    )


def _finish(state: _MatchState, cand: _Candidates, prefilter: torch.Tensor, gt_xyxy: torch.Tensor,
            gt_classes: torch.Tensor, gt_valid: torch.Tensor, canonical: torch.Tensor) -> SimOTAAssignment:
    """Resolve conflicts (an anchor picked twice goes to its cheapest GT) and scatter back to [B, A]."""
    B, A = prefilter.shape
    picked = state.count > 0  # [B, K]; padding candidates are never picked (their cost is inf)
    owner = torch.where(state.count > 1, state.best_gt, state.picker_sum).masked_fill_(~picked, -1)
    fg_mask = torch.zeros(B, A, dtype=torch.bool, device=prefilter.device).scatter_(1, cand.index, picked)
    matched = torch.full((B, A), -1, dtype=torch.long, device=prefilter.device).scatter_(1, cand.index, owner)

    b_idx, a_idx = fg_mask.nonzero(as_tuple=True)
    k_idx = torch.zeros(B, A, dtype=torch.long, device=prefilter.device)
    k_idx.scatter_(1, cand.index, torch.arange(cand.index.shape[1], device=prefilter.device).expand(B, -1))
    g_idx = matched[b_idx, a_idx]
    matched_ious = torch.zeros(B, A, device=prefilter.device)
    matched_ious[b_idx, a_idx] = aligned_iou(gt_xyxy[b_idx, g_idx], cand.boxes_xyxy[b_idx, k_idx[b_idx, a_idx]])
    matched_classes = torch.full((B, A), -1, dtype=torch.long, device=prefilter.device)
    matched_classes[b_idx, a_idx] = gt_classes[b_idx, g_idx]
    return SimOTAAssignment(
        fg_mask=fg_mask, matched_gt_inds=matched, matched_classes=matched_classes, matched_ious=matched_ious,
        prefilter_mask=prefilter, dynamic_ks=state.dynamic_ks.gather(1, canonical) * gt_valid,
        gt_valid=gt_valid, in_constraint_count=state.in_constraint,
        multi_gt_anchors=(state.count > 1).sum(dim=1),
    )
