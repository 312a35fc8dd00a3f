"""Time ``YOLOXHead.get_losses`` (SimOTA assignment + losses), forward and backward.

Setting (issue 3): batch 8, 640x640 input (8400 anchors), 80 classes, 1 / 10 / 50 / 150 / 400 GT boxes
per image with sides log-uniform in 10..320 px, objectness and class logits around -4.6 (a fresh
head's prior). Each GT count runs in a fresh subprocess: one warm-up call, then the median of
``--repeats`` timed calls, and the peak RSS above the RSS the process had once its inputs were built.

    python benchmarks/loss_assign.py                 # the table, next to the reference figures
    python benchmarks/loss_assign.py --gts 150 --threads 1
    python benchmarks/loss_assign.py --device cuda   # adds peak CUDA memory

Timings on a shared machine are noisy: run it on an otherwise idle one for figures to quote.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yolox.models import SimOTAAssigner, YOLOXHead  # noqa: E402

GT_COUNTS = (1, 10, 50, 150, 400)
# Megvii YOLOX a4152a5 (per-GT Python loop, [G, candidates, C] class cost), same setting, 2-core CPU.
REFERENCE_SECONDS = {1: 0.085, 10: 0.23, 50: 2.3, 150: 7.9, 400: 31.7}
REFERENCE_PEAK_MB = {400: 3300.0}
BATCH, SIZE, NUM_CLASSES, STRIDES = 8, 640, 80, (8, 16, 32)


def make_inputs(num_gt: int, *, device: str, seed: int = 0) -> Dict[str, object]:
    """raw_outputs: per level [8, 85, 640/s, 640/s]; labels: [8, num_gt, 5] class, cx, cy, w, h."""
    gen = torch.Generator().manual_seed(seed)
    raw = []
    for s in STRIDES:
        out = torch.randn(BATCH, 5 + NUM_CLASSES, SIZE // s, SIZE // s, generator=gen) * 0.5
        out[:, 4:] -= 4.6  # objectness and class logits of a head initialised with prior 0.01
        raw.append(out.to(device).requires_grad_(True))
    sides = torch.exp(torch.empty(BATCH, num_gt, 2).uniform_(2.3026, 5.7683, generator=gen))  # 10..320 px
    centres = torch.rand(BATCH, num_gt, 2, generator=gen) * SIZE
    classes = torch.randint(0, NUM_CLASSES, (BATCH, num_gt, 1), generator=gen).float()
    labels = torch.cat([classes, centres, sides], dim=2).to(device)
    return {"raw_outputs": raw, "labels": labels}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure(num_gt: int, *, device: str, repeats: int, variant: str) -> Dict[str, float]:
    """One GT count in this process: {"seconds": median, "extra_peak_mb", "cuda_peak_mb"?, "num_fg"}."""
    assigner = SimOTAAssigner() if variant == "classic" else SimOTAAssigner(center_radius=1.5, prefilter="center")
    head = YOLOXHead(NUM_CLASSES, 0.25, assigner=assigner).to(device).train()
    inputs = make_inputs(num_gt, device=device)
    baseline = _rss_mb()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base_cuda = torch.cuda.memory_allocated()

    def step() -> float:
        for r in inputs["raw_outputs"]:
            r.grad = None
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        losses = head.get_losses(inputs["raw_outputs"], inputs["labels"])
        losses["total_loss"].backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        step.num_fg = float(losses["num_fg"]) * BATCH * num_gt
        return time.perf_counter() - start

    step()  # warm-up
    times = [step() for _ in range(repeats)]
    result = {"seconds": statistics.median(times), "best_seconds": min(times),
              "extra_peak_mb": _peak_rss_mb() - baseline, "num_fg": step.num_fg}
    if device.startswith("cuda"):
        result["cuda_peak_mb"] = (torch.cuda.max_memory_allocated() - base_cuda) / 2**20
    return result


def run_in_subprocess(num_gt: int, args: argparse.Namespace) -> Dict[str, float]:
    cmd = [sys.executable, __file__, "--single", str(num_gt), "--device", args.device, "--repeats",
           str(args.repeats), "--variant", args.variant]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(rows: List[Dict[str, float]], args: argparse.Namespace) -> None:
    threads = args.threads or torch.get_num_threads()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"get_losses forward+backward, B={BATCH}, {SIZE}x{SIZE} (8400 anchors), C={NUM_CLASSES}, "
          f"{args.variant} assigner, device={args.device}, threads={threads}, "
          f"median of {args.repeats} after a warm-up (load average at the end: {load})")
    cuda = any("cuda_peak_mb" in r for r in rows)
    columns = ["GT/img", "median (s)", "best (s)", "reference (s)", "speed-up (median)",
               "extra peak RSS (MB)", "reference (MB)"] + (["peak CUDA (MB)"] if cuda else [])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        g = int(r["num_gt"])
        ref = REFERENCE_SECONDS.get(g)
        cells = [str(g), f"{r['seconds']:.3f}", f"{r['best_seconds']:.3f}", f"{ref}" if ref else "-",
                 f"{ref / r['seconds']:.1f}x" if ref else "-", f"{r['extra_peak_mb']:.0f}",
                 f"{REFERENCE_PEAK_MB[g]:.0f}" if g in REFERENCE_PEAK_MB else "-"]
        if cuda:
            cells.append(f"{r.get('cuda_peak_mb', float('nan')):.0f}")
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gts", type=int, nargs="+", default=list(GT_COUNTS), help="GT boxes per image")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--variant", choices=("classic", "geometry"), default="classic")
    parser.add_argument("--single", type=int, default=None, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.single is not None:
        result = measure(args.single, device=args.device, repeats=args.repeats, variant=args.variant)
        print(json.dumps({"num_gt": args.single, **result}))
        return
    rows = [run_in_subprocess(g, args) for g in args.gts]
    print_table(rows, args)


if __name__ == "__main__":
    main()
