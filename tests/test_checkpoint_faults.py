"""Faults of checkpoint files: a save the file system refuses (disk full, read-only folder) stops
with an error naming the file and the reason, leaves no temp file and the previous checkpoint as it
was; a truncated or damaged checkpoint is refused by name instead of failing deep in torch.load."""
import errno
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from yolox.exp import get_exp
from yolox.deploy.model_loading import load_model
from yolox.utils import atomic_io
from yolox.utils.checkpoint import CheckpointWriteError, CorruptCheckpointError, read_checkpoint, save_checkpoint

from _fault_helpers import FullDisk
from _train_helpers import make_tiny_sample, read_ckpt, write_exp


def _state(seed: int) -> dict:
    """A checkpoint-like state of ~260 KB: many writes of torch's zip writer, so a failure lands mid-file."""
    generator = torch.Generator().manual_seed(seed)
    return {"model": {"conv.weight": torch.randn(256, 256, generator=generator), "conv.bias": torch.zeros(256)},
            "start_epoch": seed}


def _assert_same_state(loaded: dict, expected: dict) -> None:
    assert loaded["start_epoch"] == expected["start_epoch"]
    assert loaded["model"].keys() == expected["model"].keys()
    assert all(torch.equal(loaded["model"][k], expected["model"][k]) for k in expected["model"])


def _disk_fills_after(monkeypatch, capacity: int, error: OSError) -> list:
    """Make every file atomic_io opens for writing a ``FullDisk``; returns the handles made."""
    handles = []
    real_fdopen = os.fdopen

    def fdopen(fd, *args, **kwargs):
        handles.append(FullDisk(real_fdopen(fd, *args, **kwargs), capacity=capacity, error=error))
        return handles[-1]

    monkeypatch.setattr(atomic_io.os, "fdopen", fdopen)
    return handles


