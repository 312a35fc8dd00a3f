"""Backbones: CSPDarknet (YOLOX: Focus stem, four CSP stages, SPP in the last) and Darknet
(YOLOv3: plain residual stages, SPP head on the last; used by ``YOLOFPN``)."""
from typing import Dict, List, Sequence

import torch
from torch import nn

from .network_blocks import BaseConv, CSPLayer, Focus, ResLayer, SPPBottleneck, conv_block

__all__ = ["CSPDarknet", "Darknet"]

_STAGES = ("stem", "dark2", "dark3", "dark4", "dark5")


def _check_out_features(owner: str, out_features: Sequence[str]) -> tuple:
    unknown = set(out_features) - set(_STAGES)
    if not out_features or unknown:
        raise ValueError(f"{owner} out_features {list(out_features)} must be a non-empty subset of {_STAGES}")
    return tuple(out_features)


def _run_stages(module: nn.Module, x: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Run stem..dark5 in order, keeping the maps named in ``module.out_features``."""
    outputs = {}
    for name in _STAGES:
        x = getattr(module, name)(x)
        if name in module.out_features:
            outputs[name] = x
    return outputs


class Darknet(nn.Module):
    """Darknet-21 or Darknet-53 (YOLOv3's backbone), LeakyReLU throughout.

    Returns a dict of feature maps; with ``c = stem_out_channels`` (32), ``stem`` has 2c channels at
    stride 2, ``dark2``/``dark3``/``dark4`` have 4c/8c/16c at strides 4/8/16, and ``dark5`` 16c at
    stride 32 (its residual stage has 32c, then an SPP block narrows it). Each stage is a stride-2
    3x3 conv that doubles the channels followed by ``depth2blocks[depth]`` residual units.
    """

    STAGES = _STAGES
    # residual units in dark2..dark5 (the stem always has one)
    depth2blocks = {21: [1, 2, 2, 1], 53: [2, 8, 8, 4]}

    def __init__(self, depth: int, in_channels: int = 3, stem_out_channels: int = 32,
                 out_features: Sequence[str] = ("dark3", "dark4", "dark5")):
        super().__init__()
        if depth not in self.depth2blocks:
            raise ValueError(f"Darknet depth must be one of {sorted(self.depth2blocks)}, got {depth!r}")
        self.out_features = _check_out_features("Darknet", out_features)
        c = stem_out_channels
        blocks = self.depth2blocks[depth]
        self.stem = nn.Sequential(BaseConv(in_channels, c, ksize=3, stride=1, act="lrelu"),
                                  *self.make_group_layer(c, num_blocks=1, stride=2))
        self.dark2 = nn.Sequential(*self.make_group_layer(c * 2, num_blocks=blocks[0], stride=2))
        self.dark3 = nn.Sequential(*self.make_group_layer(c * 4, num_blocks=blocks[1], stride=2))
        self.dark4 = nn.Sequential(*self.make_group_layer(c * 8, num_blocks=blocks[2], stride=2))
        self.dark5 = nn.Sequential(*self.make_group_layer(c * 16, num_blocks=blocks[3], stride=2),
                                   *self.make_spp_block([c * 16, c * 32], c * 32))

    def make_group_layer(self, in_channels: int, num_blocks: int, stride: int = 1) -> List[nn.Module]:
        """A 3x3 conv (``stride``) from ``in_channels`` to twice as many, then ``num_blocks`` ResLayers."""
        return [BaseConv(in_channels, in_channels * 2, ksize=3, stride=stride, act="lrelu"),
                *[ResLayer(in_channels * 2) for _ in range(num_blocks)]]

    def make_spp_block(self, filters_list: Sequence[int], in_filters: int) -> List[nn.Module]:
        """1x1 narrow, 3x3 widen, SPP (to the narrow width), 3x3 widen, 1x1 narrow:
        ``in_filters`` -> ``filters_list[0]`` channels."""
        narrow, wide = filters_list
        return [
            BaseConv(in_filters, narrow, 1, stride=1, act="lrelu"),
            BaseConv(narrow, wide, 3, stride=1, act="lrelu"),
            SPPBottleneck(in_channels=wide, out_channels=narrow, activation="lrelu"),
            BaseConv(narrow, wide, 3, stride=1, act="lrelu"),
            BaseConv(wide, narrow, 1, stride=1, act="lrelu"),
        ]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """x: [B, C_in, H, W] -> {name: [B, C_k, H / s_k, W / s_k]} for the requested stages."""
        return _run_stages(self, x)


class CSPDarknet(nn.Module):
    """Returns a dict of feature maps; ``dark3``/``dark4``/``dark5`` have strides 8/16/32.

    Channels are ``64 * wid_mul`` times (1, 2, 4, 8, 16) for stem..dark5; the CSP stages
    repeat ``max(round(3 * dep_mul), 1)`` bottlenecks (three times that in dark3 and dark4).
    """

    STAGES = _STAGES

    def __init__(self, dep_mul: float, wid_mul: float,
                 out_features: Sequence[str] = ("dark3", "dark4", "dark5"),
                 depthwise: bool = False, act: str = "silu"):
        super().__init__()
        self.out_features = _check_out_features("CSPDarknet", out_features)
        Conv = conv_block(depthwise)
        c = int(wid_mul * 64)
        n = max(round(dep_mul * 3), 1)

        def stage(c_in: int, c_out: int, repeats: int) -> nn.Sequential:
            return nn.Sequential(
                Conv(c_in, c_out, 3, 2, act=act),
                CSPLayer(c_out, c_out, n=repeats, depthwise=depthwise, act=act),
            )

        self.stem = Focus(3, c, ksize=3, act=act)
        self.dark2 = stage(c, c * 2, n)
        self.dark3 = stage(c * 2, c * 4, n * 3)
        self.dark4 = stage(c * 4, c * 8, n * 3)
        # The last stage puts SPP before its CSP block and drops the bottleneck shortcuts.
        self.dark5 = nn.Sequential(
            Conv(c * 8, c * 16, 3, 2, act=act),
            SPPBottleneck(c * 16, c * 16, activation=act),
            CSPLayer(c * 16, c * 16, n=n, shortcut=False, depthwise=depthwise, act=act),
        )

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """x: [B, 3, H, W] -> {name: [B, C_k, H / s_k, W / s_k]} for the requested stages."""
        return _run_stages(self, x)
