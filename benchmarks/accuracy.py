"""Does YOLOX learn? Train yolox_nano from scratch with tools/train.py and score the best
checkpoint with COCO mAP, on real photographs (BCCD) and on the built-in sample data.

    python benchmarks/accuracy.py                          # both, full recipes (CPU: about an hour)
    python benchmarks/accuracy.py --runs bccd              # BCCD only
    python benchmarks/accuracy.py --runs bccd --epochs 20 --opts warmup_epochs 2 no_aug_epochs 5  # shorter
    python benchmarks/accuracy.py --runs bccd --seeds 0 1 2 --out /tmp/sweep --json /tmp/sweep.json  # seed sweep
    python benchmarks/accuracy.py --report /tmp/sweep.json  # the tables again, from the json, training nothing
    python benchmarks/accuracy.py --report /tmp/seed0.json /tmp/seed1.json  # sweeps run side by side, one table

Runs:
  bccd    exps/example/custom/yolox_nano_bccd.py: 205 train images, input 416, batch 8, seed 0,
          80 epochs (5 warm-up, last 20 without mosaic and with L1), LR 3.5e-3 (square-root scaled
          to batch 8), EMA over ~3 epochs, multiscale 320..640;
          scored on the val (87 images) and test (72 images) splits.
  sample  exps/example/yolox_nano_sample.py, the README's main command, unchanged; scored on
          its val split (80 synthetic scenes).
  bccd16  the overfitting check: 16 BCCD training images, 600 epochs (1200 steps) without mosaic
          at 320, scored on the same 16 images (mAP@0.5 should pass 0.5 if the pipeline can learn).

Each run is the real command in a subprocess, writing to a temporary output folder. Wall time
is the whole command (data generation, training, periodic evaluation, checkpoints); images/s is
training images seen per second of that. The load average is printed beside the figures: on a
shared machine they drift.

Seed sweeps (--seeds N [N ...]): each run is trained once per seed (the override seed N, after any
--opts), each in its own folder <out>/<run>_seed<N> (log: <run>_stdout.txt, checkpoints below it). Besides
the table above, a table per run gives, for each split, every seed's overall and per-class AP50:95 and
AP50 of its best-val checkpoint, then their mean and their worst (the minimum, column by column, so the
worst row can mix seeds; "-": the split holds no box of that class), and the ratio of the worst to the
best test AP50:95 (the last split where a run has no test split). A class at AP50:95 0 in one seed
while another seed learns it (issue 24: WBC, in the BCCD recipe) is listed below the table.

--json writes a list of the runs (name, command, scores per split, per_class per split: category_id,
name, ap50_95, ap50, ar100); with --seeds it writes {"runs": that list, "summary": {run: {seeds, mean,
worst, ratio_split, "worst_over_best_AP50:95", collapsed}}}. It is rewritten after each run, so an interrupted
sweep keeps what finished; --report prints its tables.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

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
class RunOptions:
    """What the command line changes in every run: max_epoch (None: the recipe's), more KEY VALUE
    overrides, and the seed (None: the recipe's, and the run writes straight into the output folder)."""
    epochs: Optional[int] = None
    opts: List[str] = field(default_factory=list)
    seed: Optional[int] = None

    def overrides(self) -> List[str]:
        epochs = [] if self.epochs is None else ["max_epoch", str(self.epochs)]
        seed = [] if self.seed is None else ["seed", str(self.seed)]
        return epochs + list(self.opts) + seed

    def run_dir(self, out_dir: Path, spec: RunSpec) -> Path:
        return out_dir if self.seed is None else out_dir / f"{spec.name}_seed{self.seed}"


@dataclass
class RunResult:
    name: str
    command: str
    epochs: int
    wall_s: float
    train_images_per_s: float
    scores: Dict[str, Dict[str, float]] = field(default_factory=dict)  # split -> {AP50:95, AP50, images}
    overrides: List[str] = field(default_factory=list)
    seed: Optional[int] = None
    # split -> the best checkpoint's [{category_id, name, ap50_95, ap50, ar100}], in category-id order
    per_class: Dict[str, List[dict]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name if self.seed is None else f"{self.name}/s{self.seed}"


def train(spec: RunSpec, out_dir: Path, options: RunOptions) -> RunResult:
    from yolox.exp import get_exp

    overrides = ["output_dir", str(out_dir)]
    if spec.prepare is not None:
        overrides += spec.prepare(out_dir)
    overrides += options.overrides()
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
                     overrides=overrides, seed=options.seed)


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


def print_table(results: List[RunResult], load: Optional[Tuple[tuple, tuple]] = None) -> None:
    """The runs' overall figures; ``load``: the load averages (before, after) to print beside them."""
    print()
    print(f"{'run':8} {'split':6} {'images':>6} {'mAP@.5:.95':>10} {'mAP@.5':>7} {'epochs':>6} "
          f"{'wall':>8} {'train img/s':>11}")
    for r in results:
        for split, s in r.scores.items():
            print(f"{r.label:8} {split:6} {s['images']:>6} {s['AP50:95']:>10.3f} {s['AP50']:>7.3f} {r.epochs:>6} "
                  f"{r.wall_s / 60:>7.1f}m {r.train_images_per_s:>11.1f}")
    for r in results:
        print(f"  {r.label}: {r.command}")
    if load is not None:
        print(f"load average before {load[0][0]:.2f}, after {load[1][0]:.2f} (1 min); "
              f"{os.cpu_count()} CPUs, torch threads {_threads()}")


# --- seed sweeps: per-class figures of each seed, their mean and their worst ---------------------

ALL = "all"  # the column of the overall figures, beside one column per class
METRICS = ("AP50:95", "AP50")
Figures = Dict[str, Dict[str, Dict[str, float]]]  # split -> column -> metric -> value


def figures(result: RunResult) -> Figures:
    """One run's overall and per-class AP50:95 and AP50, by split."""
    out: Figures = {}
    for split, s in result.scores.items():
        out[split] = {ALL: {m: s[m] for m in METRICS}}
        out[split].update({c["name"]: {"AP50:95": c["ap50_95"], "AP50": c["ap50"]}
                           for c in result.per_class.get(split, [])})
    return out


def _reduce(values: List[float], how: Callable[[List[float]], float]) -> float:
    """``how`` over the defined values (NaN: a split without boxes of that class); NaN if none is."""
    defined = [v for v in values if not math.isnan(v)]
    return how(defined) if defined else math.nan


def _mean(values: List[float]) -> float:
    return sum(values) / len(values)


def reduce_figures(runs: List[RunResult], how: Callable[[List[float]], float]) -> Figures:
    """Figures of the seeds combined column by column with ``how`` (mean, min, max)."""
    per_run = [figures(r) for r in runs]
    out: Figures = {}
    for split, columns in per_run[0].items():
        out[split] = {col: {m: _reduce([f[split][col][m] for f in per_run if col in f.get(split, {})], how)
                            for m in METRICS}
                      for col in columns}
    return out


def ratio_split(runs: List[RunResult]) -> str:
    """The split whose worst/best AP50:95 the summary gives: test where the run has one."""
    splits = list(runs[0].scores)
    return "test" if "test" in splits else splits[-1]


def collapsed(runs: List[RunResult], best: Figures) -> List[dict]:
    """The (seed, split, class) whose AP50:95 is 0 where another seed's is above 0: issue 24's collapse."""
    found = []
    for r in runs:
        for split, columns in figures(r).items():
            found += [{"seed": r.seed, "split": split, "class": col} for col, v in columns.items()
                      if col != ALL and v["AP50:95"] == 0 and best[split][col]["AP50:95"] > 0]
    return found


def seed_summary(runs: List[RunResult]) -> dict:
    """mean and worst (min) over the seeds of one run, worst/best AP50:95 on ratio_split, and the
    classes that scored 0 in one seed but not in all."""
    split = ratio_split(runs)
    best = reduce_figures(runs, max)
    worst = reduce_figures(runs, min)
    top = best[split][ALL]["AP50:95"]
    ratio = worst[split][ALL]["AP50:95"] / top if top > 0 else math.nan
    return {"seeds": [r.seed for r in runs], "mean": reduce_figures(runs, _mean), "worst": worst,
            "ratio_split": split, "worst_over_best_AP50:95": ratio, "collapsed": collapsed(runs, best)}


def group_by_run(results: List[RunResult]) -> Dict[str, List[RunResult]]:
    groups: Dict[str, List[RunResult]] = {}
    for r in results:
        groups.setdefault(r.name, []).append(r)
    return groups


def _cells(row: Dict[str, Dict[str, float]], columns: List[str]) -> str:
    values = [row.get(col, {}).get(m, math.nan) for col in columns for m in METRICS]
    return " ".join("     -" if math.isnan(v) else f"{v:>6.3f}" for v in values)


def print_seed_table(runs: List[RunResult]) -> None:
    """Per split: one row per seed, then mean and worst; each column pair is AP50:95, AP50."""
    summary = seed_summary(runs)
    per_run = [figures(r) for r in runs]
    columns = list(per_run[0][next(iter(per_run[0]))])
    print(f"\n{runs[0].name}: best-val checkpoint of each seed (each pair: AP50:95 AP50)")
    print(f"{'split':6} {'seed':>5} " + " ".join(f"{col[:13]:>13}" for col in columns))
    for split in per_run[0]:
        for r, f in zip(runs, per_run):
            print(f"{split:6} {r.seed:>5} " + _cells(f[split], columns))
        for how in ("mean", "worst"):
            print(f"{split:6} {how:>5} " + _cells(summary[how][split], columns))
    print(f"worst/best {summary['ratio_split']} AP50:95 over seeds {summary['seeds']}: "
          f"{summary['worst_over_best_AP50:95']:.2f}")
    lost = ", ".join(f"seed {c['seed']} {c['class']} on {c['split']}" for c in summary["collapsed"])
    print(f"class AP50:95 0 where another seed learns it: {lost or 'none'}")


def write_json(path: str, results: List[RunResult], seeds: bool) -> None:
    """A list of the runs; with seeds, {"runs": that list, "summary": run name -> seed_summary}."""
    data = [asdict(r) for r in results]
    if seeds:
        data = {"runs": data, "summary": {name: seed_summary(group) for name, group in group_by_run(results).items()}}
    from yolox.utils.atomic_io import atomic_write_bytes

    atomic_write_bytes(json.dumps(data, indent=2).encode(), path)  # a kill mid-write keeps the previous runs


def read_json(path: str) -> List[RunResult]:
    data = json.loads(Path(path).read_text())
    return [RunResult(**r) for r in (data["runs"] if isinstance(data, dict) else data)]


def print_report(results: List[RunResult], load: Optional[Tuple[tuple, tuple]] = None) -> None:
    print_table(results, load)
    if any(r.seed is not None for r in results):
        for runs in group_by_run(results).values():
            print_seed_table(runs)


def run_all(specs: List[RunSpec], out_dir: Path, args: argparse.Namespace) -> List[RunResult]:
    """Every run, once per seed, each scored right after its training; the json is rewritten after
    each, so that an interrupted sweep keeps what finished."""
    results = []
    for spec in specs:
        for seed in args.seeds or [None]:
            options = RunOptions(epochs=args.epochs, opts=args.opts, seed=seed)
            run_dir = options.run_dir(out_dir, spec)
            run_dir.mkdir(parents=True, exist_ok=True)
            seed_note = "" if seed is None else f" seed {seed}"
            print(f"training {spec.name}{seed_note} ({spec.exp_file}) into {run_dir} ...", flush=True)
            result = train(spec, run_dir, options)
            score(spec, result, run_dir)
            results.append(result)
            if args.json:
                write_json(args.json, results, seeds=args.seeds is not None)
    return results


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
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="train each run once per seed (override seed N), in <out>/<run>_seed<N>")
    parser.add_argument("--report", type=str, nargs="+", default=None, metavar="JSON",
                        help="train nothing: print the tables of earlier --json files (several: one table, e.g. "
                             "of seeds trained side by side)")
    args = parser.parse_args(argv)
    if args.report:
        results = [r for path in args.report for r in read_json(path)]
        print_report(sorted(results, key=lambda r: (r.name, r.seed if r.seed is not None else -1)))  # no load figures
        return 0
    os.chdir(REPO_ROOT)  # the experiments' relative paths (datasets/sample) are the repository's

    specs = [RUNS[name] for name in args.runs]
    for spec in specs:
        if spec.needs_shared and not BCCD.is_dir():
            raise SystemExit(f"{spec.name}: needs {BCCD} (the shared datasets); run with --runs sample")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="yolox_accuracy_") as tmp:
        out_dir = Path(args.out or tmp).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        results = run_all(specs, out_dir, args)
    print_report(results, (load_before, os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
