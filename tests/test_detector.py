"""``Detector``: one API for checkpoints, TorchScript and ONNX files. Each backend gives the
checkpoint's boxes (the torch ``Predictor``'s), files carry their metadata, batches equal single
images, an ONNX file runs without torch, and a wrong file says what is wrong."""
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from yolox.deploy import Detector
from yolox.deploy.predictor import Predictor

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")

CONF, NMS = 0.3, 0.45


@pytest.fixture(scope="module")
def exported(sample_model, tmp_path_factory):
    """The sample checkpoint exported by the export tools: ONNX (raw boxes, fixed batch 2) and
    TorchScript (boxes decoded in the module, any batch)."""
    from yolox.tools import export_onnx, export_torchscript

    out = tmp_path_factory.mktemp("exported")
    source = ["-f", str(sample_model["exp_file"]), "-c", str(sample_model["ckpt"])]
    files = {"onnx": out / "sample.onnx", "torchscript": out / "sample.torchscript.pt"}
    assert export_onnx.main(["--output-name", str(files["onnx"]), "--batch-size", "2", *source]) == 0
    assert export_torchscript.main(["--output-name", str(files["torchscript"]), "--decode_in_inference",
                                    *source]) == 0
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


@pytest.mark.parametrize("kind", ["pth", "onnx", "torchscript"])
def test_each_backend_gives_the_checkpoints_boxes(kind, sample_model, exported, reference):
    path = sample_model["ckpt"] if kind == "pth" else exported[kind]
    detector = Detector(path, conf=CONF, nms=NMS, device="cpu")
    assert detector.backend.name == {"pth": "torch", "torchscript": "torchscript"}.get(kind, "onnxruntime")
    found = detector([str(p) for p in sample_model["images"]])
    assert len(found) == len(reference)
    for got, expected in zip(found, reference):
        assert_same_detections(got, expected)
        assert got.labels == [detector.class_names[c] for c in expected.class_ids]
