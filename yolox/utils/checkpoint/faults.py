"""Faults of a checkpoint *file*, as opposed to its contents: a write the file system refuses (disk
full, read-only folder) and a file cut short or damaged. Both become one error that names the file,
says what happened and what to do, so tools/train.py can print it as one line and stop.
"""
import errno
import zipfile
from pathlib import Path

__all__ = ["CheckpointFileError", "CheckpointWriteError", "CorruptCheckpointError", "write_error",
           "corrupt_error", "check_intact"]

_ZIP_MAGIC = b"PK"  # torch.save's format since torch 1.6: a zip archive, stored entries with CRC-32s
_PICKLE_MAGIC = b"\x80"  # its legacy format: a pickle stream (protocol >= 2) with tensor data after it

# What the user can do about a refused write, by errno; the rest get the generic hint.
_WRITE_HINTS = {
    errno.ENOSPC: "free space on that disk",
    errno.EROFS: "make the output folder writable or set another output_dir",
    errno.EACCES: "make the output folder writable or set another output_dir",
    errno.EPERM: "make the output folder writable or set another output_dir",
}


class CheckpointFileError(OSError):
    """A checkpoint file could not be written or read back whole; the message names the file."""


class CheckpointWriteError(CheckpointFileError):
    """The file system refused a checkpoint write; the previous file of that name is untouched."""


class CorruptCheckpointError(CheckpointFileError):
    """A checkpoint file is truncated or damaged, so none of it is trusted."""


def write_error(path: Path, err: OSError, *, existed: bool) -> CheckpointWriteError:
    """The error to raise when writing ``path`` failed with ``err``; ``existed``: whether a previous
    file of that name was there (atomic writes leave it as it was)."""
    code = errno.errorcode.get(err.errno, "") if err.errno is not None else ""
    reason = f"{err.strerror or err} ({code})" if code else str(err)
    previous = f"the previous {path.name} is untouched" if existed else f"no earlier {path.name} existed"
    hint = _WRITE_HINTS.get(err.errno, "fix the cause")
    return CheckpointWriteError(f"could not write checkpoint {path}: {reason}; {previous}; {hint}, then continue "
                                f"with tools/train.py --resume")


def check_intact(path: Path) -> None:
    """Raise ``CorruptCheckpointError`` unless ``path`` is a whole file in one of torch.save's formats.

    The zip format is checked entry by entry against its CRC-32s (one read of the file: cheap next to
    loading it), which also finds damage that ``torch.load`` reads without complaint. A legacy-format
    file has no checksums; truncating it is caught when it loads (``EOFError``).
    """
    with open(path, "rb") as handle:
        head = handle.read(len(_ZIP_MAGIC))
    if not head:
        raise corrupt_error(path, "it is empty (0 bytes)")
    if head.startswith(_PICKLE_MAGIC):
        return
    if not head.startswith(_ZIP_MAGIC):
        raise corrupt_error(path, "it is in neither of torch.save's formats (zip or legacy pickle)")
    # A zip's directory is its last record, so a file cut short has none.
    if not zipfile.is_zipfile(path):
        raise corrupt_error(path, "its zip directory, written last, is missing (the file was cut short)")
    try:
        with zipfile.ZipFile(path) as archive:
            bad_entry = archive.testzip()
    except zipfile.BadZipFile as err:
        raise corrupt_error(path, f"its zip structure is damaged ({err})") from err
    if bad_entry is not None:
        raise corrupt_error(path, f"entry {bad_entry!r} fails its CRC-32 check")


def corrupt_error(path: Path, reason: str) -> CorruptCheckpointError:
    """The error for ``path``, which is truncated or damaged as ``reason`` says."""
    return CorruptCheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt: {reason}; use another "
                                  "checkpoint (e.g. best_ckpt.pth or an epoch_N_ckpt.pth) or start again")
