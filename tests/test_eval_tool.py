"""tools/eval.py end to end on real COCO images (80 non-contiguous ids, crowd regions), and the
letterbox undo and category mapping checked on the real data path."""
import collections
import json
import subprocess
import sys
from pathlib import Path

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

pytestmark = pytest.mark.slow  # runs tools/eval.py, one case through torch.compile


DROPPED = "chair"  # the category the known model leaves out (6 boxes in the six images)

GROUND_TRUTH_EXP = """
import sys

sys.path.insert(0, {tests_dir!r})
from eval_fakes import ground_truth_lookup_model  # noqa: E402

from yolox.exp import Exp as BaseExp  # noqa: E402


class Exp(BaseExp):
    \"\"\"The six-image COCO set, evaluated by a model that answers each image with its non-crowd
    ground truth except the boxes of category {dropped_id}.\"\"\"

    def __init__(self):
        super().__init__()
        self.data_dir = {data_dir!r}
        self.val_ann = "six.json"
        self.test_size = (160, 224)  # not square: the letterbox pads the width or the height
        self.data_num_workers = 0

    def get_model(self):
        if getattr(self, "model", None) is None:
            self.model = ground_truth_lookup_model(self.get_eval_dataset(), test_size=self.test_size,
                                                   skip_category={dropped_id})
        return self.model
"""


def expected_coco_stats(annotations, dropped: int) -> list:
    """The 12 COCO stats, worked out by counting, of detections that are exactly the non-crowd
    boxes minus category ``dropped``. Every detection matches its own box (IoU 1; no two boxes of
    a class overlap by IoU 0.5 here), so a category with boxes in an area range scores AP 1 and
    AR 1 there (0 for ``dropped``), and recall with m detections per image and category counts
    min(boxes, m) per image. Ranges without boxes give -1, as pycocotools prints."""
    boxes = [a for a in annotations if not a["iscrowd"]]
    ranges = {"all": (0, 1e10), "small": (0, 32 ** 2), "medium": (32 ** 2, 96 ** 2), "large": (96 ** 2, 1e10)}

    def mean_over_categories(area: str, value=lambda c: 1.0) -> float:
        low, high = ranges[area]
        cats = {a["category_id"] for a in boxes if low <= a["area"] <= high}
        return sum(0.0 if c == dropped else value(c) for c in cats) / len(cats) if cats else -1.0

    def recall_at(max_dets: int):
        def recall(category: int) -> float:
            per_image = collections.Counter(a["image_id"] for a in boxes if a["category_id"] == category)
            return sum(min(n, max_dets) for n in per_image.values()) / sum(per_image.values())
        return recall

    ap = mean_over_categories("all")
    by_area = [mean_over_categories(area) for area in ("small", "medium", "large")]
    recalls = [mean_over_categories("all", recall_at(m)) for m in (1, 10, 100)]
    return [ap, ap, ap, *by_area, *recalls, *by_area]


def per_class_rows(out: str) -> dict:
    """{class name: [AP50:95, AP50, AR100] as printed} from the per-class table (two column groups)."""
    table = out[out.index("per class (area all):"):].splitlines()[1:]
    rows = {}
    for line in table:
        if not line.startswith("|") or "class" in line or "---" in line:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for group in range(0, len(cells), 4):
            if cells[group]:
                rows[cells[group]] = cells[group + 1:group + 4]
    return rows


def write_ground_truth_exp(tmp_path, repo_root, six_image_coco):
    """(exp file of the known model on the six images, its dropped category id, {id: name})."""
    root, subset = six_image_coco
    names = {c["id"]: c["name"] for c in subset["categories"]}
    dropped_id = next(i for i, n in names.items() if n == DROPPED)
    exp_file = tmp_path / "gt_exp.py"
    exp_file.write_text(GROUND_TRUTH_EXP.format(tests_dir=str(repo_root / "tests"), data_dir=str(root),
                                                dropped_id=dropped_id))
    return exp_file, dropped_id, names


