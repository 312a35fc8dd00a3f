"""ModelEMA: an exponential moving average of the weights, the model YOLOX evaluates and ships."""
import copy
import math
from typing import Dict, Tuple

import torch
from torch import nn

__all__ = ["ModelEMA", "is_parallel", "unwrap_model", "ema_for_epochs"]


def is_parallel(model: nn.Module) -> bool:
    """Whether ``model`` is a DistributedDataParallel / DataParallel wrapper (Megvii's name)."""
    return isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel))


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / DataParallel wrappers (itself otherwise)."""
    return model.module if is_parallel(model) else model


# Megvii's averaging window (1 / (1 - 0.9998) = 5000 updates) over its ramp's time constant (2000).
_RAMP_PER_WINDOW = 2000.0 / 5000.0


def ema_for_epochs(epochs: float, steps_per_epoch: int) -> Tuple[float, float]:
    """``(decay, ramp)`` of an EMA that averages about ``epochs`` epochs of optimizer steps, with
    Megvii's ratio of ramp to window. Megvii's fixed ``0.9998`` and ``2000`` are 2.7 and 1.1
    epochs of COCO at batch 64, but a few hundred images make 20-50 steps an epoch: a whole run
    then stays inside the ramp (decay under 0.6 at its end) and the EMA averages nothing."""
    window = max(1.0, float(epochs) * max(1, int(steps_per_epoch)))
    return 1.0 - 1.0 / window, max(1.0, _RAMP_PER_WINDOW * window)


class ModelEMA:
    """``ema = decay_t * ema + (1 - decay_t) * model`` after every optimizer step, with YOLOX's ramp
    ``decay_t = decay * (1 - exp(-updates / ramp))`` (ramp 2000 by default) so early, still-random
    weights fade fast.

    Floating-point parameters and buffers are averaged; integer buffers (BN's
    ``num_batches_tracked``) are copied. ``state_dict()`` holds the weights and the update count,
    which is all a resume needs.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, updates: int = 0, ramp: float = 2000.0):
        self.ema = copy.deepcopy(unwrap_model(model)).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = updates
        self.ramp = ramp

    @staticmethod
    def decay_at(*, decay: float, ramp: float, updates: int) -> float:
        return decay * (1.0 - math.exp(-updates / ramp))

    def current_decay(self) -> float:
        return self.decay_at(decay=self.decay, ramp=self.ramp, updates=self.updates)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.current_decay()
        source = unwrap_model(model).state_dict()
        averaged, copied = [], []
        for name, value in self.ema.state_dict().items():
            (averaged if value.dtype.is_floating_point else copied).append((value, source[name].detach()))
        if averaged:
            ema_values = [e for e, _ in averaged]
            torch._foreach_mul_(ema_values, d)
            torch._foreach_add_(ema_values, [m for _, m in averaged], alpha=1.0 - d)
        for ema_value, model_value in copied:
            ema_value.copy_(model_value)

    def state_dict(self) -> Dict:
        return {"state_dict": self.ema.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: Dict) -> None:
        self.ema.load_state_dict(state["state_dict"])
        self.updates = int(state["updates"])
