"""Small stand-ins for evaluator tests: a hand-made COCO ground truth, a loader over it and
"models" that return chosen detections, so the scores can be checked against pycocotools or
worked out by hand."""
import hashlib
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from pycocotools.coco import COCO
from torch import nn

# Non-contiguous category ids, like COCO's 1..90 with gaps.
CATEGORIES = [{"id": 3, "name": "car"}, {"id": 17, "name": "cat"}, {"id": 90, "name": "toothbrush"}]
TEST_SIZE = (64, 96)  # (height, width) of the letterboxed eval input


def tiny_coco_dict() -> dict:
    """Three images of different sizes, five boxes, one crowd region (ignored by COCOeval)."""
    images = [{"id": 7, "width": 200, "height": 100}, {"id": 11, "width": 120, "height": 160},
              {"id": 42, "width": 96, "height": 64}]
    boxes = [  # (image_id, category_id, [x, y, w, h], iscrowd)
        (7, 3, [10.0, 20.0, 50.0, 40.0], 0),
        (7, 17, [120.0, 10.0, 60.0, 70.0], 0),
        (11, 90, [5.0, 30.0, 80.0, 100.0], 0),
        (11, 3, [60.0, 100.0, 40.0, 50.0], 1),
        (42, 17, [20.0, 8.0, 50.0, 40.0], 0),
        (42, 3, [70.0, 30.0, 20.0, 30.0], 0),
    ]
    annotations = [{"id": i + 1, "image_id": img, "category_id": cat, "bbox": box, "area": box[2] * box[3],
                    "iscrowd": crowd} for i, (img, cat, box, crowd) in enumerate(boxes)]
    return {"images": images, "annotations": annotations, "categories": CATEGORIES}


def coco_from_dict(data: dict) -> COCO:
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    return coco


class FakeDataset:
    """What the evaluators read from a dataset: ``coco`` and ``class_ids``."""

    def __init__(self, coco: COCO):
        self.coco = coco
        self.class_ids = sorted(coco.getCatIds())
        self.ids = sorted(coco.getImgIds())


class FakeLoader:
    """Batches ``(images, targets, (heights, widths), ids)``; pixel [0, 0, 0] of each image holds
    its position in ``dataset.ids`` so the fake model knows which image it sees."""

    def __init__(self, dataset: FakeDataset, batch_size: int = 2):
        self.dataset = dataset
        self.batch_size = batch_size

    def __iter__(self):
        ids = self.dataset.ids
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start:start + self.batch_size]
            images = torch.zeros(len(chunk), 3, *TEST_SIZE)
            images[:, 0, 0, 0] = torch.arange(start, start + len(chunk), dtype=torch.float32)
            infos = [self.dataset.coco.imgs[i] for i in chunk]
            heights = torch.tensor([info["height"] for info in infos])
            widths = torch.tensor([info["width"] for info in infos])
            yield images, torch.zeros(len(chunk), 1, 5), (heights, widths), torch.tensor(chunk)

    def __len__(self):
        return (len(self.dataset.ids) + self.batch_size - 1) // self.batch_size


def ratio_of(info: dict) -> float:
    return min(TEST_SIZE[0] / info["height"], TEST_SIZE[1] / info["width"])


def stack_padded(rows: Sequence[torch.Tensor], width: int) -> torch.Tensor:
    """Per-image [N_k, width] rows -> [K, max N_k, width], padded with all-zero (score 0) rows."""
    table = torch.zeros(len(rows), max([len(r) for r in rows] + [1]), width)
    for k, r in enumerate(rows):
        if len(r):
            table[k, :len(r)] = r
    return table


