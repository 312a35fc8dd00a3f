"""One command to check this package on a CUDA machine (under 8 minutes on one H100-class GPU),
printing a PASS / FAIL / SKIP line per check and a JSON of the figures.

    python benchmarks/gpu_check.py                       # on a CUDA machine
    python benchmarks/gpu_check.py --smoke               # anywhere: tiny sizes, CUDA-only checks skipped
    python benchmarks/gpu_check.py --json gpu_check.json # also write the JSON to a file

Needs the packages of requirements.txt (torch with CUDA, torchvision, opencv, pycocotools,
faster-coco-eval, loguru, tabulate, tqdm, pyyaml, psutil, pytest; torchrun comes with torch).
It brings its own data: the sample dataset generator (yolox/tools/make_sample_dataset.py) and
synthetic tensors; the loss check also reads ../shared/reference when it is there (else skipped).

Checks, in order:
  cuda_tests         pytest -m cuda (the suite's GPU tests)
  train_fp16/bf16    the sample experiment, 2 epochs with --fp16 / --amp bf16 (-d 1), then --resume
                     for a third under torchrun --nproc_per_node 1 (NCCL), then eval: AP50 > 0
  losses_fp16/bf16   get_losses on the reference fixtures under autocast on the device
  throughput_*       YOLOX-s 640 batch 64 and YOLOX-nano 416 batch 128, AMP train steps: synthetic
                     tensors in GPU memory (compute only) and the real loader with 8 workers
  inference_*        YOLOX-s 640, batch 1 and 32, fp16, eager and torch.compile, ms/image with postprocess
"""
import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from yolox.exp import get_exp  # noqa: E402
from yolox.utils.boxes import postprocess  # noqa: E402
from yolox.utils.model_utils import model_stats  # noqa: E402
from yolox.utils.precision import Precision  # noqa: E402

SAMPLE_EXP = REPO_ROOT / "exps" / "example" / "yolox_nano_sample.py"
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"
# Dense fp16 / bf16 tensor-core peaks from NVIDIA's datasheets (TFLOP/s, no sparsity), by name part.
PEAK_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H100": 756.0,
               "A100": 312.0, "L40S": 362.0, "L40": 181.0, "L4": 121.0, "A10": 125.0, "V100": 125.0,
               "RTX 4090": 165.0, "RTX 3090": 71.0}


@dataclass
class Check:
    name: str
    status: str  # "pass", "fail" or "skip"
    detail: str = ""
    seconds: float = 0.0
    figures: Dict[str, object] = field(default_factory=dict)


@dataclass
class Settings:
    """Sizes of one run: the full GPU check, or --smoke (tiny sizes: well under a minute on a CPU)."""

    smoke: bool
    device: torch.device
    workdir: Path

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


class Skip(Exception):
    """A check that cannot run here (no CUDA, no fixtures): reported as SKIP with the reason."""


def run_check(name: str, fn: Callable[[], Dict[str, object]], checks: List[Check]) -> None:
    """Run ``fn`` (its figures, or an AssertionError / Skip), print its line, keep its result."""
    start = time.perf_counter()
    try:
        figures = fn()
        check = Check(name, "pass", figures=figures or {})
    except Skip as why:
        check = Check(name, "skip", detail=str(why))
    except Exception as err:  # a failed check is reported and the others still run
        check = Check(name, "fail", detail=f"{type(err).__name__}: {err}",
                      figures={"traceback": traceback.format_exc(limit=4)})
    check.seconds = round(time.perf_counter() - start, 1)
    shown = {k: v for k, v in check.figures.items() if k != "traceback"}
    print(f"{check.status.upper():4} {name} ({check.seconds:.0f} s) {check.detail} {json.dumps(shown)}".rstrip(),
          flush=True)
    checks.append(check)


