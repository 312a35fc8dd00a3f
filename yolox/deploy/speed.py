"""How fast a detector runs end to end: images in memory (BGR) in, detections out.

Pre-processing (letterbox), the forward pass and post-processing (decode, NMS, undoing the
letterbox) are all inside the timed call, so formats are compared on what a user's program pays
for an image. Reading files from disk is not (it costs the same for every format).
"""
import statistics
import time
from dataclasses import dataclass
from typing import Callable, List, Sequence

import numpy as np

__all__ = ["SpeedResult", "StageTimes", "measure_speed", "measure_stages"]


@dataclass
class SpeedResult:
    """latency_ms: median milliseconds per image at batch 1; throughput: images per second at
    ``batch_size`` (median over repeats); runs: timed calls behind each figure."""

    latency_ms: float
    throughput: float
    batch_size: int
    runs: int


def _median_seconds(call: Callable[[], object], *, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_speed(detect: Callable[[List[np.ndarray]], object], images: Sequence[np.ndarray], *,
                  batch_size: int = 8, warmup: int = 3, repeats: int = 20) -> SpeedResult:
    """Time ``detect`` (a list of BGR images -> their detections) on ``images``.

    images: [H, W, 3] uint8 BGR arrays, cycled through so every call sees real pictures; latency
    calls ``detect`` with one image, throughput with ``batch_size`` of them.
    """
    if not images:
        raise ValueError("measure_speed needs at least one image")
    cursor = {"i": 0}

    def next_images(count: int) -> List[np.ndarray]:
        picked = [images[(cursor["i"] + k) % len(images)] for k in range(count)]
        cursor["i"] += count
        return picked

    single = _median_seconds(lambda: detect(next_images(1)), warmup=warmup, repeats=repeats)
    batched = _median_seconds(lambda: detect(next_images(batch_size)), warmup=max(1, warmup // 2),
                              repeats=max(3, repeats // 2))
    return SpeedResult(latency_ms=1000.0 * single, throughput=batch_size / batched, batch_size=batch_size,
                       runs=repeats)


@dataclass
class StageTimes:
    """Median milliseconds per image at batch 1 of each stage of a Detector call: letterbox,
    forward (the backend, plus decoding raw offsets), and NMS with undoing the letterbox."""

    preprocess_ms: float
    forward_ms: float
    postprocess_ms: float


def measure_stages(detector, images: Sequence[np.ndarray], *, warmup: int = 3, repeats: int = 20) -> StageTimes:
    """Time each stage of ``detector`` (a yolox.deploy.Detector) separately on ``images`` (BGR)."""
    from .pipeline import letterbox_images, postprocess_numpy, to_detections

    meta = detector.metadata
    image = images[0]
    blob, ratios = letterbox_images([image], meta.input_size, legacy=detector.legacy)
    outputs = detector.forward(blob)

    def post():
        (det,) = postprocess_numpy(outputs, conf=detector.conf, nms_thr=detector.nms)
        return to_detections(det, ratios[0], class_names=detector.class_names)

    pre_s = _median_seconds(lambda: letterbox_images([image], meta.input_size, legacy=detector.legacy),
                            warmup=warmup, repeats=repeats)
    forward_s = _median_seconds(lambda: detector.forward(blob), warmup=warmup, repeats=repeats)
    post_s = _median_seconds(post, warmup=warmup, repeats=repeats)
    return StageTimes(preprocess_ms=1000.0 * pre_s, forward_ms=1000.0 * forward_s, postprocess_ms=1000.0 * post_s)
