"""Megvii's model builders: ``yolox_nano`` ... ``yolox_x`` and ``yolov3`` (``pretrained``,
``num_classes``, ``device``), ``yolox_custom(ckpt_path, exp_path, device)`` and
``create_yolox_model``; the entries of the repository's ``hubconf.py`` (``torch.hub.load``).

Each builds through the bundled experiment (``exps/<name>.py``), so a builder's model is the one
``-n <name>`` trains, in train mode as ``Exp.get_model`` returns it. The experiment layer sits above
this one: it is imported inside the functions, the one place ``yolox.models`` reaches up, because
Megvii's builders live here.

``pretrained=True`` loads the official file from torch.hub's checkpoint folder where it is there
(where Megvii's builders, through ``torch.hub.load_state_dict_from_url``, kept it), else from the
project's weights cache, downloading it first if missing (``resolve_checkpoint``).
"""
from pathlib import Path
from typing import Optional, Union

import torch
from loguru import logger
from torch import nn

# The release table has one home, next to the download that uses it (yolox.utils.checkpoint.download).
from yolox.utils.checkpoint import (OFFICIAL_WEIGHTS, OFFICIAL_WEIGHTS_URL, checkpoint_weights, load_exact_weights,
                                    read_checkpoint, resolve_checkpoint)

__all__ = ["OFFICIAL_WEIGHTS_URL", "OFFICIAL_WEIGHTS", "official_weights_path", "create_yolox_model", "yolox_nano",
           "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x", "yolov3", "yolox_custom"]

COCO_NUM_CLASSES = 80

Device = Union[str, torch.device, None]


def official_weights_path(name: str) -> Path:
    """Where ``pretrained=True`` looks for the official weights of ``name`` (``"yolox-s"``):
    ``<torch.hub.get_dir()>/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / OFFICIAL_WEIGHTS[name]


def create_yolox_model(name: str, pretrained: bool = True, num_classes: int = 80, device: Device = None,
                       exp_path: Optional[str] = None, ckpt_path: Optional[str] = None) -> nn.Module:
    """A YOLOX model on ``device`` (default: the first GPU, else the CPU).

    name: a bundled model (``"yolox-nano"``, ``"yolox-tiny"``, ``"yolox-s"``, ``"yolox-m"``,
    ``"yolox-l"``, ``"yolox-x"``, ``"yolov3"``) with ``num_classes`` classes, with the official
    weights when ``pretrained`` and ``num_classes`` is 80 (they are COCO's); or ``"yolox_custom"``:
    the model of the experiment file ``exp_path``, with the weights of ``ckpt_path`` if given.
    """
    if name == "yolox_custom":
        model = _custom_model(exp_path=exp_path, ckpt_path=ckpt_path)
    elif name in OFFICIAL_WEIGHTS:
        model = _bundled_model(name, pretrained=pretrained, num_classes=num_classes)
    else:
        raise ValueError(f"unknown model {name!r}: give one of {sorted(OFFICIAL_WEIGHTS)} or 'yolox_custom'")
    if device is None:
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    return model.to(torch.device(device))


def _bundled_model(name: str, *, pretrained: bool, num_classes: int) -> nn.Module:
    from yolox.exp import get_exp  # the layer above: see the module docstring

    exp = get_exp(exp_name=name)
    exp.num_classes = num_classes
    model = exp.get_model()
    if not pretrained:
        return model
    if num_classes != COCO_NUM_CLASSES:
        logger.warning("{}: the official weights are COCO's {} classes; with num_classes={} the model keeps its "
                       "initial weights", name, COCO_NUM_CLASSES, num_classes)
        return model
    path = official_weights_path(name)
    # Not in torch.hub's folder: the weights cache, downloaded once (WeightsDownloadError gives the URL).
    _load(model, path if path.is_file() else resolve_checkpoint(name))
    return model


def _custom_model(*, exp_path: Optional[str], ckpt_path: Optional[str]) -> nn.Module:
    from yolox.exp import get_exp  # the layer above: see the module docstring

    if exp_path is None:
        raise ValueError("yolox_custom needs exp_path, the experiment file that describes the model")
    model = get_exp(exp_file=exp_path).get_model()
    if ckpt_path:
        _load(model, Path(ckpt_path))
    return model


def _load(model: nn.Module, path: Path) -> None:
    """The weights to run of the checkpoint at ``path`` (ours or Megvii's), which must fit ``model``."""
    load_exact_weights(model, checkpoint_weights(read_checkpoint(path)), source=str(path))


def _bundled_builder(name: str):
    """Megvii's builder function for the bundled model ``name``, under its name (``yolox_s``)."""

    def build(pretrained: bool = True, num_classes: int = 80, device: Device = None) -> nn.Module:
        return create_yolox_model(name, pretrained, num_classes, device)

    build.__name__ = build.__qualname__ = name.replace("-", "_")
    build.__doc__ = (f"{name}: ``num_classes`` classes on ``device`` (default: the first GPU, else the CPU), with "
                     f"the official {OFFICIAL_WEIGHTS[name]} weights when ``pretrained`` (80 classes only).")
    return build


yolox_nano = _bundled_builder("yolox-nano")
yolox_tiny = _bundled_builder("yolox-tiny")
yolox_s = _bundled_builder("yolox-s")
yolox_m = _bundled_builder("yolox-m")
yolox_l = _bundled_builder("yolox-l")
yolox_x = _bundled_builder("yolox-x")
yolov3 = _bundled_builder("yolov3")


def yolox_custom(ckpt_path: Optional[str] = None, exp_path: Optional[str] = None, device: Device = None) -> nn.Module:
    """The model of the experiment file ``exp_path`` on ``device``, with the weights of the
    checkpoint ``ckpt_path`` (ours or Megvii's; they must fit) when given."""
    return create_yolox_model("yolox_custom", ckpt_path=ckpt_path, exp_path=exp_path, device=device)
