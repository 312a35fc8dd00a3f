"""What a training checkpoint holds beyond the weights: the RNG states of the run and the metadata
that rebuilds its model. Reading, writing and choosing weights is ``yolox.utils.checkpoint``.

Layout (Megvii's keys first and with Megvii's meaning, so official tools read ours and we read theirs)::

    {"model": the weights to run: EMA weights when training keeps an EMA (what it evaluated and
              chose best_ckpt by), else the raw ones,
     "optimizer": ..., "start_epoch": next epoch to run,
     "train_model": raw training weights (for an exact resume), "ema_updates": EMA updates done or None,
     "scaler": GradScaler state or None, "iteration": global iterations done, "best_ap": float,
     "best_epoch": int, "rng": {"python", "numpy", "torch", "cuda"}, "meta": what rebuilds the model,
     "epoch_iteration": iterations of epoch "start_epoch" already done (0 at an epoch's end; more
                        when a preempted run stopped mid-epoch), "input_size": the multiscale size
                        in use, "data_seed": run seed of the per-sample augmentation seeds}

Everything in it is tensors and plain Python data (no numpy objects, dataclasses or paths), so
``torch.load(path, weights_only=True)`` reads it. Resume restores every piece; fine-tuning (``-c``
without ``--resume``) takes the weights under "model" whose shape fits and lists those it skips.
"""
import random
from typing import Dict, List, Optional

import numpy as np
import torch

__all__ = ["capture_rng_state", "restore_rng_state", "model_meta"]


def capture_rng_state() -> Dict:
    """Every RNG that augmentations, multiscale and dropout draw from in this process, as tensors and
    plain Python values."""
    version, internal, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss_next],
        # MT19937's 624 uint32 keys fit int64 exactly
        "numpy": {"bit_generator": str(name), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Optional[Dict]) -> None:
    """Undo ``capture_rng_state``; also takes the earlier project's form (getstate/get_state tuples)."""
    if not state:
        return
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    numpy_state = state["numpy"]
    if isinstance(numpy_state, dict):
        keys = np.asarray(numpy_state["keys"].numpy(), dtype=np.uint32)
        numpy_state = (numpy_state["bit_generator"], keys, numpy_state["pos"], numpy_state["has_gauss"],
                       numpy_state["cached_gaussian"])
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def model_meta(exp, class_names: Optional[List[str]] = None) -> Dict:
    """What demo/eval/export need to rebuild the network and name its classes (plain Python values:
    an experiment may hold numpy numbers or tuples of them)."""
    return {
        "num_classes": int(exp.num_classes),
        "class_names": [str(name) for name in class_names] if class_names else None,
        "depth": float(exp.depth), "width": float(exp.width), "act": str(exp.act),
        "depthwise": bool(getattr(exp, "depthwise", False)),
        "input_size": tuple(int(v) for v in exp.input_size), "test_size": tuple(int(v) for v in exp.test_size),
        "exp_name": str(exp.exp_name),
    }
