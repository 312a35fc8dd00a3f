"""Faults injected into real training runs (tools/train.py in a subprocess, 2 data workers,
CPU, --deterministic): a SIGKILL after an epoch and a SIGTERM inside an epoch lose nothing once
the run is resumed: its final state is bit-identical to the uninterrupted run's."""
import os
import signal
import subprocess
import sys

import pytest
import torch

from yolox.core.preemption import PREEMPTED_EXIT_CODE

from _train_helpers import REPO_ROOT, make_tiny_sample, read_ckpt, write_exp

pytestmark = pytest.mark.slow  # several tiny trainings in subprocesses

TRAIN = str(REPO_ROOT / "tools" / "train.py")
ITERS_PER_EPOCH = 4  # 16 images, batch 4

# 3 epochs of 4 iterations; the input size changes at iteration 10 (multiscale), the last epoch
# drops mosaic; 2 data workers, as the bundled experiments have.
RUN = """
self.max_epoch = 3
self.data_num_workers = 2
self.multiscale_range = 2
"""

# Fault hooks, armed by an environment variable so that the resumed run (same file, same output
# folder) runs clean. preprocess runs once per iteration in the training process; eval once per epoch.
FAULTS = """

    def preprocess(self, inputs, targets, tsize):
        import os
        import signal

        self._iterations = getattr(self, "_iterations", 0) + 1
        if os.environ.get("FAULT") == "sigterm" and self._iterations == int(os.environ["FAULT_AT"]):
            from yolox.utils.dist import get_rank

            if get_rank() == 0:  # the launcher's pid when spawned (-d 2), else this process
                target = os.getppid() if os.environ.get("FAULT_TARGET") == "launcher" else os.getpid()
                os.kill(target, signal.SIGTERM)
        return super().preprocess(inputs, targets, tsize)

    def eval(self, model, evaluator, is_distributed, half=False, return_outputs=False):
        import os
        import signal

        self._evals = getattr(self, "_evals", 0) + 1
        if os.environ.get("FAULT") == "sigkill" and self._evals == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # epoch 2 trained, its checkpoint not yet written
        return super().eval(model, evaluator, is_distributed, half=half, return_outputs=return_outputs)
"""


