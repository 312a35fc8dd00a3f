"""Megvii's import path for the launcher (``from yolox.core.launch import launch``); it lives in
``yolox.utils.launch`` so tools that only evaluate need not import the training layer."""
from yolox.utils.launch import DEFAULT_TIMEOUT, LaunchConfig, find_free_port, launch, launched_by_torchrun

__all__ = ["DEFAULT_TIMEOUT", "LaunchConfig", "launch", "launched_by_torchrun", "find_free_port"]
