"""Letterboxing an image for the network: resize with the aspect ratio kept, pad bottom and right.

Imports only numpy and cv2 (no torch, no other yolox module), so the torch-free ONNX Runtime demo
(demo/onnxruntime/onnx_inference.py) can load this file on its own.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np

__all__ = ["PAD_VALUE", "letterbox_scale", "preproc", "legacy_normalize"]

PAD_VALUE = 114  # the grey YOLOX pads with, in training and at inference


def letterbox_scale(image_hw: Sequence[float], target_hw: Sequence[float]) -> float:
    """The resize factor r that fits an image of image_hw (h, w) inside target_hw (h, w) with its
    aspect ratio kept: ``min(target_h / h, target_w / w)``. Letterboxing (``preproc``,
    ``ValTransform``) resizes by r and pads at the bottom and right, so a point in letterboxed
    pixels is the original point times r; dividing by r undoes it."""
    (h, w), (target_h, target_w) = image_hw, target_hw
    if h <= 0 or w <= 0:
        raise ValueError(f"image size must be positive, got (h, w) = {tuple(image_hw)}")
    return min(target_h / h, target_w / w)


def preproc(img: np.ndarray, input_size: Tuple[int, int], swap: Tuple[int, int, int] = (2, 0, 1)):
    """Letterbox img [H, W, 3] uint8 into input_size (h, w): resized with ratio kept, at the top
    left, padded with 114. Returns ([3, h, w] float32 in ``swap`` order, resize ratio r)."""
    ih, iw = input_size
    r = letterbox_scale(img.shape[:2], input_size)
    nh, nw = int(img.shape[0] * r), int(img.shape[1] * r)
    if (nh, nw) != img.shape[:2]:
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    if tuple(swap) == (2, 0, 1):
        # Each float plane from a contiguous uint8 plane (no HWC float temporary); only the
        # padding is filled, not the whole output first.
        out = np.empty((3, ih, iw), dtype=np.float32)
        for c, plane in enumerate(cv2.split(img)):
            out[c, :nh, :nw] = plane
        out[:, nh:, :] = PAD_VALUE
        out[:, :nh, nw:] = PAD_VALUE
        return out, r
    padded = np.full((ih, iw, 3), PAD_VALUE, dtype=np.uint8)
    padded[:nh, :nw] = img
    return np.ascontiguousarray(padded.transpose(swap), dtype=np.float32), r


_LEGACY_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
_LEGACY_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def legacy_normalize(img: np.ndarray) -> np.ndarray:
    """The old YOLOX input (``--legacy``): [3, h, w] BGR float32 0..255 -> a new [3, h, w] array,
    RGB, /255, ImageNet mean / std."""
    img = img[::-1].copy()
    img /= 255.0
    img -= _LEGACY_MEAN
    img /= _LEGACY_STD
    return img
