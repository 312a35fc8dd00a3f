"""Building blocks of CSPDarknet, Darknet, PAFPN and the YOLOv3 FPN.

Module and attribute names (``conv``, ``bn``, ``dconv``, ``pconv``, ``conv1``..``conv3``, ``m``)
are part of the checkpoint format: official YOLOX ``.pth`` files address parameters by them.
"""
from typing import Sequence

import torch
from torch import nn

__all__ = [
    "SiLU",
    "get_activation",
    "BaseConv",
    "DWConv",
    "Bottleneck",
    "ResLayer",
    "SPPBottleneck",
    "CSPLayer",
    "Focus",
]

class SiLU(nn.Module):
    """SiLU written as ``x * sigmoid(x)``: exporters and runtimes without a SiLU operator (older
    ONNX opsets, CoreML, TensorRT) get two ops they all know. Same values as ``nn.SiLU``; swap it
    in with ``yolox.utils.replace_module(model, nn.SiLU, SiLU)`` before export."""

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


_ACTIVATIONS = {
    "silu": lambda inplace: nn.SiLU(inplace=inplace),
    "relu": lambda inplace: nn.ReLU(inplace=inplace),
    "lrelu": lambda inplace: nn.LeakyReLU(0.1, inplace=inplace),
}


def get_activation(name: str = "silu", inplace: bool = True) -> nn.Module:
    """Activation module by name: ``silu``, ``relu`` or ``lrelu`` (LeakyReLU, slope 0.1)."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name](inplace)


class BaseConv(nn.Module):
    """Conv2d (no bias, 'same' padding) -> BatchNorm2d -> activation."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int,
                 groups: int = 1, bias: bool = False, act: str = "silu"):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=ksize, stride=stride,
                              padding=(ksize - 1) // 2, groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = get_activation(act, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))

    def fuseforward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward after ``fuse_model`` folded ``bn`` into ``conv``."""
        return self.act(self.conv(x))


class DWConv(nn.Module):
    """Depthwise conv (per channel, ``ksize``) then pointwise 1x1 conv, each a BaseConv."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int = 1, act: str = "silu"):
        super().__init__()
        self.dconv = BaseConv(in_channels, in_channels, ksize=ksize, stride=stride, groups=in_channels, act=act)
        self.pconv = BaseConv(in_channels, out_channels, ksize=1, stride=1, groups=1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


def conv_block(depthwise: bool):
    """The 3x3 conv type used where YOLOX lets ``depthwise`` choose (nano uses DWConv)."""
    return DWConv if depthwise else BaseConv


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 expand, plus identity when shapes allow and ``shortcut`` is set."""

    def __init__(self, in_channels: int, out_channels: int, shortcut: bool = True,
                 expansion: float = 0.5, depthwise: bool = False, act: str = "silu"):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = BaseConv(in_channels, hidden, 1, stride=1, act=act)
        self.conv2 = conv_block(depthwise)(hidden, out_channels, 3, stride=1, act=act)
        self.use_add = shortcut and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class ResLayer(nn.Module):
    """Darknet residual unit: 1x1 halves the channels, 3x3 restores them, identity added.

    Always LeakyReLU, as in YOLOv3's Darknet (Megvii's ``ResLayer`` has no ``act`` parameter).
    """

    def __init__(self, in_channels: int):
        super().__init__()
        mid = in_channels // 2
        self.layer1 = BaseConv(in_channels, mid, ksize=1, stride=1, act="lrelu")
        self.layer2 = BaseConv(mid, in_channels, ksize=3, stride=1, act="lrelu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer2(self.layer1(x))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: max-pools of several sizes (stride 1) concatenated with the input."""

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_sizes: Sequence[int] = (5, 9, 13), activation: str = "silu"):
        super().__init__()
        hidden = in_channels // 2
        self.conv1 = BaseConv(in_channels, hidden, 1, stride=1, act=activation)
        self.m = nn.ModuleList(nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = BaseConv(hidden * (len(kernel_sizes) + 1), out_channels, 1, stride=1, act=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.m], dim=1))


class CSPLayer(nn.Module):
    """Cross-stage partial block: one branch runs ``n`` bottlenecks, the other is a 1x1 bypass."""

    def __init__(self, in_channels: int, out_channels: int, n: int = 1, shortcut: bool = True,
                 expansion: float = 0.5, depthwise: bool = False, act: str = "silu"):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = BaseConv(in_channels, hidden, 1, stride=1, act=act)
        self.conv2 = BaseConv(in_channels, hidden, 1, stride=1, act=act)
        self.conv3 = BaseConv(2 * hidden, out_channels, 1, stride=1, act=act)
        self.m = nn.Sequential(*[
            Bottleneck(hidden, hidden, shortcut=shortcut, expansion=1.0, depthwise=depthwise, act=act)
            for _ in range(n)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.cat([self.m(self.conv1(x)), self.conv2(x)], dim=1))


class Focus(nn.Module):
    """Space-to-depth: [B, C, H, W] -> [B, 4C, H/2, W/2] then a BaseConv.

    The four pixel phases are stacked in the order (even row, even col), (odd row, even col),
    (even row, odd col), (odd row, odd col): official weights depend on this order.
    """

    def __init__(self, in_channels: int, out_channels: int, ksize: int = 1, stride: int = 1, act: str = "silu"):
        super().__init__()
        self.conv = BaseConv(in_channels * 4, out_channels, ksize, stride, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phases = [x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]]
        return self.conv(torch.cat(phases, dim=1))
