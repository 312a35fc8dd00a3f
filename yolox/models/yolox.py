"""YOLOX: backbone + neck (``YOLOPAFPN``) and head (``YOLOXHead``)."""
from typing import Optional

import torch
from torch import nn

from .yolo_head import YOLOXHead
from .yolo_pafpn import YOLOPAFPN

__all__ = ["YOLOX"]


class YOLOX(nn.Module):
    """``model(images)`` in eval mode gives [B, A, 5 + C] detections (see ``YOLOXHead.predict``);
    ``model(images, labels)`` in train mode gives the loss dict."""

    def __init__(self, backbone: Optional[nn.Module] = None, head: Optional[nn.Module] = None):
        super().__init__()
        self.backbone = backbone if backbone is not None else YOLOPAFPN()
        self.head = head if head is not None else YOLOXHead(80)

    def forward(self, x: torch.Tensor, targets: Optional[torch.Tensor] = None):
        """x: [B, 3, H, W] raw 0-255 BGR, H and W multiples of the largest stride;
        targets: [B, M, 5] class, cx, cy, w, h in input pixels (training only)."""
        self._check_input(x)
        features = self.backbone(x)
        if self.training:
            if targets is None:
                raise ValueError("YOLOX in training mode needs targets [B, M, 5]; call model.eval() for inference")
            return self.head(features, targets, x)
        return self.head(features)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"YOLOX expects images [B, 3, H, W], got {tuple(x.shape)}")
        max_stride = max(getattr(self.head, "strides", [32]))
        if x.shape[-2] % max_stride or x.shape[-1] % max_stride:
            raise ValueError(
                f"YOLOX input height and width must be multiples of {max_stride}, got {tuple(x.shape[-2:])}"
            )