@pytest.mark.parametrize("backend,devices", [("faster_coco_eval", 1), ("pycocotools", 1), ("faster_coco_eval", 4)])
def test_eval_tool_prints_the_known_scores_of_a_known_model(six_image_coco, repo_root, tmp_path, backend, devices):
    """tools/eval.py on real images through the real loader, with a model whose detections are
    the ground truth minus one class: every printed number is worked out independently. With
    ``-d 4`` (CPU processes, gloo) the distributed sampler pads 6 images to 8: the two repeated
    images must be dropped, or their detections would count twice and the record count differ."""
    _, subset = six_image_coco
    assert sum(a["iscrowd"] for a in subset["annotations"]) >= 2 and len(subset["categories"]) == 80
    exp_file, dropped_id, names = write_ground_truth_exp(tmp_path, repo_root, six_image_coco)
    results = tmp_path / "results.json"
    cmd = [sys.executable, str(repo_root / "tools" / "eval.py"), "-f", str(exp_file), "-b", "4",
           "--coco-backend", backend, "--results", str(results), "-d", str(devices)]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stderr
    assert f"(per image, {-(-6 // devices)} images)" in out  # rank 0's share of the timing

    expected = expected_coco_stats(subset["annotations"], dropped_id)
    assert 0.9 < expected[0] < 1.0 and expected[6] < expected[7]  # the known model is not trivially perfect
    printed = [line.rsplit("=", 1)[1].strip() for line in out.splitlines()
               if "Average Precision  (AP) @[" in line or "Average Recall     (AR) @[" in line]
    assert printed == [f"{v:0.3f}" for v in expected]

    rows = per_class_rows(out)
    assert len(rows) == 80 and set(rows) == set(names.values())  # COCO's names, all 80 categories
    with_boxes = {names[a["category_id"]] for a in subset["annotations"] if not a["iscrowd"]}
    for name, values in rows.items():
        want = "0.000" if name == DROPPED else "1.000" if name in with_boxes else "-"
        assert values == [want] * 3, (name, values)

    records = json.loads(results.read_text())
    kept = [a for a in subset["annotations"] if not a["iscrowd"] and a["category_id"] != dropped_id]
    assert len(records) == len(kept)
    assert sorted((r["image_id"], r["category_id"]) for r in records) == \
        sorted((a["image_id"], a["category_id"]) for a in kept)


IN_TRAINING_EVAL = """
import json
import sys

from yolox.utils.launch import LaunchConfig, launch
from yolox.exp import get_exp
from yolox.utils.dist import get_rank


def evaluate_as_the_trainer_does(exp_file, out_prefix, distributed):
    exp = get_exp(exp_file)
    evaluator = exp.get_evaluator(batch_size=2, is_distributed=distributed)
    ap50_95, ap50, _ = exp.eval(exp.get_model(), evaluator, distributed)  # Trainer.evaluate's call
    with open(f"{out_prefix}.rank{get_rank()}.json", "w") as f:
        json.dump([ap50_95, ap50], f)


if __name__ == "__main__":
    processes = int(sys.argv[3])
    launch(evaluate_as_the_trainer_does, LaunchConfig(num_gpus_per_machine=processes),
           args=(sys.argv[1], sys.argv[2], processes > 1))
"""


def test_in_training_evaluation_with_several_processes_gives_the_one_process_ap(six_image_coco, repo_root,
                                                                                 tmp_path):
    """The evaluation the trainer runs (exp.eval on the distributed evaluator) gives every rank the
    AP of one process: with 2 processes (3 images each) and 4 (6 images padded to 8 by the sampler)."""
    _, subset = six_image_coco
    exp_file, dropped_id, _ = write_ground_truth_exp(tmp_path, repo_root, six_image_coco)
    script = tmp_path / "in_training_eval.py"
    script.write_text(IN_TRAINING_EVAL)
    scores = {}
    for processes in (1, 2, 4):
        prefix = str(tmp_path / f"ap{processes}")
        run = subprocess.run([sys.executable, str(script), str(exp_file), prefix, str(processes)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        scores[processes] = [json.loads(Path(f"{prefix}.rank{r}.json").read_text()) for r in range(processes)]
    expected = expected_coco_stats(subset["annotations"], dropped_id)
    assert scores[1][0][0] == pytest.approx(expected[0], abs=1e-9)
    for processes in (2, 4):
        assert scores[processes] == [scores[1][0]] * processes, processes  # exactly, on every rank


def test_eval_tool_rejects_trt_and_unknown_overrides(repo_root, tmp_path):
    tool = str(repo_root / "tools" / "eval.py")
    run = subprocess.run([sys.executable, tool, "-n", "yolox-nano", "--trt"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0 and "TensorRT evaluation is not supported" in run.stderr
    run = subprocess.run([sys.executable, tool, "-n", "yolox-nano", "no_such_key", "1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "unknown experiment attribute 'no_such_key'" in run.stderr


def test_eval_tool_flags_are_checked_like_overrides(repo_root, capsys):
    """--tsize goes through the experiment's size check; --coco-backend takes the two backends only."""
    import yolox.tools.eval as tool
    from yolox.tools.exp_flags import build_exp

    args = tool.make_parser().parse_args(["-n", "yolox-nano", "--tsize", "100", "--coco-backend", "pycocotools"])
    with pytest.raises(ValueError, match=r"test_size=\(100, 100\) must be \(height, width\), both multiples of 32"):
        build_exp(args, overrides=tool.flag_overrides(args))
    args = tool.make_parser().parse_args(["-n", "yolox-nano", "--tsize", "128", "--conf", "0.2", "--nms", "0.5",
                                          "--coco-backend", "pycocotools", "test_conf", "0.3"])
    exp = build_exp(args, overrides=tool.flag_overrides(args))
    assert (exp.test_size, exp.test_conf, exp.nmsthre, exp.coco_backend) == ((128, 128), 0.2, 0.5, "pycocotools")
    with pytest.raises(SystemExit):
        tool.make_parser().parse_args(["-n", "yolox-nano", "--coco-backend", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err


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
