"""Start a function (a training or evaluation rank) in one process, in N spawned processes, or under
torchrun, on PyTorch's own distributed engine (nccl on GPUs, gloo on CPUs). ``launch`` has the
signature of Megvii's, so Megvii's tools/train.py and tools/eval.py call it unchanged.

Below the training layer on purpose: tools/eval.py launches its ranks with it without importing
the trainer.
"""
import contextlib
import functools
import multiprocessing
import os
import socket
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterator, Optional, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from loguru import logger

from .signals import handling_preemption_signals

__all__ = ["DEFAULT_TIMEOUT", "LaunchConfig", "launch", "launched_by_torchrun", "find_free_port",
           "forwarding_signals"]

# How long a collective may wait for the other ranks before it fails (Megvii's default).
DEFAULT_TIMEOUT = timedelta(minutes=30)


@dataclass
class LaunchConfig:
    """What ``launch`` was asked for, handed to every spawned rank.

    num_gpus_per_machine: processes per machine (GPUs, or CPU workers without CUDA);
    dist_url: ``tcp://host:port`` of machine 0, or ``auto`` / None (a free local port, one machine)."""

    num_gpus_per_machine: int = 1
    num_machines: int = 1
    machine_rank: int = 0
    backend: str = "nccl"
    dist_url: Optional[str] = "auto"
    timeout: timedelta = DEFAULT_TIMEOUT

    @property
    def world_size(self) -> int:
        return self.num_gpus_per_machine * self.num_machines


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ and "LOCAL_RANK" in os.environ


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _backend(requested: str) -> str:
    if requested == "nccl" and not torch.cuda.is_available():
        logger.info("no CUDA here: using the gloo backend instead of nccl")
        return "gloo"
    return requested


def launch(
    main_func: Callable,
    num_gpus_per_machine,
    num_machines: int = 1,
    machine_rank: int = 0,
    backend: str = "nccl",
    dist_url: Optional[str] = None,
    args: Sequence = (),
    timeout: timedelta = DEFAULT_TIMEOUT,
) -> None:
    """Run ``main_func(*args)`` once per rank: Megvii's signature and meaning.

    The world is ``num_gpus_per_machine * num_machines`` processes; this machine starts
    ``num_gpus_per_machine`` of them, ranks ``machine_rank * num_gpus_per_machine + i``. One
    process in all runs ``main_func`` here, without a process group. ``dist_url`` is machine 0's
    ``tcp://host:port``; ``"auto"`` or None picks a free local port (one machine only).
    ``backend`` is torch.distributed's ("nccl", "gloo"); "nccl" without CUDA falls back to gloo
    with a log line. ``timeout`` bounds each collective's wait. Under torchrun the group comes from
    its environment and the sizes given here are not used.

    ``num_gpus_per_machine`` may also be a whole ``LaunchConfig`` (this package's earlier form,
    ``launch(fn, LaunchConfig(...), args=...)``); the keyword sizes are then not used.
    """
    if isinstance(num_gpus_per_machine, LaunchConfig):
        config = num_gpus_per_machine
    else:
        config = LaunchConfig(num_gpus_per_machine=int(num_gpus_per_machine), num_machines=num_machines,
                              machine_rank=machine_rank, backend=backend, dist_url=dist_url, timeout=timeout)
    if launched_by_torchrun():
        _init_group(_backend(config.backend), "env://", int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"]),
                    timeout=config.timeout)
        _run_and_close(main_func, args)
        return
    if config.world_size <= 1:  # Megvii's tools pass 0 GPUs on a machine without any: one process too
        main_func(*args)
        return
    _spawn_ranks(main_func, config, tuple(args))


def _spawn_ranks(main_func: Callable, config: LaunchConfig, args: tuple) -> None:
    """Start this machine's ``num_gpus_per_machine`` ranks and wait for them; a rank's exit code
    (e.g. preemption's) becomes the launcher's."""
    dist_url = config.dist_url or "auto"
    if dist_url == "auto":
        if config.num_machines > 1:
            raise ValueError("dist_url 'auto' (--dist-url auto) picks a port on this machine, so it works with one "
                             "machine only; give tcp://<machine 0 address>:<port>")
        dist_url = f"tcp://127.0.0.1:{find_free_port()}"
    logger.info("spawning {} processes (world size {}) at {}", config.num_gpus_per_machine, config.world_size,
                dist_url)
    # start_processes passes only the process index; the rest travels bound by keyword.
    worker = functools.partial(_worker, main_func=main_func, config=config, dist_url=dist_url, args=args,
                               start_method=multiprocessing.get_start_method())
    context = mp.start_processes(worker, nprocs=config.num_gpus_per_machine, start_method="spawn", daemon=False,
                                 join=False)
    with forwarding_signals(context.processes):
        try:
            while not context.join():
                pass
        except mp.ProcessExitedException as err:
            if err.exit_code is None or err.exit_code <= 0:
                raise  # killed by a signal: the exception names it
            # A rank that ended with sys.exit(code) (e.g. preempted) ends the launcher the same way.
            logger.info("rank {} exited with code {}", err.error_index, err.exit_code)
            raise SystemExit(err.exit_code) from None


def _worker(local_rank: int, *, main_func: Callable, config: LaunchConfig, dist_url: str, args: tuple,
            start_method: Optional[str] = None) -> None:
    if start_method:
        # A spawned process inherits "spawn" as its default start method, so its data loader workers
        # would each start a fresh interpreter and import torch again (seconds per worker, every epoch
        # and evaluation). The launcher's default (fork on Linux) is what torchrun's ranks use.
        multiprocessing.set_start_method(start_method, force=True)
    os.environ["LOCAL_RANK"] = str(local_rank)
    os.environ["LOCAL_WORLD_SIZE"] = str(config.num_gpus_per_machine)  # as torchrun sets it (RAM cache check)
    if not torch.cuda.is_available() and "OMP_NUM_THREADS" not in os.environ:
        # Processes share the cores: one thread pool each would oversubscribe them (a user's
        # OMP_NUM_THREADS wins).
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // config.num_gpus_per_machine))
    _init_group(_backend(config.backend), dist_url, config.world_size,
                config.machine_rank * config.num_gpus_per_machine + local_rank, timeout=config.timeout)
    _run_and_close(main_func, args)
    _exit_without_finalizing()


def _exit_without_finalizing() -> None:
    """End a spawned rank whose work is done with exit code 0, skipping the interpreter's finalization.

    A Gloo worker thread can still hold the last C++ reference to the tensors of a finished
    collective (an object broadcast) when the rank returns; released during finalization, their
    Python objects need the GIL, the thread is killed while taking it, and the rank aborts with
    "terminate called without an active exception" after having done everything (seen about one
    run in eight of a 2-rank evaluation on a loaded 2-core CPU; core dump: ~AsyncBroadcastWork ->
    decref_pyobject -> take_gil during Py_FinalizeEx). The work is complete and its files written,
    so the rank ends here, as multiprocessing ends forked children, after flushing what it printed
    and stopping its own child processes (loader workers)."""
    logger.complete()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    for child in multiprocessing.active_children():
        if child.daemon:
            child.terminate()
            child.join(timeout=5)
    os._exit(0)


def _init_group(backend: str, init_method: str, world_size: int, rank: int, *, timeout: timedelta) -> None:
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend=backend, init_method=init_method, world_size=world_size, rank=rank,
                            timeout=timeout)


def _run_and_close(main_func: Callable, args: Sequence) -> None:
    try:
        main_func(*args)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


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

    with handling_preemption_signals(forward):
        yield