def train(exp_file, *argv, fault=None, fault_at=0, fault_target="self", cwd):
    env = dict(os.environ, FAULT=fault or "", FAULT_AT=str(fault_at), FAULT_TARGET=fault_target)
    return subprocess.run([sys.executable, TRAIN, "-f", str(exp_file), "-b", "4", "--deterministic", *argv],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def assert_bit_identical(resumed: dict, straight: dict) -> None:
    assert resumed["iteration"] == straight["iteration"] == 3 * ITERS_PER_EPOCH
    assert resumed["ema_updates"] == straight["ema_updates"]
    for key in ("model", "train_model"):  # EMA weights and raw weights, BatchNorm statistics included
        assert resumed[key].keys() == straight[key].keys()
        differing = [k for k in straight[key] if not torch.equal(resumed[key][k], straight[key][k])]
        assert not differing, (key, differing[:5])
    momentum = [(s["momentum_buffer"], t["momentum_buffer"])
                for s, t in zip(resumed["optimizer"]["state"].values(), straight["optimizer"]["state"].values())]
    assert momentum and all(torch.equal(a, b) for a, b in momentum)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The sample data and the uninterrupted run's final checkpoint."""
    root = tmp_path_factory.mktemp("preemption")
    sample = make_tiny_sample(root / "sample")
    exp_file = write_exp(root / "straight.py", data_dir=sample, output_dir=root / "out", extra=RUN)
    result = train(exp_file, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, sample, read_ckpt(root / "out" / "straight" / "latest_ckpt.pth")


def faulty_exp(root, sample, name):
    exp_file = write_exp(root / f"{name}.py", data_dir=sample, output_dir=root / "out", extra=RUN)
    exp_file.write_text(exp_file.read_text() + FAULTS)
    return exp_file


def test_sigkill_after_an_epoch_then_resume_is_bit_identical(runs):
    root, sample, straight = runs
    exp_file = faulty_exp(root, sample, "killed")
    killed = train(exp_file, fault="sigkill", cwd=root)
    assert killed.returncode == -signal.SIGKILL
    left = read_ckpt(root / "out" / "killed" / "latest_ckpt.pth")
    assert left["start_epoch"] == 1 and left["iteration"] == ITERS_PER_EPOCH  # epoch 2 is what was lost

    resumed = train(exp_file, "--resume", cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_bit_identical(read_ckpt(root / "out" / "killed" / "latest_ckpt.pth"), straight)


def test_sigterm_mid_epoch_checkpoints_that_iteration_and_resume_is_bit_identical(runs):
    """SIGTERM during iteration 11 (epoch 3, iteration 3 of 4, after the multiscale change at 10):
    the run finishes that iteration, saves it, exits with the documented code; --resume continues
    with the 12th batch and ends where the uninterrupted run ended."""
    root, sample, straight = runs
    exp_file = faulty_exp(root, sample, "preempted")
    stopped = train(exp_file, fault="sigterm", fault_at=11, cwd=root)
    assert stopped.returncode == PREEMPTED_EXIT_CODE, stopped.stderr[-3000:]
    assert "preempted (SIGTERM) at epoch 3, iteration 3/4" in stopped.stderr
    left = read_ckpt(root / "out" / "preempted" / "latest_ckpt.pth")
    assert (left["start_epoch"], left["epoch_iteration"], left["iteration"]) == (2, 3, 11)

    resumed = train(exp_file, "--resume", cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "at epoch 3, iteration 4" in resumed.stderr
    assert resumed.stderr.count("iter: 4/4") == 1 and "iter: 2/4" not in resumed.stderr  # one iteration run
    assert_bit_identical(read_ckpt(root / "out" / "preempted" / "latest_ckpt.pth"), straight)


def test_sigterm_to_the_launcher_of_two_processes_stops_both_ranks_at_one_iteration(runs):
    """-d 2: the signal reaches only the launcher's pid; it is forwarded to both ranks, they agree
    on the iteration, rank 0 saves it, and the launcher exits with the preemption code."""
    root, sample, _ = runs
    exp_file = faulty_exp(root, sample, "ddp_preempted")
    stopped = train(exp_file, "-d", "2", fault="sigterm", fault_at=6, fault_target="launcher", cwd=root)
    assert stopped.returncode == PREEMPTED_EXIT_CODE, stopped.stderr[-3000:]
    left = read_ckpt(root / "out" / "ddp_preempted" / "latest_ckpt.pth")
    # The signal is sent during iteration 6 (epoch 2, iteration 2); forwarded, it may reach the
    # ranks an iteration or two later, but both stop at the same one, mid-run.
    assert 6 <= left["iteration"] <= 8 and left["start_epoch"] == 1
    assert left["iteration"] == left["start_epoch"] * ITERS_PER_EPOCH + left["epoch_iteration"]
    assert stopped.stderr.count("received: stopping after this iteration") == 1  # rank 0's log
    resumed = train(exp_file, "-d", "2", "--resume", cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert read_ckpt(root / "out" / "ddp_preempted" / "latest_ckpt.pth")["iteration"] == 3 * ITERS_PER_EPOCH


def test_a_run_without_seed_draws_a_data_seed_and_resume_keeps_it(runs):
    """Without exp.seed the per-sample seeds still need a run seed: drawn at the start, saved in
    every checkpoint, and taken back by --resume (so its batches are the interrupted run's)."""
    root, sample, _ = runs
    exp_file = faulty_exp(root, sample, "unseeded")
    exp_file.write_text(exp_file.read_text().replace("self.seed = 0", "self.seed = None"))
    killed = train(exp_file, fault="sigkill", cwd=root)
    assert killed.returncode == -signal.SIGKILL
    first = read_ckpt(root / "out" / "unseeded" / "latest_ckpt.pth")
    assert isinstance(first["data_seed"], int) and first["start_epoch"] == 1
    resumed = train(exp_file, "--resume", cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert read_ckpt(root / "out" / "unseeded" / "latest_ckpt.pth")["data_seed"] == first["data_seed"]
    other = train(exp_file, "-expn", "unseeded_again", "max_epoch", "1", cwd=root)
    assert other.returncode == 0, other.stderr[-3000:]
    assert read_ckpt(root / "out" / "unseeded_again" / "latest_ckpt.pth")["data_seed"] != first["data_seed"]
