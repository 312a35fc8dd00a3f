"""A pycocotools ``COCO`` view of any detection dataset, so COCO evaluation works on every format."""
import contextlib
import io
from typing import Dict, Sequence

from pycocotools.coco import COCO

__all__ = ["coco_from_dict", "records_to_coco_dict"]


def coco_from_dict(data: Dict) -> COCO:
    """Index an in-memory COCO dict without pycocotools' prints and without re-reading a file."""
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def records_to_coco_dict(records: Sequence, class_names: Sequence[str], class_ids: Sequence[int]) -> Dict:
    """COCO json dict from ImageRecords: contiguous class c becomes category ``class_ids[c]``.

    Boxes are the cleaned ones (original pixels, xywh); VOC's difficult flag is kept as a
    ``difficult`` key, which pycocotools ignores and VOC evaluation reads.
    """
    images, annotations = [], []
    for rec in records:
        images.append({"id": int(rec.img_id), "file_name": rec.file_name,
                       "height": int(rec.height), "width": int(rec.width)})
        wh = rec.boxes[:, 2:4] - rec.boxes[:, 0:2]
        for box, size, cls, difficult in zip(rec.boxes.tolist(), wh.tolist(), rec.classes.tolist(),
                                             rec.difficult.tolist()):
            annotations.append({
                "id": len(annotations) + 1, "image_id": int(rec.img_id),
                "category_id": int(class_ids[cls]), "bbox": [box[0], box[1], size[0], size[1]],
                "area": float(size[0] * size[1]), "iscrowd": 0, "difficult": int(difficult),
            })
    categories = [{"id": int(cid), "name": name, "supercategory": ""}
                  for cid, name in zip(class_ids, class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}
