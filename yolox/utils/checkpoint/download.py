"""Official weights by name: Megvii's released checkpoints, downloaded once into a cache folder.

``resolve_checkpoint("yolox-s")`` (also ``"yolox_s"``, or ``"yolox_s.pth"`` where no such file
exists) is the cached copy of Megvii's ``yolox_s.pth``, downloaded first when the cache lacks it;
an existing file is returned as it is. A download streams into a temp file beside its place in
the cache, is checked (HTTP status, every byte of ``Content-Length``, the file loads as a
checkpoint) and only then renamed into place, so the cache never holds half a file and two
processes downloading at once each write their own temp file. Without a network the error gives
the URL to fetch by hand and where to put the file.

Environment: ``YOLOX_WEIGHTS_URL`` replaces the release URL (a mirror, a test server);
``YOLOX_HOME`` puts the cache in ``$YOLOX_HOME/weights`` (default ``~/.cache/yolox/weights``,
``$XDG_CACHE_HOME/yolox/weights`` where that is set). Standard library only (urllib).
"""
import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Dict, Optional, Union

from loguru import logger

from ..atomic_io import atomic_write
from .faults import CheckpointFileError, CorruptCheckpointError
from .files import UnsafeCheckpointError, read_checkpoint

__all__ = ["OFFICIAL_WEIGHTS_URL", "OFFICIAL_WEIGHTS", "OFFICIAL_SHA256", "WEIGHTS_URL_ENV", "HOME_ENV",
           "WeightsDownloadError", "official_weights_file", "official_model_name", "official_weights_url",
           "weights_cache_dir", "resolve_checkpoint", "download_checkpoint"]

OFFICIAL_WEIGHTS_URL = "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0"
# Model name (as -n takes it) -> the file of Megvii's release (80 COCO classes).
OFFICIAL_WEIGHTS = {
    "yolox-nano": "yolox_nano.pth",
    "yolox-tiny": "yolox_tiny.pth",
    "yolox-s": "yolox_s.pth",
    "yolox-m": "yolox_m.pth",
    "yolox-l": "yolox_l.pth",
    "yolox-x": "yolox_x.pth",
    "yolov3": "yolox_darknet.pth",
}
# File -> sha256 hex digest, checked where known. Megvii publishes no checksums for its release, so
# this is empty: a download is trusted when it arrives whole (Content-Length) and loads as a
# checkpoint. A mirror that publishes digests can fill it in.
OFFICIAL_SHA256: Dict[str, str] = {}

WEIGHTS_URL_ENV = "YOLOX_WEIGHTS_URL"
HOME_ENV = "YOLOX_HOME"
DOWNLOAD_TIMEOUT_S = 30.0  # per connect and per read, not for the whole file
_CHUNK_BYTES = 1 << 20
_MB = 1e6

# Every spelling of a name that means a release file, lower case: "yolox-s", "yolox_s",
# "yolox_s.pth", "yolov3", "yolox_darknet", "yolox_darknet.pth".
_NAME_TO_FILE = {}
for _name, _file in OFFICIAL_WEIGHTS.items():
    for _key in (_name, _name.replace("-", "_"), _file, _file[: -len(".pth")]):
        _NAME_TO_FILE[_key] = _file


class WeightsDownloadError(CheckpointFileError):
    """Official weights could not be downloaded (no network, an HTTP error, a download cut short,
    a file that is not a checkpoint); the message gives the URL to fetch by hand and where to put
    the file. Nothing was cached."""


def official_weights_file(name: str) -> Optional[str]:
    """The release file of ``name``: a model name (``"yolox-s"``, ``"yolox_s"``, any case) or a
    release file name (``"yolox_s.pth"``); None for anything else."""
    return _NAME_TO_FILE.get(str(name).strip().lower())


def official_model_name(name: str) -> Optional[str]:
    """The model name (as ``-n`` takes it, the bundled experiment) of any spelling that
    ``official_weights_file`` knows: ``"yolox_s.pth"`` -> ``"yolox-s"``, ``"yolox_darknet"`` ->
    ``"yolov3"``; None for anything else."""
    file = official_weights_file(name)
    return next((model for model, release_file in OFFICIAL_WEIGHTS.items() if release_file == file), None)


def official_weights_url(file: str) -> str:
    """Where ``file`` (``"yolox_s.pth"``) is downloaded from: ``$YOLOX_WEIGHTS_URL/<file>``, else
    Megvii's release."""
    base = os.environ.get(WEIGHTS_URL_ENV) or OFFICIAL_WEIGHTS_URL
    return f"{base.rstrip('/')}/{file}"


