"""IOUloss ("iou": 1 - IoU^2, "giou": 1 - GIoU) and boxes.aligned_giou on boxes checked by hand."""
import pytest
import torch

from yolox.models import IOUloss
from yolox.utils.boxes import aligned_giou, aligned_iou

# cx, cy, w, h: A = (0, 0)-(2, 2); B = (1, 1)-(3, 3), overlap 1, union 7, hull 9; C = (4, 0)-(6, 2),
# disjoint from A, hull (0, 0)-(6, 2) = 12, union 8.
A, B, C = [1.0, 1.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0], [5.0, 1.0, 2.0, 2.0]


def test_aligned_giou_by_hand():
    a, b = torch.tensor([A, A, A]), torch.tensor([A, B, C])
    expected = torch.tensor([1.0, 1 / 7 - 2 / 9, 0 - 4 / 12])
    torch.testing.assert_close(aligned_giou(a, b, fmt="cxcywh"), expected)
    torch.testing.assert_close(aligned_iou(a, b, fmt="cxcywh"), torch.tensor([1.0, 1 / 7, 0.0]))


def test_iou_loss_values():
    pred, target = torch.tensor([A, A, A]), torch.tensor([A, B, C])
    torch.testing.assert_close(IOUloss()(pred, target), torch.tensor([0.0, 1 - 1 / 49, 1.0]))
    torch.testing.assert_close(IOUloss(loss_type="giou")(pred, target),
                               torch.tensor([0.0, 1 - (1 / 7 - 2 / 9), 1 + 4 / 12]))
    assert float(IOUloss(reduction="sum")(pred, target)) == pytest.approx(2 - 1 / 49)


def test_giou_loss_has_a_gradient_for_disjoint_boxes_and_empty_boxes_stay_finite():
    pred = torch.tensor([C, [3.0, 3.0, 0.0, 0.0]], requires_grad=True)
    target = torch.tensor([A, [3.0, 3.0, 0.0, 0.0]])
    loss = IOUloss(loss_type="giou")(pred, target)
    assert torch.isfinite(loss).all()
    loss.sum().backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[0, 0] > 0  # moving C left shrinks the loss


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="loss_type must be one of"):
        IOUloss(loss_type="diou")
    with pytest.raises(ValueError, match="reduction must be"):
        IOUloss(reduction="avg")
