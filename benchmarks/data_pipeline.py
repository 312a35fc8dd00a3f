"""Images per second out of the training loader (mosaic + MixUp + affine + HSV + flip, 640x640,
batch 8) with 0 and 2 workers, and out of the eval loader (letterbox only), as ``Exp`` builds them.

Data (issue 4): a COCO-format folder of ~200 real-sized (640x480) JPEGs. By default the shared
BCCD photographs (``../shared/datasets/bccd``, 205 train images, read through a temporary COCO
tree of symlinks); without them, or with ``--synthetic``, 200 synthetic 640x480 scenes are
generated into a temporary folder. Each configuration runs in a fresh subprocess. Training:
``--warmup`` batches (worker start-up included there), then ``--repeats`` rounds of ``--batches``
timed batches of the endless stream. Eval: ``--repeats`` passes over the whole set (BCCD: 205
images, 26 batches), each timed after its first ``--warmup`` batches. The table gives the median
and the best round.

    python benchmarks/data_pipeline.py
    python benchmarks/data_pipeline.py --configs train-2 --batches 50 --repeats 5
    python benchmarks/data_pipeline.py --synthetic
    python benchmarks/data_pipeline.py --configs train-0 train-2 --cache ram
    python benchmarks/data_pipeline.py --compare --repeats 5

``--compare`` adds a column measured with torch's own batch memory (``reuse_batch_memory=False``:
a fresh shared-memory segment per batch from each worker), each in its own process right after
the default one. The machine may be shared: the load average before and after is printed next to the figures.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO_ROOT = Path(__file__).resolve().parents[1]
BCCD = REPO_ROOT.parent / "shared" / "datasets" / "bccd"
BATCH, SIZE = 8, 640
# name -> (loader, workers)
CONFIGS = {"train-0": ("train", 0), "train-2": ("train", 2), "eval-0": ("eval", 0), "eval-2": ("eval", 2)}
# Megvii YOLOX on this 2-core machine, same setting (the eval figure's worker count was not recorded).
REFERENCE_IMG_S = {"train-0": 32.0, "train-2": 63.0, "eval-0": 180.0, "eval-2": 180.0}
TARGET_SPEEDUP = 1.5


def prepare_data(root: Path, *, synthetic: bool) -> Dict[str, str]:
    """A COCO tree under ``root``: {"data_dir", "train_ann", "val_ann", "description"}.

    BCCD keeps its images in voc/JPEGImages; symlinks named train2017/val2017 let the standard
    ``Exp`` (COCO layout) read them unchanged.
    """
    if BCCD.is_dir() and not synthetic:
        (root / "annotations").symlink_to(BCCD / "annotations")
        for split in ("train2017", "val2017"):
            (root / split).symlink_to(BCCD / "voc" / "JPEGImages")
        return {"data_dir": str(root), "train_ann": "instances_train.json", "val_ann": "instances_train.json",
                "description": f"BCCD train split ({BCCD}): 205 JPEGs, 640x480, 13.7 boxes/image"}
    from yolox.data.synthetic_dataset import SampleSpec, make_sample_dataset

    make_sample_dataset(root, SampleSpec(num_train=200, num_val=200, img_size=(480, 640), max_objects=12))
    return {"data_dir": str(root), "train_ann": "instances_train2017.json", "val_ann": "instances_val2017.json",
            "description": "200 synthetic 640x480 JPEG scenes (yolox.data.synthetic_dataset), up to 12 boxes/image"}


def build_loader(kind: str, *, workers: int, data: Dict[str, str], cache: Optional[str] = None,
                 reuse_batch_memory: Optional[bool] = None):
    """The loader ``Exp`` builds: train = mosaic + MixUp + affine + HSV + flip, eval = letterbox;
    ``cache`` ("ram" / "disk") is the training image cache (``--cache`` of tools/train.py);
    ``reuse_batch_memory=False`` gives torch's own batch memory (``yolox.data.loader.slots``; None:
    the loader's default, which follows ``YOLOX_BATCH_SLOTS`` and ``YOLOX_FAST_LOADER``)."""
    from yolox.exp import Exp

    exp = Exp()
    exp.data_dir, exp.train_ann, exp.val_ann = data["data_dir"], data["train_ann"], data["val_ann"]
    exp.input_size = exp.test_size = (SIZE, SIZE)
    exp.data_num_workers = workers
    exp.seed = 0
    if kind == "train":
        loader = exp.get_data_loader(batch_size=BATCH, is_distributed=False, cache_img=cache)
    else:
        loader = exp.get_eval_loader(batch_size=BATCH, is_distributed=False)
    if reuse_batch_memory is not None:
        loader.reuse_batch_memory = reuse_batch_memory
    return loader


