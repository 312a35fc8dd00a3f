"""Fixed weights that make a narrow, untrained YOLOX give image-dependent predictions (tests only).

PyTorch's default init lets this deep, narrow net's activations fade by the head, so every anchor
of a level would score the same; Kaiming-initialised convolutions keep them alive. Small prediction
weights, an objectness bias and boxes about 3 strides wide let a handful of boxes pass a threshold.
"""
import math

import torch
from torch import nn


@torch.no_grad()
def lively_init(model: nn.Module, *, obj_std: float, obj_bias: float, cls_std: float) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
    for obj, cls, reg in zip(model.head.obj_preds, model.head.cls_preds, model.head.reg_preds):
        obj.weight.normal_(0.0, obj_std)
        obj.bias.fill_(obj_bias)
        cls.weight.normal_(0.0, cls_std)
        cls.bias.zero_()
        reg.weight.normal_(0.0, 1e-4)
        reg.bias[2:].fill_(math.log(3.0))
    return model