def test_disk_full_mid_save_names_the_file_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(_state(1), is_best=False, save_dir=tmp_path, model_name="latest")
    previous_bytes = path.read_bytes()
    handles = _disk_fills_after(monkeypatch, 100_000, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    with pytest.raises(CheckpointWriteError) as info:
        save_checkpoint(_state(2), is_best=False, save_dir=tmp_path, model_name="latest")
    assert handles and 0 < handles[0].written <= 100_000  # it failed part-way, not before writing
    assert str(info.value) == (
        f"could not write checkpoint {path}: No space left on device (ENOSPC); the previous latest_ckpt.pth is "
        "untouched; free space on that disk, then continue with tools/train.py --resume")
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest_ckpt.pth"]  # no temp file
    assert path.read_bytes() == previous_bytes
    _assert_same_state(read_checkpoint(path), _state(1))


def test_a_first_save_that_fails_says_there_was_no_earlier_file(tmp_path, monkeypatch):
    _disk_fills_after(monkeypatch, 100_000, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    with pytest.raises(CheckpointWriteError, match="no earlier best_ckpt.pth existed"):
        save_checkpoint(_state(2), is_best=True, save_dir=tmp_path, model_name="best")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_read_only_folder_names_the_file_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, code):
    path = save_checkpoint(_state(1), is_best=False, save_dir=tmp_path, model_name="latest")
    if os.geteuid() != 0 and code == errno.EACCES:
        os.chmod(tmp_path, 0o500)  # a real read-only folder: creating the temp file is refused
    else:
        # root writes through 0o500, and EROFS needs a read-only mount: refuse as the kernel would.
        def mkstemp(*args, dir=None, **kwargs):
            raise OSError(code, os.strerror(code), str(dir))

        monkeypatch.setattr(atomic_io.tempfile, "mkstemp", mkstemp)
    try:
        with pytest.raises(CheckpointWriteError) as info:
            save_checkpoint(_state(2), is_best=False, save_dir=tmp_path, model_name="latest")
    finally:
        os.chmod(tmp_path, 0o700)
    assert str(info.value) == (
        f"could not write checkpoint {path}: {os.strerror(code)} ({errno.errorcode[code]}); the previous "
        "latest_ckpt.pth is untouched; make the output folder writable or set another output_dir, then continue "
        "with tools/train.py --resume")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest_ckpt.pth"]
    _assert_same_state(read_checkpoint(path), _state(1))


@pytest.mark.slow
def test_a_real_refused_write_is_reported_not_torchs_runtime_error(tmp_path, repo_root):
    """The kernel refuses the write (a file-size limit gives EFBIG); torch.save's C++ writer would
    turn that into ``RuntimeError("unexpected pos ...")``: the error still says EFBIG."""
    script = textwrap.dedent(f"""
        import resource, signal, sys, torch
        from yolox.utils.checkpoint import CheckpointWriteError, save_checkpoint
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
        try:
            save_checkpoint({{"model": {{"w": torch.zeros(100_000)}}}}, False, {str(tmp_path)!r}, "latest")
        except CheckpointWriteError as err:
            sys.exit(str(err))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(repo_root)})
    assert run.returncode == 1
    assert run.stderr.strip() == (f"could not write checkpoint {tmp_path / 'latest_ckpt.pth'}: File too large "
                                  "(EFBIG); no earlier latest_ckpt.pth existed; fix the cause, then continue with "
                                  "tools/train.py --resume")
    assert list(tmp_path.iterdir()) == []


def _cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip_a_weight_byte(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF  # inside the tensor data, which torch.load reads without complaint
    return bytes(damaged)


@pytest.mark.parametrize("damage, reason", [
    (_cut_in_half, "its zip directory, written last, is missing (the file was cut short)"),
    (lambda data: b"", "it is empty (0 bytes)"),
    (lambda data: b"<html>404 Not Found</html>" * 50, "it is in neither of torch.save's formats"),
    (_flip_a_weight_byte, "fails its CRC-32 check"),
])
def test_truncated_or_damaged_checkpoint_is_refused_by_name(tmp_path, damage, reason):
    path = save_checkpoint(_state(1), is_best=False, save_dir=tmp_path, model_name="latest")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptCheckpointError) as info:
        read_checkpoint(path)
    assert str(info.value).startswith(f"checkpoint {str(path)!r} is truncated or corrupt: ")
    assert reason in str(info.value)


def test_eval_demo_and_export_refuse_a_truncated_checkpoint_by_name(tmp_path):
    path = tmp_path / "yolox_nano.pth"
    torch.save(_state(1), path)
    path.write_bytes(_cut_in_half(path.read_bytes()))
    # load_model is how tools/eval.py, demo.py and the exporters read -c
    with pytest.raises(CorruptCheckpointError, match=f"{path}.*is truncated or corrupt"):
        load_model(get_exp(exp_name="yolox-nano"), path)


def _train(repo_root, cwd, *args, devices=1):
    cmd = [sys.executable, str(repo_root / "tools" / "train.py"), "-d", str(devices), "-b", "4", "-l", "none", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(repo_root)})


def _error_lines(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.slow
@pytest.mark.parametrize("devices", [1, 2])
def test_train_resume_from_a_truncated_checkpoint_is_one_error_line(tmp_path, repo_root, devices):
    """One process, or two spawned ones (each rank reads the file and says so in one line)."""
    exp_file = write_exp(tmp_path / "tiny.py", data_dir=make_tiny_sample(tmp_path / "data"),
                         output_dir=tmp_path / "out")
    ckpt = tmp_path / "latest_ckpt.pth"
    torch.save(_state(1), ckpt)
    ckpt.write_bytes(_cut_in_half(ckpt.read_bytes()))
    run = _train(repo_root, tmp_path, "-f", str(exp_file), "--resume", "-c", str(ckpt), devices=devices)
    assert run.returncode == 1, run.stderr
    assert _error_lines(run.stderr) == [
        f"error: checkpoint {str(ckpt)!r} is truncated or corrupt: its zip directory, written last, is missing "
        "(the file was cut short); use another checkpoint (e.g. best_ckpt.pth or an epoch_N_ckpt.pth) or start "
        "again"] * devices
    assert "Traceback" not in run.stderr


# Appended to the experiment file: the disk fills up during the second save of latest_ckpt.pth
# (epoch 2). The experiment file is loaded twice in the process (tools/train.py and the run), so it
# patches only once.
FILL_DISK_AT_SECOND_SAVE = '''
import os as _os
import sys as _sys

_sys.path.insert(0, {tests_dir!r})
from _fault_helpers import FullDisk as _FullDisk  # noqa: E402

_real_fdopen = _os.fdopen
_latest_saves = []


def _fdopen(fd, *args, **kwargs):
    handle = _real_fdopen(fd, *args, **kwargs)
    if _os.path.basename(_os.readlink(f"/proc/self/fd/{{fd}}")).startswith(".latest_ckpt.pth."):
        _latest_saves.append(fd)
        if len(_latest_saves) == 2:
            return _FullDisk(handle)
    return handle


if not getattr(_os.fdopen, "fills_the_disk", False):
    _fdopen.fills_the_disk = True
    _os.fdopen = _fdopen
'''


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the fault injection names files through /proc")
def test_train_stops_on_a_full_disk_and_keeps_the_previous_epochs_checkpoint(tmp_path, repo_root):
    exp_file = write_exp(tmp_path / "tiny.py", data_dir=make_tiny_sample(tmp_path / "data"),
                         output_dir=tmp_path / "out")
    exp_file.write_text(exp_file.read_text() + FILL_DISK_AT_SECOND_SAVE.format(tests_dir=str(repo_root / "tests")))
    run = _train(repo_root, tmp_path, "-f", str(exp_file))
    latest = tmp_path / "out" / "tiny" / "latest_ckpt.pth"
    assert run.returncode == 1, run.stderr
    assert _error_lines(run.stderr) == [
        f"error: could not write checkpoint {latest}: No space left on device (ENOSPC); the previous "
        "latest_ckpt.pth is untouched; free space on that disk, then continue with tools/train.py --resume"]
    assert "Traceback" not in run.stderr
    assert not [p.name for p in latest.parent.iterdir() if p.name.endswith(".tmp")]
    assert read_ckpt(latest)["start_epoch"] == 1  # epoch 1's checkpoint, whole
    assert read_checkpoint(latest)["model"].keys() == read_ckpt(latest)["model"].keys()
