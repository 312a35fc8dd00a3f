"""The seed API ``YOLOXLoss``: the classic reference cases, rearranged to its layout, give the
reference losses (it is an adapter over the same criterion), plus its input checks."""
import math

import pytest
import torch
from torchvision.ops import box_iou, generalized_box_iou

from _loss_fixtures import CASE_NAMES, clone_outputs, load_case
from yolox.models import DetectionTargets, YOLOXLoss
from yolox.utils.boxes import cxcywh_to_xyxy


def seed_inputs(case, *, grad=False):
    """Megvii layout -> (class_scores, predicted_bboxes, objectness_scores, xyxy boxes, labels)."""
    raw = clone_outputs(case["raw_outputs"], grad=grad)
    boxes, labels = [], []
    for b, n in enumerate(case["num_gt"].tolist()):
        rows = case["labels"][b, :n]
        boxes.append(cxcywh_to_xyxy(rows[:, 1:5]))
        labels.append(rows[:, 0].long())
    return [r[:, 5:] for r in raw], [r[:, :4] for r in raw], [r[:, 4:5] for r in raw], boxes, labels


@pytest.mark.parametrize("name", CASE_NAMES)
def test_seed_api_gives_the_classic_losses(name):
    case = load_case("classic", name)
    loss = YOLOXLoss(case["num_classes"], use_l1=case["use_l1"], strides=case["strides"])
    out = loss(*seed_inputs(case))
    expected = case["expected"]
    pairs = {"loss_bbox": "iou_loss", "loss_obj": "obj_loss", "loss_cls": "cls_loss"}
    if case["use_l1"]:
        pairs["loss_l1"] = "l1_loss"
    assert set(out) == set(pairs)
    for ours, theirs in pairs.items():
        assert float(out[ours].detach()) == pytest.approx(expected[theirs], rel=1e-4, abs=1e-6), ours


def test_weights_scale_their_terms_only():
    case = load_case("classic", "good_preds_416x416")
    inputs = seed_inputs(case)
    base = YOLOXLoss(3, use_l1=True)(*inputs)
    scaled = YOLOXLoss(3, bbox_loss_weight=1.0, class_loss_weight=2.0, objectness_loss_weight=3.0,
                       l1_loss_weight=4.0, use_l1=True)(*inputs)
    for key, factor in {"loss_bbox": 1 / 5, "loss_cls": 2.0, "loss_obj": 3.0, "loss_l1": 4.0}.items():
        assert float(scaled[key]) == pytest.approx(factor * float(base[key]), rel=1e-6), key


def test_gradients_match_the_head_gradients():
    case = load_case("classic", "basic_c3_320x416")
    raw = clone_outputs(case["raw_outputs"], grad=True)
    _, _, _, gt_boxes, gt_labels = seed_inputs(case)
    out = YOLOXLoss(3)([r[:, 5:] for r in raw], [r[:, :4] for r in raw], [r[:, 4:5] for r in raw],
                       gt_boxes, gt_labels)
    sum(out.values()).backward()
    for ours, theirs in zip(raw, case["grad_raw_outputs"]):
        torch.testing.assert_close(ours.grad, theirs, rtol=1e-4, atol=5e-5)


