"""Running values of a training run (losses, timings, lr): the last ``window_size`` of each, and
the whole series' total and mean. Megvii YOLOX's ``AverageMeter`` and ``MeterBuffer``."""
import functools
import math
import statistics
from collections import defaultdict, deque
from typing import Dict, Mapping, Optional, Union

import torch

__all__ = ["AverageMeter", "MeterBuffer"]

Number = Union[float, int, torch.Tensor]


class AverageMeter:
    """One series of numbers: windowed statistics over the last ``window_size`` values, and the
    total and mean of every value since the last ``reset``."""

    def __init__(self, window_size: int = 50):
        self._window = deque(maxlen=window_size)
        self._total = 0.0
        self._count = 0

    def update(self, value: Number) -> None:
        value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
        self._window.append(value)
        self._total += value
        self._count += 1

    @property
    def median(self) -> float:
        """Median of the window; NaN while it is empty."""
        return statistics.median(self._window) if self._window else math.nan

    @property
    def avg(self) -> float:
        """Mean of the window; NaN while it is empty (as Megvii's)."""
        return sum(self._window) / len(self._window) if self._window else math.nan

    @property
    def global_avg(self) -> float:
        """Mean of every value since the last ``reset``; 0 before the first."""
        return self._total / self._count if self._count else 0.0

    @property
    def latest(self) -> Optional[float]:
        return self._window[-1] if self._window else None

    @property
    def total(self) -> float:
        return self._total

    def reset(self) -> None:
        """Forget everything: the window, the total and the count."""
        self._window.clear()
        self._total = 0.0
        self._count = 0

    def clear(self) -> None:
        """Empty the window only; ``total`` and ``global_avg`` keep the series."""
        self._window.clear()


class MeterBuffer(defaultdict):
    """An ``AverageMeter`` per name, made on first use: ``meters.update(iter_time=0.3, **losses)``,
    then ``meters["iter_time"].avg``."""

    def __init__(self, window_size: int = 20):
        super().__init__(functools.partial(AverageMeter, window_size=window_size))

    def update(self, values: Optional[Mapping[str, Number]] = None, **kwargs: Number) -> None:
        for key, value in {**(values or {}), **kwargs}.items():
            self[key].update(value)

    def get_filtered_meter(self, filter_key: str = "time") -> Dict[str, AverageMeter]:
        """The meters whose name contains ``filter_key``."""
        return {key: meter for key, meter in self.items() if filter_key in key}

    def reset(self) -> None:
        for meter in self.values():
            meter.reset()

    def clear_meters(self) -> None:
        for meter in self.values():
            meter.clear()
