"""tools/eval.py end to end on real COCO images (80 non-contiguous ids, crowd regions), and the
letterbox undo and category mapping checked on the real data path."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from yolox.data.data_augment import ValTransform
from yolox.evaluators import (
    ImagePrediction,
    letterbox_ratio,
    predictions_to_coco,
    score_coco_detections,
    undo_letterbox,
)


@pytest.fixture(scope="module")
def mini_coco(datasets_dir):
    root = datasets_dir / "coco_val2017_mini"
    if not (root / "annotations" / "instances_val2017.json").is_file():
        pytest.skip(f"coco_val2017_mini not found under {datasets_dir}")
    return root


@pytest.fixture(scope="module")
def six_image_coco(mini_coco, tmp_path_factory):
    """A COCO folder with 6 of the mini images (two of them with crowd regions) and all 80 categories."""
    data = json.loads((mini_coco / "annotations" / "instances_val2017.json").read_text())
    crowd_images = sorted({a["image_id"] for a in data["annotations"] if a["iscrowd"]})[:2]
    keep = set(crowd_images) | {139, 802, 10764, 11813}
    subset = dict(data, images=[i for i in data["images"] if i["id"] in keep],
                  annotations=[a for a in data["annotations"] if a["image_id"] in keep])
    root = tmp_path_factory.mktemp("coco6")
    (root / "annotations").mkdir()
    (root / "annotations" / "six.json").write_text(json.dumps(subset))
    (root / "val2017").symlink_to(mini_coco / "val2017", target_is_directory=True)
    return root, subset


def test_eval_tool_prints_coco_summary_table_and_timing(six_image_coco, repo_root, tmp_path):
    root, subset = six_image_coco
    assert sum(a["iscrowd"] for a in subset["annotations"]) >= 2 and len(subset["categories"]) == 80
    results = tmp_path / "results.json"
    # A random nano scores ~1e-4 everywhere: a tiny --conf keeps detections so COCOeval runs.
    cmd = [sys.executable, str(repo_root / "tools" / "eval.py"), "-n", "yolox-nano", "--tsize", "160", "-b", "4",
           "--conf", "0.00001", "--seed", "0", "--results", str(results),
           "data_dir", str(root), "val_ann", "six.json", "data_num_workers", "0"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stderr
    assert "Average forward time" in out and "Average NMS time" in out and "(per image, 6 images)" in out
    assert out.count("Average Precision  (AP) @[") == 6 and out.count("Average Recall     (AR) @[") == 6
    assert "| class" in out and "AP50:95" in out and "AR100" in out
    assert "toothbrush" in out and "hair drier" in out  # all 80 classes listed, COCO names
    records = json.loads(results.read_text())
    assert records and {r["category_id"] for r in records} <= {c["id"] for c in subset["categories"]}


def test_eval_tool_rejects_trt_and_unknown_overrides(repo_root, tmp_path):
    tool = str(repo_root / "tools" / "eval.py")
    run = subprocess.run([sys.executable, tool, "-n", "yolox-nano", "--trt"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0 and "TensorRT evaluation is not supported" in run.stderr
    run = subprocess.run([sys.executable, tool, "-n", "yolox-nano", "no_such_key", "1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "unknown experiment attribute 'no_such_key'" in run.stderr


def test_ground_truth_through_the_real_letterbox_scores_ap_1(six_image_coco):
    """GT boxes scaled like ValTransform scales images, then mapped back by the evaluator's
    conversion: AP 1.0 with COCO's own category ids and crowd regions."""
    root, subset = six_image_coco
    from yolox.data.datasets.coco_view import coco_from_dict

    coco = coco_from_dict(subset)
    class_ids = sorted(coco.getCatIds())
    test_size = (160, 224)
    predictions = []
    for image in subset["images"]:
        ratio = letterbox_ratio((image["height"], image["width"]), test_size)
        rows = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3],
                 1.0, 0.99 - 0.001 * k, class_ids.index(a["category_id"])]
                for k, a in enumerate(coco.imgToAnns[image["id"]]) if not a["iscrowd"]]
        det = torch.tensor(rows, dtype=torch.float64)
        det[:, :4] *= ratio
        predictions.append(ImagePrediction(image["id"], (image["height"], image["width"]), det.float()))
    scores = score_coco_detections(coco, predictions_to_coco(predictions, test_size=test_size, class_ids=class_ids))
    assert scores.ap50_95 == pytest.approx(1.0) and scores.ap50 == pytest.approx(1.0)


# Ratios 0.83 (down) and 1.33 (up): one letterboxed pixel is at most 1.2 original pixels, so the
# bright area's edges (cut at half intensity) locate the box to well under that.
@pytest.mark.parametrize("orig_size,test_size", [((375, 500), (416, 416)), ((480, 300), (640, 416))])
def test_letterbox_undo_maps_a_box_back_within_1px(orig_size, test_size):
    h, w = orig_size
    img = np.zeros((h, w, 3), np.uint8)
    box = (61, 47, 233, 205)  # x1, y1, x2, y2 inclusive pixel corners
    cv2.rectangle(img, box[:2], box[2:], (255, 255, 255), -1)
    letterboxed, _ = ValTransform(legacy=False)(img, None, test_size)
    bright = np.argwhere(letterboxed[0] > 127)  # the pad is 114: below the cut
    (y1, x1), (y2, x2) = bright.min(0), bright.max(0) + 1  # continuous corners of the bright area
    found = undo_letterbox(torch.tensor([[x1, y1, x2, y2]], dtype=torch.float32),
                           letterbox_ratio(orig_size, test_size))[0]
    expected = torch.tensor([box[0], box[1], box[2] + 1, box[3] + 1], dtype=torch.float32)
    assert torch.all((found - expected).abs() <= 1.0), (found, expected)


@pytest.mark.slow
def test_eval_tool_compile_gives_the_uncompiled_numbers(six_image_coco, repo_root, tmp_path):
    """--compile (about a minute of compiling on 2 cores) scores what the eager model scores."""
    root, _ = six_image_coco
    summaries = {}
    for flags in ([], ["--compile"]):
        cmd = [sys.executable, str(repo_root / "tools" / "eval.py"), "-n", "yolox-nano", "--tsize", "160", "-b", "3",
               "--conf", "0.00001", "--seed", "0", *flags, "data_dir", str(root), "val_ann", "six.json",
               "data_num_workers", "0"]
        run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=400)
        assert run.returncode == 0, run.stderr[-3000:]
        summaries[bool(flags)] = [line.split("=")[-1].strip() for line in run.stderr.splitlines()
                                  if "Average Precision" in line or "Average Recall" in line]
        if flags:
            assert "--compile: compiling the model" in run.stderr and "compiled in" in run.stderr
    assert len(summaries[False]) == 12 and summaries[True] == summaries[False]
