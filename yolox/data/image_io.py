"""Reading images with errors that name the file and the image id, never a None deep inside cv2."""
import os
from typing import Optional, Tuple

import cv2
import numpy as np

from yolox.utils.boxes import letterbox_scale

from .errors import ImageReadError

__all__ = ["read_image", "resize_keep_ratio"]


def read_image(path: str, img_id: int, expected_hw: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """[H, W, 3] uint8 BGR image at ``path``; ImageReadError when missing, undecodable or mis-sized.

    ``expected_hw`` is the (height, width) the annotation states; a decoded image of another size
    would put every box in the wrong place, so it is an error rather than a silent mismatch.
    """
    if not os.path.isfile(path):
        raise ImageReadError(f"image id {img_id}: image file not found: {path}", path=path, img_id=img_id)
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageReadError(
            f"image id {img_id}: cannot decode image file (corrupt or not an image): {path}",
            path=path, img_id=img_id,
        )
    if expected_hw is not None and tuple(img.shape[:2]) != tuple(expected_hw):
        raise ImageReadError(
            f"image id {img_id}: {path} decodes to height x width {img.shape[0]}x{img.shape[1]} but its "
            f"annotation says {expected_hw[0]}x{expected_hw[1]}",
            path=path, img_id=img_id,
        )
    return img


def resize_keep_ratio(img: np.ndarray, img_size: Tuple[int, int]) -> np.ndarray:
    """Resize so the image fits in img_size (h, w) with its ratio kept; no copy when already that size."""
    h, w = img.shape[:2]
    r = letterbox_scale((h, w), img_size)
    new_w, new_h = int(w * r), int(h * r)
    if (new_w, new_h) == (w, h):
        return img
    return cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