def _run(cmd: List[str], *, cwd: Path, timeout: float) -> str:
    """Run a command on this checkout's package (PYTHONPATH first: not an installed copy elsewhere)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd[:4]))} ... exited {result.returncode}:\n{output[-2000:]}")
    return output


def _tool(s: Settings, name: str, argv: List[object]) -> str:
    """tools/<name>.py with ``argv``, its output: in a process of its own on the GPU run; in --smoke,
    its ``main(argv)`` in this process (the same arguments, without the seconds a fresh interpreter
    costs on a loaded CPU), its log captured. torchrun's step is a process of its own in both."""
    if not s.smoke:
        return _run([sys.executable, REPO_ROOT / "tools" / f"{name}.py", *argv], cwd=s.workdir, timeout=300)
    from loguru import logger

    tool = importlib.import_module(f"yolox.tools.{name}")
    lines: List[str] = []
    handler = logger.add(lines.append, level="INFO", format="{message}")
    try:
        code = tool.main([str(a) for a in argv])
    finally:
        logger.remove(handler)
    if code:
        raise AssertionError(f"tools/{name}.py {' '.join(map(str, argv[:4]))} ... returned {code}:\n"
                             + "".join(lines)[-2000:])
    return "".join(lines)


# ------------------------------------------------------------------ the test suite's CUDA tests
def cuda_tests(s: Settings) -> Dict[str, object]:
    if not s.cuda:
        raise Skip("CUDA only")
    out = _run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "tests"], cwd=REPO_ROOT, timeout=240)
    summary = out.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    return {"summary": summary, "passed": int(passed.group(1)) if passed else 0}


# ------------------------------------------------------------------ the sample experiment
# --smoke: 8 training and 4 validation scenes of 64 px (2 iterations an epoch at batch 4)
SMOKE_SAMPLE = dict(num_train=8, num_val=4, img_size=(64, 64), min_side=12, max_side=32)
SMOKE_SIZE = 64  # px, for the smoke's training runs and throughput steps


def sample_data(s: Settings) -> Path:
    """The sample dataset (tools/make_sample_dataset.py's generator, in this process): the full one
    (400 + 80 scenes of 320 px), or SMOKE_SAMPLE."""
    from yolox.data.synthetic_dataset import SampleSpec, make_sample_dataset

    root = s.workdir / "sample"
    if not (root / "annotations" / "instances_val2017.json").is_file():
        make_sample_dataset(root, SampleSpec(**SMOKE_SAMPLE) if s.smoke else SampleSpec())
    return root


def sample_overrides(s: Settings, *, max_epoch: int) -> List[str]:
    overrides = ["data_dir", sample_data(s), "output_dir", s.workdir / "out", "max_epoch", max_epoch,
                 "warmup_epochs", 1, "no_aug_epochs", 1, "eval_interval", 1, "test_conf", 0.001]
    if s.smoke:  # the sample shrunk: 64 px, width 0.125, no worker processes, no report drawing
        size = f"{SMOKE_SIZE},{SMOKE_SIZE}"
        overrides += ["width", 0.125, "input_size", size, "test_size", size, "multiscale_range", 0,
                      "data_num_workers", 0, "print_interval", 1, "report_after_train", False]
    return [str(o) for o in overrides]


