"""benchmarks/gpu_check.py --smoke on this machine: every check passes or skips with a reason, and the
JSON it prints and writes says so, so the script is known to work before any GPU time is spent."""
import importlib.util
import json

import pytest
import torch

pytestmark = pytest.mark.slow  # trains the 64 px sample twice (once through torchrun) and times models

# What --smoke runs on a CPU; the rest is CUDA only (or the CPU's duplicate: --fp16 is bf16 there).
RUN_ON_CPU = {"train_fp16", "throughput_yolox-s_64_b2_synthetic", "throughput_yolox-s_64_b2_loader",
              "throughput_yolox-nano_64_b2_synthetic", "throughput_yolox-nano_64_b2_loader",
              "inference_b1_eager", "inference_b32_eager"}
CUDA_ONLY = {"cuda_tests", "losses_fp16", "train_bf16", "inference_b1_compiled", "inference_b32_compiled"}


@pytest.fixture(scope="module")
def gpu_check(repo_root):
    spec = importlib.util.spec_from_file_location("gpu_check", repo_root / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_mode_passes_or_skips_every_check_and_reports_json(gpu_check, repo_root, tmp_path, capsys):
    report_file = tmp_path / "report.json"
    code = gpu_check.main(["--smoke", "--json", str(report_file), "--workdir", str(tmp_path / "work")])
    printed = capsys.readouterr().out
    assert code == 0, printed[-4000:]

    report = json.loads(report_file.read_text())
    assert report["mode"] == "smoke" and report["device"].startswith("cpu")
    assert json.loads(printed[printed.index("{\n"):printed.rindex("\n}") + 2]) == report  # printed = written
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert set(statuses.values()) <= {"pass", "skip"}, statuses
    if torch.cuda.is_available():
        return  # the CUDA checks ran too; which pass is the full check's business
    with_fixtures = (repo_root.parent / "shared" / "reference" / "loss_cases_classic.pt").is_file()
    expected_pass = RUN_ON_CPU | ({"losses_bf16"} if with_fixtures else set())
    assert {name for name, status in statuses.items() if status == "pass"} == expected_pass
    assert {name for name, status in statuses.items() if status == "skip"} == set(statuses) - expected_pass
    assert CUDA_ONLY <= set(statuses) - expected_pass
    assert all(check["detail"] for check in report["checks"] if check["status"] == "skip")  # each says why

    # one line per check, in the report's order, with its status in capitals
    lines = [line for line in printed.splitlines() if line.startswith(("PASS ", "SKIP ", "FAIL "))]
    assert [line.split()[:2] for line in lines] == [[c["status"].upper(), c["name"]] for c in report["checks"]]
    assert printed.rstrip().endswith(f"{len(statuses)} of {len(statuses)} checks passed or skipped")

    figures = {check["name"]: check["figures"] for check in report["checks"]}
    assert figures["train_fp16"]["precision"] == "bf16 autocast on cpu (no GradScaler)"
    assert figures["train_fp16"]["torchrun"] == "ok"
    for name in RUN_ON_CPU - {"train_fp16"}:
        speed = figures[name].get("images_per_s") or figures[name].get("ms_per_image")
        assert speed and speed > 0, name
    if with_fixtures:
        assert figures["losses_bf16"]["max_rel_cast"] < 1e-2
