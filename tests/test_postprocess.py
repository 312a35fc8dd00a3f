"""postprocess: score threshold, per-class vs class-agnostic NMS, empty results."""
import pytest
import torch
import torchvision

from yolox.utils import postprocess


def predictions(rows):
    """rows of (cx, cy, w, h, obj, p_cls0, p_cls1) -> [1, A, 7]."""
    return torch.tensor([rows], dtype=torch.float32)


def test_score_is_objectness_times_class_confidence_and_threshold_is_inclusive():
    pred = predictions([
        (50, 50, 20, 20, 0.5, 0.8, 0.1),   # score 0.40 -> kept (>= 0.4)
        (150, 150, 20, 20, 0.9, 0.1, 0.3),  # score 0.27 -> dropped
    ])
    (det,) = postprocess(pred, num_classes=2, conf_thre=0.4, nms_thre=0.5)
    assert det.shape == (1, 7)
    torch.testing.assert_close(det[0], torch.tensor([40.0, 40, 60, 60, 0.5, 0.8, 0]))


def test_nms_is_per_class_unless_agnostic():
    pred = predictions([
        (50, 50, 20, 20, 0.9, 0.9, 0.0),  # class 0, best
        (51, 50, 20, 20, 0.8, 0.9, 0.0),  # class 0, overlaps the first -> suppressed
        (50, 51, 20, 20, 0.7, 0.0, 0.9),  # class 1, overlaps but another class
    ])
    (per_class,) = postprocess(pred, num_classes=2, conf_thre=0.1, nms_thre=0.5)
    assert sorted(per_class[:, 6].tolist()) == [0.0, 1.0]
    assert per_class.shape[0] == 2
    (agnostic,) = postprocess(pred, num_classes=2, conf_thre=0.1, nms_thre=0.5, class_agnostic=True)
    assert agnostic.shape[0] == 1 and agnostic[0, 6] == 0


def test_images_without_detections_give_none():
    pred = torch.cat([predictions([(50, 50, 20, 20, 0.01, 0.5, 0.5)]),
                      predictions([(50, 50, 20, 20, 0.9, 0.9, 0.1)])])
    results = postprocess(pred, num_classes=2, conf_thre=0.5)
    assert results[0] is None and results[1].shape == (1, 7)


def test_input_is_not_modified():
    pred = predictions([(50, 50, 20, 20, 0.9, 0.9, 0.1)])
    before = pred.clone()
    postprocess(pred, num_classes=2)
    assert torch.equal(pred, before)


def test_wrong_channel_count_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="5 \\+ num_classes=85"):
        postprocess(torch.zeros(1, 10, 7), num_classes=80)


@pytest.mark.parametrize("num_classes, spread", [(80, 400.0), (3, 60.0), (1, 400.0)])
def test_many_boxes_keep_exactly_torchvision_per_class_nms(num_classes, spread):
    """Above one NMS group (512 boxes) classes are packed into several calls; the kept set must
    be batched_nms's, by decreasing score, also with negative coordinates."""
    gen = torch.Generator().manual_seed(num_classes)
    n = 3000
    centres = torch.rand(n, 2, generator=gen) * spread - 30
    sizes = torch.rand(n, 2, generator=gen) * 60 + 4
    obj = torch.rand(n, 1, generator=gen) * 0.9 + 0.1
    cls = torch.rand(n, num_classes, generator=gen)
    (det,) = postprocess(torch.cat([centres, sizes, obj, cls], dim=1)[None], num_classes, 0.01, 0.65)
    conf, label = cls.max(dim=1)
    scores = obj[:, 0] * conf
    keep = scores >= 0.01
    boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], dim=1)[keep]
    expected = torchvision.ops.batched_nms(boxes, scores[keep], label[keep], 0.65)
    assert len(det) == len(expected) > 50
    got_scores = det[:, 4] * det[:, 5]
    assert torch.all(got_scores[:-1] >= got_scores[1:])
    key = lambda rows: sorted(map(tuple, rows.tolist()))  # noqa: E731
    assert key(det[:, :4]) == key(boxes[expected])
