"""YOLOFPN: Darknet plus YOLOv3's top-down neck (the backbone of the ``yolov3`` experiment)."""
from typing import List, Sequence, Tuple

import torch
from torch import nn

from .darknet import Darknet
from .network_blocks import BaseConv

__all__ = ["YOLOFPN"]


class YOLOFPN(nn.Module):
    """Darknet-``depth`` and a two-step top-down path. Output: three maps at strides 8, 16, 32 with
    4c, 8c, 16c channels (c = ``stem_out_channels``; 128, 256, 512 for Darknet-53), the input
    channels of a ``YOLOXHead(..., in_channels=[128, 256, 512])`` at width 1.

    Each top-down step narrows the coarser map with a 1x1 conv, upsamples it 2x, concatenates the
    backbone map of that level and runs a five-conv embedding. The Darknet lives at
    ``self.backbone`` (``backbone.backbone.*`` inside ``YOLOX``), as in Megvii's checkpoints.
    ``stem_out_channels`` (keyword only, beyond Megvii's signature) narrows the whole network for
    quick tests; 32 is YOLOv3.
    """

    def __init__(self, depth: int = 53, in_features: Sequence[str] = ("dark3", "dark4", "dark5"), *,
                 stem_out_channels: int = 32):
        super().__init__()
        self.backbone = Darknet(depth, stem_out_channels=stem_out_channels)
        self.in_features = tuple(in_features)
        c = stem_out_channels
        # Darknet's dark3, dark4, dark5 have 8c, 16c, 16c channels.
        self.out1_cbl = self._make_cbl(16 * c, 8 * c, 1)
        self.out1 = self._make_embedding([8 * c, 16 * c], 16 * c + 8 * c)
        self.out2_cbl = self._make_cbl(8 * c, 4 * c, 1)
        self.out2 = self._make_embedding([4 * c, 8 * c], 8 * c + 4 * c)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

    @staticmethod
    def _make_cbl(in_channels: int, out_channels: int, ksize: int) -> BaseConv:
        """Conv + BN + LeakyReLU, stride 1."""
        return BaseConv(in_channels, out_channels, ksize, stride=1, act="lrelu")

    def _make_embedding(self, filters_list: Sequence[int], in_filters: int) -> nn.Sequential:
        """Alternating 1x1 (``filters_list[0]``) and 3x3 (``filters_list[1]``) convs, five in all,
        ``in_filters`` -> ``filters_list[0]`` channels."""
        narrow, wide = filters_list
        widths: List[Tuple[int, int, int]] = [(in_filters, narrow, 1), (narrow, wide, 3), (wide, narrow, 1),
                                              (narrow, wide, 3), (wide, narrow, 1)]
        return nn.Sequential(*[self._make_cbl(c_in, c_out, k) for c_in, c_out, k in widths])

    def _top_down(self, coarse: torch.Tensor, lateral: torch.Tensor, cbl: nn.Module, embedding: nn.Module):
        """coarse [B, C, H, W], lateral [B, C', 2H, 2W] -> embedding output at [2H, 2W]."""
        return embedding(torch.cat([self.upsample(cbl(coarse)), lateral], dim=1))

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """inputs: [B, 3, H, W] -> (stride 8 [B, 4c, H/8, W/8], stride 16 [B, 8c, ...], stride 32 [B, 16c, ...])."""
        features = self.backbone(inputs)
        x3, x4, x5 = (features[name] for name in self.in_features)
        out4 = self._top_down(x5, x4, self.out1_cbl, self.out1)
        out3 = self._top_down(out4, x3, self.out2_cbl, self.out2)
        return out3, out4, x5
