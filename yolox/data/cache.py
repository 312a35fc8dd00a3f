"""Image caches for training: resized images kept in RAM, or as .npy files on disk.

Both hold images already resized to the dataset's ``img_size`` (the slow decode + resize is done
once). A failed load (``ImageReadError``) is stored as a gap when ``skip_errors`` is set, so the
dataset's own skipping logic handles it later with its usual warning.
"""
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import psutil
from loguru import logger

from yolox.utils.atomic_io import atomic_write
from yolox.utils.dist import get_local_world_size

from .errors import ImageReadError

__all__ = ["RamImageCache", "DiskImageCache", "build_ram_cache", "build_disk_cache", "disk_cache_name",
           "check_free_memory", "format_bytes"]

LoadFn = Callable[[int], np.ndarray]


def format_bytes(num_bytes: float) -> str:
    """``1536`` -> ``"1.5 KiB"``: small caches stay readable (0.00 GiB says nothing)."""
    if num_bytes < 1024:
        return f"{num_bytes:.0f} B"
    for unit in ("KiB", "MiB"):
        num_bytes /= 1024
        if num_bytes < 1024:
            return f"{num_bytes:.1f} {unit}"
    return f"{num_bytes / 1024:.1f} GiB"


def check_free_memory(num_bytes: int, *, what: str, processes: int = 1, reserve_fraction: float = 0.1) -> None:
    """Raise MemoryError, with the figures and the alternative, when ``processes`` copies of
    ``num_bytes`` (one per training process on this machine) do not fit in the available RAM."""
    available = psutil.virtual_memory().available
    budget = available * (1.0 - reserve_fraction)
    needed = num_bytes * processes
    if needed > budget:
        # Every process of a -d N run builds its own copy: say so, or the figure looks wrong.
        amount = format_bytes(needed) if processes == 1 else \
            f"{processes} processes x {format_bytes(num_bytes)} = {format_bytes(needed)}"
        raise MemoryError(
            f"{what} needs {amount} ({needed} bytes) but only {format_bytes(available)} ({available} bytes) "
            f"of RAM is available (keeping {reserve_fraction:.0%} free); use the disk cache (--cache disk, "
            f"one copy shared by all processes) or no cache"
        )


def _load_or_gap(load_fn: LoadFn, index: int, skip_errors: bool) -> Optional[np.ndarray]:
    try:
        return load_fn(index)
    except ImageReadError:
        if not skip_errors:
            raise
        return None


def _num_threads() -> int:
    # Decoding releases the GIL; a few threads per core hide file latency.
    return max(1, min(8, 2 * (os.cpu_count() or 1)))


class RamImageCache:
    """Resized images in memory. Built in the main process, so forked workers share the pages."""

    def __init__(self, images: List[Optional[np.ndarray]]):
        self._images = images

    def get(self, index: int) -> Optional[np.ndarray]:
        """[h, w, 3] uint8 copy (callers may modify it), or None for an image that failed to load."""
        img = self._images[index]
        return None if img is None else img.copy()


def build_ram_cache(load_fn: LoadFn, shapes: Sequence[Tuple[int, int]], skip_errors: bool = False) -> RamImageCache:
    """Load every image (``load_fn(i)`` -> resized [h, w, 3] uint8) after checking it fits in RAM."""
    num_bytes = sum(h * w * 3 for h, w in shapes)
    check_free_memory(num_bytes, what=f"the RAM image cache of {len(shapes)} images",
                      processes=get_local_world_size())
    start = time.time()
    with ThreadPoolExecutor(_num_threads()) as pool:
        images = list(pool.map(lambda i: _load_or_gap(load_fn, i, skip_errors), range(len(shapes))))
    logger.info(f"cached {len(images)} images in RAM ({format_bytes(num_bytes)}) in {time.time() - start:.1f}s")
    return RamImageCache(images)


