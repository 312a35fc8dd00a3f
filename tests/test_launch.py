"""``launch`` with Megvii's signature, called the way Megvii's tools/train.py calls it:
``launch(main, num_gpu, args.num_machines, args.machine_rank, backend=args.dist_backend,
dist_url=dist_url, args=(exp, args))``; and the distributed helpers of ``yolox.utils`` in the
processes it starts."""
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import torch


def _record_rank(out_dir: str, tag: str) -> None:
    """A rank's main: write what it sees of the process group to ``<out_dir>/<tag>-<rank>.json``."""
    import torch.distributed as dist

    grouped = dist.is_initialized()
    seen = {"rank": dist.get_rank() if grouped else 0, "world_size": dist.get_world_size() if grouped else 1,
            "backend": dist.get_backend() if grouped else None, "local_rank": os.environ.get("LOCAL_RANK")}
    Path(out_dir, f"{tag}-{seen['rank']}.json").write_text(json.dumps(seen))


def _records(out_dir: Path, tag: str) -> list:
    return [json.loads(p.read_text()) for p in sorted(out_dir.glob(f"{tag}-*.json"))]


def test_one_process_runs_main_here_without_a_process_group(tmp_path):
    from yolox.core import launch

    num_gpu, num_machines, machine_rank = 1, 1, 0
    launch(_record_rank, num_gpu, num_machines, machine_rank, backend="nccl", dist_url="auto",
           args=(str(tmp_path), "one"))
    assert _records(tmp_path, "one") == [{"rank": 0, "world_size": 1, "backend": None, "local_rank": None}]


def test_zero_gpus_as_megvii_tools_count_them_on_a_cpu_runs_main_here(tmp_path):
    """Megvii's train.py passes get_num_devices(), 0 without a GPU (with -d 0): one process, as in Megvii's."""
    from yolox.core import launch

    launch(_record_rank, 0, 1, 0, backend="nccl", dist_url="auto", args=(str(tmp_path), "zero"))
    assert _records(tmp_path, "zero") == [{"rank": 0, "world_size": 1, "backend": None, "local_rank": None}]


def _rank_using_the_dist_helpers(out_dir: str) -> None:
    """Each rank checks yolox.utils' collectives against the values the other rank contributes,
    then records itself."""
    from yolox.utils import all_gather, all_reduce, gather, get_local_size, synchronize, wait_for_the_master

    import torch.distributed as dist

    rank = dist.get_rank()
    assert all_gather({"rank": rank}) == [{"rank": 0}, {"rank": 1}]
    assert gather(rank * 10, dst=1) == ([] if rank == 0 else [0, 10])
    mean = all_reduce({"x": torch.tensor([float(rank), 2.0 * rank])}, op="mean")
    assert mean["x"].tolist() == [0.5, 1.0]
    assert get_local_size() == 2
    marker = Path(out_dir, "master-was-here")
    with wait_for_the_master():
        # Rank 1 enters only after rank 0 has left its block.
        if rank == 0:
            marker.write_text("0")
        else:
            assert marker.read_text() == "0"
    synchronize()
    _record_rank(out_dir, "two")
    # The launcher's way of starting processes, not the "spawn" that started this rank: its data
    # loader workers fork (on Linux) instead of importing torch afresh each.
    import multiprocessing

    Path(out_dir, f"start-method-{rank}").write_text(multiprocessing.get_start_method())


@pytest.mark.slow  # spawns two processes
def test_two_processes_on_the_cpu_run_main_on_every_rank_of_one_group(tmp_path):
    from yolox.core import launch

    num_gpu, num_machines, machine_rank = 2, 1, 0
    launch(_rank_using_the_dist_helpers, num_gpu, num_machines, machine_rank, backend="gloo", dist_url="auto",
           args=(str(tmp_path),))
    assert _records(tmp_path, "two") == [
        {"rank": 0, "world_size": 2, "backend": "gloo", "local_rank": "0"},
        {"rank": 1, "world_size": 2, "backend": "gloo", "local_rank": "1"},
    ]
    import multiprocessing

    for rank in (0, 1):
        assert (tmp_path / f"start-method-{rank}").read_text() == multiprocessing.get_start_method()


def test_under_torchrun_the_group_comes_from_the_environment_with_the_timeout_given(monkeypatch, capture_log):
    """torchrun's variables win over the sizes passed; nccl without CUDA becomes gloo, said in the log."""
    import yolox.utils.launch as launcher

    calls = []
    monkeypatch.setattr(launcher.dist, "init_process_group", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(launcher.torch.cuda, "is_available", lambda: False)
    for name, value in {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    ran = []
    messages = capture_log()
    launcher.launch(ran.append, 8, backend="nccl", args=("main ran",), timeout=timedelta(minutes=2))
    assert ran == ["main ran"]
    assert calls == [{"backend": "gloo", "init_method": "env://", "world_size": 4, "rank": 3,
                      "timeout": timedelta(minutes=2)}]
    assert any("gloo" in m and "nccl" in m for m in messages)


def test_auto_dist_url_is_refused_for_several_machines():
    from yolox.core import launch

    with pytest.raises(ValueError, match="one machine only"):
        launch(print, 1, num_machines=2, machine_rank=0, backend="gloo", dist_url="auto")


RANKS_THAT_END_UNTIDY = """
import multiprocessing
import sys
import time

import torch.distributed as dist

from yolox.utils.launch import LaunchConfig, launch


def linger():
    time.sleep(600)


def main(out_dir):
    rank = dist.get_rank()
    box = [{"ap": 0.5} if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)  # the collective whose tensors outlived a rank (the abort at exit)
    child = multiprocessing.Process(target=linger, daemon=True)  # as a loader worker left running
    child.start()
    open(f"{out_dir}/child-{rank}", "w").write(str(child.pid))
    print(f"rank {rank} got {box[0]}", end="")  # buffered: lost unless the rank flushes before it ends


if __name__ == "__main__":
    launch(main, LaunchConfig(num_gpus_per_machine=2), args=(sys.argv[1],))
"""


@pytest.mark.slow  # spawns two processes
def test_spawned_ranks_end_with_their_output_flushed_and_their_children_stopped(tmp_path):
    """A finished rank ends without the interpreter's finalization (where a Gloo thread releasing a
    broadcast's tensors aborted it now and then): exit code 0, what it printed kept, its daemonic
    children stopped."""
    import subprocess
    import sys

    script = tmp_path / "ranks.py"
    script.write_text(RANKS_THAT_END_UNTIDY)
    run = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    for rank in (0, 1):
        assert f"rank {rank} got {{'ap': 0.5}}" in run.stdout
        pid = int((tmp_path / f"child-{rank}").read_text())
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), pid
