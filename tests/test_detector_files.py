"""``Detector`` on hand-made model files (fast, no export): a raw output decoded to the box worked
out by hand, an ONNX file run with torch unimportable, and the errors for a file it cannot run."""
import json
import math
import subprocess
import sys
import types

import cv2
import numpy as np
import pytest
import torch

from yolox.deploy import Detector
from yolox.deploy.backends import is_exported_model, is_torchscript_archive
from yolox.deploy.metadata import ModelMetadata

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install -r requirements.txt)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")

INPUT_HW = (64, 64)  # 8x8 + 4x4 + 2x2 = 84 predictions
NAMES = ["cat", "dog"]


def raw_output() -> np.ndarray:
    """[1, 84, 7] raw: one prediction scores, at stride 8, grid x 2, y 3: centre offsets 0.5,
    log size log 2 -> cx, cy, w, h = 20, 28, 16, 16 (x1, y1, x2, y2 = 12, 20, 28, 36), score 0.9 x 0.8, "dog"."""
    raw = np.zeros((1, 84, 7), np.float32)
    raw[0, 3 * 8 + 2] = [0.5, 0.5, math.log(2), math.log(2), 0.9, 0.2, 0.8]
    return raw


def constant_onnx(path, metadata=None):
    """An ONNX file whose output is ``raw_output()`` whatever the [1, 3, 64, 64] input, with ``metadata``."""
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("Constant", [], ["output"], value=numpy_helper.from_array(raw_output()))
    graph = helper.make_graph([node], "constant", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                                  [1, 3, *INPUT_HW])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 84, 7])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    if metadata is not None:
        helper.set_model_props(model, {"yolox": metadata.to_json()})
    onnx.save(model, str(path))
    return path


@pytest.fixture
def model_file(tmp_path):
    return constant_onnx(tmp_path / "constant.onnx", ModelMetadata(class_names=NAMES, input_size=INPUT_HW,
                                                                   batch_size=1))


def test_a_raw_output_decodes_to_the_box_worked_out_by_hand(model_file):
    detector = Detector(model_file, conf=0.5)
    image = np.zeros((32, 32, 3), np.uint8)  # letterboxed x2: the box halves in the original pixels
    dets = detector(image)
    np.testing.assert_allclose(dets.boxes, [[6, 10, 14, 18]], atol=1e-5)
    np.testing.assert_allclose(dets.scores, [0.72], atol=1e-6)
    assert dets.class_ids.tolist() == [1] and dets.labels == ["dog"]
    assert dets.to_coco(5) == [{"image_id": 5, "category_id": 1, "bbox": [6.0, 10.0, 8.0, 8.0], "score": 0.72}]
    assert len(detector([image, image, image])) == 3  # batch 1 file: three passes
    assert len(Detector(model_file, conf=0.75)(image)) == 0


WITHOUT_TORCH = """
import json, sys
sys.modules["torch"] = None
from yolox import Detector
dets = Detector(sys.argv[1], conf=0.5)(sys.argv[2])
loaded = sorted({m.split(".")[0] for m, v in sys.modules.items() if v is not None} & {"torch", "torchvision"})
print(json.dumps({"boxes": dets.boxes.tolist(), "labels": dets.labels, "heavy": loaded}))
"""


def test_an_onnx_file_runs_where_torch_cannot_be_imported(model_file, tmp_path, repo_root):
    image = tmp_path / "black.png"
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    run = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(model_file), str(image)],
                         capture_output=True, text=True, cwd=repo_root, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found == {"boxes": [[6.0, 10.0, 14.0, 18.0]], "labels": ["dog"], "heavy": []}


def test_a_file_without_metadata_needs_the_class_names(tmp_path):
    path = constant_onnx(tmp_path / "megvii.onnx")
    with pytest.raises(ValueError, match="carries no yolox metadata.*pass exp=.*or class_names="):
        Detector(path)
    detector = Detector(path, class_names=NAMES, conf=0.5)  # input size and batch from the graph
    assert (detector.metadata.input_size, detector.metadata.batch_size, detector.metadata.decoded) == (INPUT_HW, 1,
                                                                                                        False)
    assert detector(np.zeros((64, 64, 3), np.uint8)).labels == ["dog"]
    exp = types.SimpleNamespace(num_classes=2, class_names=["ant", "bee"], test_size=(96, 96), exp_name="e")
    assert Detector(path, exp=exp).class_names == ["ant", "bee"]  # the graph's input size wins over test_size


