"""Inference output layout and input checks of the YOLOX wrapper."""
import pytest
import torch

from yolox.models import YOLOPAFPN, YOLOX, YOLOXHead


def tiny_model(num_classes=3):
    torch.manual_seed(0)
    return YOLOX(YOLOPAFPN(0.33, 0.125), YOLOXHead(num_classes, 0.125)).eval()


def test_eval_output_shape_and_score_ranges():
    model = tiny_model()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 96, 128) * 255)
    anchors = 12 * 16 + 6 * 8 + 3 * 4
    assert out.shape == (2, anchors, 8)
    assert torch.all((out[..., 4:] >= 0) & (out[..., 4:] <= 1))
    assert torch.all(out[..., 2:4] > 0)


def test_anchor_order_is_level_then_row_then_column():
    model = tiny_model()
    with torch.no_grad():
        raw = model.head.forward_raw(model.backbone(torch.rand(1, 3, 64, 96) * 255))
        out = model.head.predict(raw)
    # anchor index = offset_k + y * W_k + x; check one cell on the stride-16 level.
    h8, w8 = raw[0].shape[-2:]
    y, x = 2, 5
    idx = h8 * w8 + y * raw[1].shape[-1] + x
    torch.testing.assert_close(out[0, idx, 0], (raw[1][0, 0, y, x] + x) * 16)
    torch.testing.assert_close(out[0, idx, 1], (raw[1][0, 1, y, x] + y) * 16)
    torch.testing.assert_close(out[0, idx, 4], raw[1][0, 4, y, x].sigmoid())


def test_input_not_multiple_of_32_is_rejected():
    with pytest.raises(ValueError, match="multiples of 32"):
        tiny_model()(torch.zeros(1, 3, 100, 128))


def test_training_forward_without_targets_is_rejected():
    model = tiny_model().train()
    with pytest.raises(ValueError, match="needs targets"):
        model(torch.zeros(1, 3, 64, 64))
