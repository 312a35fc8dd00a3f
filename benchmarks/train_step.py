"""Training step time of yolox_nano at 416, batch 8 (or ``--model s --size 640``), and the trainer's
own overhead, in float32 and under mixed precision (``--precisions fp32 bf16``: CPU autocast in
bfloat16, same run).

Two measurements on the same model, optimizer and batch (synthetic images, 12 random boxes per
image, so data loading is out of the picture):

* the real ``Trainer.train_one_iter`` (finite check, LR, scaler, EMA, meter, multiscale check);
* the same work hand-split into forward, loss, backward, optimizer and EMA.

"other" is the trainer's own work, timed inside the real iterations: every stage of
``train_one_iter`` that is not the model, the backward pass or the optimizer/EMA step (fetch and
resize the batch, set the LR, finite check, meter, logging and multiscale checks). It should stay
under 5% of the step. Median of ``--repeats`` after ``--warmup``.

    python benchmarks/train_step.py
    python benchmarks/train_step.py --batch 8 --size 416 --repeats 5
    python benchmarks/train_step.py --precisions fp32 bf16   # bf16 rows beside fp32's
    python benchmarks/train_step.py --model s --size 640 --batch 2 --precisions fp32 bf16

The machine may be shared: the load average is printed with the table; quote figures from an
idle machine.
"""
import argparse
import itertools
import os
import statistics
import sys
import time
from argparse import Namespace
from pathlib import Path
from typing import Optional

import torch
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yolox.core import Trainer  # noqa: E402
from yolox.utils.meters import MeterBuffer  # noqa: E402
from yolox.exp import get_exp  # noqa: E402
from yolox.utils.ema import ModelEMA  # noqa: E402
from yolox.utils.precision import AMP_CHOICES  # noqa: E402

# Megvii YOLOX on this 2-core machine, nano at 416, batch 8, seconds.
REFERENCE = {"forward": 0.32, "loss": 0.03, "backward": 0.35, "EMA": 0.011, "step": 0.71}


def make_batch(batch: int, size: int, num_gt: int = 12, seed: int = 0):
    """images [B, 3, S, S] 0-255; labels [B, 50, 5] cls, cx, cy, w, h (num_gt real rows per image)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, size, size, generator=g) * 255
    labels = torch.zeros(batch, 50, 5)
    wh = 16 + torch.rand(batch, num_gt, 2, generator=g) * (size / 3)
    centre = wh / 2 + torch.rand(batch, num_gt, 2, generator=g) * (size - wh)
    labels[:, :num_gt, 0] = torch.randint(0, 80, (batch, num_gt), generator=g).float()
    labels[:, :num_gt, 1:3] = centre
    labels[:, :num_gt, 3:5] = wh
    return images, labels


OVERHEAD_STAGES = ("fetch_batch", "set_lr", "check_finite", "after_iter")


class TimedTrainer(Trainer):
    """Adds up the time spent in the trainer's own stages during ``train_one_iter``."""

    overhead = 0.0

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name not in OVERHEAD_STAGES:
            return attr

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                TimedTrainer.overhead += time.perf_counter() - start
        return timed


def build_trainer(batch: int, size: int, amp: Optional[str] = None, model: str = "nano") -> Trainer:
    """A Trainer of yolox-``model`` whose loop pieces are set up by hand, fed one fixed batch forever;
    ``amp``: None (float32), "fp16" or "bf16" (``--amp``)."""
    exp = get_exp(exp_name=f"yolox-{model}")
    exp.input_size = exp.test_size = (size, size)
    exp.print_interval = 10 ** 9  # time the iteration, not the console
    args = Namespace(batch_size=batch, fp16=False, amp=amp, experiment_name="bench", logger="none")
    trainer = TimedTrainer(exp, args)
    trainer.model = exp.get_model()
    trainer.optimizer = exp.get_optimizer(batch)
    trainer.max_iter = 10 ** 6
    trainer.lr_scheduler = exp.get_lr_scheduler(exp.basic_lr_per_img * batch, trainer.max_iter)
    trainer.ema_model = ModelEMA(trainer.model, decay=exp.ema_decay)
    trainer.batches = itertools.repeat(make_batch(batch, size))
    trainer.meter = MeterBuffer(window_size=100)
    return trainer


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def split_step(trainer: Trainer) -> dict:
    """One iteration done piece by piece, each piece timed (forward and loss under the trainer's autocast)."""
    model, head = trainer.model, trainer.model.head
    images, labels = next(trainer.batches)
    times, box = {}, {}
    with trainer.precision.autocast():
        times["forward"] = _timed(lambda: box.update(raw=head.forward_raw(model.backbone(images))))
        times["loss"] = _timed(lambda: box.update(loss=head.get_losses(box["raw"], labels)))
    times["backward"] = _timed(lambda: box["loss"]["total_loss"].backward())
    times["optimizer"] = _timed(lambda: (trainer.optimizer.step(), trainer.optimizer.zero_grad(set_to_none=True)))
    times["EMA"] = _timed(lambda: trainer.ema_model.update(model))
    return times


def measure(batch: int, size: int, warmup: int, repeats: int, amp: Optional[str] = None,
            model: str = "nano") -> dict:
    trainer = build_trainer(batch, size, amp, model)
    trainer.model.train()
    for _ in range(warmup):
        trainer.train_one_iter()
        split_step(trainer)
    full, parts, overhead = [], [], []
    for i in range(repeats):
        trainer.iter = i
        TimedTrainer.overhead = 0.0
        full.append(_timed(trainer.train_one_iter))
        overhead.append(TimedTrainer.overhead)
        parts.append(split_step(trainer))
    result = {key: statistics.median(p[key] for p in parts) for key in parts[0]}
    result["step"] = statistics.median(full)
    result["other"] = statistics.median(overhead)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nano", choices=["nano", "tiny", "s"], help="yolox-<model>")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=416)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", *AMP_CHOICES],
                        help="fp32 and/or mixed precision (--amp) rows, measured one after the other in this run")
    opts = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = {p: measure(opts.batch, opts.size, opts.warmup, opts.repeats, None if p == "fp32" else p, opts.model)
               for p in opts.precisions}
    reference = REFERENCE if (opts.model, opts.size, opts.batch) == ("nano", 416, 8) else {}
    parts = ("forward", "loss", "backward", "optimizer", "EMA", "other", "step")
    first = opts.precisions[0]
    rows = [(k, *(f"{results[p][k]:.4f}" for p in opts.precisions),
             *(f"{results[p][k] / results[first][k]:.2f}x" for p in opts.precisions[1:]),
             f"{reference[k]:.3f}" if k in reference else "-",
             f"{100 * results[first][k] / results[first]['step']:.1f}%") for k in parts]
    headers = ["part", *(f"{p} (s)" for p in opts.precisions), *(f"{p}/{first}" for p in opts.precisions[1:]),
               "Megvii (s)", f"share of {first} step"]
    print(f"yolox_{opts.model} {opts.size}x{opts.size}, batch {opts.batch}, CPU threads {torch.get_num_threads()}, "
          f"median of {opts.repeats}; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    for p, result in results.items():
        print(f"{p} trainer overhead (other): {1000 * result['other']:.2f} ms = "
              f"{100 * result['other'] / result['step']:.2f}% of the step (target < 5%)")


if __name__ == "__main__":
    main()
