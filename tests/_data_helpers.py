"""Helpers for the data-layer tests: where ../shared lives, and tiny datasets written in each format.

The tiny datasets hold the same boxes in COCO json, VOC xml and YOLO txt, on small PNG images
(lossless, so a test can look at pixel values) with one solid rectangle per box.
"""
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import pytest

from yolox.data import Dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
BCCD = SHARED_DATASETS / "bccd"
COCO_MINI = SHARED_DATASETS / "coco_val2017_mini"
CLASSES = ("cat", "dog", "bird")
CATEGORY_IDS = (3, 7, 12)  # deliberately non-contiguous


def require(path: Path) -> Path:
    """Skip the calling test with the reason when a shared dataset is absent (a plain clone)."""
    if not path.exists():
        pytest.skip(f"shared dataset not found at {path} (../shared is absent)")
    return path


# A box: (x1, y1, x2, y2, class index); corners on whole pixels so every format is exact.
Scene = Tuple[Tuple[int, int], List[Tuple[int, int, int, int, int]]]  # ((h, w), boxes)

DEFAULT_SCENES: List[Scene] = [
    ((48, 64), [(4, 6, 20, 30, 0), (30, 10, 60, 40, 1)]),
    ((60, 40), [(0, 0, 40, 12, 2)]),
    ((40, 40), []),  # a negative image
    ((50, 70), [(10, 10, 30, 20, 1), (40, 5, 65, 45, 0), (2, 30, 12, 48, 2)]),
]


def draw_scene(hw: Tuple[int, int], boxes: Sequence, seed: int = 0) -> np.ndarray:
    """[h, w, 3] uint8: dark noise background, each box a solid colour per class."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 40, size=(hw[0], hw[1], 3), dtype=np.uint8)
    colours = ((255, 80, 80), (80, 255, 80), (80, 80, 255))
    for x1, y1, x2, y2, cls in boxes:
        img[y1:y2, x1:x2] = colours[cls]
    return img


def write_images(folder: Path, scenes: Sequence[Scene], names: Sequence[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, ((hw, boxes), name) in enumerate(zip(scenes, names)):
        cv2.imwrite(str(folder / name), draw_scene(hw, boxes, seed=k))


def coco_dict(scenes: Sequence[Scene], names: Sequence[str], first_id: int = 0) -> Dict:
    images, anns = [], []
    for k, ((h, w), boxes) in enumerate(scenes):
        images.append({"id": first_id + k, "file_name": names[k], "height": h, "width": w})
        for x1, y1, x2, y2, cls in boxes:
            anns.append({"id": len(anns) + 1, "image_id": first_id + k, "category_id": CATEGORY_IDS[cls],
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    cats = [{"id": cid, "name": n} for cid, n in zip(CATEGORY_IDS, CLASSES)]
    return {"images": images, "annotations": anns, "categories": cats}


def make_coco(root: Path, scenes: Sequence[Scene] = DEFAULT_SCENES, name: str = "train2017",
              json_file: str = "instances_train2017.json", data: Dict = None) -> Path:
    """<root>/annotations/<json_file> + <root>/<name>/img_k.png; returns root."""
    names = [f"img_{k}.png" for k in range(len(scenes))]
    write_images(root / name, scenes, names)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    with open(root / "annotations" / json_file, "w") as handle:
        json.dump(data if data is not None else coco_dict(scenes, names), handle)
    return root


def make_voc(root: Path, scenes: Sequence[Scene] = DEFAULT_SCENES, image_set: str = "train") -> Path:
    """<root>/{JPEGImages,Annotations,ImageSets/Main} with 1-based inclusive corners; returns root."""
    ids = [f"img_{k}" for k in range(len(scenes))]
    write_images(root / "JPEGImages", scenes, [f"{i}.jpg" for i in ids])
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for i, ((h, w), boxes) in zip(ids, scenes):
        objects = "".join(
            f"<object><name>{CLASSES[c]}</name><difficult>{int(k == 0)}</difficult><bndbox><xmin>{x1 + 1}</xmin>"
            f"<ymin>{y1 + 1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            for k, (x1, y1, x2, y2, c) in enumerate(boxes)
        )
        xml = f"<annotation><size><width>{w}</width><height>{h}</height></size>{objects}</annotation>"
        (root / "Annotations" / f"{i}.xml").write_text(xml)
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main" / f"{image_set}.txt").write_text("\n".join(ids) + "\n")
    return root


def make_yolo(root: Path, scenes: Sequence[Scene] = DEFAULT_SCENES, split: str = "train") -> Path:
    """<root>/images/<split>/*.png, <root>/labels/<split>/*.txt, <root>/data.yaml; returns root."""
    names = [f"img_{k}.png" for k in range(len(scenes))]
    write_images(root / "images" / split, scenes, names)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for name, ((h, w), boxes) in zip(names, scenes):
        lines = [f"{c} {(x1 + x2) / 2 / w} {(y1 + y2) / 2 / h} {(x2 - x1) / w} {(y2 - y1) / h}"
                 for x1, y1, x2, y2, c in boxes]
        (root / "labels" / split / name.replace(".png", ".txt")).write_text("\n".join(lines))
    yaml_lines = [f"{split}: images/{split}", "names:"] + [f"  {k}: {n}" for k, n in enumerate(CLASSES)]
    (root / "data.yaml").write_text("\n".join(yaml_lines) + "\n")
    return root


def expected_targets(scene: Scene) -> np.ndarray:
    """[N, 5] x1, y1, x2, y2, cls of a scene at its own size."""
    return np.array(scene[1], dtype=np.float32).reshape(-1, 5)


COLOURS = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255)], dtype=np.uint8)


class TinyDataset(Dataset):
    """In-memory images of varied sizes: black background, each box filled with its class colour.

    Boxes do not overlap; some touch the image border, some are only a few pixels wide.
    """

    def __init__(self, num_images=6, input_dim=(64, 64), seed=0):
        super().__init__(input_dim)
        rng = np.random.default_rng(seed)
        self.items = []
        for _ in range(num_images):
            h, w = (int(v) for v in rng.integers(24, 64, size=2))
            img = np.zeros((h, w, 3), dtype=np.uint8)
            boxes = []
            for x in range(0, w - 4, max(w // 3, 5)):  # side by side: no overlaps
                x2 = min(x + int(rng.integers(2, max(w // 3, 3))), w)
                y1 = int(rng.integers(0, h // 2))
                y2 = h if rng.random() < 0.3 else int(rng.integers(y1 + 2, h + 1))
                cls = int(rng.integers(0, 3))
                img[y1:y2, x:x2] = COLOURS[cls]
                boxes.append((x, y1, x2, y2, cls))
            self.items.append((img, np.array(boxes, dtype=np.float32).reshape(-1, 5)))

    def __len__(self):
        return len(self.items)

    def load_anno(self, index):
        return self.items[index][1]

    def pull_item(self, index):
        img, boxes = self.items[index]
        r = min(self.input_dim[0] / img.shape[0], self.input_dim[1] / img.shape[1])
        resized = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_NEAREST)
        scaled = boxes.copy()
        scaled[:, :4] = np.minimum(boxes[:, :4] * r, [resized.shape[1], resized.shape[0]] * 2)
        return resized, scaled, img.shape[:2], index
