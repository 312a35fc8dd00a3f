"""Calibration images: what the deployed model sees, so the INT8 ranges fit real activations."""
import time
from typing import Tuple

import numpy as np
from loguru import logger

__all__ = ["CALIBRATION_SPLITS", "calibration_images"]

CALIBRATION_SPLITS = ("val", "train")


def calibration_images(exp, count: int, *, split: str = "val") -> np.ndarray:
    """[N, 3, h, w] float32: ``count`` images spread evenly over a split of ``exp``'s data (all of
    them when it has fewer), letterboxed to ``exp.test_size`` by the experiment's eval transform.

    split: "val" (``exp.get_eval_dataset()``, whatever the experiment makes of it) or "train" (the
    training images through the same eval letterbox, so the evaluation split stays unseen).
    """
    if count < 1:
        raise ValueError(f"--calib-images {count}: at least one calibration image is needed (a few hundred is usual)")
    dataset = _dataset(exp, split)
    if len(dataset) == 0:
        raise ValueError(f"the experiment's {split} split has no images to calibrate on")
    if count > len(dataset):
        logger.warning("calibrating on all {} images of the {} split ({} asked for)", len(dataset), split, count)
        count = len(dataset)
    start = time.perf_counter()
    indices = np.linspace(0, len(dataset) - 1, count).round().astype(int)
    images = np.stack([np.asarray(dataset[int(i)][0], dtype=np.float32) for i in indices])
    logger.info("read {} calibration images ({} split, {}x{}) in {:.1f} s", count, split, *images.shape[-2:],
                time.perf_counter() - start)
    return images


def _dataset(exp, split: str):
    if split == "val":
        return exp.get_eval_dataset()
    if split == "train":
        from yolox.data import ValTransform, build_dataset

        return build_dataset(data_dir=exp.data_dir, ann=exp.train_ann, split="train", name=exp.train_img_dir,
                             img_size=_size(exp), preproc=ValTransform(legacy=False))
    raise ValueError(f"calibration split {split!r}: expected one of {CALIBRATION_SPLITS}")


def _size(exp) -> Tuple[int, int]:
    return int(exp.test_size[0]), int(exp.test_size[1])
