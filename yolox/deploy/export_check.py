"""Proof that an exported model computes what the PyTorch model computes, on a real image."""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from loguru import logger
from torch import nn

__all__ = ["BOX_TOLERANCE", "SCORE_TOLERANCE", "ExportCheck", "compare_outputs", "verification_batch",
           "synthetic_scene", "eager_outputs", "check_batches", "verify_export"]

BOX_TOLERANCE = 1e-3  # pixels (decoded) or raw offsets: float32 reassociation in another runtime
SCORE_TOLERANCE = 1e-4  # sigmoid probabilities


@dataclass
class ExportCheck:
    """Largest absolute differences, exported vs eager, over a [B, A, 5 + C] output."""

    runtime: str
    batch_size: int
    max_box_diff: float  # channels 0-3
    max_score_diff: float  # objectness and class scores, channels 4...

    @property
    def passed(self) -> bool:
        return self.max_box_diff <= BOX_TOLERANCE and self.max_score_diff <= SCORE_TOLERANCE

    def __str__(self) -> str:
        verdict = "OK" if self.passed else "MISMATCH"
        return (f"{self.runtime} vs PyTorch, batch {self.batch_size}: max |diff| boxes {self.max_box_diff:.3g} "
                f"(tolerance {BOX_TOLERANCE:g}), scores {self.max_score_diff:.3g} "
                f"(tolerance {SCORE_TOLERANCE:g}): {verdict}")


def compare_outputs(reference: np.ndarray, candidate: np.ndarray, *, runtime: str) -> ExportCheck:
    """reference, candidate: [B, A, 5 + C] -> their largest box and score differences."""
    if reference.shape != candidate.shape:
        raise ValueError(f"{runtime} output has shape {candidate.shape}, PyTorch's {reference.shape}")
    diff = np.abs(reference.astype(np.float64) - candidate.astype(np.float64))
    return ExportCheck(runtime=runtime, batch_size=reference.shape[0], max_box_diff=float(diff[..., :4].max()),
                       max_score_diff=float(diff[..., 4:].max()))


def synthetic_scene(height: int = 480, width: int = 640, seed: int = 0) -> np.ndarray:
    """A deterministic BGR picture (gradient, shapes, noise) for when no --image is given."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 200, width, dtype=np.float32)
    img = np.stack([ramp[None, :].repeat(height, 0)] * 3, axis=-1)
    img += rng.normal(0, 10, size=img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(8):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        x, y = (int(v) for v in rng.integers(0, [width - 60, height - 60]))
        w, h = (int(v) for v in rng.integers(20, 160, 2))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
        else:
            cv2.circle(img, (x + w // 2, y + h // 2), min(w, h) // 2, colour, -1)
    return img


def verification_batch(image: Optional[Union[str, Path]], test_size: Tuple[int, int], batch_size: int) -> np.ndarray:
    """[B, 3, h, w] float32 letterboxed like evaluation: the image (or a synthetic scene), then
    mirrored and shifted copies so the images of a batch differ."""
    from yolox.data.data_augment import ValTransform

    if image is not None:
        img = cv2.imread(str(image))
        if img is None:
            raise FileNotFoundError(f"cannot read the verification image {str(image)!r}")
    else:
        img = synthetic_scene()
    transform = ValTransform(legacy=False)
    variants = [img, img[:, ::-1], np.roll(img, img.shape[1] // 3, axis=1), img[::-1]]
    return np.stack([transform(np.ascontiguousarray(variants[i % len(variants)]), None, test_size)[0]
                     for i in range(batch_size)])


@torch.no_grad()
def eager_outputs(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """The PyTorch reference output [B, A, 5 + C] on the CPU."""
    device = next(model.parameters()).device
    return model(torch.from_numpy(images).to(device)).float().cpu().numpy()


def check_batches(model: nn.Module, checker: Callable[[np.ndarray, np.ndarray], ExportCheck], *,
                  image: Optional[Union[str, Path]], input_size: Tuple[int, int],
                  batch_sizes: Sequence[int]) -> List[ExportCheck]:
    """Run ``checker(reference, images)`` for each batch size on letterboxed copies of ``image``."""
    checks = []
    for batch_size in batch_sizes:
        images = verification_batch(image, input_size, batch_size)
        checks.append(checker(eager_outputs(model, images), images))
    return checks


def verify_export(model: nn.Module, checker: Callable[[np.ndarray, np.ndarray], ExportCheck], *,
                  image: Optional[Union[str, Path]], input_size: Tuple[int, int], batch_sizes: Sequence[int]) -> int:
    """What both export tools end with: ``check_batches``, each result logged, and the exit
    status, 0 when every batch size passes and 1 otherwise."""
    checks = check_batches(model, checker, image=image, input_size=input_size, batch_sizes=batch_sizes)
    for check in checks:
        logger.info(str(check))
    return 0 if all(c.passed for c in checks) else 1

