"""What a checkpoint holds and what each key means: the one description of the layout, for
writing (``training_checkpoint``) and for reading every layout there is (``checkpoint_weights``,
``resume_weights``, ``run_progress``, ``checkpoint_architecture``).

The layout this project writes (Megvii's keys first and with Megvii's meaning, so official tools
read ours and we read theirs)::

    {"model": the weights to run: EMA weights when training keeps an EMA (what it evaluated and
              chose best_ckpt by), else the raw ones,
     "optimizer": ..., "start_epoch": next epoch to run (0-based),
     "train_model": raw training weights (for an exact resume), "ema_updates": EMA updates done or None,
     "scaler": GradScaler state or None, "iteration": global iterations done, "best_ap": float,
     "best_epoch": int, "rng": {"python", "numpy", "torch", "cuda"} (``rng.py``),
     "epoch_iteration": iterations of epoch "start_epoch" already done (0 at an epoch's end; more
                        when a preempted run stopped mid-epoch),
     "multiscale_size": [h, w], the multiscale training size in use when it was saved,
     "data_seed": run seed of the per-sample augmentation seeds,
     "meta": what rebuilds the model: num_classes, class_names, depth, width, act, depthwise,
             input_size (the experiment's base training size), test_size, exp_name}

Other layouts read::

    earlier project   {"model": raw weights, "ema": {"state_dict": EMA weights, "updates", "decay"} or None,
                       "input_size": the multiscale size (now "multiscale_size"), ...}
    Megvii            {"model": weights to run (EMA), "optimizer", "start_epoch"}
    bare state dict   {"backbone.backbone.stem...": tensor, ...} (``read_checkpoint`` wraps it as {"model": ...})

Everything written is tensors and plain Python data (no numpy objects, dataclasses or paths), so
``torch.load(path, weights_only=True)`` reads it.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch

__all__ = ["ResumeWeights", "RunProgress", "training_checkpoint", "checkpoint_weights", "resume_weights",
           "run_progress", "model_meta", "ARCH_FIELDS", "checkpoint_architecture", "infer_num_classes"]

CLS_PRED_KEY = "head.cls_preds.0.weight"  # [num_classes, hidden, 1, 1] in every YOLOX size
ARCH_FIELDS = ("depth", "width", "act", "depthwise")  # meta keys that shape the network besides num_classes
_EARLIER_MULTISCALE_KEY = "input_size"  # the earlier project's top-level name for "multiscale_size"


@dataclass
class ResumeWeights:
    """The weights of a training run: what a checkpoint stores and a resume restores."""

    model: Dict[str, torch.Tensor]  # the raw training weights
    ema: Optional[Dict[str, torch.Tensor]] = None  # None: no EMA kept apart (Megvii, bare, EMA off)
    ema_updates: Optional[int] = None  # EMA updates done; None: unknown


@dataclass
class RunProgress:
    """Where a run stands, besides its weights and optimizer."""

    start_epoch: Optional[int]  # the next epoch to run, 0-based; None: not recorded (a weights-only file)
    epoch_iteration: int = 0  # iterations of start_epoch already done (a run preempted mid-epoch)
    iteration: int = 0  # global iterations done
    multiscale_size: Optional[Tuple[int, int]] = None  # (h, w) in use; None: the experiment's input_size
    data_seed: Optional[int] = None
    best_ap: float = 0.0
    best_epoch: int = -1


def training_checkpoint(*, weights: ResumeWeights, progress: RunProgress, optimizer: dict,
                        scaler: Optional[dict], rng: dict, meta: dict) -> dict:
    """The dict the trainer saves (see the module docstring). Without an EMA, "model" and
    "train_model" name one dict, which torch.save stores once."""
    return {
        "model": weights.ema if weights.ema is not None else weights.model,
        "optimizer": optimizer,
        "start_epoch": int(progress.start_epoch),
        "train_model": weights.model,
        "ema_updates": None if weights.ema is None else int(weights.ema_updates or 0),
        "scaler": scaler,
        "iteration": int(progress.iteration),
        "epoch_iteration": int(progress.epoch_iteration),
        "multiscale_size": None if progress.multiscale_size is None else [int(v) for v in progress.multiscale_size],
        "data_seed": progress.data_seed,
        "best_ap": float(progress.best_ap),
        "best_epoch": int(progress.best_epoch),
        "rng": rng,
        "meta": meta,
    }


def _earlier_ema(ckpt: dict) -> Optional[dict]:
    """The EMA entry of the earlier project's layout ({"state_dict", "updates", ...}), else None."""
    ema = ckpt.get("ema")
    if "train_model" in ckpt or not isinstance(ema, dict):
        return None
    state = ema.get("state_dict")
    return ema if isinstance(state, dict) and state.keys() == ckpt["model"].keys() else None


