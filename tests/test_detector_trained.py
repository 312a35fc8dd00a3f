"""The Detector on a trained model (tests/assets/yolox_nano_sample.pth, the README's sample run):
every backend finds the checkpoint's boxes on new sample scenes, `tools/eval.py -c model.onnx`
scores the checkpoint's AP, and the INT8 path runs end to end with its AP measured."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from yolox.deploy import Detector

pytestmark = pytest.mark.slow  # exports a trained nano three ways and evaluates it

ASSET = Path(__file__).parent / "assets" / "yolox_nano_sample.pth"
CONF, NMS = 0.3, 0.45


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Six new sample scenes (a seed the training never saw) as a COCO val split, and their experiment."""
    from yolox.data.synthetic_dataset import SampleSpec, make_sample_dataset
    from yolox.exp import get_exp

    root = make_sample_dataset(tmp_path_factory.mktemp("scenes") / "sample",
                               SampleSpec(num_train=1, num_val=6, seed=2026))
    exp = get_exp(str(Path(__file__).parents[1] / "exps" / "example" / "yolox_nano_sample.py"))
    exp.merge(["data_dir", str(root), "data_num_workers", "0"])
    return {"exp": exp, "images": sorted((Path(root) / "val2017").glob("*.jpg"))}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The asset exported by the tools: ONNX (raw boxes, any batch, opset 13 for INT8), OpenVINO and TorchScript."""
    from yolox.tools import export_onnx, export_openvino, export_torchscript

    out = tmp_path_factory.mktemp("trained_files")
    paths = {"onnx": out / "nano.onnx", "openvino": out / "nano.xml", "torchscript": out / "nano.torchscript"}
    model = ["-n", "yolox-nano", "-c", str(ASSET), "--tsize", "320"]
    assert export_onnx.main(["--output-name", str(paths["onnx"]), "--dynamic", "--opset", "13", *model]) == 0
    assert export_openvino.main(["--output-name", str(paths["openvino"]), "--dynamic", *model]) == 0
    assert export_torchscript.main(["--output-name", str(paths["torchscript"]), *model]) == 0
    return paths


@pytest.fixture(scope="module")
def reference(scenes):
    """The checkpoint's detections by the torch Predictor (the demo's engine)."""
    from yolox.deploy.model_loading import load_model
    from yolox.deploy.predictor import Predictor

    loaded = load_model(scenes["exp"], ASSET)
    predictor = Predictor(loaded.model, num_classes=loaded.num_classes, test_size=(320, 320), conf=CONF, nms=NMS)
    found = [predictor.predict(cv2.imread(str(p))) for p in scenes["images"]]
    assert sum(len(d) for d in found) >= 6  # a trained model finds the shapes
    return found


@pytest.mark.parametrize("kind", ["pth", "onnx", "openvino", "torchscript"])
def test_each_backend_finds_the_checkpoints_boxes(kind, files, scenes, reference):
    source = ASSET if kind == "pth" else files[kind]
    options = {"precision": "fp32"} if kind == "openvino" else {}
    detector = Detector(source, conf=CONF, nms=NMS, **options)
    assert detector.class_names[0] == "red_circle" and detector.metadata.input_size == (320, 320)
    for got, expected in zip(detector([str(p) for p in scenes["images"]]), reference):
        assert got.class_ids.tolist() == expected.class_ids.tolist()
        np.testing.assert_allclose(got.boxes, expected.boxes, atol=1.0)


def test_eval_tool_scores_the_onnx_file_as_the_checkpoint(files, scenes):
    from yolox.tools.eval import EvalRequest, run_evaluation

    exp = scenes["exp"]
    checkpoint = run_evaluation(exp, EvalRequest(ckpt=str(ASSET), batch_size=4))
    onnx = run_evaluation(exp, EvalRequest(ckpt=str(files["onnx"]), batch_size=4))
    assert checkpoint.ap50 > 0.5  # trained: the AP compared is a real one
    assert onnx.ap50_95 == pytest.approx(checkpoint.ap50_95, abs=0.005)
    assert onnx.ap50 == pytest.approx(checkpoint.ap50, abs=0.005)


def test_int8_runs_end_to_end_with_its_ap_measured(files, scenes, tmp_path):
    """INT8 (ONNX Runtime QDQ, calibrated on the scenes through the eval letterbox) keeps the
    trained model's detections: AP50 within 0.1 of the float file on these few scenes."""
    from yolox.deploy.backend_model import evaluate_detector
    from yolox.deploy.quantization import calibration_images, quantize_onnx

    exp = scenes["exp"]
    int8 = quantize_onnx(files["onnx"], tmp_path / "nano_int8.onnx", calibration_images(exp, 6))
    detector = Detector(int8)
    assert detector.metadata.precision == "int8"
    float_ap = evaluate_detector(exp, Detector(files["onnx"]), batch_size=4)
    int8_ap = evaluate_detector(exp, detector, batch_size=4)
    assert float_ap[1] > 0.5 and int8_ap[1] == pytest.approx(float_ap[1], abs=0.1)
