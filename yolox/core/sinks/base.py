"""A sink receives the trainer's reports; ``Sinks`` hands each report to every sink in turn.

The trainer calls, on rank 0 only and in this order::

    on_start                once, after everything is built
    on_iteration            every print_interval iterations
    on_evaluation           when an epoch is evaluated
    on_epoch                after every epoch (its evaluation, if any, already reported)
    on_checkpoint           after the epoch's checkpoints are written
    on_end                  once, also after a failure or a preemption; then the sink is done

A sink overrides the hooks it needs; the others do nothing. A sink that fails is logged with its
traceback and the run goes on: a logger or a drawing must never cost the training.
"""
from typing import Iterable, List

from loguru import logger

from .events import CheckpointLog, EpochLog, EvaluationLog, IterationLog, RunEnd, RunStart

__all__ = ["Sink", "Sinks"]


class Sink:
    # True when on_evaluation needs the evaluation's detections (drawn images, PR curves): the
    # trainer only then asks the experiment's eval for them, so an evaluator of an experiment's own
    # making keeps working with the sinks that do not.
    wants_detections = False

    def on_start(self, run: RunStart) -> None:
        pass

    def on_iteration(self, log: IterationLog) -> None:
        pass

    def on_evaluation(self, log: EvaluationLog) -> None:
        pass

    def on_epoch(self, log: EpochLog) -> None:
        pass

    def on_checkpoint(self, log: CheckpointLog) -> None:
        pass

    def on_end(self, end: RunEnd) -> None:
        pass


class Sinks(Sink):
    """Several sinks as one: each hook calls every sink's, in the order given."""

    def __init__(self, sinks: Iterable[Sink] = ()):
        self.sinks: List[Sink] = list(sinks)

    @property
    def wants_detections(self) -> bool:
        return any(sink.wants_detections for sink in self.sinks)

    def __iter__(self):
        return iter(self.sinks)

    def __len__(self) -> int:
        return len(self.sinks)

    def _each(self, hook: str, payload) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, hook)(payload)
            except Exception:  # noqa: BLE001 - any failure of a sink is logged, the run goes on
                logger.opt(exception=True).error("{}.{} failed; training goes on (this sink may miss this report)",
                                                 type(sink).__name__, hook)

    def on_start(self, run: RunStart) -> None:
        self._each("on_start", run)

    def on_iteration(self, log: IterationLog) -> None:
        self._each("on_iteration", log)

    def on_evaluation(self, log: EvaluationLog) -> None:
        self._each("on_evaluation", log)

    def on_epoch(self, log: EpochLog) -> None:
        self._each("on_epoch", log)

    def on_checkpoint(self, log: CheckpointLog) -> None:
        self._each("on_checkpoint", log)

    def on_end(self, end: RunEnd) -> None:
        self._each("on_end", end)
