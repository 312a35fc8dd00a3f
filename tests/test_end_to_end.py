"""Smoke run of the README's workflow with the real tools, as a new user types them, at tiny sizes:
make the sample data, train the sample experiment 2 epochs, evaluate, resume 1 more epoch,
export ONNX, draw the detections of one image. Each step asserts on what it leaves behind."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # runs the README workflow in child processes

REPO_ROOT = Path(__file__).resolve().parents[1]
EXP = str(REPO_ROOT / "exps" / "example" / "yolox_nano_sample.py")


def _tool(name: str, *argv, cwd: Path) -> str:
    result = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / name), *map(str, argv)], cwd=cwd,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"tools/{name} failed:\n{output[-4000:]}"
    return output


def _ckpt(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


def _overrides(workdir: Path, max_epoch: int) -> list:
    # The sample experiment shrunk: 128 px scenes, width 0.125, no worker processes.
    return ["data_dir", workdir / "sample", "output_dir", workdir / "out", "width", "0.125",
            "input_size", "128,128", "test_size", "128,128", "multiscale_range", "0", "max_epoch", max_epoch,
            "warmup_epochs", "1", "no_aug_epochs", "1", "eval_interval", "1", "print_interval", "2",
            "data_num_workers", "0", "test_conf", "0"]


def test_sample_workflow_end_to_end(workdir):
    # 1. data
    out = _tool("make_sample_dataset.py", "--out", workdir / "sample", "--num-train", 16, "--num-val", 4,
                "--size", 128, 128, "--seed", 0, cwd=workdir)
    assert len(list((workdir / "sample" / "train2017").glob("*.jpg"))) == 16
    assert len(list((workdir / "sample" / "val2017").glob("*.jpg"))) == 4
    assert (workdir / "sample" / "annotations" / "instances_val2017.json").is_file(), out

    # 2. train 2 epochs (batch 4: 4 iterations per epoch)
    run_dir = workdir / "out" / "yolox_nano_sample"
    out = _tool("train.py", "-f", EXP, "-b", 4, *_overrides(workdir, 2), cwd=workdir)
    for name in ("best_ckpt.pth", "latest_ckpt.pth", "train_log.txt"):
        assert (run_dir / name).is_file(), name
    latest = _ckpt(run_dir / "latest_ckpt.pth")
    assert latest["start_epoch"] == 2 and latest["iteration"] == 8
    assert latest["meta"]["num_classes"] == 5
    log = (run_dir / "train_log.txt").read_text()
    assert "epoch: 2/2, iter: 4/4" in log and log.count("AP50:95 ") >= 2
    assert all(torch.isfinite(v).all() for v in latest["model"].values() if v.is_floating_point())

    # 3. evaluate the best checkpoint: the AP training chose it by, and a time per image over the 4 images
    # (test_conf 0 in training and here: two tiny epochs score below the default threshold)
    out = _tool("eval.py", "-f", EXP, "-c", run_dir / "best_ckpt.pth", "-b", 4, *_overrides(workdir, 2), cwd=workdir)
    ap50_95 = re.search(r"\(AP\) @\[ IoU=0.50:0.95 \| area=   all \| maxDets=100 \] = (-?[\d.]+)", out)
    assert ap50_95, out[-3000:]
    assert float(ap50_95.group(1)) == pytest.approx(_ckpt(run_dir / "best_ckpt.pth")["best_ap"], abs=6e-4)
    assert "circle" in out  # the per-class table names the sample classes
    timing = re.search(r"Average forward time: ([\d.]+) ms, Average NMS time: ([\d.]+) ms.*per image, (\d+) images",
                       out)
    assert timing, out[-3000:]
    assert float(timing.group(1)) > 0 and float(timing.group(2)) > 0 and timing.group(3) == "4"

    # 4. resume for one more epoch
    out = _tool("train.py", "-f", EXP, "-b", 4, "--resume", *_overrides(workdir, 3), cwd=workdir)
    resumed = _ckpt(run_dir / "latest_ckpt.pth")
    assert resumed["start_epoch"] == 3 and resumed["iteration"] == 12
    log = (run_dir / "train_log.txt").read_text()
    assert "resumed from" in log and "epoch: 3/3, iter: 4/4" in log
    assert "epoch: 1/3" not in log  # nothing re-trained

    # 5. export ONNX, checked against PyTorch by the tool itself
    onnx_file = workdir / "sample_nano.onnx"
    out = _tool("export_onnx.py", "-f", EXP, "-c", run_dir / "latest_ckpt.pth", "--output-name", onnx_file,
                "--no-onnxsim", "--image", workdir / "sample" / "val2017" / "000000.jpg", *_overrides(workdir, 3),
                cwd=workdir)
    assert onnx_file.is_file() and onnx_file.stat().st_size > 10_000
    assert "onnxruntime vs PyTorch" in out and "max |diff|" in out and out.rstrip().endswith("OK")

    # 6. demo on one image
    out = _tool("demo.py", "image", "-f", EXP, "-c", run_dir / "latest_ckpt.pth", "--path",
                workdir / "sample" / "val2017" / "000000.jpg", "--save_result", "--conf", 0.05,
                *_overrides(workdir, 3), cwd=workdir)
    drawn = list((run_dir / "vis_res").glob("*/000000.jpg"))
    assert len(drawn) == 1 and drawn[0].stat().st_size > 1000, out[-2000:]