def checkpoint_weights(ckpt: dict, *, prefer_ema: bool = True) -> Dict[str, torch.Tensor]:
    """The weights to run: ``ckpt["model"]``, except in the earlier project's layout, whose EMA
    weights (those training evaluated and chose the best checkpoint by) sat under ``"ema"``.
    ``prefer_ema=False``: the raw training weights where the file keeps them apart."""
    earlier = _earlier_ema(ckpt)
    if prefer_ema:
        return earlier["state_dict"] if earlier else ckpt["model"]
    return ckpt["model"] if earlier else ckpt.get("train_model", ckpt["model"])


def resume_weights(ckpt: dict) -> ResumeWeights:
    """The raw weights, EMA weights and EMA update count of any layout (see the module docstring).
    A Megvii file keeps only its EMA weights under "model": they become the raw weights too."""
    earlier = _earlier_ema(ckpt)
    if earlier:
        return ResumeWeights(model=ckpt["model"], ema=earlier["state_dict"], ema_updates=int(earlier["updates"]))
    if "train_model" in ckpt and ckpt.get("ema_updates") is not None:
        return ResumeWeights(model=ckpt["train_model"], ema=ckpt["model"], ema_updates=int(ckpt["ema_updates"]))
    return ResumeWeights(model=ckpt.get("train_model", ckpt["model"]))


def run_progress(ckpt: dict) -> RunProgress:
    """Where the run of ``ckpt`` stopped, in any layout: a Megvii file has only "start_epoch" (and
    maybe "best_ap"); the earlier project's kept the multiscale size under "input_size"."""
    size = ckpt.get("multiscale_size", ckpt.get(_EARLIER_MULTISCALE_KEY))
    start_epoch, seed = ckpt.get("start_epoch"), ckpt.get("data_seed")
    return RunProgress(
        start_epoch=int(start_epoch) if start_epoch is not None else None,
        epoch_iteration=int(ckpt.get("epoch_iteration", 0)), iteration=int(ckpt.get("iteration", 0)),
        multiscale_size=tuple(int(v) for v in size) if size is not None else None,
        data_seed=int(seed) if seed is not None else None, best_ap=float(ckpt.get("best_ap", 0.0)),
        best_epoch=int(ckpt.get("best_epoch", -1)))


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


def infer_num_classes(state_dict: Dict[str, torch.Tensor], source: str = "checkpoint") -> int:
    """num_classes from the first level's class-prediction conv ([C, hidden, 1, 1])."""
    weight = state_dict.get(CLS_PRED_KEY)
    if weight is None:
        raise KeyError(f"{source}: no {CLS_PRED_KEY!r} tensor, so this is not a YOLOX checkpoint "
                       f"(first keys: {list(state_dict)[:3]})")
    return int(weight.shape[0])


def checkpoint_architecture(ckpt: dict, source: str = "checkpoint") -> Dict:
    """The experiment attributes that build ``ckpt``'s network: num_classes (from "meta", else the
    shape of the class predictions, as in Megvii's files) and whatever of ``ARCH_FIELDS`` "meta" records."""
    meta = ckpt.get("meta") or {}
    arch = {"num_classes": int(meta.get("num_classes") or infer_num_classes(ckpt["model"], source))}
    arch.update({key: meta[key] for key in ARCH_FIELDS if meta.get(key) is not None})
    return arch
