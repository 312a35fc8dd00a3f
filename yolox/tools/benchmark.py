"""Which file to ship: every deployable format of a checkpoint, its accuracy and its speed, one table.

    python tools/benchmark.py -f exps/example/custom/yolox_nano_bccd.py -c best_ckpt.pth
    python tools/benchmark.py -f exps/my_exp.py -c best_ckpt.pth --formats torch onnx openvino-int8
    python tools/benchmark.py -n yolox-s -c yolox_s.pth --no-ap          # speed only

Exports the checkpoint to each format of --formats into --out (TorchScript, ONNX, OpenVINO IR, and
their INT8 copies calibrated on --calib-images images of the --calib-split split through the
experiment's eval letterbox), then for each format prints: file size; AP50:95 and AP50 on the
experiment's validation set, scored by the same evaluator as the checkpoint (the experiment's
test_conf and nmsthre), and their change from PyTorch eager fp32 in points (x100); latency in ms
per image at batch 1 and throughput in images/s at --batch, both end to end from a BGR image in
memory to detections in its pixels (letterbox, forward, decode, NMS at --conf), with the batch-1
time split into those stages; and the speed-up over PyTorch eager fp32.

Figures depend on the machine and on what else runs on it: the load average is printed with the table.
"""
import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional

import cv2
from loguru import logger

from yolox.deploy.formats import FORMATS, FormatSpec, ModelFiles, file_size, parse_formats
from yolox.deploy.speed import measure_speed, measure_stages

from .exp_flags import add_exp_flags, build_exp

__all__ = ["FormatRow", "benchmark_format", "score_detector", "format_table", "main"]


@dataclass
class FormatRow:
    """One format's line of the table (None: not measured)."""

    format: str
    label: str
    file: str
    size_mb: float
    ap50_95: Optional[float]
    ap50: Optional[float]
    latency_ms: float
    throughput: float
    preprocess_ms: float
    forward_ms: float
    postprocess_ms: float
    export_s: float = 0.0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", nargs="+", default=None, metavar="FORMAT",
                        help=f"formats to measure, in the table's order: {', '.join(FORMATS)} (default: all)")
    parser.add_argument("--out", type=str, default=None,
                        help="folder for the exported files (default: <output_dir>/<exp>/deploy; kept afterwards)")
    parser.add_argument("--calib-images", type=int, default=200, help="INT8 calibration images (default 200)")
    parser.add_argument("--calib-split", choices=("train", "val"), default="train",
                        help="where calibration images come from (default train: the scored split stays unseen)")
    parser.add_argument("--no-ap", action="store_true", help="speed only: skip scoring each format")
    parser.add_argument("-b", "--eval-batch", type=int, default=8, help="images per batch when scoring")
    parser.add_argument("--batch", type=int, default=8, help="batch of the throughput figure (default 8)")
    parser.add_argument("--conf", type=float, default=0.25,
                        help="score threshold of the timed runs (a deployment's; scoring uses exp.test_conf)")
    parser.add_argument("--speed-images", type=int, default=16, help="validation images the timing cycles through")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per figure (median)")
    parser.add_argument("--json", type=str, default=None, help="also write the rows as JSON here")
    add_exp_flags(parser, ckpt_help="checkpoint (.pth) to export and measure", tsize=True)
    return parser


def score_detector(exp, detector, *, batch_size: int) -> tuple:
    """(AP50:95, AP50) of ``detector`` on ``exp``'s validation set, by its own evaluator: the
    detector's forward pass (``BackendModel``), the evaluator's post-processing and scorer."""
    from yolox.deploy.backend_model import evaluate_detector

    ap50_95, ap50, _ = evaluate_detector(exp, detector, batch_size=batch_size)
    return float(ap50_95), float(ap50)


def speed_images(exp, count: int) -> list:
    """Up to ``count`` BGR images of the experiment's validation set, read once."""
    dataset = exp.get_eval_dataset()
    records = getattr(dataset, "records", None)
    if not records:
        raise ValueError("the experiment's eval dataset lists no image files to time on")
    paths = [r.path for r in records[:max(1, count)]]
    images = [cv2.imread(p) for p in paths]
    missing = [p for p, img in zip(paths, images) if img is None]
    if missing:
        raise FileNotFoundError(f"cannot read validation image {missing[0]!r}")
    return images


