"""The evaluation report on a hand-made case whose every count is worked out by hand, its curves
checked against the COCO scorer's AP, and the written folder.

Three classes (cat, dog, bird), three 100x100 images; boxes x1, y1, x2, y2:

    image 1  GT  A cat [10,10,40,40]   B dog [50,50,90,90]
             det d1 cat A exactly 0.9 (TP)   d2 cat [52,52,90,90] 0.8 (on dog B, IoU 0.9025: FP)
                 d3 cat [11,11,40,40] 0.7 (a duplicate of A: FP)
    image 2  GT  C bird [0,0,20,20]   D bird [60,0,80,20]   E cat [0,50,50,100] crowd (ignored)
             det d4 bird C 0.95 (TP)   d5 dog [70,70,95,95] 0.6 (on nothing: FP)
                 d6 cat E 0.5 (on the crowd box: left out)   d7 bird D 0.2 (TP)
    image 3  GT  F dog [60,60,90,90]
             det d8 dog [10,10,30,30] 0.4 (FP)   d9 dog F 0.3 (TP)

Counted detections by score: d4 TP, d1 TP, d2 FP, d3 FP, d5 FP, d8 FP, d9 TP, d7 TP; 5 boxes count.
Pooled F1 after the k-th is 2 TP / (k + 5): 1/3, 4/7, 1/2, 4/9, 2/5, 4/11, 1/2, 8/13: best at the
last, confidence 0.2.
"""
import csv
import json

import cv2
import numpy as np
import pytest
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

from yolox.evaluators import VOCEvaluator, score_coco_detections
from yolox.evaluators.report import (
    ImageBoxes,
    best_f1_confidence,
    class_counts,
    class_rows,
    coco_pr_curves,
    collect_images,
    confidence_curves,
    confusion_matrix,
    evaluator_report,
    match_images,
    write_report,
)
from yolox.evaluators.report.gallery import worst_images

NAMES = ["cat", "dog", "bird"]
CATEGORY_IDS = [1, 2, 3]
GT = {  # image_id: [(class, box, crowd)]
    1: [(0, [10, 10, 40, 40], 0), (1, [50, 50, 90, 90], 0)],
    2: [(2, [0, 0, 20, 20], 0), (2, [60, 0, 80, 20], 0), (0, [0, 50, 50, 100], 1)],
    3: [(1, [60, 60, 90, 90], 0)],
}
DETS = {  # image_id: [(class, box, score)]
    1: [(0, [10, 10, 40, 40], 0.9), (0, [52, 52, 90, 90], 0.8), (0, [11, 11, 40, 40], 0.7)],
    2: [(2, [0, 0, 20, 20], 0.95), (1, [70, 70, 95, 95], 0.6), (0, [0, 50, 50, 100], 0.5), (2, [60, 0, 80, 20], 0.2)],
    3: [(1, [10, 10, 30, 30], 0.4), (1, [60, 60, 90, 90], 0.3)],
}


def coco_ground_truth():
    from pycocotools.coco import COCO

    annotations = []
    for image_id, boxes in GT.items():
        for cls, (x1, y1, x2, y2), crowd in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": CATEGORY_IDS[cls],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": crowd})
    coco = COCO()
    coco.dataset = {"images": [{"id": i, "width": 100, "height": 100, "file_name": f"img{i}.png"} for i in GT],
                    "annotations": annotations,
                    "categories": [{"id": c, "name": n} for c, n in zip(CATEGORY_IDS, NAMES)]}
    coco.createIndex()
    return coco


def result_records():
    return [{"image_id": i, "category_id": CATEGORY_IDS[cls], "bbox": [x1, y1, x2 - x1, y2 - y1], "score": score}
            for i, dets in DETS.items() for cls, (x1, y1, x2, y2), score in dets]


@pytest.fixture(scope="module")
def case():
    coco = coco_ground_truth()
    records = result_records()
    images = collect_images(coco, records, class_ids=CATEGORY_IDS)
    return coco, records, images, match_images(images, num_classes=3)


def test_images_hold_both_sides_in_score_order(case):
    _, _, images, _ = case
    assert [im.image_id for im in images] == [1, 2, 3]
    assert images[1].det_scores.tolist() == [0.95, 0.6, 0.5, 0.2]
    assert images[1].gt_ignore.tolist() == [False, False, True]
    np.testing.assert_array_equal(images[0].det_boxes[1], [52, 52, 90, 90])


