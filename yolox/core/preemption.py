"""Stopping cleanly when a scheduler preempts the job.

SLURM and similar schedulers send SIGTERM (or, with ``--signal``, SIGUSR1 some time before the
limit) and kill the job a little later. The trainer turns either signal into a request; at the
end of the iteration where every rank has seen it, it writes a resumable checkpoint at that
iteration and the process exits with ``PREEMPTED_EXIT_CODE``, which a job script can test to
requeue (``--resume`` then continues from the next batch). The launcher passes the signals on
to the ranks it spawned (``yolox.utils.launch.forwarding_signals``).
"""
import contextlib
import signal
from typing import Optional

from yolox.utils.signals import PREEMPTION_SIGNALS, handling_preemption_signals

__all__ = ["PREEMPTED_EXIT_CODE", "PREEMPTION_SIGNALS", "PreemptionRequest"]

# EX_TEMPFAIL of sysexits.h: "a temporary failure; the user is invited to retry".
PREEMPTED_EXIT_CODE = 75


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
        self._installed = handling_preemption_signals(
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

