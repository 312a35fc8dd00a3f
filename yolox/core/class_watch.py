"""Watches the per-class AP of each evaluation for a class the model does not learn.

A minority class can stall at AP 0 while the others learn: the assigner gives its boxes anchors and the
model finds them, but labels them as the majority class (issue 24: BCCD's WBC, 1 box in 11). The user
hears of it once, with where to look and what fixed it on BCCD.
"""
import math
from dataclasses import dataclass, field
from typing import Set

from loguru import logger

from yolox.evaluators.coco_scoring import COCOScores, unlearned_classes

__all__ = ["UnlearnedClassWatch"]


@dataclass
class UnlearnedClassWatch:
    """After warm-up, a class at AP 0 while another class learns gets one info line; from half of the
    training on, one warning, repeated only if the class recovers and drops to 0 again. The warning waits
    because a class with few boxes can start late in a good run: with the BCCD recipe one had its first
    detection at 38% of the schedule and ended at AP50 0.65, while the collapses seen stayed at 0 to the end."""

    warmup_epochs: int
    max_epoch: int
    batch_size: int
    best_checkpoint: str  # where the run writes best_ckpt.pth, for the eval command the warning gives
    _noted: Set[str] = field(default_factory=set)  # reported (info) as not detected yet
    _warned: Set[str] = field(default_factory=set)  # at 0 in the last evaluation and warned about

    @property
    def warn_from(self) -> int:
        """The first epoch (1-based) whose evaluation warns."""
        return max(self.warmup_epochs + 1, math.ceil(self.max_epoch / 2))

    def check(self, epoch: int, scores: COCOScores) -> None:
        """Log what the evaluation after ``epoch`` (1-based) shows of classes at AP 0."""
        if epoch <= self.warmup_epochs:
            return
        unlearned = unlearned_classes(scores)
        learned = [c for c in scores.per_class if c.ap50_95 > 0]
        others = "{} ({})".format("the others learn" if len(learned) > 1 else "another class learns",
                                  ", ".join(f"{c.name} AP50:95 {c.ap50_95:.3f}" for c in learned))
        if epoch < self.warn_from:
            for cls in unlearned:
                if cls.name not in self._noted:
                    logger.info("epoch {}: class {!r} has no detection on the validation set yet (AP 0) while {}; "
                                "a class with few boxes often starts later. A warning follows if it is still at 0 "
                                "from epoch {} on.", epoch, cls.name, others, self.warn_from)
            self._noted |= {cls.name for cls in unlearned}
            return
        for cls in unlearned:
            if cls.name in self._warned:
                continue
            logger.warning(
                "epoch {}: class {!r} has AP 0 on the validation set (AR100 {:.3f}) while {}: the model "
                "misses its boxes or gives them another class's label. The confusion matrix of the evaluation report "
                "shows where its boxes went: `python tools/eval.py -f <exp> -c {} --report` (written for the best "
                "checkpoint at the end of training too, in <run>/eval/). If it stays at 0 with "
                "a small batch ({}), the learning rate may be too low for the class scores to separate: "
                "basic_lr_per_img scaled by sqrt(64 / batch) instead of linearly (the BCCD example does so) "
                "made every class learn in every seed tried on BCCD.", epoch, cls.name, cls.ar100, others,
                self.best_checkpoint, self.batch_size)
        self._warned = {cls.name for cls in unlearned}
