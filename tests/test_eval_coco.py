"""COCOEvaluator on a hand-made ground truth: perfect predictions, one shifted box, no detections,
class-id mapping, results file, return_outputs, and agreement of the two backends."""
import contextlib
import copy
import io
import json

import numpy as np
import pytest
import torch
from eval_fakes import (
    TEST_SIZE,
    FakeDataset,
    FakeLoader,
    TableModel,
    coco_from_dict,
    detection_rows,
    ground_truth_detections,
    tiny_coco_dict,
)
from pycocotools.cocoeval import COCOeval

from yolox.evaluators import (
    COCOEvaluator,
    category_to_contiguous,
    contiguous_to_category,
    faster_coco_eval_available,
    score_coco_detections,
)


def make_evaluator(dataset, **kwargs):
    return COCOEvaluator(FakeLoader(dataset), TEST_SIZE, confthre=0.01, nmsthre=0.65,
                         num_classes=len(dataset.class_ids), **kwargs)


def pycocotools_ap(coco, per_image):
    """AP50:95 straight from pycocotools for detections {image_id: [(cat, xywh, score)]}."""
    records = [{"image_id": i, "category_id": c, "bbox": box, "score": s}
               for i, dets in per_image.items() for c, box, s in dets]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(coco, coco.loadRes(records), iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


@pytest.fixture
def dataset():
    with contextlib.redirect_stdout(io.StringIO()):
        return FakeDataset(coco_from_dict(tiny_coco_dict()))


def test_predictions_equal_to_ground_truth_give_ap_1(dataset):
    model = TableModel(detection_rows(dataset, ground_truth_detections(dataset.coco)), num_classes=3)
    ap50_95, ap50, summary = make_evaluator(dataset).evaluate(model)
    assert ap50_95 == pytest.approx(1.0) and ap50 == pytest.approx(1.0)
    # The 12 stats are printed, then the per-class table with every category name.
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000" in summary
    for name in ("car", "cat", "toothbrush"):
        assert name in summary


def test_one_shifted_box_gives_the_ap_pycocotools_computes(dataset):
    detections = ground_truth_detections(dataset.coco)
    category, (x, y, w, h), score = detections[7][1]
    detections[7][1] = (category, [x + 9.0, y + 4.0, w, h], score)  # IoU ~0.68 with its GT
    expected = pycocotools_ap(dataset.coco, detections)

    evaluator = make_evaluator(dataset)
    ap50_95, ap50, _ = evaluator.evaluate(TableModel(detection_rows(dataset, detections), num_classes=3))
    assert expected[0] < 1.0
    assert ap50_95 == pytest.approx(expected[0], abs=1e-9)
    assert ap50 == pytest.approx(expected[1], abs=1e-9)
    assert [evaluator.last_scores.stats[k] for k in evaluator.last_scores.stats] == pytest.approx(list(expected))
    cat = next(c for c in evaluator.last_scores.per_class if c.name == "cat")
    assert cat.ap50 == pytest.approx(1.0) and 0.0 < cat.ap50_95 < 1.0


def test_no_detections_give_ap_0_and_say_why(dataset):
    model = TableModel(detection_rows(dataset, {}), num_classes=3)
    ap50_95, ap50, summary = make_evaluator(dataset).evaluate(model)
    assert (ap50_95, ap50) == (0.0, 0.0)
    assert "No detections above the confidence threshold" in summary


def test_class_ids_round_trip_non_contiguous_category_ids(dataset):
    coco_ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
                31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
                56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
                85, 86, 87, 88, 89, 90]
    forward, backward = contiguous_to_category(coco_ids), category_to_contiguous(coco_ids)
    assert all(backward[forward[k]] == k for k in range(80))
    assert forward[0] == 1 and forward[79] == 90 and backward[13] == 11
    with pytest.raises(ValueError, match="duplicates"):
        category_to_contiguous([1, 3, 3])


def test_results_file_and_outputs_use_dataset_category_ids_and_original_pixels(dataset, tmp_path):
    model = TableModel(detection_rows(dataset, ground_truth_detections(dataset.coco)), num_classes=3)
    results_file = tmp_path / "results.json"
    evaluator = make_evaluator(dataset, results_file=results_file)
    *_, outputs = evaluator.evaluate(model, return_outputs=True)
    records = json.loads(results_file.read_text())
    assert len(records) == 5 and {r["category_id"] for r in records} == {3, 17, 90}
    toothbrush = next(r for r in records if r["category_id"] == 90)
    assert toothbrush["image_id"] == 11
    assert toothbrush["bbox"] == pytest.approx([5.0, 30.0, 80.0, 100.0], abs=1e-3)
    assert outputs[11]["categories"] == [90]


