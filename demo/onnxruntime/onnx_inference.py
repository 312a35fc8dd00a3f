#!/usr/bin/env python3
"""Detect objects in one image with an exported YOLOX ONNX model, using only numpy, OpenCV and
onnxruntime: no torch anywhere, so it runs on a machine that has none.

    python demo/onnxruntime/onnx_inference.py -m yolox_s.onnx -i photo.jpg -o demo_output -s 0.3 \\
        --input_shape 640,640

Writes ``<output_dir>/<image name>`` with the boxes and class names drawn, and
``<output_dir>/<image stem>.json`` with the detections (original-image pixels). The model is
expected as ``tools/export_onnx.py`` writes it by default: raw box offsets (``--decoded`` for one
exported with ``--decode_in_inference``).

Why the helpers are loaded by file: preproc, demo_postprocess, multiclass_nms, mkdir, vis and
COCO_CLASSES live in modules that import only numpy and cv2 (yolox/utils/letterbox.py,
demo_utils.py, visualize.py, yolox/data/datasets/coco_classes.py). The packages' ``__init__`` files
now import their names lazily, so ``from yolox import Detector`` runs an ONNX file without torch
too; loading the four files directly keeps this script working from a checkout that is not
installed, with one copy of the code and no torch.
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Sequence

import cv2
import numpy as np
import onnxruntime

TORCH_FREE_MODULES = {
    "letterbox": "utils/letterbox.py",
    "demo_utils": "utils/demo_utils.py",
    "visualize": "utils/visualize.py",
    "coco_classes": "data/datasets/coco_classes.py",
}


def _yolox_dir() -> Path:
    """The yolox package directory, found without importing it (its subpackages import torch)."""
    spec = importlib.util.find_spec("yolox")
    if spec is None or not spec.submodule_search_locations:
        # Run from a checkout without installing: the package is two folders up.
        return Path(__file__).resolve().parents[2] / "yolox"
    return Path(list(spec.submodule_search_locations)[0])


def load_torch_free(key: str) -> ModuleType:
    """One of TORCH_FREE_MODULES, executed from its file under a private name."""
    path = _yolox_dir() / TORCH_FREE_MODULES[key]
    spec = importlib.util.spec_from_file_location(f"_yolox_ort_{key}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


letterbox, demo_utils, visualize, coco_classes = (load_torch_free(k) for k in TORCH_FREE_MODULES)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser("onnxruntime inference sample (no torch)")
    parser.add_argument("-m", "--model", type=str, default="yolox.onnx", help="the ONNX model")
    parser.add_argument("-i", "--image_path", type=str, default="test_image.png", help="the input image")
    parser.add_argument("-o", "--output_dir", type=str, default="demo_output", help="where to write the results")
    parser.add_argument("-s", "--score_thr", type=float, default=0.3, help="score (obj * cls) to keep a box")
    parser.add_argument("--nms_thr", type=float, default=0.45, help="IoU above which NMS drops a box")
    parser.add_argument("--input_shape", type=str, default="640,640", help="the model's input: height,width")
    parser.add_argument("--with_p6", action="store_true", help="the model has a fourth, stride-64 level")
    parser.add_argument("--decoded", action="store_true",
                        help="the model decodes boxes itself (exported with --decode_in_inference)")
    parser.add_argument("--class_aware", action="store_true",
                        help="NMS within each class (default: across classes, as Megvii's demo)")
    parser.add_argument("--class_names", type=str, default=None,
                        help="text file with one class name a line (default: the 80 COCO classes)")
    return parser


def read_class_names(path: Optional[str]) -> Sequence[str]:
    if path is None:
        return coco_classes.COCO_CLASSES
    names = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise SystemExit(f"--class_names {path}: no class names in the file")
    return names


def decode(output: np.ndarray, input_shape: Sequence[int], *, p6: bool, decoded: bool) -> np.ndarray:
    """The model's output [1, A, 5 + C] -> [A, 5 + C] cx, cy, w, h in input pixels, obj, classes."""
    strides = (8, 16, 32, 64) if p6 else (8, 16, 32)
    anchors = sum((input_shape[0] // s) * (input_shape[1] // s) for s in strides)
    if output.shape[1] != anchors:
        raise SystemExit(f"the model returns {output.shape[1]} boxes, but an input of {tuple(input_shape)} "
                         f"with strides {strides} has {anchors}: check --input_shape and --with_p6")
    return output[0] if decoded else demo_utils.demo_postprocess(output, input_shape, p6=p6)[0]


def detect(session: onnxruntime.InferenceSession, image: np.ndarray, args) -> Optional[np.ndarray]:
    """image [H, W, 3] BGR -> [K, 6] x1, y1, x2, y2 (original pixels), score, class; or None."""
    input_shape = tuple(int(v) for v in args.input_shape.split(","))
    blob, ratio = letterbox.preproc(image, input_shape)
    output = session.run(None, {session.get_inputs()[0].name: blob[None]})[0]
    predictions = decode(output, input_shape, p6=args.with_p6, decoded=args.decoded)
    cx, cy, w, h = (predictions[:, k] for k in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) / ratio
    scores = predictions[:, 4:5] * predictions[:, 5:]  # [A, C] obj * class probability
    # Continuous-coordinate IoU, as torchvision's behind yolox's postprocess: the same boxes survive
    # as in the PyTorch demo and evaluation (Megvii's whole-pixel IoU differs at the margin).
    dets = demo_utils.multiclass_nms(boxes, scores, nms_thr=args.nms_thr, score_thr=args.score_thr,
                                     class_agnostic=not args.class_aware, inclusive=False)
    if dets is not None:
        dets = dets[dets[:, 4] >= args.score_thr]
    return dets


def detections_json(dets: Optional[np.ndarray], class_names: Sequence[str]) -> List[dict]:
    rows = [] if dets is None else dets.tolist()
    return [{"box": row[:4], "score": row[4], "class_id": int(row[5]),
             "class_name": class_names[int(row[5])] if int(row[5]) < len(class_names) else str(int(row[5]))}
            for row in rows]


def write_atomically(path: str, data: bytes) -> None:
    """Write through a temporary file in the same folder, then rename: a reader never sees half a file.
    (The project's atomic-write helper lives in a module that imports torch.)"""
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the results from other users
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    class_names = read_class_names(args.class_names)
    image = cv2.imread(args.image_path)
    if image is None:
        raise SystemExit(f"cannot read image {args.image_path}")
    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    dets = detect(session, image, args)
    if dets is not None:
        visualize.vis(image, dets[:, :4], dets[:, 4], dets[:, 5], conf=args.score_thr, class_names=class_names)
    demo_utils.mkdir(args.output_dir)
    picture = os.path.join(args.output_dir, os.path.basename(args.image_path))
    ok, encoded = cv2.imencode(Path(picture).suffix or ".jpg", image)
    if not ok:
        raise SystemExit(f"cannot encode the picture as {picture}")
    write_atomically(picture, encoded.tobytes())
    records = detections_json(dets, class_names)
    json_path = os.path.join(args.output_dir, Path(args.image_path).stem + ".json")
    write_atomically(json_path, json.dumps(records, indent=1).encode("utf-8"))
    print(f"{len(records)} detections -> {picture}, {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
