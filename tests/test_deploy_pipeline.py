"""The Detector's numpy pipeline: NMS equals the evaluator's torch ``postprocess``, decode equals the
head's, letterbox equals ValTransform's, and detections convert to COCO results and YOLO txt."""
import numpy as np
import pytest
import torch

from yolox.data.data_augment import ValTransform
from yolox.deploy.detections import Detections
from yolox.deploy.pipeline import decode_outputs, letterbox_images, postprocess_numpy, to_detections
from yolox.utils.boxes import postprocess


def _random_outputs(seed: int, *, batch: int = 3, anchors: int = 300, classes: int = 4) -> np.ndarray:
    """[B, A, 5 + C] decoded predictions clustered so NMS has work: centres near 6 spots."""
    rng = np.random.default_rng(seed)
    spots = rng.uniform(20, 140, size=(6, 2))
    centres = spots[rng.integers(0, 6, size=(batch, anchors))] + rng.normal(0, 4, size=(batch, anchors, 2))
    sizes = rng.uniform(8, 40, size=(batch, anchors, 2))
    obj = rng.uniform(0, 1, size=(batch, anchors, 1))
    cls = rng.uniform(0, 1, size=(batch, anchors, classes))
    return np.concatenate([centres, sizes, obj, cls], axis=-1).astype(np.float32)


@pytest.mark.parametrize("seed", range(5))
def test_numpy_nms_equals_torch_postprocess_on_random_outputs(seed):
    outputs = _random_outputs(seed)
    expected = postprocess(torch.from_numpy(outputs), 4, conf_thre=0.3, nms_thre=0.45)
    got = postprocess_numpy(outputs, conf=0.3, nms_thr=0.45)
    for ours, theirs in zip(got, expected):
        assert ours is not None and theirs is not None
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5)


def test_nothing_above_the_threshold_gives_none_and_empty_detections():
    outputs = _random_outputs(0, batch=1)
    outputs[..., 4] = 0.0
    (det,) = postprocess_numpy(outputs, conf=0.25, nms_thr=0.45)
    assert det is None
    empty = to_detections(det, 0.5, class_names=["a"])
    assert len(empty) == 0 and empty.boxes.shape == (0, 4) and empty.to_coco(1) == []


def test_decode_equals_the_heads_decode():
    from yolox.exp import Exp

    exp = Exp()
    exp.depth, exp.width, exp.num_classes = 0.33, 0.125, 3
    torch.manual_seed(0)
    model = exp.get_model().eval()
    images = torch.rand(2, 3, 64, 96) * 255
    with torch.no_grad():
        model.head.decode_in_inference = False
        raw = model(images).numpy()
        model.head.decode_in_inference = True
        decoded = model(images).numpy()
    np.testing.assert_allclose(decode_outputs(raw, (64, 96), (8, 16, 32)), decoded, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="input of \\(64, 64\\)"):
        decode_outputs(raw, (64, 64), (8, 16, 32))


@pytest.mark.parametrize("legacy", [False, True])
def test_letterbox_equals_val_transform(legacy):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(50, 80, 3), dtype=np.uint8), rng.integers(0, 256, size=(90, 40, 3),
                                                                                      dtype=np.uint8)]
    blob, ratios = letterbox_images(images, (64, 64), legacy=legacy)
    assert blob.shape == (2, 3, 64, 64) and blob.dtype == np.float32
    for img, got in zip(images, blob):
        np.testing.assert_array_equal(got, ValTransform(legacy=legacy)(img, None, (64, 64))[0])
    assert ratios == pytest.approx([64 / 80, 64 / 90])


def test_detections_undo_the_letterbox_and_convert_to_coco_and_yolo_txt():
    det = np.array([[10, 20, 50, 60, 0.9, 0.5, 1], [0, 0, 8, 8, 0.8, 0.5, 0]], dtype=np.float32)
    dets = to_detections(det, 0.5, class_names=["cat", "dog"])
    np.testing.assert_allclose(dets.boxes, [[20, 40, 100, 120], [0, 0, 16, 16]])
    np.testing.assert_allclose(dets.scores, [0.45, 0.4])
    assert dets.labels == ["dog", "cat"]
    assert dets.to_coco(7) == [{"image_id": 7, "category_id": 1, "bbox": [20.0, 40.0, 80.0, 80.0], "score": 0.45},
                               {"image_id": 7, "category_id": 0, "bbox": [0.0, 0.0, 16.0, 16.0], "score": 0.4}]
    assert dets.to_coco(7, category_ids=[3, 5])[0]["category_id"] == 5
    assert dets.to_yolo_txt((200, 400)).splitlines() == ["1 0.150000 0.400000 0.200000 0.400000 0.45000",
                                                         "0 0.020000 0.040000 0.040000 0.080000 0.40000"]


def test_coco_classes_get_coco_category_ids():
    from yolox.data.datasets.coco_classes import COCO_CLASSES

    dets = Detections(np.array([[0, 0, 1, 1]], np.float32), np.array([0.5], np.float32), np.array([79]),
                      class_names=COCO_CLASSES)
    assert dets.to_coco(139)[0]["category_id"] == 90
