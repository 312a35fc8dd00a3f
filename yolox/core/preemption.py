"""Stopping cleanly when a scheduler preempts the job.

SLURM and similar schedulers send SIGTERM (or, with ``--signal``, SIGUSR1 some time before the
limit) and kill the job a little later. The trainer turns either signal into a request; at the
end of the iteration where every rank has seen it, it writes a resumable checkpoint at that
iteration and the process exits with ``PREEMPTED_EXIT_CODE``, which a job script can test to
requeue (``--resume`` then continues from the next batch).
"""
import contextlib
import os
import signal
import threading
from typing import Callable, Iterator, Optional, Sequence

from loguru import logger

__all__ = ["PREEMPTED_EXIT_CODE", "PREEMPTION_SIGNALS", "PreemptionRequest", "forwarding_signals"]

# EX_TEMPFAIL of sysexits.h: "a temporary failure; the user is invited to retry".
PREEMPTED_EXIT_CODE = 75
PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


@contextlib.contextmanager
def _handling_preemption_signals(handler: Callable, *, unavailable: str = "") -> Iterator[bool]:
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


class PreemptionRequest:
    """Records SIGTERM/SIGUSR1 while installed (``with PreemptionRequest() as request:``);
    ``signalled`` is this process's view, ``signal_name`` the first signal seen."""

    def __init__(self):
        self.signal_name: Optional[str] = None
        self._installed: Optional[contextlib.AbstractContextManager] = None

    @property
    def signalled(self) -> bool:
        return self.signal_name is not None

    @property
    def source(self) -> str:
        """What to call the request in a log line: this process's signal, or another rank's."""
        return self.signal_name or "a signal on another rank"

    def __enter__(self) -> "PreemptionRequest":
        self._installed = _handling_preemption_signals(
            self._record, unavailable="training outside the main thread: SIGTERM/SIGUSR1 will not checkpoint "
                                      "before exiting")
        self._installed.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        installed, self._installed = self._installed, None
        if installed is not None:
            installed.__exit__(*exc)

    def _record(self, signum, _frame) -> None:
        # Only a flag: the handler runs between two bytecodes of whatever the trainer was doing.
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name


@contextlib.contextmanager
def forwarding_signals(processes: Sequence) -> Iterator[None]:
    """Pass SIGTERM/SIGUSR1 that reach this (launcher) process on to ``processes`` (multiprocessing
    Process objects, the spawned ranks): a user or scheduler that signals only the launcher's pid
    still gets every rank to checkpoint and stop."""

    def forward(signum, _frame) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signum)

    with _handling_preemption_signals(forward):
        yield
