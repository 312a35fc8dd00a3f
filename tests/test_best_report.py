"""The evaluation report of best_ckpt.pth at the end of training (yolox/core/best_report.py,
called once from Trainer.after_train on rank 0)."""
import csv
from argparse import Namespace

import pytest
from torch import nn

import yolox.core.trainer as trainer_module
from yolox.core import Trainer
from yolox.core.best_report import report_best_checkpoint
from yolox.exp import Exp, get_exp
from yolox.utils.checkpoint import save_checkpoint

from _train_helpers import make_tiny_sample, write_exp


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    return make_tiny_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture
def tiny(tmp_path, sample_dir):
    """(exp, its evaluator, a run folder holding best_ckpt.pth of the exp's untrained model)."""
    exp = get_exp(str(write_exp(tmp_path / "tiny.py", data_dir=sample_dir, output_dir=tmp_path / "out")))
    run_dir = tmp_path / "out" / "tiny"
    save_checkpoint({"model": exp.get_model().state_dict()}, is_best=True, save_dir=run_dir, model_name="latest")
    return exp, exp.get_evaluator(batch_size=4, is_distributed=False), run_dir


@pytest.mark.slow  # evaluation and the drawing of every figure: about 5 s on a busy 2-core machine
def test_report_of_the_best_checkpoint(tiny):
    exp, evaluator, run_dir = tiny
    exp.report_after_train = True
    folder = report_best_checkpoint(exp, run_dir=run_dir, model=exp.get_model(), evaluator=evaluator,
                                    distributed=False)
    assert folder.parent == run_dir / "eval"
    assert {"summary.json", "per_class.csv", "confusion_matrix.png", "pr_curves.png", "confidence_curves.png",
            "worst_images.png"} <= {p.name for p in folder.iterdir()}
    with open(folder / "per_class.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and rows[-1]["class"] == "all"  # the sample's five classes by name, then all
    assert int(rows[-1]["instances"]) > 0
    assert evaluator.last_predictions is None and not evaluator.keep_predictions  # nothing held afterwards


def test_no_report_when_switched_off_or_without_a_best_checkpoint(tiny, tmp_path):
    exp, evaluator, run_dir = tiny
    assert not exp.report_after_train  # the test helper's experiments leave it off
    kwargs = dict(model=exp.get_model(), evaluator=evaluator, distributed=False)
    assert report_best_checkpoint(exp, run_dir=run_dir, **kwargs) is None
    exp.report_after_train = True
    assert report_best_checkpoint(exp, run_dir=tmp_path / "elsewhere", **kwargs) is None
    assert not (run_dir / "eval").exists() and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("ending", ["done", "failed", "preempted"])
def test_after_train_asks_for_the_report_only_when_the_run_ended_normally(tmp_path, monkeypatch, ending):
    calls = []
    monkeypatch.setattr(trainer_module, "report_best_checkpoint", lambda exp, **kw: calls.append(kw))
    exp = Exp()
    exp.output_dir = str(tmp_path)
    trainer = Trainer(exp, Namespace(batch_size=2))
    trainer.model, trainer.evaluator = nn.Linear(1, 1), object()
    trainer.failure = "boom" if ending == "failed" else None
    trainer.preempted = ending == "preempted"
    trainer.after_train()
    if ending == "done":
        assert calls == [dict(run_dir=trainer.file_name, model=trainer.model, evaluator=trainer.evaluator,
                              distributed=False)]
    else:
        assert calls == []
