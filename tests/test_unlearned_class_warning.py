"""A class with AP 0 while the others learn (a minority class collapsing, issue 24's WBC) gets one
clear warning from the trainer from half of the training on, naming the class and where to see its
figures; earlier, after warm-up, one info line (a class with few boxes can start late in a good run)."""
import math
from argparse import Namespace

from torch import nn

from yolox.core import Trainer
from yolox.evaluators import ClassScores, COCOEvaluator, COCOScores, unlearned_classes
from yolox.exp import Exp


def _scores(**ap50_95) -> COCOScores:
    """COCOScores with the given per-class AP50:95 (NaN: no boxes of that class in the images)."""
    per_class = [ClassScores(category_id=i, name=name, ap50_95=ap, ap50=ap if math.isnan(ap) else min(1.0, 2 * ap),
                             ar100=0.0 if ap == 0 else 0.5) for i, (name, ap) in enumerate(ap50_95.items())]
    return COCOScores(stats={"AP50:95": 0.0, "AP50": 0.0}, per_class=per_class)


def test_a_class_at_zero_counts_only_while_another_class_learns():
    assert [c.name for c in unlearned_classes(_scores(RBC=0.32, WBC=0.0, Platelets=0.05))] == ["WBC"]
    assert unlearned_classes(_scores(RBC=0.0, WBC=0.0)) == []  # nothing learned yet: not a class's problem
    assert unlearned_classes(_scores(RBC=0.3, WBC=float("nan"))) == []  # no WBC boxes to find


class ScriptedEvaluator(COCOEvaluator):
    """Hands the trainer one scripted COCOScores per evaluation, as COCOEvaluator leaves them."""

    def __init__(self, scripted):
        self.scripted = list(scripted)
        self.last_scores = None

    def evaluate(self, model, distributed=False, half=False, return_outputs=False):
        self.last_scores = self.scripted.pop(0)
        return 0.1, 0.2, "summary"


def test_the_trainer_warns_once_per_collapse_after_warm_up(tmp_path, capture_log):
    exp = Exp()
    exp.ema, exp.warmup_epochs, exp.max_epoch, exp.output_dir = False, 1, 4, str(tmp_path)
    trainer = Trainer(exp, Namespace(batch_size=2))
    trainer.model = nn.Linear(1, 1)
    collapsed, learned = _scores(RBC=0.3, WBC=0.0, Platelets=0.1), _scores(RBC=0.3, WBC=0.2, Platelets=0.1)
    trainer.evaluator = ScriptedEvaluator([collapsed, collapsed, collapsed, learned, collapsed,
                                           _scores(RBC=0.0, WBC=0.0, Platelets=0.0)])
    warnings = capture_log("WARNING")
    per_epoch = []
    for epoch in range(6):
        trainer.epoch = epoch
        trainer.evaluate()
        per_epoch.append(len(warnings))
    # epoch 1 is warm-up; 2 warns; 3 is the same collapse; 4 recovered; 5 collapses again; 6 learned nothing
    assert per_epoch == [0, 1, 1, 1, 2, 2]
    assert "class 'WBC' has AP 0" in warnings[0] and "epoch 2" in warnings[0]
    assert "RBC AP50:95 0.300, Platelets AP50:95 0.100" in warnings[0]
    assert "tools/eval.py" in warnings[0] and "best_ckpt.pth --report" in warnings[0]
    assert "confusion matrix" in warnings[0]
    assert "sqrt(64 / batch)" in warnings[0]  # the remedy that worked on BCCD (issue 24)


def test_a_late_class_gets_an_info_line_before_half_of_the_training(tmp_path, capture_log):
    exp = Exp()
    exp.ema, exp.warmup_epochs, exp.max_epoch, exp.output_dir = False, 1, 10, str(tmp_path)
    trainer = Trainer(exp, Namespace(batch_size=2))
    trainer.model = nn.Linear(1, 1)
    late = _scores(RBC=0.3, WBC=0.4, Platelets=0.0)
    trainer.evaluator = ScriptedEvaluator([late] * 3 + [_scores(RBC=0.3, WBC=0.4, Platelets=0.1)] + [late] * 3)
    warnings, infos = capture_log("WARNING"), capture_log("INFO")
    for epoch in range(1, 8):
        trainer.epoch = epoch
        trainer.evaluate()
        if epoch == 3:  # epochs 2-4 (1-based) are before half of the 10: no warning, one info line
            assert warnings == []
            noted = [m for m in infos if "no detection on the validation set yet" in m]
            assert len(noted) == 1 and "'Platelets'" in noted[0] and "from epoch 5 on" in noted[0]
    # epoch 5 learned Platelets; epoch 6 is the first at 0 from half of the training on: the warning
    assert len(warnings) == 1 and "epoch 6: class 'Platelets' has AP 0" in warnings[0]


def test_an_evaluator_without_coco_figures_is_left_alone(tmp_path, capture_log):
    class OwnEvaluator:
        def evaluate(self, model, distributed=False, half=False, return_outputs=False):
            return 0.0, 0.0, "summary"

    exp = Exp()
    exp.ema, exp.warmup_epochs, exp.output_dir = False, 0, str(tmp_path)
    trainer = Trainer(exp, Namespace(batch_size=2))
    trainer.model, trainer.evaluator, trainer.epoch = nn.Linear(1, 1), OwnEvaluator(), 3
    warnings = capture_log("WARNING")
    trainer.evaluate()
    assert warnings == []
