"""YOLOXHead: the decoupled head (per level: 1x1 stem, class tower, regression tower)."""
import math
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from .anchors import anchor_grid
from .losses import DetectionTargets, YOLOXCriterion
from .network_blocks import BaseConv, conv_block

__all__ = ["YOLOXHead"]


class YOLOXHead(nn.Module):
    """Predicts, per anchor, 4 box offsets, 1 objectness logit and ``num_classes`` class logits.

    Positional arguments follow the official head so Megvii experiment files construct it
    unchanged. ``assigner`` (keyword only) is the label assigner used by ``get_losses``
    (default: the classic ``SimOTAAssigner()``); ``iou_type`` is the box loss ("iou" or "giou").
    Both live in ``self.criterion`` (a ``YOLOXCriterion``, no parameters, so the state dict is
    unaffected): ``head.criterion.assigner``, ``head.criterion.iou_type``.
    """

    def __init__(self, num_classes: int, width: float = 1.0, strides: Sequence[int] = (8, 16, 32),
                 in_channels: Sequence[int] = (256, 512, 1024), act: str = "silu",
                 depthwise: bool = False, *, assigner: Optional[nn.Module] = None, iou_type: str = "iou"):
        super().__init__()
        if len(strides) != len(in_channels):
            raise ValueError(f"YOLOXHead: {len(strides)} strides but {len(in_channels)} in_channels")
        self.num_classes = num_classes
        self.strides = list(strides)
        self.in_channels = list(in_channels)
        self.decode_in_inference = True  # False for export: boxes stay as raw offsets
        self.use_l1 = False  # Megvii experiment files set this attribute directly
        Conv = conv_block(depthwise)
        hidden = int(256 * width)

        def tower() -> nn.Sequential:
            return nn.Sequential(Conv(hidden, hidden, 3, 1, act=act), Conv(hidden, hidden, 3, 1, act=act))

        # Registration order fixes the state-dict order of the official checkpoints; creation
        # order (level by level) fixes which random numbers each layer draws under a seed.
        self.cls_convs, self.reg_convs = nn.ModuleList(), nn.ModuleList()
        self.cls_preds, self.reg_preds, self.obj_preds = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.stems = nn.ModuleList()
        for c in in_channels:
            self.stems.append(BaseConv(int(c * width), hidden, 1, 1, act=act))
            self.cls_convs.append(tower())
            self.reg_convs.append(tower())
            self.cls_preds.append(nn.Conv2d(hidden, num_classes, 1))
            self.reg_preds.append(nn.Conv2d(hidden, 4, 1))
            self.obj_preds.append(nn.Conv2d(hidden, 1, 1))

        self.criterion = YOLOXCriterion(num_classes=num_classes, strides=self.strides, assigner=assigner,
                                        iou_type=iou_type)

    def initialize_biases(self, prior_prob: float) -> None:
        """Start class and objectness probabilities at ``prior_prob`` (focal-loss style prior)."""
        bias = -math.log((1 - prior_prob) / prior_prob)
        for conv in list(self.cls_preds) + list(self.obj_preds):
            nn.init.constant_(conv.bias, bias)

    def enable_l1(self) -> None:
        """Add the L1 term on raw box offsets to the loss (YOLOX does so in the no-aug epochs)."""
        self.use_l1 = True

    def forward_raw(self, features: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """features: per level [B, C_k, H_k, W_k] -> per level raw [B, 5 + C, H_k, W_k]
        (channels: dx, dy, dw, dh, objectness logit, class logits)."""
        outputs = []
        for k, x in enumerate(features):
            x = self.stems[k](x)
            cls_out = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            outputs.append(torch.cat([self.reg_preds[k](reg_feat), self.obj_preds[k](reg_feat), cls_out], dim=1))
        return outputs

    def forward(self, xin: Sequence[torch.Tensor], labels: Optional[torch.Tensor] = None,
                imgs: Optional[torch.Tensor] = None):
        """Training (with ``labels [B, M, 5]``): the loss dict of ``get_losses``.
        Inference: [B, A, 5 + C] (see ``predict``)."""
        raw_outputs = self.forward_raw(xin)
        if self.training:
            if labels is None:
                raise ValueError("YOLOXHead in training mode needs labels [B, M, 5]; call model.eval() for inference")
            return self.get_losses(raw_outputs, labels)
        return self.predict(raw_outputs)

    def predict(self, raw_outputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """raw_outputs: per level [B, 5 + C, H_k, W_k] -> [B, A, 5 + C] with sigmoid objectness and
        class scores; boxes decoded to cx, cy, w, h in input pixels when ``decode_in_inference``."""
        level_shapes = [tuple(out.shape[-2:]) for out in raw_outputs]
        # Channels-last maps make this permute + reshape a free view; the sigmoid then runs once.
        flat = torch.cat([out.permute(0, 2, 3, 1).reshape(out.shape[0], -1, out.shape[1]) for out in raw_outputs],
                         dim=1)  # [B, A, 5 + C]
        if flat.dtype in (torch.float16, torch.bfloat16):
            # Under autocast: bfloat16's 8-bit mantissa would put box centres ~2 px apart at 256-512 px.
            flat = flat.float()
        flat = torch.cat([flat[..., :4], flat[..., 4:].sigmoid()], dim=-1)
        if not self.decode_in_inference:
            return flat
        return self.decode_outputs(flat, level_shapes)

    def decode_outputs(self, outputs: torch.Tensor, level_shapes: Sequence[Sequence[int]]) -> torch.Tensor:
        """outputs: [B, A, 5 + C] with raw offsets -> boxes cx = (dx + x) * s, w = exp(dw) * s."""
        grid, stride = anchor_grid(level_shapes, self.strides, device=outputs.device, dtype=outputs.dtype)
        stride = stride[:, None]
        centres = (outputs[..., :2] + grid) * stride
        sizes = torch.exp(outputs[..., 2:4]) * stride
        return torch.cat([centres, sizes, outputs[..., 4:]], dim=-1)

    def get_losses(self, raw_outputs: Sequence[torch.Tensor], labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """raw_outputs: per level [B, 5 + C, H_k, W_k]; labels: [B, M, 5] class, cx, cy, w, h (zero rows pad).

        Returns {"total_loss", "iou_loss", "l1_loss", "conf_loss", "cls_loss", "num_fg"} (0-d tensors; see
        ``YOLOXCriterion``), with the L1 term when ``self.use_l1``. A label row is a GT when its w and h
        are > 0 (``DetectionTargets.from_labels``).
        """
        return self.criterion(raw_outputs, DetectionTargets.from_labels(labels), use_l1=self.use_l1)
