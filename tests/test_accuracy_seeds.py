"""benchmarks/accuracy.py's seed sweep: options, per-class summary, json round trip (no training)."""
import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def acc():
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", REPO_ROOT / "benchmarks" / "accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(acc, seed, wbc, platelets=0.2):
    """A BCCD-like result: overall 0.3, RBC 0.4, WBC ``wbc``, Platelets ``platelets`` on val and test."""
    result = acc.RunResult("bccd", "python tools/train.py", 20, 60.0, 70.0, seed=seed)
    for split in ("val", "test"):
        result.scores[split] = {"AP50:95": 0.3 + seed / 100, "AP50": 0.6, "images": 80}
        result.per_class[split] = [
            {"category_id": i, "name": name, "ap50_95": ap, "ap50": 2 * ap, "ar100": 0.5}
            for i, (name, ap) in enumerate((("RBC", 0.4), ("WBC", wbc), ("Platelets", platelets)), start=1)]
    return result


def test_options_put_the_seed_last_and_give_each_seed_a_folder(acc, tmp_path):
    spec = acc.RUNS["bccd"]
    options = acc.RunOptions(epochs=20, opts=["seed", "7", "no_aug_epochs", "5"], seed=1)
    assert options.overrides() == ["max_epoch", "20", "seed", "7", "no_aug_epochs", "5", "seed", "1"]
    assert options.run_dir(tmp_path, spec) == tmp_path / "bccd_seed1"
    plain = acc.RunOptions(opts=["no_aug_epochs", "5"])
    assert plain.overrides() == ["no_aug_epochs", "5"]
    assert plain.run_dir(tmp_path, spec) == tmp_path


def test_summary_gives_mean_worst_per_class_and_the_worst_over_best_ratio(acc):
    runs = [_result(acc, 0, 0.6), _result(acc, 1, 0.0), _result(acc, 2, 0.3, platelets=math.nan)]
    summary = acc.seed_summary(runs)
    assert summary["seeds"] == [0, 1, 2]
    assert summary["worst"]["test"]["WBC"] == {"AP50:95": 0.0, "AP50": 0.0}
    assert summary["mean"]["val"]["WBC"]["AP50:95"] == pytest.approx(0.3)
    assert summary["mean"]["val"]["Platelets"]["AP50:95"] == pytest.approx(0.2)  # NaN left out
    assert summary["worst"]["val"]["all"]["AP50:95"] == pytest.approx(0.30)
    assert summary["ratio_split"] == "test"
    assert summary["worst_over_best_AP50:95"] == pytest.approx(0.30 / 0.32)
    assert summary["collapsed"] == [{"seed": 1, "split": "val", "class": "WBC"},
                                    {"seed": 1, "split": "test", "class": "WBC"}]


def test_json_round_trip_and_report(acc, tmp_path, capsys):
    runs = [_result(acc, 0, 0.6), _result(acc, 1, 0.0)]
    path = tmp_path / "sweep.json"
    acc.write_json(str(path), runs, seeds=True)
    data = json.loads(path.read_text())
    assert data["runs"][1]["per_class"]["test"][1]["name"] == "WBC"
    assert data["summary"]["bccd"]["worst"]["test"]["WBC"]["AP50:95"] == 0.0
    assert acc.main(["--report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bccd/s1" in out and "worst/best test AP50:95 over seeds [0, 1]: 0.97" in out
    assert "class AP50:95 0 where another seed learns it: seed 1 WBC on val, seed 1 WBC on test" in out
    acc.write_json(str(path), runs[:1], seeds=False)  # without --seeds: the plain list of runs
    assert isinstance(json.loads(path.read_text()), list)
    assert [r.seed for r in acc.read_json(str(path))] == [0]


def test_report_of_sweeps_run_side_by_side_is_one_table_in_seed_order(acc, tmp_path, capsys):
    """Seeds trained in parallel processes write one json each; --report reads them as one sweep."""
    paths = []
    for seed, wbc in ((2, 0.3), (0, 0.6), (1, 0.0)):
        paths.append(tmp_path / f"seed{seed}.json")
        acc.write_json(str(paths[-1]), [_result(acc, seed, wbc)], seeds=True)
    assert acc.main(["--report", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    assert out.index("bccd/s0") < out.index("bccd/s1") < out.index("bccd/s2")
    assert "worst/best test AP50:95 over seeds [0, 1, 2]: 0.94" in out  # 0.30 / 0.32
    assert "seed 1 WBC on val" in out
