"""A built-in detection dataset of synthetic scenes, so training works with nothing downloaded.

It mirrors the COCO tree (``train2017/``, ``val2017/``, ``annotations/instances_*2017.json``)
so the standard COCO experiment settings read it. Each scene has a cluttered background
(gradient, noise, grey line and blob distractors) and
a few objects of five classes that differ in shape, colour and texture, at varied scale, some
partially hidden by later ones. Written as COCO json + JPEGs; deterministic for a seed.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np

from yolox.utils.atomic_io import atomic_write, atomic_write_bytes

__all__ = ["SampleSpec", "SAMPLE_CLASSES", "make_sample_dataset", "ensure_sample_dataset"]

SAMPLE_CLASSES = ("red_circle", "green_square", "blue_triangle", "yellow_star", "purple_ring")
# BGR base colours, one hue family per class; each object jitters around its base.
_BASE_COLOURS = ((40, 40, 220), (60, 190, 60), (220, 90, 30), (30, 220, 230), (200, 60, 170))


@dataclass(frozen=True)
class SampleSpec:
    """What to generate: image counts per split, image size, objects per image, seed."""
    num_train: int = 400
    num_val: int = 80
    img_size: Tuple[int, int] = (320, 320)  # (height, width)
    max_objects: int = 6
    min_side: int = 24  # object side range in pixels
    max_side: int = 110
    seed: int = 0


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """[h, w, 3] uint8: colour gradient + noise + grey clutter that belongs to no class."""
    top, bottom = rng.uniform(60, 200, size=3), rng.uniform(60, 200, size=3)
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = (top * (1 - ramp) + bottom * ramp) * np.ones((1, w, 1), np.float32)
    img += rng.normal(0, 8, size=(h, w, 3)).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(4, 12)):
        grey = int(rng.integers(40, 220))
        p1 = tuple(int(v) for v in rng.integers(0, [w, h]))
        p2 = tuple(int(v) for v in rng.integers(0, [w, h]))
        if rng.random() < 0.6:
            cv2.line(img, p1, p2, (grey, grey, grey), int(rng.integers(1, 4)), cv2.LINE_AA)
        else:
            axes = (int(rng.integers(4, 20)), int(rng.integers(4, 20)))
            cv2.ellipse(img, p1, axes, float(rng.uniform(0, 180)), 0, 360, (grey, grey, grey), -1, cv2.LINE_AA)
    return img


def _shape_mask(cls: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """[side, side] uint8 mask of one object of class ``cls`` that touches its box edges."""
    mask = np.zeros((side, side), np.uint8)
    c, r = (side - 1) / 2.0, (side - 1) / 2.0
    if cls == 0:  # circle
        cv2.circle(mask, (int(round(c)), int(round(c))), int(r), 255, -1, cv2.LINE_AA)
    elif cls == 1:  # square
        mask[:] = 255
    elif cls == 2:  # triangle, apex up
        pts = np.array([[c, 0], [side - 1, side - 1], [0, side - 1]], np.int32)
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA)
    elif cls == 3:  # five-pointed star
        angles = np.arange(10) * math.pi / 5 - math.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        pts = np.stack([c + radii * np.cos(angles), c + radii * np.sin(angles)], 1).round().astype(np.int32)
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA)
    else:  # ring
        cv2.circle(mask, (int(round(c)), int(round(c))), int(r), 255, -1, cv2.LINE_AA)
        cv2.circle(mask, (int(round(c)), int(round(c))), max(int(r * 0.55), 1), 0, -1, cv2.LINE_AA)
    return mask


def _texture(cls: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """[side, side, 3] float32 colour patch: class colour with a class-specific texture."""
    colour = np.clip(np.array(_BASE_COLOURS[cls], np.float32) + rng.normal(0, 18, 3), 0, 255)
    patch = np.ones((side, side, 3), np.float32) * colour
    yy, xx = np.mgrid[0:side, 0:side]
    if cls == 1:  # stripes
        patch *= (0.75 + 0.25 * (((xx + yy) // max(side // 6, 2)) % 2))[..., None]
    elif cls == 3:  # dots
        period = max(side // 5, 3)
        patch *= np.where(((xx % period) < period // 2) & ((yy % period) < period // 2), 0.7, 1.0)[..., None]
    shade = 0.85 + 0.3 * (yy / max(side - 1, 1))  # soft light from above
    return patch * shade[..., None]


def _render_scene(rng: np.random.Generator, spec: SampleSpec) -> Tuple[np.ndarray, List[Dict]]:
    """One image and its objects: [{"bbox": [x, y, w, h], "category_id": 1..5}]."""
    h, w = spec.img_size
    img = _background(rng, h, w).astype(np.float32)
    objects: List[Dict] = []
    for _ in range(rng.integers(1, spec.max_objects + 1)):
        side = int(np.exp(rng.uniform(np.log(spec.min_side), np.log(spec.max_side))))
        x0, y0 = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
        box = np.array([x0, y0, x0 + side, y0 + side], np.float32)
        if any(_covered_fraction(np.array(o["xyxy"]), box) > 0.4 for o in objects):
            continue  # keep occlusion partial: each earlier object stays mostly visible
        cls = int(rng.integers(0, len(SAMPLE_CLASSES)))
        alpha = (_shape_mask(cls, side, rng).astype(np.float32) / 255.0)[..., None]
        region = img[y0:y0 + side, x0:x0 + side]
        img[y0:y0 + side, x0:x0 + side] = region * (1 - alpha) + _texture(cls, side, rng) * alpha
        objects.append({"xyxy": box.tolist(), "category_id": cls + 1})
    return np.clip(img, 0, 255).astype(np.uint8), objects


def _covered_fraction(box: np.ndarray, cover: np.ndarray) -> float:
    """Fraction of ``box`` (x1, y1, x2, y2) hidden under ``cover``."""
    iw = max(0.0, min(box[2], cover[2]) - max(box[0], cover[0]))
    ih = max(0.0, min(box[3], cover[3]) - max(box[1], cover[1]))
    return iw * ih / max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)


def _write_split(root: Path, *, split: str, count: int, spec: SampleSpec, rng: np.random.Generator) -> None:
    """Render ``count`` scenes into ``root/split/*.jpg`` and write their COCO json last."""
    images, annotations = [], []
    for image_id in range(count):
        img, objects = _render_scene(rng, spec)
        file_name = f"{image_id:06d}.jpg"
        ok, encoded = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise RuntimeError(f"could not encode sample image {split}/{file_name}")
        atomic_write_bytes(encoded.tobytes(), root / split / file_name)
        images.append({"id": image_id, "file_name": file_name, "height": spec.img_size[0], "width": spec.img_size[1]})
        for obj in objects:
            x1, y1, x2, y2 = obj["xyxy"]
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": obj["category_id"],
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0,
            })
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(SAMPLE_CLASSES)]
    coco = {"images": images, "annotations": annotations, "categories": categories}
    with atomic_write(root / "annotations" / f"instances_{split}.json", "w") as handle:
        json.dump(coco, handle)


def make_sample_dataset(root, spec: SampleSpec = SampleSpec()) -> Path:
    """Write ``root/{train2017,val2017}/*.jpg`` and ``root/annotations/instances_{train2017,val2017}.json``.

    The annotation files are written last, so their presence marks a complete dataset.
    """
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    _write_split(root, split="train2017", count=spec.num_train, spec=spec, rng=rng)
    _write_split(root, split="val2017", count=spec.num_val, spec=spec, rng=rng)
    return root


def ensure_sample_dataset(root, spec: SampleSpec = SampleSpec()) -> Path:
    """Generate the sample dataset at ``root`` unless both annotation files are already there."""
    root = Path(root)
    done = all((root / "annotations" / f"instances_{s}.json").is_file() for s in ("train2017", "val2017"))
    if not done:
        from loguru import logger

        logger.info(f"sample dataset not found at {root}: generating {spec.num_train}+{spec.num_val} synthetic images")
        make_sample_dataset(root, spec)
    return root