def test_a_class_index_beyond_the_dataset_is_a_clear_error(dataset):
    rows = detection_rows(dataset, ground_truth_detections(dataset.coco))
    wide = [torch.cat([r, torch.zeros(len(r), 1)], dim=1) for r in rows]
    wide[0][0, 5:] = torch.tensor([0.0, 0.0, 0.0, 1.0])  # class 3 of a 4-class model
    evaluator = COCOEvaluator(FakeLoader(dataset), TEST_SIZE, 0.01, 0.65, num_classes=4)
    with pytest.raises(ValueError, match="num_classes does not match"):
        evaluator.evaluate(TableModel(wide, num_classes=4))


def test_testdev_writes_results_and_skips_scoring(dataset, tmp_path):
    model = TableModel(detection_rows(dataset, ground_truth_detections(dataset.coco)), num_classes=3)
    out = tmp_path / "testdev.json"
    ap50_95, ap50, summary = make_evaluator(dataset, testdev=True, results_file=out).evaluate(model)
    assert (ap50_95, ap50) == (0.0, 0.0) and str(out) in summary
    assert len(json.loads(out.read_text())) == 5


@pytest.mark.skipif(not faster_coco_eval_available(), reason="faster-coco-eval is not installed")
def test_faster_coco_eval_backend_gives_identical_numbers(dataset):
    detections = ground_truth_detections(dataset.coco)
    for image_id, dets in detections.items():  # shifted, rescaled and spurious boxes
        c, (x, y, w, h), s = dets[0]
        dets.append((c, [x + 3.0, y - 2.0, w * 0.8, h * 1.1], s - 0.3))
        dets.append((c, [x + w / 2, y, w, h], s - 0.5))
        dets[0] = (c, [x + image_id % 5, y, w, h], s)
    records = [{"image_id": i, "category_id": c, "bbox": b, "score": s}
               for i, d in detections.items() for c, b, s in d]
    reference = score_coco_detections(dataset.coco, copy.deepcopy(records), backend="pycocotools")
    faster = score_coco_detections(dataset.coco, records, backend="faster_coco_eval")
    assert faster.stats == pytest.approx(reference.stats, abs=1e-12)
    for a, b in zip(reference.per_class, faster.per_class):
        assert (a.category_id, a.ap50_95, a.ap50, a.ar100) == pytest.approx((b.category_id, b.ap50_95, b.ap50,
                                                                              b.ar100), abs=1e-12)
    assert 0.0 < reference.ap50_95 < 1.0


def test_pycocotools_split_by_category_over_processes_gives_identical_numbers(monkeypatch):
    """Forked workers each evaluate a share of the categories; the merge must equal one process."""
    from pycocotools.coco import COCO

    from yolox.evaluators import parallel_cocoeval

    rng = np.random.default_rng(0)
    cat_ids = [1, 3, 7, 12, 18, 44, 52, 61, 77, 90]
    images, annotations, records = [], [], []
    for image_id in range(60):
        images.append({"id": image_id, "width": 320, "height": 240})
        for _ in range(int(rng.integers(1, 8))):
            w, h = rng.uniform(4, 120, size=2)
            x, y = rng.uniform(0, 320 - w), rng.uniform(0, 240 - h)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "iscrowd": int(rng.random() < 0.05),
                                "area": w * h, "category_id": int(rng.choice(cat_ids)), "bbox": [x, y, w, h]})
            records.append({"image_id": image_id, "category_id": annotations[-1]["category_id"], "score": rng.random(),
                            "bbox": [x + rng.normal(0, 3), y + rng.normal(0, 3), w, h]})
        for _ in range(40):
            w, h = rng.uniform(4, 120, size=2)
            records.append({"image_id": image_id, "category_id": int(rng.choice(cat_ids)), "score": rng.random() * 0.6,
                            "bbox": [rng.uniform(0, 320 - w), rng.uniform(0, 240 - h), w, h]})
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": c, "name": f"c{c}"} for c in cat_ids]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    merges = []
    real_merge = parallel_cocoeval._merge
    monkeypatch.setattr(parallel_cocoeval, "_merge", lambda *a: merges.append(1) or real_merge(*a))
    assert len(records) >= parallel_cocoeval.MIN_DETECTIONS_TO_SPLIT
    serial = score_coco_detections(coco, records, processes=1)
    split = score_coco_detections(coco, records, processes=3)
    assert merges == [1]  # the second call really was split
    assert split.stats == serial.stats and split.text == serial.text
    assert [(c.category_id, c.ap50_95, c.ap50, c.ar100) for c in split.per_class] == \
           [(c.category_id, c.ap50_95, c.ap50, c.ar100) for c in serial.per_class]
    assert 0.0 < serial.ap50_95 < 1.0
