"""Writing pictures (demo output, batch grids, assignment drawings) to disk, atomically."""
from pathlib import Path
from typing import Union

import cv2
import numpy as np

from .atomic_io import atomic_write_bytes

__all__ = ["write_image"]


def write_image(img: np.ndarray, path: Union[str, Path]) -> Path:
    """Encode img [H, W, 3] uint8 BGR by the file extension (.jpg when there is none) and write it
    atomically (``atomic_write_bytes``): a crash never leaves half a picture. Returns the path."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".jpg", img)
    if not ok:
        raise ValueError(f"cv2 could not encode the picture as {path.suffix!r} for {path}")
    atomic_write_bytes(encoded.tobytes(), path)
    return path
