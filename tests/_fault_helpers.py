"""A file handle that fails its writes as a full disk does: used in tests and, through an
experiment file, in a training subprocess."""
import errno
import os
from typing import Optional


class FullDisk:
    """A file handle whose writes fail with ``error`` (default ENOSPC) once ``capacity`` bytes have
    gone through, as a disk that fills up part-way through a save."""

    def __init__(self, handle, *, capacity: int = 0, error: Optional[OSError] = None):
        self._handle, self._capacity = handle, capacity
        self._error = error or OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written = 0

    def write(self, data) -> int:
        if self.written + len(data) > self._capacity:
            raise self._error
        self.written += len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return self._handle.__exit__(*exc_info)
