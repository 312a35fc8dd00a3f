"""Detections matched to ground truth at one IoU threshold, by COCO's rule.

Per image and class, detections in decreasing score each take the not yet taken ground-truth box
of the highest IoU at or above the threshold (a true positive) or, finding none, are false
positives; a detection that only overlaps an ignored box (crowd, difficult) is left out, neither
true nor false. Because the rule walks in score order, the matching of the detections above any
confidence is a prefix of the whole matching: one pass serves every threshold.

Crowd regions are matched by IoU here, where COCOeval uses the share of the detection inside the
region; the counts can differ from COCO's only for detections on crowd regions.
"""
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np
import torch

from yolox.utils.boxes import pairwise_iou

from .images import ImageBoxes

__all__ = ["TP", "FP", "IGNORED", "ImageMatch", "Matches", "box_iou", "match_image", "match_images"]

TP, FP, IGNORED = 1, 0, -1


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """[N, 4] and [M, 4] x1, y1, x2, y2 -> IoU [N, M] (the project's one IoU, in float64)."""
    if len(boxes_a) == 0 or len(boxes_b) == 0:
        return np.zeros((len(boxes_a), len(boxes_b)))
    return pairwise_iou(torch.from_numpy(boxes_a), torch.from_numpy(boxes_b)).numpy()


@dataclass
class ImageMatch:
    """state [D]: TP, FP or IGNORED per detection (the image's score order); matched_gt [D]: the
    ground-truth box a TP took, -1 otherwise; iou [D, G] all pairs, any class."""

    state: np.ndarray
    matched_gt: np.ndarray
    iou: np.ndarray


def match_image(image: ImageBoxes, *, iou_thresh: float) -> ImageMatch:
    iou = box_iou(image.det_boxes, image.gt_boxes)  # [D, G]
    same_class = image.det_classes[:, None] == image.gt_classes[None, :]
    taken = np.zeros(len(image.gt_boxes), dtype=bool)
    state = np.full(len(image.det_boxes), FP, dtype=np.int64)
    matched = np.full(len(image.det_boxes), -1, dtype=np.int64)
    for d in range(len(image.det_boxes)):
        overlap = np.where(same_class[d], iou[d], -1.0)  # [G]
        free = np.where(~taken & ~image.gt_ignore, overlap, -1.0)
        best = int(np.argmax(free)) if len(free) else -1
        if best >= 0 and free[best] >= iou_thresh:
            taken[best] = True
            state[d], matched[d] = TP, best
        elif np.any(overlap[image.gt_ignore] >= iou_thresh):
            state[d] = IGNORED
    return ImageMatch(state=state, matched_gt=matched, iou=iou)


@dataclass
class Matches:
    """All images matched at ``iou_thresh``. per_image[i] belongs to images[i]. The flat view of
    the detections that count (IGNORED left out), by decreasing score: scores [N], classes [N],
    tp [N] bool, image_index [N]. gt_counts [C]: boxes that count (not ignored) per class;
    gt_images [C]: images holding at least one of them."""

    images: List[ImageBoxes]
    per_image: List[ImageMatch]
    iou_thresh: float
    scores: np.ndarray
    classes: np.ndarray
    tp: np.ndarray
    image_index: np.ndarray
    gt_counts: np.ndarray
    gt_images: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.gt_counts)


def match_images(images: Sequence[ImageBoxes], *, num_classes: int, iou_thresh: float = 0.5) -> Matches:
    per_image = [match_image(image, iou_thresh=iou_thresh) for image in images]
    counted = [m.state != IGNORED for m in per_image]
    scores = np.concatenate([im.det_scores[k] for im, k in zip(images, counted)] + [np.zeros(0)])
    order = np.argsort(-scores, kind="stable")
    classes = np.concatenate([im.det_classes[k] for im, k in zip(images, counted)] + [np.zeros(0, np.int64)])
    tp = np.concatenate([m.state[k] == TP for m, k in zip(per_image, counted)] + [np.zeros(0, bool)])
    index = np.concatenate([np.full(int(k.sum()), i) for i, k in enumerate(counted)] + [np.zeros(0, np.int64)])
    gt_counts = np.zeros(num_classes, dtype=np.int64)
    gt_images = np.zeros(num_classes, dtype=np.int64)
    for im in images:
        present = np.bincount(im.gt_classes[~im.gt_ignore], minlength=num_classes)
        gt_counts += present
        gt_images += present > 0
    return Matches(images=list(images), per_image=per_image, iou_thresh=iou_thresh, scores=scores[order],
                   classes=classes[order].astype(np.int64), tp=tp[order], image_index=index[order].astype(np.int64),
                   gt_counts=gt_counts, gt_images=gt_images)
