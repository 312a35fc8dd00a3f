"""INT8 post-training quantization: onnxruntime (static QDQ) and NNCF (OpenVINO) run end to end on a
tiny model with a handful of calibration images, quantize the body and leave the head's prediction
convolutions and everything after them (flatten, concat, sigmoid, decode) in floating point."""
import json

import numpy as np
import pytest
import torch

from yolox.deploy.export_check import verification_batch
from yolox.deploy.metadata import METADATA_KEY, ModelMetadata
from yolox.deploy.onnx_export import OnnxExportSettings, export_onnx

pytestmark = pytest.mark.slow  # exports a model and calibrates it twice (~15 s idle)

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install -r requirements.txt)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")

from yolox.deploy.quantization import onnx_float_nodes, quantize_onnx  # noqa: E402
from yolox.deploy.quantization.onnxruntime_int8 import MIN_INT8_OPSET  # noqa: E402

from test_export_openvino import SIZE, tiny_metadata, tiny_model  # noqa: E402

PREDICTION_CONVS = {f"/head/{kind}_preds.{k}/Conv" for kind in ("cls", "reg", "obj") for k in range(3)}


@pytest.fixture(scope="module")
def calibration():
    """Eight letterboxed images: the synthetic scene, mirrored and shifted."""
    return np.concatenate([verification_batch(None, SIZE, 4), verification_batch(None, SIZE, 4)[:, :, ::-1]])


@pytest.fixture(scope="module")
def float_onnx(tmp_path_factory):
    """The tiny model as an opset-13 ONNX file, boxes decoded in the graph, yolox metadata attached."""
    model = tiny_model()
    model.head.decode_in_inference = True
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny.onnx",
                       OnnxExportSettings(input_size=SIZE, opset=MIN_INT8_OPSET, simplify=False))
    graph = onnx.load(str(path))
    onnx.helper.set_model_props(graph, {METADATA_KEY: tiny_metadata().to_json()})
    onnx.save(graph, str(path))
    return path


def test_the_float_nodes_are_the_prediction_convs_and_all_after_them(float_onnx):
    names = onnx_float_nodes(onnx.load(str(float_onnx)))
    assert set(names[:9]) == PREDICTION_CONVS  # the seeds come first
    graph = onnx.load(str(float_onnx)).graph
    by_name = {n.name: n for n in graph.node}
    kinds = {by_name[n].op_type for n in names}
    assert {"Sigmoid", "Exp", "Concat"} <= kinds  # the output sigmoid, the decode, the concat
    assert graph.node[-1].name in names  # the node writing the output
    assert not any("stems" in n or "convs" in n or "backbone" in n for n in names)


def test_a_graph_without_the_yolox_head_is_refused():
    node = onnx.helper.make_node("Relu", ["x"], ["y"], name="relu")
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("x", 1, [1])],
                                   [onnx.helper.make_tensor_value_info("y", 1, [1])])
    with pytest.raises(ValueError, match="no prediction convolution of the YOLOX head"):
        onnx_float_nodes(onnx.helper.make_model(graph))


