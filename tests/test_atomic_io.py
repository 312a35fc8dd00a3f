"""atomic_write: the file appears whole or not at all, with ordinary permissions."""
import os
import stat

import pytest

from yolox.utils.atomic_io import atomic_write, atomic_write_bytes


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_own(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"")
    target = tmp_path / "ckpt.pth"
    atomic_write_bytes(b"one", target)
    # What open() gives under this umask, not mkstemp's private 0600.
    assert target.read_bytes() == b"one" and _mode(target) == _mode(plain) == 0o666 & ~umask
    os.chmod(target, 0o640)
    atomic_write_bytes(b"two", target)
    assert target.read_bytes() == b"two" and _mode(target) == 0o640


def test_a_failed_write_leaves_the_previous_file_and_no_temp_file(tmp_path):
    target = tmp_path / "results.json"
    atomic_write_bytes(b"old", target)
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_check_sees_the_whole_temp_file_and_can_refuse_it(tmp_path):
    target = tmp_path / "weights.pth"
    atomic_write_bytes(b"old", target)
    seen = []

    def refuse(tmp):
        seen.append((tmp.parent, tmp.read_bytes()))
        raise ValueError("not a checkpoint")

    with pytest.raises(ValueError):
        with atomic_write(target, check=refuse) as handle:
            handle.write(b"new")
    assert seen == [(tmp_path, b"new")]  # closed and flushed, beside the target
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["weights.pth"]
    with atomic_write(target, check=lambda tmp: None) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"
