"""Does YOLOX learn? Train yolox_nano from scratch with tools/train.py and score the best
checkpoint with COCO mAP, on real photographs (BCCD) and on the built-in sample data.

    python benchmarks/accuracy.py                          # both, full recipes (CPU: about an hour)
    python benchmarks/accuracy.py --runs bccd              # BCCD only
    python benchmarks/accuracy.py --runs bccd --epochs 20 --opts warmup_epochs 2 no_aug_epochs 5  # shorter

Runs:
  bccd    exps/example/custom/yolox_nano_bccd.py: 205 train images, input 416, batch 8, seed 0,
          60 epochs (5 warm-up, last 15 without mosaic and with L1), EMA, multiscale 320..640;
          scored on the val (87 images) and test (72 images) splits.
  sample  exps/example/yolox_nano_sample.py, the README's main command, unchanged; scored on
          its val split (80 synthetic scenes).
  bccd16  the overfitting check: 16 BCCD training images, 600 epochs (1200 steps) without mosaic
          at 320, scored on the same 16 images (mAP@0.5 should pass 0.5 if the pipeline can learn).

Each run is the real command in a subprocess, writing to a temporary output folder. Wall time
is the whole command (data generation, training, periodic evaluation, checkpoints); images/s is
training images seen per second of that. The load average is printed beside the figures: on a
shared machine they drift.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


@dataclass
class RunSpec:
    name: str
    exp_file: str
    # split label -> annotation file scored as the val set (None: the experiment's val_ann)
    splits: Dict[str, Optional[str]]
    needs_shared: bool = False
    # out_dir -> extra KEY VALUE overrides, run before training (e.g. to write a subset json)
    prepare: Optional[Callable[[Path], List[str]]] = None


BCCD = REPO_ROOT.parent / "shared" / "datasets" / "bccd"


def bccd_overfit16(out_dir: Path) -> List[str]:
    """16 BCCD training images as both train and val set, no mosaic, a higher LR: can it memorise?"""
    data = json.loads((BCCD / "annotations" / "instances_train.json").read_text())
    images = data["images"][:16]
    keep = {im["id"] for im in images}
    data.update(images=images, annotations=[a for a in data["annotations"] if a["image_id"] in keep])
    root = out_dir / "bccd16"
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "overfit16.json").write_text(json.dumps(data))
    if not (root / "voc").exists():
        (root / "voc").symlink_to(BCCD / "voc")
    # 2 iterations an epoch: 600 epochs are 1200 steps. Mosaic (and with it the affine jitter) off
    # through mosaic_prob 0 rather than no_aug_epochs, which would evaluate after every epoch.
    return ["data_dir", str(root), "train_ann", "overfit16.json", "val_ann", "overfit16.json",
            "input_size", "320,320", "test_size", "320,320", "random_size", "None", "multiscale_range", "0",
            "mosaic_prob", "0", "enable_mixup", "False", "max_epoch", "600", "warmup_epochs", "20",
            "no_aug_epochs", "0", "eval_interval", "100", "basic_lr_per_img", str(0.08 / 64)]


RUNS = {
    "bccd": RunSpec("bccd", "exps/example/custom/yolox_nano_bccd.py",
                    {"val": None, "test": "instances_test.json"}, needs_shared=True),
    "sample": RunSpec("sample", "exps/example/yolox_nano_sample.py", {"val": None}),
    "bccd16": RunSpec("bccd16", "exps/example/custom/yolox_nano_bccd.py", {"train16": None}, needs_shared=True,
                      prepare=bccd_overfit16),
}


@dataclass
class RunResult:
    name: str
    command: str
    epochs: int
    wall_s: float
    train_images_per_s: float
    scores: Dict[str, Dict[str, float]] = field(default_factory=dict)  # split -> {AP50:95, AP50}
    overrides: List[str] = field(default_factory=list)
    seed: Optional[int] = None
    # split -> [{category_id, name, ap50_95, ap50, ar100}] of the best checkpoint
    per_class: Dict[str, List[dict]] = field(default_factory=dict)


def train(spec: RunSpec, out_dir: Path, epochs: Optional[int], extra: List[str]) -> RunResult:
    from yolox.exp import get_exp

    overrides = ["output_dir", str(out_dir)]
    if spec.prepare is not None:
        overrides += spec.prepare(out_dir)
    if epochs is not None:
        overrides += ["max_epoch", str(epochs)]
    overrides += extra
    argv = [sys.executable, "tools/train.py", "-f", spec.exp_file, *overrides]
    exp = get_exp(str(REPO_ROOT / spec.exp_file))
    exp.merge(overrides)
    num_train = len(exp.get_dataset())
    start = time.perf_counter()
    with open(out_dir / f"{spec.name}_stdout.txt", "w") as log:
        proc = subprocess.run(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{spec.name}: training failed (rc {proc.returncode}); see {out_dir}/{spec.name}_stdout.txt")
    command = "python " + " ".join(argv[1:4] + [o if " " not in o else repr(o) for o in overrides[2:]])
    return RunResult(spec.name, command, exp.max_epoch, wall, exp.max_epoch * num_train / wall,
                     overrides=overrides)


def score(spec: RunSpec, result: RunResult, out_dir: Path) -> None:
    from yolox.deploy.model_loading import load_model
    from yolox.exp import get_exp

    exp_name = Path(spec.exp_file).stem
    ckpt = out_dir / exp_name / "best_ckpt.pth"
    for split, ann in spec.splits.items():
        exp = get_exp(str(REPO_ROOT / spec.exp_file))
        exp.merge(result.overrides)
        if ann is not None:
            exp.val_ann = ann
        loaded = load_model(exp, ckpt, device="cpu")
        evaluator = exp.get_evaluator(batch_size=8, is_distributed=False)
        ap50_95, ap50, _ = evaluator.evaluate(loaded.model)
        result.scores[split] = {"AP50:95": float(ap50_95), "AP50": float(ap50),
                                "images": len(evaluator.dataloader.dataset)}
        scores = getattr(evaluator, "last_scores", None)
        result.per_class[split] = [asdict(c) for c in getattr(scores, "per_class", [])]


def print_table(results: List[RunResult], load_before: tuple, load_after: tuple) -> None:
    print()
    print(f"{'run':8} {'split':6} {'images':>6} {'mAP@.5:.95':>10} {'mAP@.5':>7} {'epochs':>6} "
          f"{'wall':>8} {'train img/s':>11}")
    for r in results:
        for split, s in r.scores.items():
            print(f"{r.name:8} {split:6} {s['images']:>6} {s['AP50:95']:>10.3f} {s['AP50']:>7.3f} {r.epochs:>6} "
                  f"{r.wall_s / 60:>7.1f}m {r.train_images_per_s:>11.1f}")
    for r in results:
        print(f"  {r.name}: {r.command}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); "
          f"{os.cpu_count()} CPUs, torch threads {_threads()}")


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", choices=sorted(RUNS), default=["bccd", "sample"])
    parser.add_argument("--epochs", type=int, default=None, help="override max_epoch (default: each recipe's)")
    parser.add_argument("--out", type=str, default=None, help="keep outputs here (default: a temporary folder)")
    parser.add_argument("--opts", nargs="*", default=[], help="more KEY VALUE overrides, e.g. no_aug_epochs 5")
    parser.add_argument("--json", type=str, default=None, help="also write the figures to this file")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="one training per seed")
    args = parser.parse_args(argv)
    os.chdir(REPO_ROOT)  # the experiments' relative paths (datasets/sample) are the repository's

    shared = BCCD
    specs = [RUNS[name] for name in args.runs]
    for spec in specs:
        if spec.needs_shared and not shared.is_dir():
            raise SystemExit(f"{spec.name}: needs {shared} (the shared datasets); run with --runs sample")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="yolox_accuracy_") as tmp:
        out_dir = Path(args.out or tmp).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for spec in specs:
            for seed in args.seeds or [None]:
                run_dir = out_dir if seed is None else out_dir / f"{spec.name}_seed{seed}"
                run_dir.mkdir(parents=True, exist_ok=True)
                extra = args.opts if seed is None else args.opts + ["seed", str(seed)]
                print(f"training {spec.name} ({spec.exp_file}) seed {seed} into {run_dir} ...", flush=True)
                result = train(spec, run_dir, args.epochs, extra)
                result.seed = seed
                score(spec, result, run_dir)
                results.append(result)
                if args.json:
                    Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
                print(json.dumps(asdict(result)), flush=True)
    print_table(results, load_before, os.getloadavg())
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
