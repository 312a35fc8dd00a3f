"""SimOTAAssigner on assignments small enough to compute by hand.

One level, stride 8, a 4x4 grid: 16 anchors, anchor ``y * 4 + x`` centred at ``(8x + 4, 8y + 4)``, so
centres lie on 4, 12, 20, 28 in each axis. Objectness logits are 0 (sigmoid 0.5); class 0 has logit 0
(sigmoid 0.5) and class 1 sigmoid 0.08, so p = sqrt(sigmoid(cls) * sigmoid(obj)) is 0.5 and 0.2, and
the class costs are   class 0: -ln 0.5 - ln 0.8 = 0.916,   class 1: -ln 0.5 - ln 0.2 = 2.303.
Unless a test says otherwise, every anchor predicts a 2x2 box on its own centre.
"""
import math

import pytest
import torch

from yolox.models import SimOTAAssigner

GT = (16.0, 16.0, 16.0, 16.0)  # box (8, 8)-(24, 24): contains the centres 12 and 20 in each axis
INSIDE = [5, 6, 9, 10]  # anchors whose centre is strictly inside GT


def predictions(**boxes):
    """[1, 16, 4] cx, cy, w, h: 2x2 boxes on the anchor centres, anchor ``a<i>=box`` overridden."""
    xs = torch.arange(4.0) * 8 + 4
    centres = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), dim=-1).reshape(16, 2)  # (x, y) row by row
    out = torch.cat([centres, torch.full((16, 2), 2.0)], dim=1)
    for key, box in boxes.items():
        out[int(key[1:])] = torch.tensor(box)
    return out[None]


def assign(assigner, pred_boxes, gts, *, batch_valid=None):
    """gts: [(class, cx, cy, w, h)] of one image."""
    cls_logits = torch.tensor([0.0, math.log(0.08 / 0.92)]).expand(1, 16, 2)
    gt = torch.tensor(gts)
    return assigner(pred_boxes=pred_boxes, obj_logits=torch.zeros(1, 16), cls_logits=cls_logits,
                    level_shapes=[(4, 4)], strides=[8], gt_boxes=gt[None, :, 1:], gt_classes=gt[None, :, 0].long(),
                    gt_valid=torch.ones(1, len(gts), dtype=torch.bool) if batch_valid is None else batch_valid)


def test_anchor_centres_follow_the_documented_order():
    assert predictions()[0, 6, :2].tolist() == [20.0, 12.0]  # anchor 6: x = 2, y = 1


def test_two_classes_on_one_box_the_cheaper_class_keeps_the_shared_anchor():
    # Anchor 5 predicts GT exactly (IoU 1); anchors 6, 9, 10 have IoU 4 / 256 with it; the rest 0.
    # k = int(1 + 3 * 4 / 256) = 1 for both GTs, both pick anchor 5 (cost 0.916 / 2.303 against
    # 0.916 + 3 * -ln(1 / 64) = 13.4 for the others), and class 0 (the cheaper) keeps it.
    result = assign(SimOTAAssigner(), predictions(a5=GT), [(1, *GT), (0, *GT)]).image(0)
    assert result.num_candidates == 16  # the 2.5-stride square (-4, 36) holds every centre
    assert result.in_constraint_count == 2 * 4  # in box and square: the 4 inside anchors, per GT
    assert result.dynamic_ks.tolist() == [1, 1]
    assert result.multi_gt_anchors == 1
    assert result.fg_mask.nonzero().flatten().tolist() == [5]
    assert result.matched_gt_inds.tolist() == [1] and result.gt_matched_classes.tolist() == [0]
    assert result.pred_ious_this_matching.tolist() == [1.0]


def test_dynamic_k_is_the_integer_part_of_the_top_iou_sum():
    # Boxes on the GT centre, 16 wide and 14.4 / 12.8 / 11.2 high: IoU 0.9, 0.8, 0.7 (+ 4/256 at
    # anchor 10): sum 2.42 -> k = 2, and the two best IoUs are the two cheapest.
    preds = predictions(a5=(16, 16, 16, 14.4), a6=(16, 16, 16, 12.8), a9=(16, 16, 16, 11.2))
    result = assign(SimOTAAssigner(), preds, [(0, *GT)]).image(0)
    assert result.dynamic_ks.tolist() == [2]
    assert result.fg_mask.nonzero().flatten().tolist() == [5, 6]
    torch.testing.assert_close(result.pred_ious_this_matching, torch.tensor([0.9, 0.8]))


def test_a_box_without_anchor_centres_still_gets_its_cheapest_penalised_anchor():
    # A 2x2 GT at (16, 16) contains no anchor centre: no pair is in constraint, every cost carries
    # the penalty, and the cheapest is anchor 5, whose 16x16 prediction covers it (IoU 4 / 256).
    tiny = (16.0, 16.0, 2.0, 2.0)
    result = assign(SimOTAAssigner(), predictions(a5=GT), [(1, *tiny)]).image(0)
    assert result.in_constraint_count == 0
    assert result.dynamic_ks.tolist() == [1]
    assert result.fg_mask.nonzero().flatten().tolist() == [5]
    torch.testing.assert_close(result.pred_ious_this_matching, torch.tensor([4 / 256]))