class TableModel(nn.Module):
    """Returns, for image k, ``rows[k]`` as [A, 5 + C] (padded with zero-score rows)."""

    def __init__(self, rows: Sequence[torch.Tensor], num_classes: int):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # evaluators read the device from a parameter
        self.table = stack_padded(rows, 5 + num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.table[images[:, 0, 0, 0].long()]


def image_fingerprint(image: torch.Tensor) -> str:
    """The exact pixels of one letterboxed image [3, H, W] as a short key."""
    return hashlib.sha1(image.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()


class _Head(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes  # what the eval tool reads of a YOLOX model


class ImageLookupModel(nn.Module):
    """Answers image ``images[k]`` with ``rows[k]`` as [A, 5 + C] (cx, cy, w, h, obj, class
    probabilities, letterboxed pixels): it recognises an image by its exact pixels, so it can run
    behind a real eval loader (letterboxing is deterministic). An image it was not given is an error."""

    def __init__(self, images: Sequence[torch.Tensor], rows: Sequence[torch.Tensor], num_classes: int):
        super().__init__()
        self.head = _Head(num_classes)
        self.anchor = nn.Parameter(torch.zeros(1))  # evaluators read the device from a parameter
        self.index = {image_fingerprint(image): k for k, image in enumerate(images)}
        self.register_buffer("table", stack_padded(rows, 5 + num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.table[[self.index[image_fingerprint(image)] for image in images]]


def ground_truth_lookup_model(dataset, *, test_size: Tuple[int, int],
                              skip_category: Optional[int] = None) -> ImageLookupModel:
    """A model answering every image of ``dataset`` (a real eval dataset: items ``(img [3, H, W],
    target, (h, w), image_id)``, ``coco``, ``class_ids``) with its non-crowd ground-truth boxes,
    except those of category ``skip_category``: objectness 0.9, 0.899, ... (a fixed ranking),
    class probability 1. Boxes are letterboxed here, independently of the evaluator's code."""
    class_ids = list(dataset.class_ids)
    images, rows = [], []
    for index in range(len(dataset)):
        image, _, (h, w), image_id = dataset[index]
        ratio = min(test_size[0] / h, test_size[1] / w)
        table = []
        for ann in dataset.coco.imgToAnns[image_id]:
            if ann["iscrowd"] or ann["category_id"] == skip_category:
                continue
            x, y, bw, bh = ann["bbox"]
            row = torch.zeros(5 + len(class_ids))
            row[:4] = torch.tensor([x + bw / 2, y + bh / 2, bw, bh], dtype=torch.float64) * ratio
            row[4] = 0.9 - 0.001 * len(table)
            row[5 + class_ids.index(ann["category_id"])] = 1.0
            table.append(row)
        images.append(torch.as_tensor(image))
        rows.append(torch.stack(table) if table else torch.zeros(0, 5 + len(class_ids)))
    return ImageLookupModel(images, rows, num_classes=len(class_ids))


def detection_rows(dataset: FakeDataset, per_image: Dict[int, List[Tuple[int, List[float], float]]]) -> list:
    """per_image: image_id -> [(category_id, [x, y, w, h] original pixels, score)] -> model rows
    (cx, cy, w, h in letterboxed pixels, objectness = score, one-hot class probability 1)."""
    num_classes = len(dataset.class_ids)
    rows = []
    for image_id in dataset.ids:
        ratio = ratio_of(dataset.coco.imgs[image_id])
        table = []
        for category_id, (x, y, w, h), score in per_image.get(image_id, []):
            row = torch.zeros(5 + num_classes)
            row[:4] = torch.tensor([x + w / 2, y + h / 2, w, h]) * ratio
            row[4] = score
            row[5 + dataset.class_ids.index(category_id)] = 1.0
            table.append(row)
        rows.append(torch.stack(table) if table else torch.zeros(0, 5 + num_classes))
    return rows


def ground_truth_detections(coco: COCO, score: float = 0.9) -> Dict[int, list]:
    """Every non-crowd GT box as a detection (descending scores so the ranking is fixed)."""
    out: Dict[int, list] = {}
    for n, ann in enumerate(a for a in coco.dataset["annotations"] if not a["iscrowd"]):
        out.setdefault(ann["image_id"], []).append((ann["category_id"], list(ann["bbox"]), score - 0.01 * n))
    return out
