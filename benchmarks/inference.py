"""Inference throughput: eval-mode forward + postprocess (score filter, NMS), images per second.

Settings (issue 6): yolox_nano at 416 and yolox_s at 640, batch 1 and 8, BatchNorm unfused and
fused into the convolutions, weights channels-last (NHWC, what eval and demo use by default:
``Exp.channels_last``) and plain NCHW; random weights whose prediction convs are rescaled so about 5% of
the anchors pass the 0.01 threshold (a trained model's order of magnitude), inputs of random
pixels, conf 0.01 and NMS 0.65 as in COCO evaluation. Also postprocess alone on 3549 candidates
per image (nano at 416), all above the threshold, spread over the image (NMS's worst case) and
clustered on 20 objects per image (a trained model's case).
Median of ``--repeats`` timed runs after ``--warmup``.

    python benchmarks/inference.py                   # the full table next to the reference figures
    python benchmarks/inference.py --models nano --batches 8 --repeats 20
    python benchmarks/inference.py --device cuda
    python benchmarks/inference.py --compile         # plus torch.compile rows (a minute to compile each)
    python benchmarks/inference.py --precisions fp32 bf16 --layouts nhwc   # bf16 autocast rows beside fp32's

Timings on a shared machine are noisy: run it on an otherwise idle one for figures to quote.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yolox.exp import get_exp  # noqa: E402
from yolox.utils.boxes import postprocess  # noqa: E402
from yolox.utils.model_utils import fuse_model, to_channels_last  # noqa: E402
from yolox.utils.precision import AMP_CHOICES, Precision  # noqa: E402

MODELS = {"nano": ("yolox-nano", 416), "s": ("yolox-s", 640)}
# Megvii YOLOX on this 2-core machine, forward + postprocess, images/s; postprocess ms/image.
REFERENCE = {("nano", 8, True): 49.0, ("s", 1, True): 6.4}
REFERENCE_POSTPROCESS_MS = 2.8


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], *, warmup: int, repeats: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_model(name: str, size: int, *, fused: bool, channels_last: bool, device: torch.device) -> torch.nn.Module:
    """A random model whose scores vary like a trained one's: about 5% of the anchors pass the
    0.01 threshold before NMS (a fresh head scores every anchor 1e-4, so nothing would)."""
    torch.manual_seed(0)
    model = get_exp(exp_name=name).get_model().eval()
    head = model.head
    probe = torch.rand(1, 3, size, size) * 255
    with torch.no_grad():
        for conv in list(head.obj_preds) + list(head.cls_preds):
            torch.nn.init.normal_(conv.weight)
            conv.bias.zero_()
        raw = torch.cat([r.flatten(2) for r in head.forward_raw(model.backbone(probe))], dim=2)  # [1, 5 + C, A]
        obj_scale, cls_scale = 2.0 / raw[:, 4].std(), 2.0 / raw[:, 5:].std()
        for conv in head.obj_preds:
            conv.weight.mul_(obj_scale)
            # logits ~ N(-7.9, 2): P(sigmoid >= 0.01) = P(z >= 1.65) = 5%; class maxima are ~0.99.
            conv.bias.fill_(-7.9 - float(raw[:, 4].mean() * obj_scale))
        for conv in head.cls_preds:
            conv.weight.mul_(cls_scale)
    model = model.to(device)
    model = fuse_model(model) if fused else model
    return to_channels_last(model) if channels_last else model


def time_end_to_end(key: str, batch: int, fused: bool, layout: str, args, device: torch.device,
                    compiled: bool = False, precision: str = "fp32") -> Dict[str, object]:
    """One row; ``precision`` "fp32", or "fp16" / "bf16": the forward under that autocast
    (``Precision``, as eval and demo run it), postprocess in float32."""
    exp_name, size = MODELS[key]
    model = build_model(exp_name, size, fused=fused, channels_last=layout == "nhwc", device=device)
    num_classes = model.head.num_classes
    if compiled:  # what tools/eval.py --compile runs; compiling happens in the warm-up
        model = torch.compile(model, dynamic=False)
    images = torch.rand(batch, 3, size, size, device=device) * 255
    kept: List[int] = []
    autocast = Precision.resolve(None if precision == "fp32" else precision, device).autocast

    @torch.inference_mode()
    def step():
        with autocast():
            outputs = model(images)
        detections = postprocess(outputs, num_classes, 0.01, 0.65)
        kept.append(sum(0 if d is None else len(d) for d in detections))

    seconds = median_seconds(step, warmup=args.warmup, repeats=args.repeats, device=device)
    reference = (REFERENCE.get((key, batch, fused)) if layout == "nhwc" and not compiled and precision == "fp32"
                 else None)
    return {"model": f"{key}@{size}", "batch": batch, "fused": fused, "layout": layout,
            "compiled": compiled, "precision": precision, "img/s": f"{batch / seconds:.1f}",
            "ms/batch": f"{1000 * seconds:.0f}", "boxes/img after NMS": kept[-1] // batch,
            "reference img/s": "" if reference is None else f"{reference:.1f}"}


def time_postprocess(args, device: torch.device, *, layout: str, batch: int = 8) -> Dict[str, object]:
    """3549 candidates per image (nano at 416), every one above conf 0.01, then NMS.

    ``spread``: boxes anywhere, 80 classes: NMS removes almost nothing, its worst case.
    ``clustered``: every candidate sits on one of 20 objects per image (a trained model's
    picture: many overlapping candidates per object), so NMS removes most of them.
    """
    gen = torch.Generator().manual_seed(0)
    num_anchors, num_classes = 52 * 52 + 26 * 26 + 13 * 13, 80

    def uniform(*shape, low=0.0, high=1.0):
        return torch.rand(*shape, generator=gen) * (high - low) + low

    if layout == "spread":
        centres = uniform(batch, num_anchors, 2, high=416)
        sizes = uniform(batch, num_anchors, 2, low=8, high=128)
        cls = uniform(batch, num_anchors, num_classes, low=0.1, high=1.0)
    else:
        objects = 20
        owner = torch.randint(objects, (batch, num_anchors), generator=gen)
        obj_centres = uniform(batch, objects, 2, low=40, high=376)
        obj_sizes = uniform(batch, objects, 2, low=16, high=160)
        obj_classes = torch.randint(num_classes, (batch, objects), generator=gen)
        pick = owner[..., None].expand(-1, -1, 2)
        centres = obj_centres.gather(1, pick) + torch.randn(batch, num_anchors, 2, generator=gen) * 3
        sizes = obj_sizes.gather(1, pick) * uniform(batch, num_anchors, 2, low=0.9, high=1.1)
        cls = uniform(batch, num_anchors, num_classes, low=0.0, high=0.05)
        cls.scatter_(2, obj_classes.gather(1, owner)[..., None], uniform(batch, num_anchors, 1, low=0.5, high=1.0))
    obj = uniform(batch, num_anchors, 1, low=0.2, high=1.0)
    prediction = torch.cat([centres, sizes, obj, cls], dim=2).to(device)
    kept: List[int] = []

    def step():
        kept.append(sum(len(d) for d in postprocess(prediction, num_classes, 0.01, 0.65) if d is not None))

    seconds = median_seconds(step, warmup=args.warmup, repeats=args.repeats, device=device)
    return {"candidates/img": num_anchors, "boxes": layout, "batch": batch, "kept/img": kept[-1] // batch,
            "ms/img": f"{1000 * seconds / batch:.2f}", "reference ms/img": f"{REFERENCE_POSTPROCESS_MS:.1f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--layouts", nargs="+", default=["nhwc", "nchw"], choices=["nhwc", "nchw"],
                        help="weight memory layouts to time (nhwc: channels-last, the default in eval/demo)")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile'd fused channels-last models (eval.py --compile)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", *AMP_CHOICES],
                        help="fp32 and/or autocast rows (bf16 on a CPU), each setting timed in every precision")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = [time_end_to_end(key, batch, fused, layout, args, device, precision=precision)
            for key in args.models for batch in args.batches for fused in (False, True) for layout in args.layouts
            for precision in args.precisions]
    if args.compile:
        rows += [time_end_to_end(key, batch, True, "nhwc", args, device, compiled=True, precision=precision)
                 for key in args.models for batch in args.batches for precision in args.precisions]
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(tabulate(rows, headers="keys", tablefmt="github"))
    print()
    print(tabulate([time_postprocess(args, device, layout=layout) for layout in ("spread", "clustered")],
                   headers="keys", tablefmt="github"))


if __name__ == "__main__":
    main()
