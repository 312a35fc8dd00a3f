"""Model-level utilities: size and cost report, conv+BN folding for inference, BN settings,
memory format."""
import contextlib
import copy
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence, Type

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["ModelStats", "model_stats", "get_model_info", "fuse_conv_and_bn", "fuse_model", "set_bn_hyperparams",
           "to_channels_last", "is_channels_last", "replace_module", "freeze_module", "adjust_status"]


@dataclass(frozen=True)
class ModelStats:
    params: int  # trainable and frozen parameters
    gflops: float  # 2 x multiply-accumulates, for one image at the given size

    def __str__(self) -> str:
        return f"Params: {self.params / 1e6:.2f}M, Gflops: {self.gflops:.2f}"


def model_stats(model: nn.Module, tsize: Sequence[int] = (640, 640)) -> ModelStats:
    """Parameter count and GFLOPs of one ``tsize`` (h, w) image.

    Convolution cost grows exactly with the input area here (every layer keeps the stride
    grid), so the count is taken on a 64x64 input and scaled: cheap even for YOLOX-X.
    """
    params = sum(p.numel() for p in model.parameters())
    probe = copy.deepcopy(model).eval()
    device = next(model.parameters()).device
    side = 64
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        probe(torch.zeros(1, 3, side, side, device=device))
    flops = counter.get_total_flops() * (tsize[0] * tsize[1]) / (side * side)
    return ModelStats(params=params, gflops=flops / 1e9)


def get_model_info(model: nn.Module, tsize: Sequence[int] = (640, 640)) -> str:
    """Megvii-compatible one-line summary: ``"Params: 8.97M, Gflops: 26.76"``."""
    return str(model_stats(model, tsize))


def fuse_conv_and_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv with bias equal to ``bn(conv(x))`` in eval mode (running statistics)."""
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=conv.kernel_size, stride=conv.stride,
                      padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=True)
    fused = fused.to(device=conv.weight.device, dtype=conv.weight.dtype).requires_grad_(False)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # [C_out]
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_((conv_bias - bn.running_mean) * scale + bn.bias)
    if not conv.weight.is_contiguous() and conv.weight.is_contiguous(memory_format=torch.channels_last):
        fused = fused.to(memory_format=torch.channels_last)  # a channels-last model stays one when fused
    return fused


def fuse_model(model: nn.Module) -> nn.Module:
    """Fold the BatchNorm of every conv block into its conv, in place, for faster inference.

    A conv block is any module with a Conv2d ``conv``, a BatchNorm ``bn`` and a ``fuseforward``
    (``yolox.models.network_blocks.BaseConv``, and Megvii-style blocks of user models), matched
    by shape so that utils need not import the models. Only valid for inference: the BN
    statistics are frozen into the weights.
    """
    for module in model.modules():
        if _is_fusable_conv_block(module):
            module.conv = fuse_conv_and_bn(module.conv, module.bn)
            delattr(module, "bn")
            module.forward = module.fuseforward
    return model


def _is_fusable_conv_block(module: nn.Module) -> bool:
    return (isinstance(getattr(module, "conv", None), nn.Conv2d)
            and hasattr(module, "bn")
            and callable(getattr(module, "fuseforward", None)))


def set_bn_hyperparams(model: nn.Module, eps: float = 1e-3, momentum: float = 0.03) -> nn.Module:
    """YOLOX trains every BatchNorm with eps 1e-3 and momentum 0.03 (PyTorch defaults: 1e-5, 0.1)."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eps = eps
            module.momentum = momentum
    return model


def to_channels_last(model: nn.Module) -> nn.Module:
    """Store the model's 4-d weights channels-last (NHWC), in place.

    oneDNN on CPU and cuDNN on GPU run YOLOX's convolutions faster in that layout (fused nano at
    416, batch 8, 2 CPU cores: 22.6 -> 34.4 img/s in ``benchmarks/inference.py``), and the first
    convolution converts NCHW inputs itself. Values, names and the state dict's
    use are unchanged: checkpoints load into either layout.
    """
    return model.to(memory_format=torch.channels_last)


def is_channels_last(model: nn.Module) -> bool:
    """Whether every conv weight whose layout is not ambiguous (k > 1 and more than one input
    channel per group; 1x1 and depthwise weights are both layouts at once) is channels-last."""
    weights = [m.weight for m in model.modules()
               if isinstance(m, nn.Conv2d) and m.weight.shape[-1] > 1 and m.weight.shape[1] > 1]
    return bool(weights) and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)


def replace_module(module: nn.Module, replaced_module_type: Type[nn.Module], new_module_type: Type[nn.Module],
                   replace_func: Optional[Callable[[Type[nn.Module], Type[nn.Module]], nn.Module]] = None
                   ) -> nn.Module:
    """Swap every submodule of type ``replaced_module_type`` for a new module, in place (used before
    export, e.g. ``nn.SiLU`` -> the export-friendly ``yolox.models.network_blocks.SiLU``).

    The new module is ``replace_func(replaced_module_type, new_module_type)``, by default
    ``new_module_type()``. Returns the module, or its replacement when ``module`` itself matches.
    """
    make = replace_func or (lambda _old, new: new())
    if isinstance(module, replaced_module_type):
        return make(replaced_module_type, new_module_type)
    for name, child in list(module.named_children()):
        new_child = replace_module(child, replaced_module_type, new_module_type, replace_func)
        if new_child is not child:
            setattr(module, name, new_child)
    return module


def freeze_module(module: nn.Module, name: Optional[str] = None) -> nn.Module:
    """Stop training ``module`` (in place): its parameters stop requiring gradients and its
    submodules go to eval mode, so BatchNorm statistics and dropout freeze too.

    name: freeze only parameters and submodules whose qualified name contains it (a substring,
    e.g. ``"backbone"``), as Megvii's. Note ``model.train()`` switches the modules back to train
    mode; the parameters stay frozen.
    """
    for param_name, param in module.named_parameters():
        if name is None or name in param_name:
            param.requires_grad_(False)
    for sub_name, sub in module.named_modules():
        if name is None or name in sub_name:
            sub.eval()
    return module


@contextlib.contextmanager
def adjust_status(module: nn.Module, training: bool = False) -> Iterator[nn.Module]:
    """Within the block, ``module`` and every submodule are in train (``training=True``) or eval
    mode; on leaving, each gets back the mode it had, so a partly frozen model stays partly frozen
    (``model.train()`` afterwards would not)."""
    before = {sub: sub.training for sub in module.modules()}
    for sub in before:
        sub.training = training
    try:
        yield module
    finally:
        for sub, mode in before.items():
            sub.training = mode
