"""demo/onnxruntime/onnx_inference.py, Megvii's torch-free ONNX Runtime demo, run where importing torch
fails: its detections on an image equal PyTorch's ``postprocess`` of the same model on the same
letterboxed input (boxes within 1 px, same classes), and it draws them."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from _lively_init import lively_init
from yolox.data.data_augment import preproc
from yolox.exp import get_exp
from yolox.utils import postprocess

pytestmark = pytest.mark.slow  # exports a model and runs the demo in a child process

pytest.importorskip("onnx", reason="onnx is not installed (pip install -r requirements.txt)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")

INPUT_HW = (128, 160)
SCORE_THR, NMS_THR = 0.3, 0.45
CLASS_NAMES = ["red", "green", "blue"]
# Runs the script as __main__ with torch made unimportable: ``import torch`` raises ImportError.
WITHOUT_TORCH = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")


@pytest.fixture(scope="module")
def tiny_model():
    """A 3-class nano at width 0.125 with random weights that make image-dependent predictions.

    PyTorch's default init lets the activations of this deep, narrow net fade to ~1e-7 by the
    head, so every anchor of a level would score the same (ties make NMS order arbitrary);
    Kaiming-initialised convolutions keep them alive. Small prediction weights and an objectness
    bias of -2.5 let a handful of boxes, about 3 strides wide so some overlap, pass the threshold.
    """
    exp = get_exp(exp_name="yolox-nano")
    exp.width, exp.num_classes = 0.125, len(CLASS_NAMES)
    torch.manual_seed(0)
    return lively_init(exp.get_model().eval(), obj_std=1e-3, obj_bias=-2.5, cls_std=1e-3)


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    """A 72 x 120 noise picture with two filled shapes: letterboxed by 1.333 with padding below."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(72, 120, 3), dtype=np.uint8)
    cv2.rectangle(img, (10, 10), (50, 40), (0, 0, 255), -1)
    cv2.circle(img, (90, 45), 15, (255, 0, 0), -1)
    path = tmp_path_factory.mktemp("demo") / "scene.png"
    cv2.imwrite(str(path), img)
    return path


def torch_detections(model, image_path):
    """PyTorch's answer: [N, 6] x1, y1, x2, y2 (original pixels), score, class, best score first."""
    img = cv2.imread(str(image_path))
    blob, ratio = preproc(img, INPUT_HW)
    model.head.decode_in_inference = True
    with torch.no_grad():
        (dets,) = postprocess(model(torch.from_numpy(blob)[None]), len(CLASS_NAMES), conf_thre=SCORE_THR,
                              nms_thre=NMS_THR, class_agnostic=True)  # the demo's default NMS
    assert dets is not None and 3 <= len(dets) <= 60, "tune the biases: the comparison needs a few boxes"
    return torch.cat([dets[:, :4] / ratio, (dets[:, 4] * dets[:, 5])[:, None], dets[:, 6:7]], dim=1).numpy()


def test_onnx_runtime_demo_without_torch_matches_pytorch_postprocess(tiny_model, image_path, tmp_path, repo_root):
    from yolox.deploy.onnx_export import OnnxExportSettings, export_onnx

    tiny_model.head.decode_in_inference = False  # raw offsets, the export default the demo expects
    model_path = export_onnx(tiny_model, tmp_path / "tiny.onnx", OnnxExportSettings(input_size=INPUT_HW))
    expected = torch_detections(tiny_model, image_path)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(CLASS_NAMES) + "\n")
    out_dir = tmp_path / "out"
    script = repo_root / "demo" / "onnxruntime" / "onnx_inference.py"
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, str(script), "-m", str(model_path), "-i", str(image_path),
         "-o", str(out_dir), "-s", str(SCORE_THR), "--nms_thr", str(NMS_THR),
         "--input_shape", f"{INPUT_HW[0]},{INPUT_HW[1]}", "--class_names", str(names)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr

    found = json.loads((out_dir / "scene.json").read_text())
    assert len(found) == len(expected)
    got = sorted(found, key=lambda d: -d["score"])
    np.testing.assert_allclose([d["box"] for d in got], expected[:, :4], atol=1.0)
    np.testing.assert_allclose([d["score"] for d in got], expected[:, 4], atol=1e-4)
    assert [d["class_id"] for d in got] == expected[:, 5].astype(int).tolist()
    assert [d["class_name"] for d in got] == [CLASS_NAMES[int(c)] for c in expected[:, 5]]

    drawn = cv2.imread(str(out_dir / "scene.png"))
    assert drawn.shape == cv2.imread(str(image_path)).shape
    assert (drawn != cv2.imread(str(image_path))).any()


def test_the_demo_helpers_load_without_torch(repo_root):
    """The import check the demo relies on, on its own: loading the script's module-level helpers
    with torch unimportable succeeds; yolox.utils imports too (its names load lazily), while a name
    that needs torch fails when used."""
    script = repo_root / "demo" / "onnxruntime" / "onnx_inference.py"
    code = ("import runpy, sys; sys.modules['torch'] = None; "
            f"g = runpy.run_path({str(script)!r}); "
            "assert g['coco_classes'].COCO_CLASSES[0] == 'person'; "
            "assert 'yolox.utils' not in sys.modules\n"
            "import yolox.utils\n"
            "try:\n    yolox.utils.postprocess\nexcept ImportError:\n    print('torch-free')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "torch-free"