def _train_rates(loader, *, warmup: int, batches: int, repeats: int) -> List[float]:
    """img/s of ``repeats`` rounds of ``batches`` batches from the endless training stream."""
    stream = iter(loader)
    for _ in range(warmup):
        next(stream)
    rates = []
    for _ in range(repeats):
        start, count = time.perf_counter(), 0
        for _ in range(batches):
            count += len(next(stream)[0])
        rates.append(count / (time.perf_counter() - start))
    return rates


def _eval_rates(loader, *, warmup: int, repeats: int) -> List[float]:
    """img/s of ``repeats`` passes over the eval set, each timed after its first ``warmup``
    batches (a pass starts its workers afresh: that start-up is left out, as in training)."""
    rates = []
    for _ in range(repeats):
        batches = iter(loader)
        for _ in range(warmup):
            next(batches)
        start, count = time.perf_counter(), 0
        for images, *_ in batches:
            count += len(images)
        rates.append(count / (time.perf_counter() - start))
    return rates


def measure(kind: str, *, workers: int, data: Dict[str, str], warmup: int, batches: int, repeats: int,
            cache: Optional[str] = None, reuse_batch_memory: Optional[bool] = None) -> Dict[str, float]:
    """{"img_s": median over rounds, "best_img_s", "load_1min" at the end} for one loader in this process."""
    loader = build_loader(kind, workers=workers, data=data, cache=cache, reuse_batch_memory=reuse_batch_memory)
    if kind == "train":
        rates = _train_rates(loader, warmup=warmup, batches=batches, repeats=repeats)
    else:
        rates = _eval_rates(loader, warmup=warmup, repeats=repeats)
    return {"img_s": statistics.median(rates), "best_img_s": max(rates), "load_1min": os.getloadavg()[0]}


def run_in_subprocess(name: str, args: argparse.Namespace, data: Dict[str, str],
                      reuse_batch_memory: bool = True) -> Dict[str, float]:
    cmd = [sys.executable, __file__, "--single", name, "--data", json.dumps(data), "--warmup", str(args.warmup),
           "--batches", str(args.batches), "--repeats", str(args.repeats)]
    if args.cache:
        cmd += ["--cache", args.cache]
    if not reuse_batch_memory:
        cmd += ["--torch-batches"]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return {"name": name, **json.loads(done.stdout.strip().splitlines()[-1])}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_table(rows: List[Dict[str, float]], *, args: argparse.Namespace, data: Dict[str, str],
                load_before: str) -> None:
    cache = f"train image cache: {args.cache}" if args.cache else "no image cache"
    print(f"data pipeline, batch {BATCH}, {SIZE}x{SIZE}, {os.cpu_count()} CPUs, {cache}; {data['description']}")
    print(f"train: {args.warmup} warm-up batches, then {args.repeats} rounds of {args.batches} batches; "
          f"eval: {args.repeats} passes, each timed after {args.warmup} batches "
          f"(load average before: {load_before}, after: {_load()})")
    columns = ["loader", "workers", "median (img/s)", "best (img/s)", "reference (img/s)", "speed-up (median)",
               f"target {TARGET_SPEEDUP}x", "load (1 min)"]
    if args.compare:
        columns.append("torch batch memory: median (img/s)")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        kind, workers = CONFIGS[r["name"]]
        ref = REFERENCE_IMG_S[r["name"]]
        speedup = r["img_s"] / ref
        cells = [kind, str(workers), f"{r['img_s']:.1f}", f"{r['best_img_s']:.1f}", f"{ref:.0f}", f"{speedup:.2f}x",
                 "met" if speedup >= TARGET_SPEEDUP else "not met", f"{r['load_1min']:.2f}"]
        if args.compare:
            cells.append(f"{r['torch_img_s']:.1f}")
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    parser.add_argument("--batches", type=int, default=25, help="timed batches per round")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds")
    parser.add_argument("--cache", choices=("ram", "disk"), default=None,
                        help="training image cache (default none, as the reference figures)")
    parser.add_argument("--synthetic", action="store_true", help="generated scenes even when BCCD is present")
    parser.add_argument("--compare", action="store_true",
                        help="also measure each loader with torch's own batch memory (reuse_batch_memory=False), "
                             "alternating with the default in fresh processes, for a side-by-side column")
    parser.add_argument("--torch-batches", action="store_true", help=argparse.SUPPRESS)  # child process
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)  # child process
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single is not None:
        kind, workers = CONFIGS[args.single]
        result = measure(kind, workers=workers, data=json.loads(args.data), warmup=args.warmup,
                         batches=args.batches, repeats=args.repeats, cache=args.cache,
                         reuse_batch_memory=False if args.torch_batches else None)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="yolox_data_bench_") as tmp:
        data = prepare_data(Path(tmp), synthetic=args.synthetic)
        load_before = _load()
        rows = []
        for name in args.configs:
            row = run_in_subprocess(name, args, data)
            if args.compare:
                row["torch_img_s"] = run_in_subprocess(name, args, data, reuse_batch_memory=False)["img_s"]
            rows.append(row)
    print_table(rows, args=args, data=data, load_before=load_before)


if __name__ == "__main__":
    main()
