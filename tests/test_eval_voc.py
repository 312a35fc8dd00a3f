"""VOC AP on a hand-made case whose figures are worked out in the comments."""
import contextlib
import io

import numpy as np
import pytest
from eval_fakes import TEST_SIZE, FakeDataset, FakeLoader, TableModel, coco_from_dict, detection_rows

from yolox.evaluators import ClassDetections, ClassGroundTruth, VOCEvaluator, voc_ap, voc_class_ap

# Image 1: GT A [0, 0, 10, 10] and a difficult GT B [20, 20, 30, 30]; image 2: GT C [0, 0, 10, 10].
GROUND_TRUTH = {
    1: ClassGroundTruth(boxes=np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), difficult=np.array([False, True])),
    2: ClassGroundTruth(boxes=np.array([[0, 0, 10, 10]], float), difficult=np.array([False])),
}
# In score order: d1 hits A (TP); d2 hits difficult B (ignored); d3 hits nothing (FP); d4 repeats A
# (FP); d5 overlaps C with IoU 90 / 110 = 0.818 (TP at IoU <= 0.8, FP above).
DETECTIONS = ClassDetections(
    image_ids=np.array([1, 1, 2, 1, 2]),
    scores=np.array([0.9, 0.8, 0.7, 0.6, 0.5]),
    boxes=np.array([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60], [0, 0, 10, 10], [1, 0, 11, 10]], float),
)


def test_hand_computed_ap_at_iou_0_5():
    # TP FP FP TP over 2 positives: recall .5 .5 .5 1, precision 1 .5 .33 .5.
    # Area: .5 * 1 + .5 * .5 = .75. 11-point: levels 0...0.5 reach precision 1, levels .6...1 reach .5.
    assert voc_class_ap(DETECTIONS, GROUND_TRUTH, iou_thresh=0.5, use_07_metric=False) == pytest.approx(0.75)
    assert voc_class_ap(DETECTIONS, GROUND_TRUTH, iou_thresh=0.5, use_07_metric=True) == pytest.approx(8.5 / 11)


def test_hand_computed_ap_at_iou_0_85_where_d5_misses():
    # TP FP FP FP: recall stops at .5 with precision 1 there.
    assert voc_class_ap(DETECTIONS, GROUND_TRUTH, iou_thresh=0.85, use_07_metric=False) == pytest.approx(0.5)
    assert voc_class_ap(DETECTIONS, GROUND_TRUTH, iou_thresh=0.85, use_07_metric=True) == pytest.approx(6 / 11)


def test_devkit_inclusive_pixel_rule():
    # The same layout in inclusive integer corners: [0, 9] is 10 pixels wide with pixel_offset 1.
    gt = {2: ClassGroundTruth(boxes=np.array([[0, 0, 9, 9]], float), difficult=np.array([False]))}
    dets = ClassDetections(image_ids=np.array([2]), scores=np.array([0.5]), boxes=np.array([[1, 0, 10, 9]], float))
    assert voc_class_ap(dets, gt, iou_thresh=0.81, use_07_metric=False, pixel_offset=1.0) == pytest.approx(1.0)
    assert voc_class_ap(dets, gt, iou_thresh=0.82, use_07_metric=False, pixel_offset=1.0) == pytest.approx(0.0)


def test_voc_ap_area_rule_uses_the_precision_envelope():
    recall = np.array([0.25, 0.5, 0.5, 1.0])
    precision = np.array([0.5, 1.0, 0.5, 0.4])
    # Envelope: 1 up to recall .5, then .4 -> .5 * 1 + .5 * .4
    assert voc_ap(recall, precision, use_07_metric=False) == pytest.approx(0.7)


def test_class_without_ground_truth_is_left_out():
    empty = {1: ClassGroundTruth(boxes=np.zeros((0, 4)), difficult=np.zeros(0, bool))}
    assert np.isnan(voc_class_ap(DETECTIONS, empty, iou_thresh=0.5, use_07_metric=False))


def voc_like_dataset():
    """The hand case as a 2-class dataset (images 1 and 2 of 40 x 40); class "cat" has no box."""
    boxes = [(1, [0, 0, 10, 10], 0), (1, [20, 20, 10, 10], 1), (2, [0, 0, 10, 10], 0)]
    data = {
        "images": [{"id": 1, "width": 40, "height": 40}, {"id": 2, "width": 40, "height": 40}],
        "annotations": [{"id": n + 1, "image_id": i, "category_id": 5, "bbox": b, "area": 100.0, "iscrowd": 0,
                         "difficult": d} for n, (i, b, d) in enumerate(boxes)],
        "categories": [{"id": 5, "name": "dog"}, {"id": 8, "name": "cat"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        return FakeDataset(coco_from_dict(data))


def test_voc_evaluator_end_to_end_on_the_hand_case():
    dataset = voc_like_dataset()
    detections = {}
    for image_id, score, (x1, y1, x2, y2) in zip(DETECTIONS.image_ids, DETECTIONS.scores, DETECTIONS.boxes):
        detections.setdefault(int(image_id), []).append((5, [x1, y1, x2 - x1, y2 - y1], float(score)))
    model = TableModel(detection_rows(dataset, detections), num_classes=2)
    # nmsthre 1.0 keeps d4, the exact duplicate of d1, so the hand-computed sequence holds.
    evaluator = VOCEvaluator(FakeLoader(dataset), TEST_SIZE, confthre=0.01, nmsthre=1.0, num_classes=2,
                             use_07_metric=False)
    ap50_95, ap50, summary = evaluator.evaluate(model)
    assert ap50 == pytest.approx(0.75)
    # d5 (IoU 0.818) is a hit at 7 of the 10 thresholds: (7 * .75 + 3 * .5) / 10.
    assert ap50_95 == pytest.approx(0.675)
    assert evaluator.last_scores.ap50_07[0] == pytest.approx(8.5 / 11)
    assert np.isnan(evaluator.last_scores.ap50_area[1])
    assert "dog" in summary and "cat" in summary