def test_onnxruntime_int8_quantizes_the_body_and_keeps_the_head_outputs_float(float_onnx, calibration, tmp_path):
    import onnxruntime

    path = quantize_onnx(float_onnx, tmp_path / "tiny_int8.onnx", calibration)
    model = onnx.load(str(path))
    nodes = list(model.graph.node)
    producer = {out: n for n in nodes for out in n.output}
    initializers = {i.name: i for i in model.graph.initializer}
    keep_float = set(onnx_float_nodes(onnx.load(str(float_onnx))))

    for node in nodes:
        if node.name in PREDICTION_CONVS:  # a float Conv on float weights
            assert node.op_type == "Conv"
            assert initializers[node.input[1]].data_type == onnx.TensorProto.FLOAT, node.name
        if node.op_type == "QuantizeLinear":  # nothing computed from the predictions is quantized again
            source = producer.get(node.input[0])
            assert source is None or source.name not in keep_float, f"{node.name} quantizes {source.name}"
    assert not any(n.name in keep_float and n.op_type in ("QLinearConv", "ConvInteger") for n in nodes)
    body_convs = [n for n in nodes if n.op_type == "Conv" and n.name not in keep_float]
    quantized = [n for n in body_convs if getattr(producer.get(n.input[1]), "op_type", "") == "DequantizeLinear"]
    assert body_convs and len(quantized) == len(body_convs)  # every other conv has int8 weights

    metadata = ModelMetadata.from_json({p.key: p.value for p in model.metadata_props}[METADATA_KEY])
    assert metadata.precision == "int8" and metadata.class_names == ["RBC", "WBC", "Platelets"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    output = session.run(None, {"images": calibration[:1]})[0]
    assert output.shape == (1, 126, 8) and np.isfinite(output).all()
    assert ((output[..., 4:] >= 0) & (output[..., 4:] <= 1)).all()  # the sigmoid, in float


def test_onnxruntime_int8_needs_opset_13(float_onnx, tmp_path, calibration):
    graph = onnx.load(str(float_onnx))
    graph.opset_import[0].version = 11  # only the version is read before the refusal
    old = tmp_path / "old.onnx"
    onnx.save(graph, str(old))
    with pytest.raises(ValueError, match="opset 11; INT8 per-channel quantization needs opset >= 13"):
        quantize_onnx(old, tmp_path / "old_int8.onnx", calibration)
    assert not (tmp_path / "old_int8.onnx").exists()


def test_nncf_int8_quantizes_the_body_and_keeps_the_head_outputs_float(float_onnx, calibration, tmp_path):
    ov = pytest.importorskip("openvino", reason="openvino is not installed (pip install -e \".[deploy]\")")
    pytest.importorskip("nncf", reason="nncf is not installed (pip install -e \".[deploy]\")")
    from yolox.deploy.backends.openvino_backend import OpenVINOBackend
    from yolox.deploy.openvino_export import onnx_to_openvino, save_ir
    from yolox.deploy.quantization import openvino_float_nodes, quantize_openvino

    fp32 = save_ir(onnx_to_openvino(float_onnx), tmp_path / "tiny.xml", tiny_metadata())  # export_openvino's steps
    keep_float = set(openvino_float_nodes(ov.Core().read_model(str(fp32))))
    path = quantize_openvino(fp32, tmp_path / "tiny_int8.xml", calibration)

    ops = {op.get_friendly_name(): op for op in ov.Core().read_model(str(path)).get_ops()}
    assert sum(op.get_type_name() == "FakeQuantize" for op in ops.values()) > 0
    for name in keep_float:
        for value in ops[name].inputs():
            source = value.get_source_output().get_node()
            assert source.get_type_name() != "FakeQuantize", f"{name} reads a quantized {source.get_friendly_name()}"
    predictions = [op for name, op in ops.items() if name.endswith("/Conv/WithoutBiases") and "_preds." in name]
    assert len(predictions) == 9
    for op in predictions:  # float weights, straight from a constant
        weight = op.input_value(1).get_node()
        assert weight.get_type_name() == "Constant" and weight.get_element_type() == ov.Type.f32

    backend = OpenVINOBackend(path)
    assert backend.metadata == tiny_metadata(precision="int8")
    output = backend(calibration[:1])
    assert output.shape == (1, 126, 8) and np.isfinite(output).all()
    assert json.loads(backend.metadata.to_json())["precision"] == "int8"


def test_calibration_reads_the_eval_split_through_its_letterbox(six_image_coco, capture_log):
    from yolox.deploy.quantization import calibration_images
    from yolox.exp import get_exp

    root, _ = six_image_coco
    exp = get_exp(exp_name="yolox-nano")
    exp.merge(["data_dir", str(root), "val_ann", "six.json", "test_size", "(64,96)"])
    images = calibration_images(exp, 3)
    assert images.shape == (3, 3, 64, 96) and images.dtype == np.float32
    assert images.max() > 1.0  # 0-255 pixels, as the eval loader gives the model
    expected = exp.get_eval_dataset()[5][0]
    log = capture_log("WARNING")
    np.testing.assert_array_equal(calibration_images(exp, 50)[-1], expected)  # spread to the last image
    assert any("all 6 images of the val split (50 asked for)" in m for m in log)
    with pytest.raises(ValueError, match="at least one calibration image"):
        calibration_images(exp, 0)
    torch.manual_seed(0)  # nothing random in the choice: the same images again
    np.testing.assert_array_equal(calibration_images(exp, 3), images)