def benchmark_format(spec: FormatSpec, files: ModelFiles, *, exp, args, images: list) -> FormatRow:
    """Export (once), open, score and time one format."""
    from yolox.deploy.detector import Detector

    path = files.path(spec.file)
    options = dict(spec.options)
    if spec.file == "checkpoint":
        options.update(exp=exp, allow_pickle=args.unsafe_load or None)
    detector = Detector(path, conf=args.conf, max_batch=args.batch, **options)
    ap50_95 = ap50 = None
    if not args.no_ap:
        ap50_95, ap50 = score_detector(exp, detector, batch_size=args.eval_batch)
        logger.info("{}: AP50:95 {:.4f}, AP50 {:.4f}", spec.name, ap50_95, ap50)
    stages = measure_stages(detector, images, repeats=args.repeats)
    speed = measure_speed(detector.detect_batch, images, batch_size=args.batch, repeats=args.repeats)
    logger.info("{}: {:.1f} ms/image at batch 1, {:.1f} images/s at batch {}", spec.name, speed.latency_ms,
                speed.throughput, args.batch)
    return FormatRow(format=spec.name, label=spec.label, file=str(path), size_mb=file_size(path) / 1e6,
                     ap50_95=ap50_95, ap50=ap50, latency_ms=speed.latency_ms, throughput=speed.throughput,
                     preprocess_ms=stages.preprocess_ms, forward_ms=stages.forward_ms,
                     postprocess_ms=stages.postprocess_ms, export_s=files.export_seconds.get(spec.file, 0.0))


def format_table(rows: List[FormatRow], *, batch: int) -> str:
    """The table a user picks a file from; speed-up and AP change against the ``torch`` row (or the first)."""
    from tabulate import tabulate

    base = next((r for r in rows if r.format == "torch"), rows[0])
    lines = []
    for r in rows:
        delta = None if r.ap50_95 is None or base.ap50_95 is None else 100.0 * (r.ap50_95 - base.ap50_95)
        lines.append([r.format, f"{r.size_mb:.1f}", _fmt(r.ap50_95, 3), _fmt(r.ap50, 3),
                      "-" if delta is None else f"{delta:+.2f}", f"{r.latency_ms:.1f}",
                      f"{r.preprocess_ms:.1f} / {r.forward_ms:.1f} / {r.postprocess_ms:.1f}",
                      f"{r.throughput:.1f}", f"{base.latency_ms / r.latency_ms:.2f}x"])
    headers = ["format", "MB", "AP50:95", "AP50", "dAP (pts)", "ms/img b1", "pre / fwd / post ms",
               f"img/s b{batch}", f"speed-up vs {base.format}"]
    return tabulate(lines, headers=headers, tablefmt="github", disable_numparse=True)


def _fmt(value: Optional[float], digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    if args.ckpt is None:
        raise SystemExit("-c: the checkpoint to export and measure is required")
    specs = parse_formats(args.formats)
    exp = build_exp(args)
    out = Path(args.out) if args.out else Path(exp.output_dir) / exp.exp_name / "deploy"

    def calibration():
        from yolox.deploy.quantization import calibration_images

        return calibration_images(exp, args.calib_images, split=args.calib_split)

    files = ModelFiles(exp, args.ckpt, out, calib_images=calibration, allow_pickle=args.unsafe_load)
    images = speed_images(exp, args.speed_images)
    rows = []
    for spec in specs:
        logger.info("---- {} ({})", spec.name, spec.label)
        rows.append(benchmark_format(spec, files, exp=exp, args=args, images=images))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{exp.exp_name}, input {tuple(exp.test_size)}, {len(images)} images timed, "
          f"load average {load:.2f}, {os.cpu_count()} CPUs")
    print(format_table(rows, batch=args.batch))
    if args.json:
        from yolox.utils.atomic_io import atomic_write_bytes

        payload = {"exp": exp.exp_name, "test_size": list(exp.test_size), "load_average": load,
                   "rows": [asdict(r) for r in rows]}
        atomic_write_bytes(json.dumps(payload, indent=2).encode(), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
