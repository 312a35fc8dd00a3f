"""Time COCO scoring: 500 images x 100 detections each, from detection tensors to the summary.

Setting (issue 6): a synthetic COCO ground truth (500 images of 640x480, 2..15 boxes each, the
80 COCO category ids, which are not contiguous) and 100 detections per image as the model would
hand them over ([100, 7] letterboxed x1, y1, x2, y2, obj, cls_conf, class): about half of them
jittered copies of ground-truth boxes, the rest random. The timed path is what
``COCOEvaluator`` does after inference: undo the letterbox and map class ids
(``predictions_to_coco``), then ``COCOeval`` evaluate + accumulate + summarize and the per-class
table (``score_coco_detections``). Median of ``--repeats`` runs of each backend side by side:
faster-coco-eval (the default) and pycocotools (the reference), and whether the 12 numbers agree
(to 1e-6, and exactly).

    python benchmarks/coco_eval.py
    python benchmarks/coco_eval.py --images 5000 --repeats 1

Timings on a shared machine are noisy: run it on an otherwise idle one for figures to quote.
"""
import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np
import torch
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yolox.evaluators.coco_results import predictions_to_coco  # noqa: E402
from yolox.evaluators.coco_scoring import BACKENDS, COCOScores, score_coco_detections  # noqa: E402
from yolox.evaluators.inference import ImagePrediction  # noqa: E402

# Megvii YOLOX's evaluate_prediction (plain pycocotools) on this 2-core machine, same setting.
REFERENCE_SECONDS = 4.3
COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in
                     (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]  # the 80 ids COCO uses
IMG_H, IMG_W, TEST_SIZE = 480, 640, (640, 640)


def make_ground_truth(num_images: int, rng: np.random.Generator):
    """A pycocotools COCO with num_images images and their boxes (xywh, original pixels)."""
    from pycocotools.coco import COCO

    images, annotations = [], []
    for image_id in range(num_images):
        images.append({"id": image_id, "width": IMG_W, "height": IMG_H, "file_name": f"{image_id:06d}.jpg"})
        for _ in range(int(rng.integers(2, 16))):
            w, h = rng.uniform(8, 300), rng.uniform(8, 300)
            x, y = rng.uniform(0, IMG_W - w), rng.uniform(0, IMG_H - h)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "iscrowd": 0, "area": w * h,
                                "category_id": int(rng.choice(COCO_CATEGORY_IDS)), "bbox": [x, y, w, h]})
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": c, "name": f"class_{c}"} for c in COCO_CATEGORY_IDS]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def make_predictions(coco, per_image: int, rng: np.random.Generator) -> List[ImagePrediction]:
    """per_image detections per image in letterboxed pixels (ratio 1 here: 640 is the longer side)."""
    contiguous = {c: k for k, c in enumerate(COCO_CATEGORY_IDS)}
    predictions = []
    for image_id in coco.getImgIds():
        anns = coco.imgToAnns[image_id]
        rows = []
        for k in range(per_image):
            if k < 2 * len(anns) and k % 2 == 0:  # a jittered copy of a ground-truth box
                ann = anns[k // 2]
                x, y, w, h = np.asarray(ann["bbox"]) + rng.normal(0, 4, size=4)
                cls = contiguous[ann["category_id"]]
            else:
                w, h = rng.uniform(8, 300, size=2)
                x, y = rng.uniform(0, IMG_W - w), rng.uniform(0, IMG_H - h)
                cls = int(rng.integers(0, len(COCO_CATEGORY_IDS)))
            rows.append([x, y, x + max(w, 1.0), y + max(h, 1.0), rng.uniform(0.05, 1), rng.uniform(0.05, 1), cls])
        predictions.append(ImagePrediction(image_id=image_id, orig_size=(IMG_H, IMG_W),
                                           detections=torch.tensor(rows, dtype=torch.float32)))
    return predictions


def time_backend(coco, predictions, backend: str, repeats: int) -> Tuple[List[float], COCOScores]:
    """Seconds of each run (predictions -> COCO records -> scores -> per-class table) and the scores."""
    times, scores = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        records = predictions_to_coco(predictions, test_size=TEST_SIZE, class_ids=COCO_CATEGORY_IDS)
        scores = score_coco_detections(coco, records, backend=backend)
        scores.per_class_table()
        times.append(time.perf_counter() - start)
    return times, scores


def agreement(scores: COCOScores, reference: COCOScores) -> str:
    """How the 12 stats compare with the reference backend's."""
    if scores is reference:
        return "(reference)"
    largest = max(abs(scores.stats[k] - reference.stats[k]) for k in reference.stats)
    if largest == 0.0:
        return "yes (exactly)"
    return f"yes (max diff {largest:.1e})" if largest <= 1e-6 else f"NO (max diff {largest:.1e})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--per-image", type=int, default=100, help="detections per image")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    coco = make_ground_truth(args.images, rng)
    predictions = make_predictions(coco, args.per_image, rng)
    results = {backend: time_backend(coco, predictions, backend, args.repeats) for backend in BACKENDS}
    reference = results["pycocotools"][1]
    rows = [{"backend": backend, "images": len(predictions), "detections": len(predictions) * args.per_image,
             "seconds (median)": f"{statistics.median(times):.2f}", "best": f"{min(times):.2f}",
             "AP50:95": f"{scores.ap50_95:.4f}", "AP50": f"{scores.ap50:.4f}",
             "12 stats equal to pycocotools": agreement(scores, reference)}
            for backend, (times, scores) in results.items()]
    print(f"load average {os.getloadavg()[0]:.2f}; Megvii YOLOX (plain pycocotools) took {REFERENCE_SECONDS:.1f} s "
          "here on an idle machine")
    print(tabulate(rows, headers="keys", tablefmt="github"))


if __name__ == "__main__":
    main()
