"""The environment switches of the project's loaders, read each time a loader is built.

``YOLOX_FAST_LOADER=0`` is the master switch: every loader the project builds then takes torch's
plain DataLoader path, with no batch slots, no worker watch and no malloc tuning (for a torch
release whose private loader API no longer fits ``yolox/data/loader/torch_private.py``);
``data_timeout`` becomes torch's own ``timeout``. It is said once per process.
``YOLOX_BATCH_SLOTS=0`` and ``YOLOX_MALLOC_TUNING=0`` turn off one part each.
"""
import os

from loguru import logger

__all__ = ["fast_loader_enabled", "batch_slots_enabled", "malloc_tuning_enabled"]

_said_off = False  # the master switch's message, once per process


def _switched_on(name: str) -> bool:
    return os.environ.get(name, "1") != "0"


def fast_loader_enabled() -> bool:
    """False when ``YOLOX_FAST_LOADER=0`` (logged the first time it is seen)."""
    global _said_off
    if _switched_on("YOLOX_FAST_LOADER"):
        return True
    if not _said_off:
        _said_off = True
        logger.info("YOLOX_FAST_LOADER=0: loaders take torch's plain DataLoader path (no batch slots, no worker "
                    "watch, no malloc tuning; data_timeout is passed on as torch's timeout)")
    return False


def batch_slots_enabled() -> bool:
    """Whether loaders reuse shared-memory batch slots by default (``YOLOX_BATCH_SLOTS``)."""
    return fast_loader_enabled() and _switched_on("YOLOX_BATCH_SLOTS")


def malloc_tuning_enabled() -> bool:
    """Whether loading processes raise glibc's malloc thresholds (``YOLOX_MALLOC_TUNING``)."""
    return fast_loader_enabled() and _switched_on("YOLOX_MALLOC_TUNING")
