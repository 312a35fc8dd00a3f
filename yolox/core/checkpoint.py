"""What a training checkpoint holds beyond the weights: the RNG states of the run and the metadata
that rebuilds its model. Reading, writing and loading checkpoints is ``yolox.utils.checkpoint``.

Layout (Megvii-compatible keys first, so official tools read ours and we read theirs)::

    {"model": raw weights, "optimizer": ..., "start_epoch": next epoch to run,
     "ema": {"state_dict", "updates", "decay"} or None, "scaler": GradScaler state or None,
     "iteration": global iterations done, "best_ap": float, "best_epoch": int,
     "rng": {"python", "numpy", "torch", "cuda"}, "meta": what rebuilds the model without the exp}

Resume restores every piece; fine-tuning (``-c`` without ``--resume``) takes the weights whose
shape fits and lists those it skips.
"""
import random
from typing import Dict, List, Optional

import numpy as np
import torch

__all__ = ["capture_rng_state", "restore_rng_state", "model_meta"]


def capture_rng_state() -> Dict:
    """Every RNG that augmentations, multiscale and dropout draw from in this process."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Optional[Dict]) -> None:
    if not state:
        return
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def model_meta(exp, class_names: Optional[List[str]] = None) -> Dict:
    """What demo/eval/export need to rebuild the network and name its classes."""
    return {
        "num_classes": int(exp.num_classes),
        "class_names": list(class_names) if class_names else None,
        "depth": exp.depth, "width": exp.width, "act": exp.act,
        "depthwise": bool(getattr(exp, "depthwise", False)),
        "input_size": tuple(exp.input_size), "test_size": tuple(exp.test_size),
        "exp_name": exp.exp_name,
    }
