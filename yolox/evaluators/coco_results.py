"""From detections in letterboxed input pixels to COCO result records in original-image pixels,
and the results json they are written to.

``ValTransform`` resizes an image by ``r = min(test_h / h, test_w / w)`` and pads at the bottom
and right only, so undoing it is a division by ``r`` with no offset.
"""
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from yolox.utils.atomic_io import atomic_write
from yolox.utils.boxes import letterbox_scale, xyxy_to_xywh

from .inference import ImagePrediction

__all__ = ["letterbox_ratio", "undo_letterbox", "detections_to_coco", "predictions_to_coco",
           "contiguous_to_category", "category_to_contiguous", "write_coco_results"]


def letterbox_ratio(orig_size: Tuple[int, int], test_size: Tuple[int, int]) -> float:
    """The resize factor ValTransform applied: orig_size and test_size are (height, width)."""
    return letterbox_scale(orig_size, test_size)


def undo_letterbox(boxes: torch.Tensor, ratio: float) -> torch.Tensor:
    """boxes: [N, 4] x1, y1, x2, y2 in letterboxed pixels -> [N, 4] in original-image pixels.

    Not clipped to the image, like the reference, so scores match its numbers.
    """
    return boxes / ratio


def contiguous_to_category(class_ids: Sequence[int]) -> Dict[int, int]:
    """``class_ids[k]`` is the dataset category id of contiguous class ``k`` (COCO: 1..90 with gaps)."""
    return {k: int(cat_id) for k, cat_id in enumerate(class_ids)}


def category_to_contiguous(class_ids: Sequence[int]) -> Dict[int, int]:
    """The inverse of ``contiguous_to_category``: dataset category id -> contiguous class index."""
    mapping = {int(cat_id): k for k, cat_id in enumerate(class_ids)}
    if len(mapping) != len(class_ids):
        raise ValueError(f"class_ids contain duplicates: {list(class_ids)}")
    return mapping


def detections_to_coco(detections: Optional[torch.Tensor], *, image_id: int, ratio: float,
                       class_ids: Sequence[int]) -> List[dict]:
    """detections: [N, 7] x1, y1, x2, y2, obj, cls_conf, class in letterboxed pixels (or None).

    Returns N COCO result dicts ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``
    with score = obj * cls_conf. A class index outside ``class_ids`` raises: the model's
    num_classes does not match the dataset's.
    """
    if detections is None or detections.numel() == 0:
        return []
    detections = detections.float().cpu()
    boxes = xyxy_to_xywh(undo_letterbox(detections[:, :4], ratio)).tolist()
    scores = (detections[:, 4] * detections[:, 5]).tolist()
    classes = detections[:, 6].long().tolist()
    if max(classes) >= len(class_ids):
        raise ValueError(f"image {image_id}: predicted class {max(classes)} but the dataset has only "
                         f"{len(class_ids)} categories; the model's num_classes does not match the dataset")
    return [
        {"image_id": int(image_id), "category_id": int(class_ids[c]), "bbox": box, "score": score}
        for box, score, c in zip(boxes, scores, classes)
    ]


def predictions_to_coco(predictions: Sequence[ImagePrediction], *, test_size: Tuple[int, int],
                        class_ids: Sequence[int]) -> List[dict]:
    """All images' detections as one COCO result list (original-image pixels, dataset category ids)."""
    records: List[dict] = []
    for prediction in predictions:
        ratio = letterbox_ratio(prediction.orig_size, test_size)
        records.extend(detections_to_coco(prediction.detections, image_id=prediction.image_id, ratio=ratio,
                                          class_ids=class_ids))
    return records


def write_coco_results(records: Sequence[dict], path: Union[str, Path]) -> Path:
    """Write COCO detection results (a json list) atomically; returns the path."""
    path = Path(path)
    with atomic_write(path, "w") as handle:
        json.dump(list(records), handle)
    return path
