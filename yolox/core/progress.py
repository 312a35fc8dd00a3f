"""What the console line of a training run shows: windowed averages of losses and timings, ETA."""
import datetime
from collections import defaultdict, deque
from typing import Deque, Dict, Mapping

import psutil
import torch

__all__ = ["WindowMeter", "memory_mb", "format_eta"]


class WindowMeter:
    """Running values over the last ``window`` iterations, per name."""

    def __init__(self, window: int = 20):
        self._values: Dict[str, Deque[float]] = defaultdict(lambda: deque(maxlen=window))
        self.window = window

    def update(self, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self._values[key].append(float(value))

    def mean(self, key: str) -> float:
        values = self._values.get(key)
        return sum(values) / len(values) if values else 0.0

    def latest(self, key: str) -> float:
        values = self._values.get(key)
        return values[-1] if values else 0.0

    def has(self, key: str) -> bool:
        return bool(self._values.get(key))


def memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated on ``device``, or this process's resident memory on a CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return psutil.Process().memory_info().rss / 2 ** 20


def format_eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))
