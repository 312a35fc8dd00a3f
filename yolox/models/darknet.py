"""CSPDarknet: the YOLOX backbone (Focus stem, four CSP stages, SPP in the last)."""
from typing import Dict, Sequence

import torch
from torch import nn

from .network_blocks import CSPLayer, Focus, SPPBottleneck, conv_block

__all__ = ["CSPDarknet"]


class CSPDarknet(nn.Module):
    """Returns a dict of feature maps; ``dark3``/``dark4``/``dark5`` have strides 8/16/32.

    Channels are ``64 * wid_mul`` times (1, 2, 4, 8, 16) for stem..dark5; the CSP stages
    repeat ``max(round(3 * dep_mul), 1)`` bottlenecks (three times that in dark3 and dark4).
    """

    STAGES = ("stem", "dark2", "dark3", "dark4", "dark5")

    def __init__(self, dep_mul: float, wid_mul: float,
                 out_features: Sequence[str] = ("dark3", "dark4", "dark5"),
                 depthwise: bool = False, act: str = "silu"):
        super().__init__()
        unknown = set(out_features) - set(self.STAGES)
        if unknown:
            raise ValueError(f"CSPDarknet out_features {sorted(unknown)} not in {self.STAGES}")
        self.out_features = tuple(out_features)
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
        outputs = {}
        for name in self.STAGES:
            x = getattr(self, name)(x)
            if name in self.out_features:
                outputs[name] = x
        return outputs
