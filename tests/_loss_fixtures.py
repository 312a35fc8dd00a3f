"""Helpers shared by the loss and assigner tests: the reference fixtures and small input builders.

The fixtures live in ../shared/reference next to the repository; tests that need them skip with
the reason when that directory is absent (a plain clone).
"""
import functools
import math
from pathlib import Path
from typing import Dict, List, Sequence

import pytest
import torch

from yolox.models import SimOTAAssigner, YOLOXHead

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"

# The cases of loss_cases_{classic,geometry}.pt, in file order (see ../shared/reference/README.md).
CASE_NAMES = [
    "basic_c3_320x416",
    "c80_empty_and_23gt_128x192",
    "c1_three_images_256x320",
    "tiny_boxes_256x320",
    "border_boxes_256x320",
    "duplicates_256x320",
    "many_gt_60_150_640x640",
    "good_preds_416x416",
    "all_empty_256x320",
    "aligned_edges_256x256",
    "one_large_gt_b1_320x416",
]
CASES_WITH_GRADIENTS = ["basic_c3_320x416", "good_preds_416x416", "aligned_edges_256x256"]
VARIANTS = ["classic", "geometry"]
LOSS_KEYS = {  # our loss dict key -> the fixture's "expected" key
    "total_loss": "total_loss",
    "iou_loss": "iou_loss",
    "conf_loss": "obj_loss",
    "cls_loss": "cls_loss",
    "l1_loss": "l1_loss",
    "num_fg": "num_fg_ratio",
}
PRIOR_LOGIT = -math.log((1 - 0.01) / 0.01)  # a fresh head's objectness / class bias


def reference_path(name: str) -> Path:
    path = REFERENCE_DIR / name
    if not path.exists():
        pytest.skip(f"reference fixture {name} not found at {path} (../shared/reference is absent in a plain clone)")
    return path


@functools.lru_cache(maxsize=None)
def _load(name: str):
    return torch.load(reference_path(name), weights_only=True)


def load_cases(variant: str) -> List[dict]:
    return _load(f"loss_cases_{variant}.pt")


def load_case(variant: str, name: str) -> dict:
    return {case["name"]: case for case in load_cases(variant)}[name]


def load_nano() -> dict:
    return _load("model_parity_nano.pt")


def assigner_for(variant: str) -> SimOTAAssigner:
    """The classic head's default assigner, or the newer Megvii geometry-constraint one."""
    return SimOTAAssigner() if variant == "classic" else SimOTAAssigner(center_radius=1.5, prefilter="center")


def head_for(variant: str, case: dict) -> YOLOXHead:
    """A head configured like the reference run of ``case`` (only the loss matters, not the layers)."""
    head = YOLOXHead(case["num_classes"], 0.25, strides=case["strides"], in_channels=(256, 512, 1024),
                     assigner=None if variant == "classic" else assigner_for(variant))
    if case["use_l1"]:
        head.enable_l1()
    return head.train()


def clone_outputs(raw_outputs: Sequence[torch.Tensor], *, grad: bool = False,
                  dtype: torch.dtype = torch.float32) -> List[torch.Tensor]:
    return [r.detach().to(dtype).clone().requires_grad_(grad) for r in raw_outputs]


def as_floats(losses: Dict[str, torch.Tensor]) -> Dict[str, float]:
    return {k: float(v.detach()) for k, v in losses.items()}


def synthetic_outputs(*, batch: int, num_classes: int, size: Sequence[int], seed: int = 0,
                      strides: Sequence[int] = (8, 16, 32)) -> List[torch.Tensor]:
    """Per level raw [B, 5 + C, H / s, W / s]: offsets ~ N(0, 0.5), logits around the prior."""
    gen = torch.Generator().manual_seed(seed)
    outs = []
    for s in strides:
        out = torch.randn(batch, 5 + num_classes, size[0] // s, size[1] // s, generator=gen) * 0.5
        out[:, 4:] += PRIOR_LOGIT
        outs.append(out)
    return outs


def random_labels(*, batch: int, num_gt: int, num_classes: int, size: int = 640, seed: int = 0) -> torch.Tensor:
    """[B, num_gt, 5] Megvii labels with sides log-uniform in 10..320 px, centres anywhere."""
    gen = torch.Generator().manual_seed(seed)
    sides = torch.exp(torch.empty(batch, num_gt, 2).uniform_(math.log(10), math.log(320), generator=gen))
    centres = torch.rand(batch, num_gt, 2, generator=gen) * size
    classes = torch.randint(0, num_classes, (batch, num_gt, 1), generator=gen).float()
    return torch.cat([classes, centres, sides], dim=2)
