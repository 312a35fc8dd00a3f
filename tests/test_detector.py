"""``Detector``: one API for checkpoints, TorchScript, ONNX and OpenVINO files. Each backend gives the
checkpoint's boxes (the torch ``Predictor``'s), files carry their metadata, batches equal single
images, an ONNX file runs without torch, and a wrong file says what is wrong."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from yolox.deploy import Detector
from yolox.deploy.predictor import Predictor

pytestmark = pytest.mark.slow  # exports the sample model, runs tools/eval.py twice and a child process

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")

CONF, NMS = 0.3, 0.45


@pytest.fixture(scope="module")
def exported(sample_model, tmp_path_factory):
    """The sample checkpoint exported by the export tools: ONNX (raw boxes, fixed batch 2),
    OpenVINO (raw boxes, any batch) and TorchScript (boxes decoded in the module, any batch)."""
    from yolox.deploy.model_loading import export_metadata, model_for_export
    from yolox.deploy.torchscript_export import export_torchscript
    from yolox.exp import get_exp
    from yolox.tools import export_onnx

    out = tmp_path_factory.mktemp("exported")
    files = {"onnx": out / "sample.onnx", "torchscript": out / "sample.torchscript.pt", "openvino": out / "sample.xml"}
    from yolox.tools import export_openvino

    assert export_openvino.main(["--output-name", str(files["openvino"]), "--dynamic", "-f",
                                 str(sample_model["exp_file"]), "-c", str(sample_model["ckpt"])]) == 0
    assert export_onnx.main(["--output-name", str(files["onnx"]), "--batch-size", "2", "-f",
                             str(sample_model["exp_file"]), "-c", str(sample_model["ckpt"])]) == 0
    # TorchScript by the function the tool calls (the tool's own checks are test_export_onnx_torchscript's).
    loaded = model_for_export(get_exp(str(sample_model["exp_file"])), sample_model["ckpt"], decode_in_inference=True)
    export_torchscript(loaded.model, files["torchscript"], input_size=(128, 128),
                       metadata=export_metadata(loaded, input_size=(128, 128), batch_size=None))
    return files


@pytest.fixture(scope="module")
def reference(sample_model):
    """The checkpoint's detections of each sample image by the torch Predictor (the demo's engine)."""
    from yolox.deploy.model_loading import load_model
    from yolox.exp import get_exp

    exp = get_exp(str(sample_model["exp_file"]))
    loaded = load_model(exp, sample_model["ckpt"])
    predictor = Predictor(loaded.model, num_classes=5, test_size=exp.test_size, conf=CONF, nms=NMS,
                          class_names=loaded.class_names)
    found = [predictor.predict(cv2.imread(str(path))) for path in sample_model["images"]]
    assert all(3 <= len(d) <= 60 for d in found), [len(d) for d in found]
    return found


def assert_same_detections(got, expected):
    assert got.class_ids.tolist() == expected.class_ids.tolist()
    np.testing.assert_allclose(got.boxes, expected.boxes, atol=1.0)
    np.testing.assert_allclose(got.scores, expected.scores, atol=1e-4)


@pytest.mark.parametrize("kind", ["pth", "onnx", "torchscript", "openvino"])
def test_each_backend_gives_the_checkpoints_boxes(kind, sample_model, exported, reference):
    path = sample_model["ckpt"] if kind == "pth" else exported[kind]
    options = {"precision": "fp32"} if kind == "openvino" else {"device": "cpu"}
    detector = Detector(path, conf=CONF, nms=NMS, **options)
    assert detector.backend.name == {"pth": "torch"}.get(kind, {"onnx": "onnxruntime"}.get(kind, kind))
    found = detector([str(p) for p in sample_model["images"]])
    assert len(found) == len(reference)
    for got, expected in zip(found, reference):
        assert_same_detections(got, expected)
        assert got.labels == [detector.class_names[c] for c in expected.class_ids]


def test_a_fused_channels_last_checkpoint_gives_the_same_boxes_and_bf16_runs(sample_model, reference):
    image = str(sample_model["images"][0])
    fused = Detector(sample_model["ckpt"], conf=CONF, nms=NMS, device="cpu", fuse=True, channels_last=True)
    assert_same_detections(fused(image), reference[0])
    bf16 = Detector(sample_model["ckpt"], conf=CONF, nms=NMS, device="cpu", precision="bf16")
    assert bf16.metadata.precision == "bf16" and len(bf16(image)) > 0  # bfloat16 boxes differ by more than 1 px


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_files_carry_their_metadata(exported):
    from yolox.data.synthetic_dataset import SAMPLE_CLASSES
    from yolox.deploy.backends.torchscript_backend import TORCHSCRIPT_METADATA_FILE
    from yolox.deploy.metadata import ModelMetadata
    from yolox.deploy.onnx_export import read_onnx_metadata

    onnx_meta = read_onnx_metadata(exported["onnx"])
    assert onnx_meta == ModelMetadata(class_names=list(SAMPLE_CLASSES), input_size=(128, 128), decoded=False,
                                      strides=(8, 16, 32), batch_size=2, exp_name="sample_model_exp")
    extra = {TORCHSCRIPT_METADATA_FILE: ""}
    torch.jit.load(str(exported["torchscript"]), _extra_files=extra)
    ts_meta = ModelMetadata.from_json(extra[TORCHSCRIPT_METADATA_FILE])
    assert (ts_meta.decoded, ts_meta.batch_size, ts_meta.class_names) == (True, None, list(SAMPLE_CLASSES))
    assert Detector(exported["onnx"]).metadata == onnx_meta
    assert Detector(exported["torchscript"]).metadata == ts_meta


def test_a_list_equals_one_image_at_a_time_through_a_fixed_batch(sample_model, exported):
    """3 images through a file fixed at batch 2: one full batch, one padded; arrays and paths alike."""
    detector = Detector(exported["onnx"], conf=CONF, nms=NMS)
    images = [cv2.imread(str(p)) for p in sample_model["images"][:3]]
    together = detector([images[0], str(sample_model["images"][1]), images[2]])
    for img, got in zip(images, together):
        assert_same_detections(got, detector(img))


def test_draw_marks_the_detections_on_a_copy(sample_model, exported):
    detector = Detector(exported["onnx"], conf=CONF, nms=NMS)
    img = cv2.imread(str(sample_model["images"][0]))
    drawn = detector.draw(img, detector(img))
    assert drawn.shape == img.shape and (drawn != img).any()
    assert (img == cv2.imread(str(sample_model["images"][0]))).all()


# Runs a Detector on an ONNX file where ``import torch`` raises ImportError; prints its detections.
WITHOUT_TORCH = """
import json, sys
sys.modules["torch"] = None
from yolox import Detector
dets = Detector(sys.argv[1], conf=float(sys.argv[3]), nms=float(sys.argv[4]))(sys.argv[2])
assert "torch" not in [m.split(".")[0] for m, v in sys.modules.items() if v is not None]
print(json.dumps({"boxes": dets.boxes.tolist(), "classes": dets.class_ids.tolist(), "coco": dets.to_coco(1)}))
"""


def test_an_onnx_detector_runs_without_torch(sample_model, exported, reference, repo_root):
    image = sample_model["images"][0]
    run = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(exported["onnx"]), str(image), str(CONF),
                          str(NMS)], capture_output=True, text=True, cwd=repo_root, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["classes"] == reference[0].class_ids.tolist()
    np.testing.assert_allclose(found["boxes"], reference[0].boxes, atol=1.0)
    assert len(found["coco"]) == len(reference[0])


def _ap_logged(capture_log, argv) -> float:
    from yolox.tools import eval as eval_tool

    messages = capture_log("INFO")
    eval_tool.main(argv)
    line = [m for m in messages if m.startswith("AP50:95 ")][-1]
    return float(line.split()[1].rstrip(","))


def test_eval_tool_scores_the_onnx_file_as_its_checkpoint(sample_model, exported, capture_log, tmp_path):
    """Same AP, and the same COCO results (the evaluator's own post-processing of each file's outputs).
    The ONNX run asks for test_size 96: the file's 128 wins."""
    common = ["-f", str(sample_model["exp_file"]), "-b", "2", "--conf", "0.01"]
    aps, results = {}, {}
    for kind, path, extra in (("pth", sample_model["ckpt"], []), ("onnx", exported["onnx"], ["test_size", "96,96"]),
                              ("torchscript", exported["torchscript"], [])):
        results[kind] = tmp_path / f"{kind}.json"
        aps[kind] = _ap_logged(capture_log, [*common, "-c", str(path), "--results", str(results[kind]), *extra])
    assert aps["pth"] > 0
    for kind in ("onnx", "torchscript"):
        assert aps[kind] == pytest.approx(aps["pth"], abs=0.005)
        got, expected = (json.loads(results[k].read_text()) for k in (kind, "pth"))
        assert [(r["image_id"], r["category_id"]) for r in got] == [(r["image_id"], r["category_id"]) for r in expected]
        np.testing.assert_allclose([r["bbox"] for r in got], [r["bbox"] for r in expected], atol=1.0)


def test_eval_tool_rejects_torch_flags_for_an_exported_file(sample_model, exported):
    from yolox.tools import eval as eval_tool

    with pytest.raises(SystemExit, match="--fuse: for a .pth checkpoint"):
        eval_tool.main(["-f", str(sample_model["exp_file"]), "-c", str(exported["onnx"]), "--fuse"])