def test_a_contested_anchor_goes_to_the_cheapest_gt_even_one_that_did_not_pick_it():
    # A (class 1) matches anchor 5 exactly; B (class 1, 15.5 high) also prefers anchor 5; D (class 0)
    # prefers anchor 6 (exact) but also fits anchor 5 (IoU 0.8). Anchor 5 is picked by A and B only,
    # yet the reference resolves it by the lowest cost over all GTs: D's 0.916 + 3 * -ln 0.8 = 1.59
    # beats A's 2.30 and B's 2.40.
    preds = predictions(a5=GT, a6=(16, 16, 16, 12.8))
    gts = [(1, *GT), (1, 16.0, 16.0, 16.0, 15.5), (0, 16.0, 16.0, 16.0, 12.8)]
    result = assign(SimOTAAssigner(), preds, gts).image(0)
    assert result.dynamic_ks.tolist() == [1, 1, 1]
    assert result.multi_gt_anchors == 1
    assert result.fg_mask.nonzero().flatten().tolist() == [5, 6]
    assert result.matched_gt_inds.tolist() == [2, 2]
    without_d = assign(SimOTAAssigner(), preds, gts[:2]).image(0)
    assert without_d.fg_mask.nonzero().flatten().tolist() == [5]
    assert without_d.matched_gt_inds.tolist() == [0]


def test_boundaries_are_strict():
    edges = (20.0, 20.0, 16.0, 16.0)  # box (12, 28): its edges fall on the centres 12 and 28
    classic = assign(SimOTAAssigner(), predictions(), [(0, *edges)]).image(0)
    assert classic.in_constraint_count == 1  # only anchor 10, centre (20, 20), is strictly inside
    # A 1-stride square around (20, 20) is (12, 28) too: again only anchor 10.
    center = assign(SimOTAAssigner(center_radius=1.0, prefilter="center"), predictions(), [(0, *edges)]).image(0)
    assert center.prefilter_mask.nonzero().flatten().tolist() == [10]
    assert center.in_constraint_count == 1


def test_geometry_prefilter_keeps_only_the_centre_square():
    result = assign(SimOTAAssigner(center_radius=1.5, prefilter="center"), predictions(a5=GT), [(0, *GT)])
    # Square of half-side 12 around (16, 16): centres 12 and 20 only, i.e. the same 4 anchors.
    assert result.prefilter_mask[0].nonzero().flatten().tolist() == INSIDE


def test_gt_out_of_reach_gets_nothing_while_its_batch_neighbour_is_assigned():
    # Image 1's GT lies far outside the grid: no candidate at all, so k = 0 and no foreground
    # (the reference would fail on topk of an empty row here).
    preds = predictions(a5=GT).expand(2, -1, -1)
    gt = torch.tensor([[GT], [(500.0, 500.0, 10.0, 10.0)]])
    cls_logits = torch.zeros(2, 16, 2)
    result = SimOTAAssigner()(pred_boxes=preds, obj_logits=torch.zeros(2, 16), cls_logits=cls_logits,
                              level_shapes=[(4, 4)], strides=[8], gt_boxes=gt, gt_classes=torch.zeros(2, 1).long(),
                              gt_valid=torch.ones(2, 1, dtype=torch.bool))
    assert result.num_fg.tolist() == [1, 0] and result.num_candidates.tolist() == [16, 0]
    assert result.dynamic_ks.tolist() == [[1], [0]]


def test_padding_slots_are_never_read():
    gts = torch.tensor([[GT, (float("nan"), 3.0, -1.0, 0.0)]])
    valid = torch.tensor([[True, False]])
    result = SimOTAAssigner()(pred_boxes=predictions(a5=GT), obj_logits=torch.zeros(1, 16),
                              cls_logits=torch.zeros(1, 16, 2), level_shapes=[(4, 4)], strides=[8], gt_boxes=gts,
                              gt_classes=torch.tensor([[0, 99]]), gt_valid=valid)
    assert result.fg_mask[0].nonzero().flatten().tolist() == [5]
    assert result.dynamic_ks.tolist() == [[1, 0]]


def test_constructor_defaults_and_checks():
    assert SimOTAAssigner().outside_penalty == 1e5
    assert SimOTAAssigner(prefilter="center").outside_penalty == 1e6
    assert SimOTAAssigner(outside_penalty=50.0).outside_penalty == 50.0
    assert list(SimOTAAssigner().state_dict()) == [] and not list(SimOTAAssigner().parameters())
    assert "prefilter='box_or_center'" in repr(SimOTAAssigner())
    with pytest.raises(ValueError, match="prefilter must be one of"):
        SimOTAAssigner(prefilter="box")
    with pytest.raises(ValueError, match="must be positive"):
        SimOTAAssigner(candidate_topk=0)
    with pytest.raises(TypeError):
        SimOTAAssigner(2.5)  # keyword-only


def test_prediction_count_must_match_the_levels():
    with pytest.raises(ValueError, match="16 predictions per image but the levels"):
        SimOTAAssigner()(pred_boxes=predictions(), obj_logits=torch.zeros(1, 16), cls_logits=torch.zeros(1, 16, 2),
                         level_shapes=[(4, 5)], strides=[8], gt_boxes=torch.zeros(1, 0, 4),
                         gt_classes=torch.zeros(1, 0).long(), gt_valid=torch.zeros(1, 0, dtype=torch.bool))