def test_matching_follows_cocos_rule(case):
    *_, matches = case
    assert matches.scores.tolist() == [0.95, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2]  # d6 on the crowd box left out
    assert matches.tp.tolist() == [True, True, False, False, False, False, True, True]
    assert matches.gt_counts.tolist() == [1, 2, 2]  # the crowd cat does not count
    assert matches.gt_images.tolist() == [1, 2, 1]


def test_best_f1_confidence_is_searched_over_every_score(case):
    *_, matches = case
    assert best_f1_confidence(matches) == pytest.approx(0.2)


def test_counts_at_a_confidence(case):
    *_, matches = case
    at_half = class_counts(matches, confidence=0.5)
    assert (at_half.tp.tolist(), at_half.fp.tolist(), at_half.fn.tolist()) == ([1, 0, 1], [2, 1, 0], [0, 2, 1])
    np.testing.assert_allclose(at_half.precision, [1 / 3, 0.0, 1.0])
    np.testing.assert_allclose(at_half.recall, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(at_half.f1, [0.5, 0.0, 2 / 3])
    pooled = class_counts(matches, confidence=0.2).pooled()
    assert (int(pooled.tp[0]), int(pooled.fp[0]), int(pooled.fn[0])) == (4, 4, 1)
    assert pooled.f1[0] == pytest.approx(8 / 13)


def test_confusion_matrix_cells(case):
    *_, matches = case
    # rows true cat, dog, bird, background; columns predicted in the same order
    at_half = confusion_matrix(matches, confidence=0.5).counts
    np.testing.assert_array_equal(at_half, [[1, 0, 0, 0],    # A found
                                            [1, 0, 0, 1],    # B taken for a cat (d2), F missed (d9 is below 0.5)
                                            [0, 0, 1, 1],    # C found, D missed (d7 is below 0.5)
                                            [1, 1, 0, 0]])   # d3 the duplicate cat, d5 the dog on nothing
    at_best = confusion_matrix(matches, confidence=0.2).counts
    np.testing.assert_array_equal(at_best, [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 2, 0], [1, 2, 0, 0]])
    # The diagonal is the table's TP; a true row adds up to the class's boxes, a column to its detections.
    counts = class_counts(matches, confidence=0.5)
    assert np.diag(at_half)[:3].tolist() == counts.tp.tolist()
    assert at_half[:3].sum(axis=1).tolist() == matches.gt_counts.tolist()
    assert at_half[:, :3].sum(axis=0).tolist() == (counts.tp + counts.fp).tolist()


def test_confidence_curves_read_the_counts(case):
    *_, matches = case
    curves = confidence_curves(matches, steps=11)  # thresholds 0, 0.1, ..., 1
    assert curves.precision[-1, 5] == pytest.approx(2 / 5)  # pooled at 0.5: d4, d1, d2, d3, d5
    assert curves.recall[-1, 5] == pytest.approx(2 / 5)
    assert curves.recall[2, 2] == pytest.approx(1.0)  # bird at 0.2: d4 and d7
    assert np.isnan(curves.precision[-1, 10])  # nothing scores 1.0


def test_pr_curves_are_the_scorers_and_their_means_its_ap(case):
    coco, records, _, _ = case
    scores = score_coco_detections(coco, records)
    curves = coco_pr_curves(scores.precision)
    # dog at IoU 0.5: d5, d8 false, then d9 finds F: recall 1/2 at precision 1/3, never more.
    recall_points = np.linspace(0, 1, 101)
    np.testing.assert_allclose(curves.at_50[1], np.where(recall_points <= 0.5, 1 / 3, 0.0))
    assert curves.ap_50[1] == pytest.approx(51 / 303)
    np.testing.assert_allclose(curves.at_50[2], 1.0)  # bird: both found, nothing false among them
    for k, c in enumerate(scores.per_class):
        assert curves.ap_50[k] == pytest.approx(c.ap50, abs=1e-12)
        assert curves.ap_50_95[k] == pytest.approx(c.ap50_95, abs=1e-12)
    all_classes = curves.all_classes()
    assert all_classes["at_50"].mean() == pytest.approx(scores.ap50, abs=1e-12)
    assert all_classes["at_50_95"].mean() == pytest.approx(scores.ap50_95, abs=1e-12)


def test_worst_images_rank_missed_plus_false(case):
    *_, matches = case
    rows = worst_images(matches, confidence=0.5, count=5)
    assert [(r["image_id"], r["missed"], r["false"]) for r in rows] == [(1, 1, 2), (2, 1, 1), (3, 1, 0)]


