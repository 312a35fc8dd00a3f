"""LR schedules (hand-computed points), ModelEMA maths, and the optimizer's parameter groups."""
import math

import pytest
import torch
from torch import nn

from yolox.exp import Exp
from yolox.utils.ema import ModelEMA
from yolox.utils.lr_scheduler import LRScheduler

# lr 1, 10 iterations per epoch, 10 epochs: warm-up 2 epochs (20 its), no-aug 2 (last 20 its), min 0.05
WARM = dict(warmup_epochs=2, warmup_lr_start=0.0, no_aug_epochs=2, min_lr_ratio=0.05)


def test_yoloxwarmcos_points():
    s = LRScheduler("yoloxwarmcos", 1.0, 10, 10, **WARM)
    assert s.update_lr(0) == 0.0
    assert s.update_lr(10) == pytest.approx(0.25)  # quadratic: (10 / 20) ** 2
    assert s.update_lr(20) == pytest.approx(1.0)
    assert s.update_lr(50) == pytest.approx(0.05 + 0.5 * 0.95 * (1 + math.cos(math.pi * 30 / 60)))
    assert s.update_lr(80) == s.update_lr(99) == pytest.approx(0.05)
    cosine = [s.update_lr(i) for i in range(20, 81)]
    assert all(a >= b for a, b in zip(cosine, cosine[1:]))


def test_other_schedules():
    cos = LRScheduler("cos", 1.0, 10, 10)
    assert cos.update_lr(0) == 1.0 and cos.update_lr(50) == pytest.approx(0.5)
    assert cos.update_lr(100) == pytest.approx(0)
    warmcos = LRScheduler("warmcos", 1.0, 10, 10, warmup_epochs=2, warmup_lr_start=0.1)
    assert warmcos.update_lr(10) == pytest.approx(0.55)  # linear from 0.1 to 1
    assert warmcos.update_lr(60) == pytest.approx(0.5)  # cosine midpoint of 20..100
    step = LRScheduler("multistep", 1.0, 10, 10, milestones=[3, 6], gamma=0.1)
    assert [step.update_lr(i) for i in (29, 30, 59, 60)] == pytest.approx([1.0, 0.1, 0.1, 0.01])
    semi = LRScheduler("yoloxsemiwarmcos", 1.0, 10, 10, semi_epoch=5, iters_per_epoch_semi=20, **WARM)
    plain = LRScheduler("yoloxwarmcos", 1.0, 10, 10, **WARM)
    assert semi.update_lr(40) == pytest.approx(plain.update_lr(40))  # before the semi phase
    assert semi.update_lr(50 + 20) == pytest.approx(plain.update_lr(60))  # one semi epoch = one epoch of cosine
    with pytest.raises(ValueError, match="unknown learning-rate scheduler 'linear'"):
        LRScheduler("linear", 1.0, 10, 10)


def test_exp_scheduler_uses_exp_attributes():
    exp = Exp()
    exp.max_epoch, exp.warmup_epochs, exp.no_aug_epochs, exp.min_lr_ratio = 10, 2, 2, 0.05
    s = exp.get_lr_scheduler(1.0, 10)
    assert s.update_lr(10) == pytest.approx(0.25) and s.update_lr(95) == pytest.approx(0.05)


def test_ema_ramp_and_update():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = ModelEMA(model, decay=0.9)
    start = ema.ema[0].weight.clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model[1].num_batches_tracked += 7
    ema.update(model)
    d = 0.9 * (1 - math.exp(-1 / 2000))
    assert ema.current_decay() == pytest.approx(d)
    assert torch.allclose(ema.ema[0].weight, d * start + (1 - d) * model[0].weight)
    assert int(ema.ema[1].num_batches_tracked) == 7  # integer buffers are copied, not averaged
    clone = ModelEMA(model, decay=0.9)
    clone.load_state_dict(ema.state_dict())
    assert clone.updates == 1 and torch.equal(clone.ema[0].weight, ema.ema[0].weight)


def test_optimizer_groups_cover_every_parameter_once():
    exp = Exp()
    exp.depth, exp.width, exp.num_classes = 0.33, 0.125, 3
    model = exp.get_model()
    opt = exp.get_optimizer(batch_size=16)
    groups = opt.param_groups
    assert len(groups) == 3 and all(g["nesterov"] and g["momentum"] == 0.9 for g in groups)
    assert [g["weight_decay"] for g in groups] == [0.0, exp.weight_decay, 0.0]
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    bn_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    assert {id(p) for p in groups[0]["params"]} == bn_weights
    assert all(p.dim() == 1 for p in groups[2]["params"])
    assert groups[0]["lr"] == exp.warmup_lr  # warm-up starts from warmup_lr
    exp2 = Exp()
    exp2.depth, exp2.width, exp2.warmup_epochs = 0.33, 0.125, 0
    assert exp2.get_optimizer(batch_size=16).param_groups[0]["lr"] == pytest.approx(exp2.basic_lr_per_img * 16)