def test_given_class_names_replace_the_files(model_file):
    assert Detector(model_file, class_names=["a", "b"]).class_names == ["a", "b"]


def test_a_missing_file_or_an_unknown_suffix_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file .*nowhere.onnx.* not found"):
        Detector(tmp_path / "nowhere.onnx")
    (tmp_path / "model.tflite").write_bytes(b"\0")
    with pytest.raises(ValueError, match="unknown model file type '.tflite'; expected one of .pth, .pt"):
        Detector(tmp_path / "model.tflite")


def test_options_a_backend_does_not_take_are_errors(model_file):
    with pytest.raises(ValueError, match="ONNX Runtime backend does not take fuse"):
        Detector(model_file, fuse=True)
    with pytest.raises(ValueError, match="precision 'bf16': ONNX Runtime runs the file's own arithmetic"):
        Detector(model_file, precision="bf16")


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_torchscript_is_told_from_a_checkpoint_by_content(tmp_path):
    ckpt = tmp_path / "ckpt.pth"
    torch.save({"model": {"head.cls_preds.0.weight": torch.zeros(2, 4, 1, 1)}}, ckpt)
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.ReLU()), str(scripted))
    assert not is_torchscript_archive(ckpt) and is_torchscript_archive(scripted)
    with pytest.raises(ValueError, match="does not record its network .*pass exp="):
        Detector(ckpt)
    with pytest.raises(ValueError, match="carries no yolox metadata"):
        Detector(scripted)
    # The tools load anything but an exported file as a checkpoint, whatever its name.
    assert is_exported_model(scripted) and not is_exported_model(ckpt) and not is_exported_model(None)
    assert not is_exported_model(ckpt.rename(tmp_path / "weights.ckpt"))


def test_demo_tool_runs_an_onnx_file(model_file, tmp_path):
    from yolox.tools import demo

    image = tmp_path / "inputs" / "black.png"
    image.parent.mkdir()
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    demo.main(["image", "-n", "yolox-nano", "-c", str(model_file), "--path", str(image), "--conf", "0.5",
               "--save_json", "--save_result", "output_dir", str(tmp_path / "out")])
    (found,) = (tmp_path / "out" / "yolox_nano" / "vis_res").glob("*/detections.json")
    records = json.loads(found.read_text())
    assert [(r["category_id"], r["bbox"]) for r in records] == [(1, [6.0, 10.0, 8.0, 8.0])]
    assert (cv2.imread(str(found.parent / "black.png")) != 0).any()
    with pytest.raises(SystemExit, match="--fp16: for a .pth checkpoint"):
        demo.main(["image", "-n", "yolox-nano", "-c", str(model_file), "--path", str(image), "--fp16"])


def test_eval_tool_names_a_class_count_that_is_not_the_datasets(model_file, sample_model):
    from yolox.tools import eval as eval_tool

    with pytest.raises(ValueError, match="the model predicts 2 classes but the evaluation dataset has 5"):
        eval_tool.main(["-f", str(sample_model["exp_file"]), "-c", str(model_file), "-b", "1"])


def test_an_openvino_file_opens_with_its_backend_and_precision(tmp_path, monkeypatch):
    """.xml goes to ``OpenVINOBackend(path, precision=...)`` (yolox/deploy/backends/openvino_backend.py),
    here a stand-in module; the experiment is not needed, given class names replace the file's."""
    import types

    opened = []

    class FakeOpenVINO:
        name = "openvino"

        def __init__(self, path, *, precision=None):
            opened.append((path.name, precision))
            self.metadata = ModelMetadata(class_names=NAMES, input_size=INPUT_HW, batch_size=1)

        def __call__(self, images):
            return raw_output().repeat(len(images), axis=0)

    fake = types.ModuleType("yolox.deploy.backends.openvino_backend")
    fake.OpenVINOBackend = FakeOpenVINO
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    (tmp_path / "model.xml").write_text("<net/>")
    detector = Detector(tmp_path / "model.xml", exp=object(), precision="int8", class_names=["x", "y"], conf=0.5)
    assert opened == [("model.xml", "int8")]
    assert detector(np.zeros((64, 64, 3), np.uint8)).labels == ["y"]
    with pytest.raises(ValueError, match="OpenVINO backend does not take input_size"):
        Detector(tmp_path / "model.xml", input_size=(64, 64))
