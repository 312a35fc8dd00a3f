"""benchmarks/gpu_check.py --smoke: the GPU check script runs end to end on this machine (tiny
sizes, CUDA-only checks skipped), so it is known to work before any GPU time is spent."""
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # trains and evaluates the tiny sample in child processes


def test_gpu_check_smoke_mode_passes_or_skips_every_check(repo_root, tmp_path):
    report_file = tmp_path / "report.json"
    result = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "gpu_check.py"), "--smoke", "--json",
                             str(report_file), "--workdir", str(tmp_path / "work")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(report_file.read_text())
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert report["mode"] == "smoke" and set(statuses.values()) <= {"pass", "skip"}
    for name in ("cuda_tests", "losses_fp16", "losses_bf16", "train_fp16", "train_bf16",
                 "inference_b1_eager", "inference_b32_compiled"):
        assert name in statuses, name
    assert statuses["train_fp16"] == statuses["inference_b1_eager"] == "pass"
    if (repo_root.parent / "shared" / "reference").is_dir():  # the fixtures the loss check reads
        assert statuses["losses_bf16"] == "pass"
    assert sum(name.startswith("throughput_") and status == "pass" for name, status in statuses.items()) == 4
    for line in result.stdout.splitlines():
        if line.startswith(("PASS ", "SKIP ", "FAIL ")):
            assert not line.startswith("FAIL "), line
