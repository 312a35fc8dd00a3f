"""Build an inference model from an experiment and a checkpoint, trusting the checkpoint's shape.

A checkpoint trained on custom data has its own ``num_classes`` (and maybe its own depth/width):
the head is built from the checkpoint's metadata, or, for official Megvii files without
metadata, from the shape of its class-prediction weights, so demo, eval and export never hit a
size mismatch. Class names come from the metadata, else the experiment, else COCO's when the
model has 80 classes.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from loguru import logger
from torch import nn

from yolox.utils.checkpoint import checkpoint_architecture, checkpoint_weights, load_exact_weights, read_checkpoint
from yolox.utils.model_utils import fuse_model, to_channels_last

from .metadata import ModelMetadata

__all__ = ["LoadedModel", "apply_checkpoint_architecture", "resolve_class_names", "load_model", "model_for_export",
           "export_metadata"]


@dataclass
class LoadedModel:
    """A model in eval mode with what describes its outputs."""

    model: nn.Module
    num_classes: int
    class_names: List[str]
    class_names_source: str  # "checkpoint", "experiment", "coco" or "generic"
    meta: Dict = field(default_factory=dict)


def apply_checkpoint_architecture(exp, ckpt: dict, source: str = "checkpoint") -> int:
    """Make ``exp`` build the checkpoint's network (``checkpoint_architecture``: its num_classes
    and, where its metadata says so, depth, width, act and depthwise). Returns num_classes."""
    arch = checkpoint_architecture(ckpt, source)
    changed = {k: v for k, v in arch.items() if getattr(exp, k, None) != v}
    if changed:
        logger.info("{}: building the model with the checkpoint's {} (experiment had {})", source, changed,
                    {k: getattr(exp, k, None) for k in changed})
        for key, value in changed.items():
            setattr(exp, key, value)
        exp.model = None  # Exp.get_model caches the model it built
    return arch["num_classes"]


def resolve_class_names(*, meta: Dict, exp, num_classes: int) -> tuple:
    """(names, source): the checkpoint's names, else the experiment's, else COCO's for 80 classes,
    else "class_0", "class_1", ... A list of the wrong length is skipped with a warning."""
    candidates = [("checkpoint", meta.get("class_names")), ("experiment", _experiment_class_names(exp))]
    for source, names in candidates:
        if not names:
            continue
        if len(names) == num_classes:
            return [str(n) for n in names], source
        logger.warning("ignoring the {}'s {} class names: the model has {} classes", source, len(names), num_classes)
    if num_classes == 80:
        from yolox.data.datasets.coco_classes import COCO_CLASSES

        return list(COCO_CLASSES), "coco"
    return [f"class_{i}" for i in range(num_classes)], "generic"


def _experiment_class_names(exp) -> Optional[Sequence[str]]:
    """Names an experiment declares without loading data: a ``class_names`` attribute (or
    Megvii-style ``classes``), or those of a dataset it already built."""
    for attr in ("class_names", "classes"):
        names = getattr(exp, attr, None)
        if names and not callable(names):
            return names
    dataset = getattr(exp, "dataset", None)
    return getattr(dataset, "class_names", None) if dataset is not None else None


def load_model(exp, ckpt_path: Optional[Union[str, Path]] = None, *, device: Union[str, torch.device] = "cpu",
               fuse: bool = False, prefer_ema: bool = True, channels_last: Optional[bool] = None,
               allow_pickle: bool = False) -> LoadedModel:
    """``exp``'s model (shaped by the checkpoint when given) with the checkpoint's weights to run
    (``checkpoint_weights``: the EMA's in any layout), in eval mode on ``device``, conv+BN fused
    when ``fuse``, weights channels-last when ``channels_last`` (None: the experiment's
    ``channels_last``). ``allow_pickle``: see ``read_checkpoint``. Without a checkpoint the weights
    are random."""
    ckpt: dict = {}
    if ckpt_path is not None:
        ckpt = read_checkpoint(ckpt_path, allow_pickle=allow_pickle)
        apply_checkpoint_architecture(exp, ckpt, source=str(ckpt_path))
    # Exp.get_model caches its network: a second load must not get the first one's fused layers,
    # weights or decode switch (tools/benchmark.py loads one experiment's checkpoint several ways).
    exp.model = None
    model = exp.get_model()
    if ckpt:
        load_exact_weights(model, checkpoint_weights(ckpt, prefer_ema=prefer_ema), str(ckpt_path))
        logger.info("loaded weights from {}", ckpt_path)
    model.to(device).eval()
    if fuse:
        model = fuse_model(model)
    if getattr(exp, "channels_last", False) if channels_last is None else channels_last:
        to_channels_last(model)
    meta = ckpt.get("meta") or {}
    num_classes = int(model.head.num_classes)
    names, source = resolve_class_names(meta=meta, exp=exp, num_classes=num_classes)
    return LoadedModel(model=model, num_classes=num_classes, class_names=names, class_names_source=source, meta=meta)


def model_for_export(exp, ckpt_path: Optional[Union[str, Path]], *, decode_in_inference: bool,
                     allow_pickle: bool = False) -> LoadedModel:
    """A CPU eval model for export; ``decode_in_inference`` False leaves boxes as raw grid offsets
    (the deployment code decodes them), True bakes the decoding into the graph."""
    if ckpt_path is None:
        logger.warning("no checkpoint (-c): exporting random weights")
    # Contiguous weights: exporters and runtimes choose their own layouts.
    loaded = load_model(exp, ckpt_path, device="cpu", channels_last=False, allow_pickle=allow_pickle)
    loaded.model.head.decode_in_inference = decode_in_inference
    return loaded


def export_metadata(loaded: LoadedModel, *, input_size: Tuple[int, int], batch_size: Optional[int],
                    exp_name: str = "") -> ModelMetadata:
    """What an exported file of ``loaded`` says about itself: class names, input size (h, w), boxes
    decoded or raw (the head's ``decode_in_inference``), strides, fixed batch (None: any)."""
    head = loaded.model.head
    return ModelMetadata(class_names=list(loaded.class_names), input_size=(int(input_size[0]), int(input_size[1])),
                         decoded=bool(head.decode_in_inference), strides=tuple(int(s) for s in head.strides),
                         batch_size=batch_size, exp_name=exp_name)