def train_resume_eval(s: Settings, amp: str) -> Dict[str, object]:
    """2 epochs (-d 1; 1 in --smoke), --resume for one more through torchrun (NCCL on a GPU), eval of
    the best checkpoint."""
    if amp == "bf16" and not s.cuda:
        raise Skip("on a CPU --fp16 is bf16 already: train_fp16 ran this")
    name = f"sample_{amp}"
    flags = ["--fp16"] if amp == "fp16" else ["--amp", amp]
    batch = ["-b", 4 if s.smoke else 32]
    epochs = 1 if s.smoke else 2
    _tool(s, "train", ["-f", SAMPLE_EXP, "-d", 1, *batch, *flags, "-expn", name, "-l", "none",
                       *sample_overrides(s, max_epoch=epochs)])
    run_dir = s.workdir / "out" / name
    ckpt = torch.load(run_dir / "latest_ckpt.pth", map_location="cpu", weights_only=True)
    assert ckpt["start_epoch"] == epochs, f"latest_ckpt.pth after {epochs} epochs records {ckpt['start_epoch']}"
    assert (ckpt.get("scaler") is not None) == (s.cuda and amp == "fp16"), "GradScaler state saved iff CUDA fp16"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", 1, "--master_port",
                _free_port()]
    out = _run([*torchrun, REPO_ROOT / "tools" / "train.py", "-f", SAMPLE_EXP, *batch, *flags, "-expn", name,
                "--resume", "-l", "none", "--dist-backend", "nccl" if s.cuda else "gloo",
                *sample_overrides(s, max_epoch=epochs + 1)], cwd=s.workdir, timeout=300)
    log = (run_dir / "train_log.txt").read_text()
    assert "resumed from" in log and f"at epoch {epochs + 1}" in log, f"--resume did not start at epoch {epochs + 1}"
    precision = Precision.resolve(amp, s.device)
    assert f"mixed precision: {precision}" in log, f"train_log.txt does not say '{precision}'"
    out = _tool(s, "eval", ["-f", SAMPLE_EXP, "-c", run_dir / "best_ckpt.pth", "-b", 8, "--amp", amp,
                            *sample_overrides(s, max_epoch=epochs + 1)])
    ap = re.findall(r"AP50:95 ([0-9.]+), AP50 ([0-9.]+)", out)
    assert ap, "tools/eval.py printed no AP line"
    ap50_95, ap50 = map(float, ap[-1])
    if not s.smoke:  # a 2-epoch tiny CPU model may find nothing yet; the GPU run trains the real sample
        assert ap50 > 0, f"AP50 is 0 after {epochs + 1} epochs of {amp}"
    return {"precision": str(precision), "ap50_95": ap50_95, "ap50": ap50, "torchrun": "ok"}


def _free_port() -> int:
    from yolox.utils.launch import find_free_port

    return find_free_port()


# ------------------------------------------------------------------ the loss under autocast
def losses_under_autocast(s: Settings, amp: str) -> Dict[str, object]:
    """Each fixture case's losses: fp32 inputs under autocast (the criterion computes in float32:
    within 1e-3) and inputs cast to ``amp`` (their own rounding: fp16 within 1e-3, bf16's 8-bit
    mantissa within 1e-2)."""
    if amp == "fp16" and not s.cuda:
        raise Skip("fp16 autocast is CUDA only (--fp16 on a CPU is bf16)")
    if not (REFERENCE_DIR / "loss_cases_classic.pt").is_file():
        raise Skip(f"no reference fixtures at {REFERENCE_DIR}")
    from yolox.models import SimOTAAssigner, YOLOXHead

    precision = Precision.resolve(amp, s.device)
    cast_tolerance = 1e-3 if amp == "fp16" else 1e-2
    worst = {"autocast": 0.0, "cast": 0.0}
    for variant in ("classic", "geometry"):
        for case in torch.load(REFERENCE_DIR / f"loss_cases_{variant}.pt", weights_only=True):
            assigner = None if variant == "classic" else SimOTAAssigner(center_radius=1.5, prefilter="center")
            head = YOLOXHead(case["num_classes"], 0.25, strides=case["strides"], in_channels=(256, 512, 1024),
                             assigner=assigner).to(s.device).train()
            if case["use_l1"]:
                head.enable_l1()
            raw = [r.to(s.device) for r in case["raw_outputs"]]
            labels = case["labels"].to(s.device)
            reference = head.get_losses(raw, labels)
            with precision.autocast():
                runs = {"autocast": head.get_losses(raw, labels),
                        "cast": head.get_losses([r.to(precision.dtype) for r in raw], labels)}
            for kind, losses in runs.items():
                assert losses["total_loss"].dtype == torch.float32, f"{case['name']}: {kind} loss not float32"
                for key, value in reference.items():
                    diff = abs(float(losses[key]) - float(value)) / max(abs(float(value)), 1e-4)
                    worst[kind] = max(worst[kind], diff)
    assert worst["autocast"] < 1e-3, f"fp32 inputs under {amp} autocast: {worst['autocast']:.2e} relative"
    assert worst["cast"] < cast_tolerance, f"inputs cast to {amp}: {worst['cast']:.2e} relative"
    return {"max_rel_autocast": worst["autocast"], "max_rel_cast": worst["cast"]}


