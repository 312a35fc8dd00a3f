"""ONNX (onnxruntime) and TorchScript exports of nano equal eager PyTorch: 1e-3 on boxes, 1e-4 on
scores, static and dynamic batch, batch 1 and 2, on a real photograph when ../shared is present;
both export tools write raw box offsets unless --decode_in_inference."""
import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from yolox.deploy.export_check import check_batches, verification_batch
from yolox.deploy.onnx_export import OnnxExportSettings, check_onnx, export_onnx
from yolox.deploy.torchscript_export import check_torchscript, export_torchscript
from yolox.exp import get_exp

pytestmark = pytest.mark.slow  # traces and exports models, runs the export tools

pytest.importorskip("onnx", reason="onnx is not installed (pip install -r requirements.txt)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")

SIZE = (96, 128)  # (height, width): small and not square, to catch a swapped axis


@pytest.fixture(scope="module")
def photo(repo_root):
    path = repo_root.parent / "shared" / "datasets" / "coco_val2017_mini" / "val2017" / "000000000139.jpg"
    return path if path.is_file() else None  # None: the synthetic scene


@pytest.fixture(scope="module")
def nano():
    torch.manual_seed(0)
    model = get_exp(exp_name="yolox-nano").get_model().eval()
    with torch.no_grad():  # livelier scores than the 0.01 prior, so the score check means something
        for conv in list(model.head.cls_preds) + list(model.head.obj_preds):
            conv.bias.normal_(0.0, 2.0)
    return model


@pytest.mark.parametrize("decode", [False, True], ids=["raw", "decoded"])
def test_onnx_static_batch_1_and_2(nano, photo, tmp_path, decode):
    nano.head.decode_in_inference = decode
    try:
        for batch_size in (1, 2):
            path = export_onnx(nano, tmp_path / f"b{batch_size}.onnx",
                               OnnxExportSettings(input_size=SIZE, batch_size=batch_size))
            (check,) = check_batches(nano, lambda ref, images, p=path: check_onnx(p, ref, images),
                                     image=photo, input_size=SIZE, batch_sizes=[batch_size])
            assert check.passed, str(check)
            assert check.batch_size == batch_size
    finally:
        nano.head.decode_in_inference = True


def test_onnx_dynamic_batch_runs_batch_1_and_2(nano, photo, tmp_path):
    path = export_onnx(nano, tmp_path / "dynamic.onnx", OnnxExportSettings(input_size=SIZE, dynamic=True))
    checks = check_batches(nano, lambda ref, images: check_onnx(path, ref, images), image=photo, input_size=SIZE,
                           batch_sizes=[1, 2])
    assert [c.batch_size for c in checks] == [1, 2]
    assert all(c.passed for c in checks), [str(c) for c in checks]
    # The output is [B, A, 5 + C] with A = (96 / 8) * (128 / 8) + ... over strides 8, 16, 32.
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"images": verification_batch(photo, SIZE, 2)})[0]
    assert out.shape == (2, 12 * 16 + 6 * 8 + 3 * 4, 85)


def test_torchscript_traced_at_batch_1_runs_batch_1_and_2(nano, photo, tmp_path):
    path = export_torchscript(nano, tmp_path / "nano.torchscript.pt", input_size=SIZE)
    checks = check_batches(nano, lambda ref, images: check_torchscript(path, ref, images), image=photo,
                           input_size=SIZE, batch_sizes=[1, 2])
    assert all(c.passed for c in checks), [str(c) for c in checks]


def test_a_real_mismatch_fails_the_check(nano, photo, tmp_path):
    path = export_onnx(nano, tmp_path / "nano.onnx", OnnxExportSettings(input_size=SIZE, simplify=False))
    images = verification_batch(photo, SIZE, 1)
    with torch.no_grad():
        reference = nano(torch.from_numpy(images)).numpy()
    reference[0, 5, 4] += 1e-3  # one objectness off by more than the score tolerance
    check = check_onnx(path, reference, images)
    assert not check.passed and "MISMATCH" in str(check)


def test_export_onnx_tool_prints_the_proof(repo_root, tmp_path, photo):
    out = tmp_path / "nano.onnx"
    cmd = [sys.executable, str(repo_root / "tools" / "export_onnx.py"), "-n", "yolox-nano", "--tsize", "96",
           "--dynamic", "--output-name", str(out)] + (["--image", str(photo)] if photo else [])
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert out.is_file()
    for batch in (1, 2):
        assert f"onnxruntime vs PyTorch, batch {batch}: max |diff| boxes" in run.stderr
    assert run.stderr.count(": OK") == 2


def test_verification_batch_differs_between_images(photo):
    images = verification_batch(photo, SIZE, 2)
    assert images.shape == (2, 3) + SIZE and images.dtype == np.float32
    assert not np.array_equal(images[0], images[1])



def _tool(name: str):
    return importlib.import_module(f"yolox.tools.{name}")


def _run_onnx(path, images):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


def _run_torchscript(path, images):
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        return torch.jit.load(str(path), map_location="cpu")(torch.from_numpy(images)).numpy()


@pytest.mark.parametrize("name, extra_flags, run_file", [("export_onnx", ["--no-onnxsim"], _run_onnx),
                                                          ("export_torchscript", [], _run_torchscript)])
def test_export_tools_write_raw_offsets_unless_decode_in_inference(repo_root, tmp_path, nano, name, extra_flags,
                                                                    run_file):
    """Megvii's convention in both tools: raw dx, dy, dw, dh by default, decoded with the flag."""
    tool = _tool(name)
    help_text = " ".join(tool.make_parser().format_help().split())
    assert "--decode_in_inference" in help_text and "default: raw grid offsets" in help_text
    ckpt = tmp_path / "nano.pth"
    torch.save({"model": nano.state_dict()}, ckpt)
    images = verification_batch(None, (96, 96), 1)
    for flags, decode in (([], False), (["--decode_in_inference"], True)):
        out = tmp_path / f"{name}_{decode}.out"
        assert tool.main(["-n", "yolox-nano", "-c", str(ckpt), "--tsize", "96", "--output-name", str(out),
                          *extra_flags, *flags]) == 0
        nano.head.decode_in_inference = decode
        try:
            with torch.no_grad():
                expected = nano(torch.from_numpy(images)).numpy()
        finally:
            nano.head.decode_in_inference = True
        np.testing.assert_allclose(run_file(out, images), expected, atol=1e-3, rtol=0)