def test_table_rows(case):
    *_, matches = case
    rows = class_rows(matches, class_counts(matches, confidence=0.5), names=NAMES, ap50=[1.0, 0.2, 1.0],
                      ap50_95=[0.9, 0.1, 0.8])
    assert [r["class"] for r in rows] == NAMES + ["all"]
    assert [(r["images"], r["instances"], r["TP"], r["FP"], r["FN"]) for r in rows] == [
        (1, 1, 1, 2, 0), (2, 2, 0, 1, 2), (1, 2, 1, 0, 1), (3, 5, 2, 3, 3)]
    assert rows[-1]["AP50"] == pytest.approx(2.2 / 3)


def test_an_image_without_anything():
    empty = ImageBoxes(image_id=5, file_name="x", gt_boxes=np.zeros((0, 4)), gt_classes=np.zeros(0, np.int64),
                       gt_ignore=np.zeros(0, bool), det_boxes=np.zeros((0, 4)), det_scores=np.zeros(0),
                       det_classes=np.zeros(0, np.int64))
    matches = match_images([empty], num_classes=2)
    assert best_f1_confidence(matches) is None
    assert confusion_matrix(matches, confidence=0.5).counts.sum() == 0


def test_write_report_folder(case, tmp_path):
    coco, records, images, _ = case
    scores = score_coco_detections(coco, records)
    for image_id in GT:  # grey pictures for the gallery
        cv2.imwrite(str(tmp_path / f"img{image_id}.png"), np.full((100, 100, 3), 128, np.uint8))
    folder = tmp_path / "eval" / "run"
    report = write_report(folder, images=images, names=NAMES, curves=coco_pr_curves(scores.precision),
                          image_path=lambda i: tmp_path / f"img{i}.png", title="hand-made")
    written = {p.name for p in folder.iterdir()}
    assert written == {"summary.json", "per_class.csv", "confusion_matrix.csv", "confusion_matrix.png",
                       "confusion_matrix_normalized.png", "pr_curves.csv", "pr_curves.png", "pr_curves_per_class.png",
                       "confidence_curves.csv", "confidence_curves.png", "worst_images.csv", "worst_images.png"}
    for name in written:
        if name.endswith(".png"):
            assert cv2.imread(str(folder / name)) is not None, name
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["confidence"] == pytest.approx(0.2) and summary["best_f1_confidence"] == pytest.approx(0.2)
    assert summary["all_classes"]["TP"] == 4 and summary["all_classes"]["AP50"] == pytest.approx(scores.ap50)
    with open(folder / "confusion_matrix.csv") as handle:
        cells = list(csv.reader(handle))
    assert cells[0] == ["true \\ predicted", "cat", "dog", "bird", "background"]
    assert cells[4] == ["background", "1", "2", "0", "0"]
    with open(folder / "per_class.csv") as handle:
        table = {r["class"]: r for r in csv.DictReader(handle)}
    assert table["dog"]["AP50"] == f"{51 / 303}" or float(table["dog"]["AP50"]) == pytest.approx(51 / 303)
    assert "best-F1 confidence: 0.2000" in report.text()


def test_voc_report_of_an_evaluator(tmp_path):
    """The VOC evaluator's report: its own AP in the table, its matching's curves, the same counts."""
    coco = coco_from_dict(tiny_coco_dict())  # car, cat, toothbrush; one crowd car (difficult for VOC)
    dataset = FakeDataset(coco)
    detections = ground_truth_detections(coco)
    detections[7].append((3, [150.0, 60.0, 20.0, 20.0], 0.95))  # a car on nothing, above every true one
    evaluator = VOCEvaluator(FakeLoader(dataset), TEST_SIZE, 0.01, 0.65, 3, use_07_metric=False)
    evaluator.keep_predictions = True
    evaluator.evaluate(TableModel(detection_rows(dataset, detections), num_classes=3))
    report = evaluator_report(evaluator, tmp_path / "voc", confidence=0.5, worst=0)
    rows = {r["class"]: r for r in report.rows}
    assert (rows["car"]["TP"], rows["car"]["FP"], rows["car"]["FN"]) == (2, 1, 0)
    assert rows["car"]["AP50"] == pytest.approx(evaluator.last_scores.ap50_area[0])
    # car's detections by score: false, true, true over 2 boxes: precision 0, 1/2, 2/3 at recall 0, 1/2, 1,
    # whose envelope is 2/3 at every recall; the VOC area rule gives the same 2/3.
    assert rows["car"]["AP50"] == pytest.approx(2 / 3) and rows["cat"]["AP50"] == pytest.approx(1.0)
    curve = np.loadtxt(tmp_path / "voc" / "pr_curves.csv", delimiter=",", skiprows=1)  # recall, all x2, car@0.5
    np.testing.assert_allclose(curve[:, 3], 2 / 3, atol=1e-6)
