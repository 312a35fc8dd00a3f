"""The tools: tools/export_openvino.py writes an IR that passes its check against PyTorch, and
--int8 --calib-images N (both export tools) writes NAME_int8.* beside the float file, calibrated on
the experiment's eval images."""
import os
import subprocess
import sys

import pytest

from yolox.deploy.metadata import METADATA_KEY, ModelMetadata

pytestmark = pytest.mark.slow  # three exports, two calibrations (~20 s idle)

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")
ov = pytest.importorskip("openvino", reason="openvino is not installed (pip install -e \".[deploy]\")")
pytest.importorskip("nncf", reason="nncf is not installed (pip install -e \".[deploy]\")")

# Nano at half width, 3 classes, 64x64: a tiny model with the real layout, through KEY VALUE overrides.
TINY = ["-n", "yolox-nano", "--tsize", "64", "width", "0.125", "num_classes", "3"]


def _data(six_image_coco):
    root, _ = six_image_coco
    return ["data_dir", str(root), "val_ann", "six.json"]


def test_export_openvino_tool_checks_the_ir_and_writes_an_int8_copy(repo_root, tmp_path, six_image_coco):
    out = tmp_path / "tiny.xml"
    cmd = [sys.executable, str(repo_root / "tools" / "export_openvino.py"), "--output-name", str(out), "--int8",
           "--calib-images", "4", *TINY, *_data(six_image_coco)]
    env = {**os.environ, "PYTHONPATH": str(repo_root)}  # this checkout's yolox, installed or not
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "OpenVINO vs PyTorch, batch 1: max |diff| boxes" in run.stderr and ": OK" in run.stderr
    assert "read 4 calibration images (val split, 64x64)" in run.stderr
    assert "calibrated on 4 images in" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.bin", "tiny.xml", "tiny_int8.bin", "tiny_int8.xml"]
    core = ov.Core()
    fp32 = ModelMetadata.from_json(core.read_model(str(out)).get_rt_info(METADATA_KEY).astype(str))
    int8 = ModelMetadata.from_json(core.read_model(str(tmp_path / "tiny_int8.xml")).get_rt_info(METADATA_KEY)
                                   .astype(str))
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    assert fp32.input_size == (64, 64) and fp32.num_classes == 3 and not fp32.decoded and fp32.batch_size == 1


def test_export_onnx_int8_raises_the_opset_and_writes_an_int8_copy(tmp_path, six_image_coco, capture_log):
    import onnx

    from yolox.tools import export_onnx

    log = capture_log("INFO")
    out = tmp_path / "tiny.onnx"
    assert export_onnx.main(["--output-name", str(out), "--no-onnxsim", "--int8", "--calib-images", "3",
                             "--decode_in_inference", *TINY, *_data(six_image_coco)]) == 0
    assert any("--int8: exporting at opset 13 (per-channel INT8 needs it) instead of 11" in m for m in log)
    assert any("calibrated on 3 images in" in m for m in log)
    quantized = onnx.load(str(tmp_path / "tiny_int8.onnx"))
    assert any(n.op_type == "DequantizeLinear" for n in quantized.graph.node)
    assert onnx.load(str(out)).opset_import[0].version == 13


def test_calib_images_without_int8_is_an_error(tmp_path):
    from yolox.tools import export_openvino

    with pytest.raises(SystemExit, match="--calib-images is for --int8"):
        export_openvino.main(["--output-name", str(tmp_path / "x.xml"), "--calib-images", "8", *TINY])
    assert not list(tmp_path.iterdir())


def test_export_openvino_checks_a_dynamic_ir_at_batch_1_and_2_and_fails_on_a_mismatch(tmp_path, monkeypatch,
                                                                                       capture_log):
    from yolox.deploy.openvino_export import check_openvino
    from yolox.tools import export_openvino

    def off_at_batch_2(path, reference, images, **kwargs):
        if len(images) == 2:
            reference = reference.copy()
            reference[1, 0, 4] += 1e-3  # one objectness beyond the score tolerance
        return check_openvino(path, reference, images, **kwargs)

    monkeypatch.setattr(export_openvino, "check_openvino", off_at_batch_2)
    log = capture_log("INFO")
    out = tmp_path / "dynamic.xml"
    assert export_openvino.main(["--output-name", str(out), "--dynamic", *TINY]) == 1
    checks = [m for m in log if m.startswith("OpenVINO vs PyTorch")]
    assert len(checks) == 2 and checks[0].endswith(": OK") and checks[1].endswith(": MISMATCH")
    assert ModelMetadata.from_json(ov.Core().read_model(str(out)).get_rt_info(METADATA_KEY).astype(str)).batch_size \
        is None
