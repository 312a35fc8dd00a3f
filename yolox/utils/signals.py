"""The signals a scheduler preempts a job with, and a block that handles them.

The trainer (``yolox.core.preemption``) records them to checkpoint and stop; the launcher
(``yolox.utils.launch``) passes them on to the ranks it spawned. Both install their handler here,
so both restore the previous handlers the same way and both behave the same off the main thread.
"""
import contextlib
import signal
import threading
from typing import Callable, Iterator

from loguru import logger

__all__ = ["PREEMPTION_SIGNALS", "handling_preemption_signals"]

# SLURM and similar schedulers send SIGTERM, or with --signal SIGUSR1 some time before the limit.
PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


@contextlib.contextmanager
def handling_preemption_signals(handler: Callable, *, unavailable: str = "") -> Iterator[bool]:
    """``handler`` for SIGTERM/SIGUSR1 inside the block, the previous handlers after it; yields
    whether it was installed. Handlers can be set from the main thread only; elsewhere (a trainer
    run in a thread) nothing is installed, ``unavailable`` is logged when given, and the signals
    keep their previous meaning."""
    if threading.current_thread() is not threading.main_thread():
        if unavailable:
            logger.warning(unavailable)
        yield False
        return
    previous = {signum: signal.signal(signum, handler) for signum in PREEMPTION_SIGNALS}
    try:
        yield True
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
