"""YOLOPAFPN: CSPDarknet plus a top-down then bottom-up path aggregation neck."""
from typing import Sequence, Tuple

import torch
from torch import nn

from .darknet import CSPDarknet
from .network_blocks import BaseConv, CSPLayer, conv_block

__all__ = ["YOLOPAFPN"]


class YOLOPAFPN(nn.Module):
    """Backbone + neck. Output: three maps at strides 8, 16, 32 with
    ``int(in_channels[k] * width)`` channels each.

    The backbone lives at ``self.backbone`` (so parameters read ``backbone.backbone.*`` inside
    ``YOLOX``), as in the official checkpoints.
    """

    def __init__(self, depth: float = 1.0, width: float = 1.0,
                 in_features: Sequence[str] = ("dark3", "dark4", "dark5"),
                 in_channels: Sequence[int] = (256, 512, 1024),
                 depthwise: bool = False, act: str = "silu"):
        super().__init__()
        self.backbone = CSPDarknet(depth, width, depthwise=depthwise, act=act)
        self.in_features = tuple(in_features)
        self.in_channels = list(in_channels)
        Conv = conv_block(depthwise)
        c3, c4, c5 = (int(ch * width) for ch in in_channels)
        n = round(3 * depth)

        def csp(c_in: int, c_out: int) -> CSPLayer:
            return CSPLayer(c_in, c_out, n=n, shortcut=False, depthwise=depthwise, act=act)

        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        # top-down path
        self.lateral_conv0 = BaseConv(c5, c4, 1, 1, act=act)
        self.C3_p4 = csp(2 * c4, c4)
        self.reduce_conv1 = BaseConv(c4, c3, 1, 1, act=act)
        self.C3_p3 = csp(2 * c3, c3)
        # bottom-up path
        self.bu_conv2 = Conv(c3, c3, 3, 2, act=act)
        self.C3_n3 = csp(2 * c3, c4)
        self.bu_conv1 = Conv(c4, c4, 3, 2, act=act)
        self.C3_n4 = csp(2 * c4, c5)

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """images: [B, 3, H, W] -> (P3 [B, c3, H/8, W/8], P4 [B, c4, H/16, W/16], P5 [B, c5, H/32, W/32])."""
        features = self.backbone(images)
        x3, x4, x5 = (features[name] for name in self.in_features)

        top5 = self.lateral_conv0(x5)
        mid4 = self.C3_p4(torch.cat([self.upsample(top5), x4], dim=1))
        top4 = self.reduce_conv1(mid4)
        out3 = self.C3_p3(torch.cat([self.upsample(top4), x3], dim=1))

        out4 = self.C3_n3(torch.cat([self.bu_conv2(out3), top4], dim=1))
        out5 = self.C3_n4(torch.cat([self.bu_conv1(out4), top5], dim=1))
        return out3, out4, out5
