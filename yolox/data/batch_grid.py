"""A grid picture of training samples with their labels drawn: what the model is fed.

Works on a batch as the training loader gives it (images [B, 3, H, W] float 0-255 BGR, labels
[B, M, 5] class, cx, cy, w, h in input pixels with all-zero padding rows), so the picture shows
the real pipeline's output (mosaic, affine, MixUp, HSV, flip, letterbox).
"""
import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from yolox.utils.visualize import color_for, draw_box

__all__ = ["to_bgr_image", "label_boxes", "draw_labels", "grid_layout", "tile_grid", "render_batch_grid"]

GRID_GAP = 4  # white pixels between tiles
GRID_FILL = 255


def to_bgr_image(image) -> np.ndarray:
    """[3, H, W] float 0-255 BGR (tensor or array) -> [H, W, 3] uint8 for cv2."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    return np.ascontiguousarray(np.clip(np.rint(array), 0, 255).astype(np.uint8).transpose(1, 2, 0))


def label_boxes(labels) -> Tuple[np.ndarray, np.ndarray]:
    """labels [M, 5] class, cx, cy, w, h (zero rows are padding) -> (boxes [K, 4] x1, y1, x2, y2,
    classes [K] int), padding left out. A real box has positive width and height."""
    array = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
    array = array.reshape(-1, 5).astype(np.float64)
    real = array[(array[:, 3] > 0) & (array[:, 4] > 0)]
    half = real[:, 3:5] / 2
    boxes = np.concatenate([real[:, 1:3] - half, real[:, 1:3] + half], axis=1)
    return boxes, real[:, 0].astype(np.int64)


def draw_labels(img: np.ndarray, labels, *, class_names: Optional[Sequence[str]] = None,
                scale: float = 1.0) -> np.ndarray:
    """Draw the boxes of ``labels`` [M, 5] (input pixels; ``scale`` maps them onto ``img``) on
    img [h, w, 3] uint8 in place, one colour per class, each tagged with its class name."""
    boxes, classes = label_boxes(labels)
    for box, cls in zip(boxes * scale, classes):
        name = class_names[cls] if class_names is not None and 0 <= cls < len(class_names) else str(cls)
        draw_box(img, box, color=color_for(int(cls)), label=name, thickness=1)
    return img


def grid_layout(num_tiles: int, tile_hw: Tuple[int, int], *, cols: Optional[int] = None,
                gap: int = GRID_GAP) -> Tuple[int, int, int, int]:
    """(rows, cols, grid height, grid width) for ``num_tiles`` tiles of tile_hw (h, w); cols
    defaults to ceil(sqrt(num_tiles)), a near-square grid."""
    if num_tiles < 1:
        raise ValueError(f"a grid needs at least one tile, got {num_tiles}")
    cols = min(cols or math.ceil(math.sqrt(num_tiles)), num_tiles)
    rows = math.ceil(num_tiles / cols)
    return rows, cols, rows * tile_hw[0] + (rows - 1) * gap, cols * tile_hw[1] + (cols - 1) * gap


def tile_grid(tiles: Sequence[np.ndarray], *, cols: Optional[int] = None, gap: int = GRID_GAP) -> np.ndarray:
    """Tiles [h, w, 3] uint8, all the same size, row by row into one [H, W, 3] picture."""
    tile_hw = tiles[0].shape[:2]
    rows, cols, height, width = grid_layout(len(tiles), tile_hw, cols=cols, gap=gap)
    grid = np.full((height, width, 3), GRID_FILL, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        top, left = (k // cols) * (tile_hw[0] + gap), (k % cols) * (tile_hw[1] + gap)
        grid[top:top + tile_hw[0], left:left + tile_hw[1]] = tile
    return grid


def render_batch_grid(images, labels, *, class_names: Optional[Sequence[str]] = None, cols: Optional[int] = None,
                      tile_size: Optional[int] = None) -> np.ndarray:
    """images [B, 3, H, W] float 0-255 BGR, labels [B, M, 5] -> one [rows*h + gaps, cols*w + gaps, 3]
    uint8 grid; each tile is an image with its boxes and class names, its longer side resized to
    ``tile_size`` (default: the input size, unscaled)."""
    tiles = []
    for image, image_labels in zip(images, labels):
        img = to_bgr_image(image)
        scale = 1.0 if tile_size is None else tile_size / max(img.shape[:2])
        if scale != 1.0:
            size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        tiles.append(draw_labels(img, image_labels, class_names=class_names, scale=scale))
    return tile_grid(tiles, cols=cols)

