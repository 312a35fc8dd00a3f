"""Time tools/eval.py with and without --report: what the evaluation report adds (issue 25).

Runs the tool as a subprocess, alternating plain and --report runs so a change in the machine's
load hits both, and prints the median wall and CPU (user + sys) seconds of each and the report's
share. CPU seconds are the steadier figure on a shared machine: other processes stretch the wall
clock of whichever run they overlap.

    python benchmarks/eval_report.py                      # BCCD, YOLOX-Nano, untrained
    python benchmarks/eval_report.py --ckpt YOLOX_outputs/yolox_nano_bccd/best_ckpt.pth
    python benchmarks/eval_report.py --exp exps/yolox_nano.py -- data_dir ../shared/datasets/coco_val2017_mini

Arguments after ``--`` go to tools/eval.py as KEY VALUE overrides.
"""
import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

REPO_ROOT = Path(__file__).resolve().parents[1]


def timed_run(argv) -> dict:
    """Wall and CPU seconds of one tools/eval.py run (its children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "eval.py")] + argv, capture_output=True,
                         text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f"tools/eval.py {' '.join(argv)} failed:\n{run.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp", default="exps/example/custom/yolox_nano_bccd.py", help="experiment file")
    parser.add_argument("--ckpt", default=None, help="checkpoint (default: untrained weights)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each kind, alternating")
    args, overrides = parser.parse_known_args()
    overrides = [a for a in overrides if a != "--"]
    with tempfile.TemporaryDirectory() as out:
        base = ["-f", args.exp, "-b", str(args.batch_size)] + (["-c", args.ckpt] if args.ckpt else [])
        tail = overrides + ["output_dir", out, "data_num_workers", "0"]
        runs = {"plain": [], "--report": []}
        for _ in range(args.repeats):
            runs["plain"].append(timed_run(base + tail))
            runs["--report"].append(timed_run(base + ["--report"] + tail))
    medians = {kind: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu")} for kind, rs in runs.items()}
    rows = [[kind, f"{m['wall']:.1f}", f"{m['cpu']:.1f}"] for kind, m in medians.items()]
    rows.append(["report adds", *(f"{100 * (medians['--report'][k] / medians['plain'][k] - 1):+.0f}%"
                                  for k in ("wall", "cpu"))])
    print(tabulate(rows, headers=["tools/eval.py", "wall s", "CPU s"], tablefmt="github"))


if __name__ == "__main__":
    main()
