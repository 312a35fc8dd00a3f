"""Atomic file writes: every file the project writes (checkpoints, caches, exports, results)
goes through here, so a crash mid-write leaves the previous file intact.

Imports torch only inside ``atomic_save``: the torch-free Detector writes results through here."""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

PathLike = Union[str, os.PathLike]

__all__ = ["atomic_write", "atomic_save", "atomic_write_bytes"]


def _new_file_mode() -> int:
    umask = os.umask(0)  # the only portable way to read it: restored at once, at import
    os.umask(umask)
    return 0o666 & ~umask


_NEW_FILE_MODE = _new_file_mode()


@contextmanager
def atomic_write(path: PathLike, mode: str = "wb", *,
                 check: Optional[Callable[[Path], None]] = None) -> Iterator:
    """Open a temp file beside ``path``; on clean exit fsync it and rename it over ``path``.

    check: called with the temp file's path once it is whole and closed, before the rename; an
    exception from it leaves ``path`` as it was (e.g. a downloaded file that does not load).
    On an exception the temp file is removed and ``path`` is untouched. The temp file's name is
    unique (``mkstemp``), so processes writing the same ``path`` at once never share one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temp file lives in the same folder so the final rename never crosses file systems.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it what a plain open() would, or keep the
        # permissions of the file it replaces.
        os.fchmod(fd, path.stat().st_mode & 0o7777 if path.exists() else _NEW_FILE_MODE)
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if check is not None:
            check(Path(tmp_name))
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise


class _WriteErrorRecorder:
    """A file handle's ``write`` that remembers the first OSError it raised.

    torch.save's zip writer calls ``write`` from C++, which swallows the OSError (ENOSPC, EIO, ...)
    and raises ``RuntimeError("unexpected pos ...")`` instead; the recorded error says what happened.
    """

    def __init__(self, handle):
        self._handle = handle
        self.error: Optional[OSError] = None

    def write(self, data) -> int:
        try:
            return self._handle.write(data)
        except OSError as err:
            self.error = self.error or err
            raise

    def flush(self) -> None:
        self._handle.flush()


def atomic_save(obj, path: PathLike, save_fn: Optional[Callable] = None) -> None:
    """``torch.save`` (or ``save_fn(obj, handle)``) to ``path`` atomically.

    A failed write raises the OSError of the file system (ENOSPC, EROFS, ...), never torch's
    RuntimeError that hides it; ``path`` is then untouched and no temp file is left.
    """
    if save_fn is None:
        import torch

        save_fn = torch.save
    with atomic_write(path, "wb") as handle:
        recorder = _WriteErrorRecorder(handle)
        try:
            save_fn(obj, recorder)
        except RuntimeError as err:
            if recorder.error is None:
                raise
            raise recorder.error from err


def atomic_write_bytes(data: bytes, path: PathLike) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(data)
