"""Per-iteration learning-rate schedules with Megvii YOLOX's names and formulas.

The learning rate is a pure function of the global iteration, so resuming needs only the
iteration count (the checkpoint stores it), never a scheduler object's hidden state.
"""
import math
from dataclasses import dataclass
from typing import Callable, Dict, Sequence

__all__ = ["LRScheduler", "SCHEDULES"]


@dataclass(frozen=True)
class _Plan:
    """Iteration counts every schedule is written in (all in iterations, not epochs)."""

    lr: float
    total_iters: int
    warmup_iters: int
    no_aug_iters: int
    warmup_lr: float
    min_lr: float


def _cosine(plan: _Plan, progress: float, span: float) -> float:
    """min_lr -> lr cosine at ``progress`` of ``span`` iterations (0 gives lr)."""
    return plan.min_lr + 0.5 * (plan.lr - plan.min_lr) * (1.0 + math.cos(math.pi * progress / max(span, 1)))


def _quadratic_warmup(plan: _Plan, iters: int) -> float:
    return (plan.lr - plan.warmup_lr) * (iters / max(plan.warmup_iters, 1)) ** 2 + plan.warmup_lr


def _cos(plan: _Plan, iters: int, **_) -> float:
    return plan.lr * 0.5 * (1.0 + math.cos(math.pi * iters / plan.total_iters))


def _warmcos(plan: _Plan, iters: int, **_) -> float:
    """Linear warm-up, then cosine from lr to 0 over the rest."""
    if iters <= plan.warmup_iters:
        return (plan.lr - plan.warmup_lr) * iters / max(plan.warmup_iters, 1) + plan.warmup_lr
    span = plan.total_iters - plan.warmup_iters
    return plan.lr * 0.5 * (1.0 + math.cos(math.pi * (iters - plan.warmup_iters) / max(span, 1)))


def _yoloxwarmcos(plan: _Plan, iters: int, **_) -> float:
    """Quadratic warm-up, cosine down to min_lr, then min_lr flat for the no-aug epochs."""
    if iters <= plan.warmup_iters:
        return _quadratic_warmup(plan, iters)
    if iters >= plan.total_iters - plan.no_aug_iters:
        return plan.min_lr
    span = plan.total_iters - plan.warmup_iters - plan.no_aug_iters
    return _cosine(plan, iters - plan.warmup_iters, span)


def _yoloxsemiwarmcos(plan: _Plan, iters: int, *, iters_per_epoch: int, semi_epoch: int,
                      iters_per_epoch_semi: int, total_epochs: int, no_aug_epochs: int, **_) -> float:
    """yoloxwarmcos whose epochs after ``semi_epoch`` last ``iters_per_epoch_semi`` iterations
    each (semi-supervised phase); the cosine advances one supervised epoch per semi epoch."""
    normal_iters = iters_per_epoch * semi_epoch
    semi_iters = iters_per_epoch_semi * (total_epochs - semi_epoch - no_aug_epochs)
    span = plan.total_iters - plan.warmup_iters - plan.no_aug_iters
    if iters <= plan.warmup_iters:
        return _quadratic_warmup(plan, iters)
    if iters >= normal_iters + semi_iters:
        return plan.min_lr
    if iters <= normal_iters:
        return _cosine(plan, iters - plan.warmup_iters, span)
    stretched = normal_iters - plan.warmup_iters + (iters - normal_iters) * iters_per_epoch / iters_per_epoch_semi
    return _cosine(plan, stretched, span)


def _multistep(plan: _Plan, iters: int, *, milestone_iters: Sequence[int], gamma: float, **_) -> float:
    return plan.lr * gamma ** sum(iters >= m for m in milestone_iters)


SCHEDULES: Dict[str, Callable[..., float]] = {
    "cos": _cos, "warmcos": _warmcos, "yoloxwarmcos": _yoloxwarmcos,
    "yoloxsemiwarmcos": _yoloxsemiwarmcos, "multistep": _multistep,
}


class LRScheduler:
    """``update_lr(iters)`` -> the learning rate of global iteration ``iters`` (0-based).

    name: one of ``SCHEDULES``; lr: the peak rate; iters_per_epoch, total_epochs: the run's length.
    Keywords as in Megvii YOLOX: ``warmup_epochs``, ``warmup_lr_start``, ``no_aug_epochs``,
    ``min_lr_ratio`` (warm-up schedules), ``milestones`` (epochs) and ``gamma`` (multistep),
    ``semi_epoch`` and ``iters_per_epoch_semi`` (yoloxsemiwarmcos).
    """

    def __init__(self, name: str, lr: float, iters_per_epoch: int, total_epochs: int, **kwargs):
        if name not in SCHEDULES:
            raise ValueError(f"unknown learning-rate scheduler {name!r}; choose one of {sorted(SCHEDULES)}")
        if iters_per_epoch <= 0 or total_epochs <= 0:
            raise ValueError(f"scheduler needs iters_per_epoch > 0 and total_epochs > 0, got "
                             f"{iters_per_epoch} and {total_epochs}")
        self.name = name
        self.lr = lr
        self.iters_per_epoch = iters_per_epoch
        self.total_epochs = total_epochs
        self.total_iters = iters_per_epoch * total_epochs
        self._plan = _Plan(
            lr=lr, total_iters=self.total_iters,
            warmup_iters=int(iters_per_epoch * kwargs.get("warmup_epochs", 0)),
            no_aug_iters=int(iters_per_epoch * kwargs.get("no_aug_epochs", 0)),
            warmup_lr=float(kwargs.get("warmup_lr_start", 0.0)),
            min_lr=lr * float(kwargs.get("min_lr_ratio", 0.2)),
        )
        self._extra = {
            "iters_per_epoch": iters_per_epoch, "total_epochs": total_epochs,
            "no_aug_epochs": kwargs.get("no_aug_epochs", 0),
            "milestone_iters": [int(iters_per_epoch * m) for m in kwargs.get("milestones", ())],
            "gamma": kwargs.get("gamma", 0.1),
            "semi_epoch": kwargs.get("semi_epoch", 0),
            "iters_per_epoch_semi": kwargs.get("iters_per_epoch_semi", iters_per_epoch),
        }
        if name == "multistep" and not self._extra["milestone_iters"]:
            raise ValueError("the multistep scheduler needs milestones=[epoch, ...]")

    def update_lr(self, iters: int) -> float:
        return SCHEDULES[self.name](self._plan, iters, **self._extra)