# ------------------------------------------------------------------ training throughput
def throughput(s: Settings, model_name: str, size: int, batch: int, *, loader: bool) -> Dict[str, object]:
    """AMP train steps: images/s, peak GPU memory, share of the step spent waiting for data,
    achieved TFLOP/s (forward + backward ~ 3x the forward's FLOPs) and its share of the peak."""
    if not s.cuda and not s.smoke:
        raise Skip("CUDA only")
    amp = "fp16" if s.cuda else "bf16"
    exp = get_exp(exp_name=model_name)
    exp.input_size = exp.test_size = (size, size)
    precision = Precision.resolve(amp, s.device)
    model = exp.get_model().to(s.device).to(memory_format=torch.channels_last).train()
    optimizer = exp.get_optimizer(batch)
    scaler = torch.amp.GradScaler(s.device.type, enabled=precision.grad_scaler)
    gflops = model_stats(model, (size, size)).gflops
    batches = _loader_batches(s, exp, batch, size) if loader else _synthetic_batches(s, batch, size)
    warmup, steps = (1, 3) if s.smoke else (5, 20)
    if s.cuda:
        torch.cuda.reset_peak_memory_stats(s.device)
    waits, totals = [], []
    for i in range(warmup + steps):
        _sync(s.device)
        start = time.perf_counter()
        images, labels = next(batches)
        images = images.to(s.device, non_blocking=True).float().contiguous(memory_format=torch.channels_last)
        labels = labels.to(s.device, non_blocking=True).float()
        _sync(s.device)  # the copy is data time
        fetched = time.perf_counter()
        with precision.autocast():
            loss = model(images, labels)["total_loss"]
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        _sync(s.device)
        if i >= warmup:
            waits.append(fetched - start)
            totals.append(time.perf_counter() - start)
    step = statistics.median(totals)
    images_per_s = batch / step
    achieved = images_per_s * 3 * gflops / 1e3
    peak = _peak_tflops(s.device)
    return {"amp": amp, "images_per_s": round(images_per_s, 1), "step_ms": round(1e3 * step, 1),
            "data_wait_share": round(sum(waits) / sum(totals), 3),
            "peak_mem_gb": round(torch.cuda.max_memory_allocated(s.device) / 2 ** 30, 2) if s.cuda else None,
            "forward_gflops_per_image": round(gflops, 2), "achieved_tflops": round(achieved, 2),
            "share_of_peak": round(achieved / peak, 3) if peak else None, "peak_tflops": peak}


def _synthetic_batches(s: Settings, batch: int, size: int):
    """The same batch forever, already in device memory: [B, 3, S, S] images, [B, 50, 5] labels."""
    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(batch, 3, size, size, generator=gen) * 255).to(s.device)
    labels = torch.zeros(batch, 50, 5)
    wh = 16 + torch.rand(batch, 12, 2, generator=gen) * (size / 3)
    labels[:, :12, 0] = torch.randint(0, 80, (batch, 12), generator=gen).float()
    labels[:, :12, 1:3] = wh / 2 + torch.rand(batch, 12, 2, generator=gen) * (size - wh)
    labels[:, :12, 3:5] = wh
    labels = labels.to(s.device)
    while True:
        yield images, labels


def _loader_batches(s: Settings, exp, batch: int, size: int):
    """The training loader of the sample images (mosaic on), pinned on CUDA, with 8 workers (2 in smoke)."""
    exp.data_dir = str(sample_data(s))
    exp.train_ann, exp.val_ann = "instances_train2017.json", "instances_val2017.json"
    exp.num_classes = 80  # the model's head; the sample's 5 classes are valid indices
    exp.data_num_workers = 2 if s.smoke else 8
    loader = exp.get_data_loader(batch_size=batch, is_distributed=False, no_aug=False)
    while True:
        for images, labels, *_ in loader:
            yield images, labels


