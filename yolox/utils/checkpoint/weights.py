"""Weights from a checkpoint into a model: the tensors that fit (fine-tuning, Megvii's ``load_ckpt``)
or all of them, strictly, with one readable error (evaluation, demo, export)."""
from dataclasses import dataclass, field
from typing import Dict, List

import torch
from loguru import logger
from torch import nn

__all__ = ["FineTuneReport", "load_matching_weights", "load_exact_weights", "load_ckpt"]


@dataclass
class FineTuneReport:
    loaded: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)  # "key: ckpt (..) vs model (..)"
    missing: List[str] = field(default_factory=list)  # in the model, not in the checkpoint
    unexpected: List[str] = field(default_factory=list)  # in the checkpoint, not in the model


def _compare(model: nn.Module, state_dict: Dict[str, torch.Tensor]) -> FineTuneReport:
    """Which tensors of ``state_dict`` fit ``model`` by name and shape, and which do not."""
    own = model.state_dict()
    report = FineTuneReport()
    for key, value in state_dict.items():
        if key not in own:
            report.unexpected.append(key)
        elif value.shape != own[key].shape:
            report.shape_mismatch.append(f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(own[key].shape)}")
        else:
            report.loaded.append(key)
    report.missing = [k for k in own if k not in state_dict]
    return report


def load_matching_weights(model: nn.Module, state_dict: Dict[str, torch.Tensor], source: str = "") -> FineTuneReport:
    """Copy the tensors of ``state_dict`` whose name and shape fit ``model``; log what is skipped
    (a checkpoint with another num_classes keeps everything but the class predictions)."""
    report = _compare(model, state_dict)
    model.load_state_dict({key: state_dict[key] for key in report.loaded}, strict=False)
    logger.info("fine-tune from {}: loaded {} of {} tensors", source, len(report.loaded), len(model.state_dict()))
    if report.shape_mismatch:
        logger.warning("skipped {} tensors of another shape: {}", len(report.shape_mismatch),
                       "; ".join(report.shape_mismatch))
    if report.missing:
        logger.warning("{} model tensors not in the checkpoint, left as initialised: {}", len(report.missing),
                       _first_ten(report.missing))
    if report.unexpected:
        logger.warning("{} checkpoint tensors unknown to the model, ignored: {}", len(report.unexpected),
                       _first_ten(report.unexpected))
    return report


def _first_ten(keys: List[str]) -> str:
    return ", ".join(keys[:10]) + (" ..." if len(keys) > 10 else "")


def load_exact_weights(model: nn.Module, state_dict: Dict[str, torch.Tensor], source: str) -> None:
    """Strict load with one readable error listing what does not fit."""
    report = _compare(model, state_dict)
    missing, unexpected, mismatched = report.missing, report.unexpected, report.shape_mismatch
    if missing or unexpected or mismatched:
        raise ValueError(
            f"checkpoint {source} does not fit the experiment's model: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}), "
            f"{len(mismatched)} of another shape (e.g. {mismatched[:3]}); is -f/-n the experiment "
            "it was trained with?")
    model.load_state_dict(state_dict)


def load_ckpt(model: nn.Module, ckpt: Dict[str, torch.Tensor]) -> nn.Module:
    """Megvii's ``load_ckpt``: load the tensors of the state dict ``ckpt`` that fit ``model`` by name
    and shape, warn about the rest, and return ``model``."""
    load_matching_weights(model, ckpt, source="state dict")
    return model
