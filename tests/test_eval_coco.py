"""COCOEvaluator on a hand-made ground truth: perfect predictions, one shifted box, no detections,
class-id mapping, results file, return_outputs; and the two COCO backends (faster-coco-eval, the
default, and pycocotools, the reference) agreeing on the real COCO mini set."""
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
    BACKENDS,
    COCOEvaluator,
    category_to_contiguous,
    contiguous_to_category,
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


def test_unknown_backend_is_a_clear_error(dataset):
    with pytest.raises(ValueError, match="unknown COCO evaluation backend 'fast'; choose one of faster_coco_eval"):
        make_evaluator(dataset, backend="fast")
    with pytest.raises(ValueError, match="unknown COCO evaluation backend"):
        score_coco_detections(dataset.coco, [], backend="cocoapi")


def noisy_detections(coco, seed: int = 0) -> list:
    """COCO result dicts made from ``coco``'s ground truth: about 15% of the boxes dropped, the
    rest jittered by ~8% of their size, 0..4 false positives per image (random class, place and
    size), all with random scores, so every stat lands strictly between 0 and 1."""
    rng = np.random.default_rng(seed)
    cat_ids = sorted(coco.getCatIds())
    records = []
    for image_id in sorted(coco.getImgIds()):
        image = coco.imgs[image_id]
        for ann in coco.imgToAnns[image_id]:
            if ann["iscrowd"] or rng.random() < 0.15:
                continue
            x, y, w, h = ann["bbox"]
            dx, dy, dw, dh = rng.normal(0.0, 0.08, size=4) * [w, h, w, h]
            records.append({"image_id": image_id, "category_id": ann["category_id"], "score": float(rng.random()),
                            "bbox": [x + dx, y + dy, max(w + dw, 1.0), max(h + dh, 1.0)]})
        for _ in range(int(rng.integers(0, 5))):
            w, h = rng.uniform(4, image["width"] / 2), rng.uniform(4, image["height"] / 2)
            records.append({"image_id": image_id, "category_id": int(rng.choice(cat_ids)),
                            "score": float(rng.random() * 0.7),
                            "bbox": [rng.uniform(0, image["width"] - w), rng.uniform(0, image["height"] - h), w, h]})
    return records


def test_both_backends_give_the_same_12_numbers_on_the_coco_mini_set(datasets_dir):
    """Official val2017 annotations (80 categories, crowd regions, all three area ranges)."""
    from pycocotools.coco import COCO

    ann_file = datasets_dir / "coco_val2017_mini" / "annotations" / "instances_val2017.json"
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(ann_file))
    records = noisy_detections(coco)
    scores = {backend: score_coco_detections(coco, records, backend=backend) for backend in BACKENDS}
    reference, faster = scores["pycocotools"], scores["faster_coco_eval"]
    assert list(reference.stats) == list(faster.stats) and len(reference.stats) == 12
    for name, value in reference.stats.items():
        assert 0.0 < value < 1.0, (name, value)
        assert faster.stats[name] == pytest.approx(value, abs=1e-6), name
    assert faster.text == reference.text
    assert len(reference.per_class) == len(faster.per_class) == 80
    for a, b in zip(reference.per_class, faster.per_class):
        assert (a.category_id, a.name) == (b.category_id, b.name)
        assert (a.ap50_95, a.ap50, a.ar100) == pytest.approx((b.ap50_95, b.ap50, b.ar100), abs=1e-6, nan_ok=True)


def test_summary_text_is_what_pycocotools_prints(dataset):
    records = [{"image_id": i, "category_id": c, "bbox": b, "score": s}
               for i, d in ground_truth_detections(dataset.coco).items() for c, b, s in d]
    records[0]["bbox"] = [v + 3.0 for v in records[0]["bbox"]]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(dataset.coco, dataset.coco.loadRes(copy.deepcopy(records)), iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        evaluator.summarize()
    for backend in BACKENDS:  # -1.000 included: the tiny set has no large box
        assert score_coco_detections(dataset.coco, records, backend=backend).text == printed.getvalue().rstrip()