def _peak_tflops(device: torch.device) -> Optional[float]:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for part, peak in PEAK_TFLOPS.items() if part in name), None)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------ inference
def inference(s: Settings, batch: int, *, compiled: bool) -> Dict[str, object]:
    """Eval-mode forward under fp16 autocast (bf16 on a CPU) + postprocess, ms per image."""
    if compiled and not s.cuda:
        raise Skip("torch.compile timing is CUDA only (a minute of compiling per shape on a CPU)")
    model_name, size = ("yolox-nano", SMOKE_SIZE) if s.smoke else ("yolox-s", 640)
    batch = min(batch, 2) if s.smoke else batch
    model = _benchmark_model(model_name, size, s.device)
    if compiled:
        model = torch.compile(model, dynamic=False)
    precision = Precision.resolve("fp16", s.device)
    images = torch.rand(batch, 3, size, size, device=s.device) * 255

    @torch.inference_mode()
    def step():
        with precision.autocast():
            outputs = model(images)
        return postprocess(outputs, 80, 0.01, 0.65)

    warmup, repeats = (1, 2) if s.smoke else (5, 20)
    for _ in range(warmup):  # compiling happens here
        step()
    times = []
    for _ in range(repeats):
        _sync(s.device)
        start = time.perf_counter()
        step()
        _sync(s.device)
        times.append(time.perf_counter() - start)
    return {"model": f"{model_name}@{size}", "batch": batch, "precision": precision.name,
            "ms_per_image": round(1e3 * statistics.median(times) / batch, 3)}


def _benchmark_model(name: str, size: int, device: torch.device) -> torch.nn.Module:
    """benchmarks/inference.py's model: random weights scoring like a trained one's, fused, NHWC."""
    spec = importlib.util.spec_from_file_location("inference_benchmark", Path(__file__).with_name("inference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_model(name, size, fused=True, channels_last=True, device=device)


# ------------------------------------------------------------------ the run
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few iterations; CUDA-only checks skip")
    parser.add_argument("--json", default=None, help="also write the JSON report here")
    parser.add_argument("--workdir", default=None, help="where the sample data and runs go (default: a temp dir)")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not args.smoke and device.type != "cuda":
        print("no CUDA device: the full check needs a GPU; run with --smoke to check the script on this machine")
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        s = Settings(smoke=args.smoke, device=device, workdir=Path(args.workdir or tmp).resolve())
        s.workdir.mkdir(parents=True, exist_ok=True)
        checks: List[Check] = []
        run_check("cuda_tests", lambda: cuda_tests(s), checks)
        for amp in ("fp16", "bf16"):
            run_check(f"losses_{amp}", lambda amp=amp: losses_under_autocast(s, amp), checks)
        for amp in ("fp16", "bf16"):
            run_check(f"train_{amp}", lambda amp=amp: train_resume_eval(s, amp), checks)
        for model_name, size, batch in (("yolox-s", 640, 64), ("yolox-nano", 416, 128)):
            if s.smoke:
                size, batch = SMOKE_SIZE, 2
            for loader in (False, True):
                label = f"throughput_{model_name}_{size}_b{batch}_{'loader' if loader else 'synthetic'}"
                run_check(label, lambda m=model_name, z=size, b=batch, ld=loader: throughput(s, m, z, b, loader=ld),
                          checks)
        for batch in (1, 32):
            for compiled in (False, True):
                label = f"inference_b{batch}_{'compiled' if compiled else 'eager'}"
                run_check(label, lambda b=batch, c=compiled: inference(s, b, compiled=c), checks)
    report = {"mode": "smoke" if args.smoke else "full", "device": _device_name(device), "torch": torch.__version__,
              "seconds": round(time.perf_counter() - started, 1), "checks": [asdict(c) for c in checks]}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    failed = [c.name for c in checks if c.status == "fail"]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks passed or skipped"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({os.cpu_count()} cores)"


if __name__ == "__main__":
    sys.exit(main())