def disk_cache_name(file_name: str, src_path: str, shape: Tuple[int, int]) -> str:
    """Cache file name: readable stem + a signature of the source file and the resized shape.

    A changed source image (size or mtime) or another ``img_size`` gives another name, so a stale
    file is never read.
    """
    stat = os.stat(src_path)
    signature = f"{file_name}|{stat.st_size}|{stat.st_mtime_ns}|{shape[0]}x{shape[1]}"
    digest = hashlib.sha1(signature.encode()).hexdigest()[:12]
    stem = os.path.splitext(file_name)[0].replace("/", "__").replace("\\", "__")
    return f"{stem}.{digest}.npy"


def _valid_npy(path: str, shape: Tuple[int, int]) -> bool:
    if not os.path.isfile(path):
        return False
    try:
        arr = np.load(path, mmap_mode="r")  # reads the header only
    except (ValueError, OSError):  # truncated or foreign file: rebuild it
        return False
    return arr.dtype == np.uint8 and arr.shape == (shape[0], shape[1], 3)


def _split_cache_name(name: str) -> Optional[Tuple[str, str]]:
    """``"000003.e31b4afdb0c2.npy"`` -> ``("000003", "e31b4afdb0c2")``; None for other files."""
    if not name.endswith(".npy"):
        return None
    stem, _, digest = name[:-4].rpartition(".")
    if not stem or len(digest) != 12 or any(c not in "0123456789abcdef" for c in digest):
        return None
    return stem, digest


def _remove_stale_versions(cache_paths: Sequence[str]) -> int:
    """Delete the older versions of the entries in ``cache_paths`` (same stem, another signature:
    the source image changed); -> how many. Files of stems not listed are left alone: another
    annotation file over the same image folder may use them."""
    current = set(cache_paths)
    stems_by_folder = {}
    for path in cache_paths:
        parts = _split_cache_name(os.path.basename(path))
        if parts is not None:
            stems_by_folder.setdefault(os.path.dirname(path), set()).add(parts[0])
    removed = 0
    for folder, stems in stems_by_folder.items():
        for name in os.listdir(folder):
            parts = _split_cache_name(name)
            path = os.path.join(folder, name)
            if parts is not None and parts[0] in stems and path not in current:
                try:
                    os.remove(path)
                    removed += 1
                except FileNotFoundError:  # another process of a -d N run removed it first
                    pass
    return removed


class DiskImageCache:
    """Resized images as .npy files; ``get`` returns None for an image that failed to load."""

    def __init__(self, paths: List[Optional[str]]):
        self._paths = paths

    def get(self, index: int) -> Optional[np.ndarray]:
        path = self._paths[index]
        return None if path is None else np.load(path)


def build_disk_cache(
    load_fn: LoadFn, shapes: Sequence[Tuple[int, int]], cache_paths: Sequence[str], skip_errors: bool = False
) -> DiskImageCache:
    """Write missing or invalid .npy files atomically; reuse the valid ones."""
    folders = {os.path.dirname(p) for p in cache_paths}
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"the disk image cache folder {folder} is not writable; use --cache ram or no cache")

    def ensure(i: int) -> Optional[str]:
        if _valid_npy(cache_paths[i], shapes[i]):
            return cache_paths[i]
        img = _load_or_gap(load_fn, i, skip_errors)
        if img is None:
            return None
        with atomic_write(cache_paths[i]) as handle:
            np.save(handle, np.ascontiguousarray(img))
        return cache_paths[i]

    start = time.time()
    with ThreadPoolExecutor(_num_threads()) as pool:
        paths = list(pool.map(ensure, range(len(shapes))))
    removed = _remove_stale_versions(cache_paths)
    if removed:
        logger.info(f"removed {removed} disk cache files of images that changed since they were cached")
    logger.info(f"disk image cache ready: {len(paths)} images under {sorted(folders)} ({time.time() - start:.1f}s)")
    return DiskImageCache(paths)