def weights_cache_dir() -> Path:
    """``$YOLOX_HOME/weights``, else ``$XDG_CACHE_HOME/yolox/weights``, else ``~/.cache/yolox/weights``."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "weights"
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "yolox" / "weights"


def resolve_checkpoint(path_or_name: Union[str, os.PathLike], *, cache_dir: Optional[Union[str, Path]] = None,
                       timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """The checkpoint file ``path_or_name`` means.

    An existing file is returned as it is. Otherwise a model name (``"yolox-s"``, ``"yolox_s"``) or
    a release file name without a folder (``"yolox_s.pth"``) is the official file in ``cache_dir``
    (default ``weights_cache_dir()``), downloaded first when missing (``WeightsDownloadError`` when
    that fails). Anything else raises FileNotFoundError naming it (and the known names, when it
    looks like one).
    """
    text = os.fspath(path_or_name)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    file = official_weights_file(text) if _is_bare_name(text) else None
    if file is None:
        raise FileNotFoundError(_missing_message(text, path))
    cached = Path(cache_dir).expanduser() if cache_dir is not None else weights_cache_dir()
    cached = cached / file
    if cached.is_file():
        logger.info("{}: official weights from the cache, {}", text, cached)
        return cached
    return download_checkpoint(official_weights_url(file), cached, timeout=timeout, sha256=OFFICIAL_SHA256.get(file))


def _is_bare_name(text: str) -> bool:
    return bool(text) and "/" not in text and os.sep not in text


def _missing_message(text: str, path: Path) -> str:
    what = "is a folder, not a checkpoint file" if path.is_dir() else "does not exist"
    message = f"checkpoint {text!r} {what}"
    if _is_bare_name(text) and (text.lower().startswith("yolo") or text.lower().endswith(".pth")):
        known = sorted(OFFICIAL_WEIGHTS) + sorted(OFFICIAL_WEIGHTS.values())
        message += f", and it is not the name of an official checkpoint either; known names: {', '.join(known)}"
    return message


def download_checkpoint(url: str, dest: Union[str, Path], *, timeout: float = DOWNLOAD_TIMEOUT_S,
                        sha256: Optional[str] = None) -> Path:
    """Download the checkpoint at ``url`` to ``dest`` atomically and return ``dest``.

    The bytes stream into a temp file beside ``dest`` (unique per caller) with progress logged
    every 10%; the file is renamed into place only when the server answered 200, every byte of
    its ``Content-Length`` arrived, the sha256 matches (when given) and the file loads as a
    checkpoint. Any failure raises ``WeightsDownloadError`` (URL, reason, what to do) and leaves
    neither ``dest`` nor a temp file.
    """
    dest = Path(dest)
    logger.info("downloading {} to {}", url, dest)
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as err:
        raise _download_error(url, dest, f"the server answered HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise _download_error(url, dest, f"no connection ({err.reason})") from err
    except OSError as err:  # a timeout or reset before the response began
        raise _download_error(url, dest, f"no connection ({err})") from err
    with response, atomic_write(dest, "wb", check=lambda tmp: _check_loads(tmp, url, dest)) as handle:
        digest = _copy_response(response, handle, url=url, dest=dest)
        if sha256 is not None and digest != sha256.lower():
            raise _download_error(url, dest, f"its sha256 is {digest}, expected {sha256}")
    return dest


def _copy_response(response, handle: BinaryIO, *, url: str, dest: Path) -> str:
    """Stream ``response`` into ``handle``, logging progress; the sha256 of what arrived. A response
    that ends before its ``Content-Length`` (or breaks off) raises ``WeightsDownloadError``."""
    length_header = response.headers.get("Content-Length")
    expected = int(length_header) if length_header and length_header.isdigit() else None
    digest, received, next_report, start = hashlib.sha256(), 0, 0.1, time.monotonic()
    while True:
        try:
            chunk = response.read(_CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as err:  # a reset, a read timeout, IncompleteRead
            raise _download_error(url, dest, f"the download broke off after {_of(received, expected)} ({err!r})") \
                from err
        if not chunk:
            break
        try:
            handle.write(chunk)
        except OSError as err:  # a full disk, a quota
            raise _download_error(url, dest, f"writing the cache folder failed ({err})") from err
        digest.update(chunk)
        received += len(chunk)
        if expected and received / expected >= next_report and received < expected:
            logger.info("{}: {:.0%} of {:.1f} MB", dest.name, received / expected, expected / _MB)
            next_report = (int(received * 10 / expected) + 1) / 10
    if expected is not None and received != expected:
        raise _download_error(url, dest, f"the download ended after {_of(received, expected)}")
    seconds = max(time.monotonic() - start, 1e-6)
    logger.info("downloaded {}: {:.1f} MB in {:.1f} s ({:.1f} MB/s)", dest.name, received / _MB, seconds,
                received / _MB / seconds)
    return digest.hexdigest()


def _of(received: int, expected: Optional[int]) -> str:
    return f"{received} of {expected} bytes" if expected is not None else f"{received} bytes"


def _check_loads(tmp: Path, url: str, dest: Path) -> None:
    """The downloaded temp file must read as a checkpoint: whole, tensors and plain data only (nothing
    in a downloaded file runs), with a model state dict. The temp file's name stays out of the
    message (the chained error keeps the detail)."""
    try:
        read_checkpoint(tmp)
    except CorruptCheckpointError as err:
        reason = "what arrived is truncated or damaged, or not a checkpoint file at all"
        raise _download_error(url, dest, reason) from err
    except UnsafeCheckpointError as err:
        reason = ("what arrived holds Python objects beyond tensors, which a download never loads; if you trust "
                  "that file, fetch it by hand and pass it with -c and --unsafe-load")
        raise _download_error(url, dest, reason) from err
    except KeyError as err:
        raise _download_error(url, dest, "what arrived holds no 'model' state dict") from err
    except RuntimeError as err:  # damage torch.load finds where the format checks did not
        raise _download_error(url, dest, f"torch cannot load what arrived ({err})") from err


def _download_error(url: str, dest: Path, reason: str) -> WeightsDownloadError:
    return WeightsDownloadError(
        f"could not download {url}: {reason}; nothing was cached. Download it by hand (e.g. curl -L -o {dest} {url}) "
        f"and put it at {dest}, or pass the path of a copy with -c (mirror: set {WEIGHTS_URL_ENV})")