def test_disjoint_predictions_and_contested_anchors_stay_well_defined():
    """The published seed implementation fails on exactly these: a GIoU cost that is NaN for disjoint
    boxes, an anchor claimed by two GTs left unresolved, negative class targets. Here: finite losses,
    one GT per anchor, IoU (never GIoU) as the class-target weight."""
    outputs = [torch.zeros(1, 5 + 2, 64 // s, 64 // s) for s in (8, 16, 32)]
    outputs[0][0, :2] = 3.0  # stride-8 predictions pushed away from their cells: many disjoint boxes
    gt_boxes = [torch.tensor([[20.0, 20.0, 36.0, 36.0], [21.0, 21.0, 37.0, 37.0]])]
    gt_labels = [torch.tensor([0, 1])]
    loss = YOLOXLoss(2, iou_type="giou")
    out = loss([o[:, 5:] for o in outputs], [o[:, :4] for o in outputs], [o[:, 4:5] for o in outputs],
               gt_boxes, gt_labels)
    assert all(torch.isfinite(v) for v in out.values())

    criterion = loss.criterion
    targets = DetectionTargets.from_xyxy_lists(gt_boxes, gt_labels)
    assignment = criterion.assign(criterion.decode(outputs), targets)
    assert int(assignment.multi_gt_anchors[0]) > 0  # both GTs picked some anchor ...
    fg = assignment.fg_mask[0]
    assert torch.equal(fg, assignment.matched_gt_inds[0] >= 0)  # ... which went to exactly one
    decoded = criterion.decode(outputs)
    matched_gt = gt_boxes[0][assignment.matched_gt_inds[0][fg]]
    matched_pred = cxcywh_to_xyxy(decoded.boxes[0][fg])
    plain_iou = box_iou(matched_gt, matched_pred).diag()
    assert not torch.allclose(plain_iou, generalized_box_iou(matched_gt, matched_pred).diag())
    torch.testing.assert_close(assignment.matched_ious[0][fg], plain_iou, rtol=1e-5, atol=1e-6)


def test_image_without_boxes_is_an_empty_tensor():
    """An image given as a [0, 4] tensor: no foreground, no box or class loss, and its anchors all count
    as background for objectness (zero logits: ln 2 each, over the batch's foreground count)."""
    outputs = [torch.zeros(2, 5 + 1, 64 // s, 64 // s) for s in (8, 16, 32)]
    gt_boxes = [torch.zeros(0, 4), torch.tensor([[8.0, 8.0, 40.0, 40.0]])]
    gt_labels = [torch.zeros(0, dtype=torch.long), torch.tensor([0])]

    def losses(maps, boxes, labels):
        return YOLOXLoss(1)([o[:, 5:] for o in maps], [o[:, :4] for o in maps], [o[:, 4:5] for o in maps],
                            boxes, labels)

    both = losses(outputs, gt_boxes, gt_labels)
    alone = losses([o[1:] for o in outputs], gt_boxes[1:], gt_labels[1:])
    criterion = YOLOXLoss(1).criterion
    assignment = criterion.assign(criterion.decode(outputs), DetectionTargets.from_xyxy_lists(gt_boxes, gt_labels))
    assert not assignment.fg_mask[0].any() and (assignment.matched_gt_inds[0] == -1).all()
    num_fg = int(assignment.fg_mask.sum())
    assert num_fg > 0
    anchors = sum((64 // s) ** 2 for s in (8, 16, 32))
    assert float(both["loss_bbox"]) == pytest.approx(float(alone["loss_bbox"]), rel=1e-6)
    assert float(both["loss_cls"]) == pytest.approx(float(alone["loss_cls"]), rel=1e-6)
    assert float(both["loss_obj"]) == pytest.approx(float(alone["loss_obj"]) + anchors * math.log(2) / num_fg,
                                                    rel=1e-5)


def test_input_errors_name_the_problem():
    outputs = [torch.zeros(1, 5 + 1, 64 // s, 64 // s) for s in (8, 16, 32)]
    maps = ([o[:, 5:] for o in outputs], [o[:, :4] for o in outputs], [o[:, 4:5] for o in outputs])
    loss = YOLOXLoss(1)
    with pytest.raises(ValueError, match="image 0, box 1"):
        loss(*maps, [torch.tensor([[0.0, 0.0, 8.0, 8.0], [10.0, 10.0, 10.0, 20.0]])], [torch.tensor([0, 0])])
    with pytest.raises(ValueError, match="1 images of ground-truth boxes but 2"):
        loss(*maps, [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)] * 2)
    with pytest.raises(ValueError, match="class 3, outside"):
        loss(*maps, [torch.tensor([[0.0, 0.0, 8.0, 8.0]])], [torch.tensor([3])])
