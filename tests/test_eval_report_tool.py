"""tools/eval.py --report on six real COCO images (80 categories, crowd regions), evaluated by a
model that answers each image with its ground truth except the chairs: every count of the report
is known. Run in-process (``run_evaluation``), the way the tool's processes run it."""
import csv
import json

import numpy as np
import pytest

from yolox.exp import get_exp
from yolox.tools.eval import EvalRequest, make_parser, run_evaluation

slow = pytest.mark.slow  # the whole report of 80 categories: about 5 s of drawing on a busy 2-core machine

DROPPED = "chair"

EXP = """
import sys

sys.path.insert(0, {tests_dir!r})
from eval_fakes import ground_truth_lookup_model  # noqa: E402

from yolox.exp import Exp as BaseExp  # noqa: E402


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.data_dir = {data_dir!r}
        self.val_ann = "six.json"
        self.test_size = (160, 224)
        self.data_num_workers = 0
        self.exp_name = "six"
        self.output_dir = {output_dir!r}

    def get_model(self):
        if getattr(self, "model", None) is None:
            self.model = ground_truth_lookup_model(self.get_eval_dataset(), test_size=self.test_size,
                                                   skip_category={dropped_id})
        return self.model
"""


def test_report_flags_parse():
    args = make_parser().parse_args(["-n", "yolox-nano", "--report", "--report-conf", "0.4"])
    assert args.report and args.report_conf == 0.4 and args.report_dir is None
    assert not make_parser().parse_args(["-n", "yolox-nano"]).report  # opt-in: Megvii's command lines unchanged


@slow
def test_eval_writes_the_report_of_a_known_model(six_image_coco, repo_root, tmp_path):
    root, subset = six_image_coco
    names = {c["id"]: c["name"] for c in subset["categories"]}
    dropped_id = next(i for i, n in names.items() if n == DROPPED)
    exp_file = tmp_path / "six_exp.py"
    exp_file.write_text(EXP.format(tests_dir=str(repo_root / "tests"), data_dir=str(root),
                                   output_dir=str(tmp_path / "out"), dropped_id=dropped_id))
    outcome = run_evaluation(get_exp(str(exp_file)), EvalRequest(batch_size=4, report=True))

    folder = outcome.report_dir
    assert folder.parent == tmp_path / "out" / "six" / "eval"
    assert {"per_class.csv", "confusion_matrix.png", "pr_curves.png", "worst_images.png",
            "summary.json"} <= {p.name for p in folder.iterdir()}
    assert "evaluation report in" in outcome.summary and "| chair" in outcome.summary

    boxes = [a for a in subset["annotations"] if not a["iscrowd"]]
    per_class = {}
    for a in boxes:
        per_class[names[a["category_id"]]] = per_class.get(names[a["category_id"]], 0) + 1
    with open(folder / "per_class.csv") as handle:
        table = {r["class"]: r for r in csv.DictReader(handle)}
    for name, count in per_class.items():
        found = 0 if name == DROPPED else count
        assert (int(table[name]["TP"]), int(table[name]["FP"]), int(table[name]["FN"])) == (found, 0, count - found)
    assert float(table[DROPPED]["AP50"]) == 0.0 and float(table["person"]["AP50"]) == pytest.approx(1.0)
    assert table["all"]["AP50"] and float(table["all"]["AP50"]) == pytest.approx(outcome.ap50)

    summary = json.loads((folder / "summary.json").read_text())
    assert summary["best_f1_confidence"] == summary["confidence"]  # every detection is right: keep them all
    with open(folder / "confusion_matrix.csv") as handle:
        cells = list(csv.reader(handle))
    labels = cells[0][1:]
    counts = np.array([[int(v) for v in row[1:]] for row in cells[1:]])
    chair = labels.index(DROPPED)
    assert counts[chair, -1] == per_class[DROPPED]  # every chair missed, nothing else
    assert counts.sum() - np.trace(counts) == per_class[DROPPED]
    with open(folder / "worst_images.csv") as handle:
        worst = list(csv.DictReader(handle))
    chair_images = {a["image_id"] for a in boxes if a["category_id"] == dropped_id}
    assert {int(r["image_id"]) for r in worst} == chair_images
