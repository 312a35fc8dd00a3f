"""Errors raised on bad data. Each message names the file and the image or annotation at fault.

Both classes take a single message argument so that they survive the round trip from a
DataLoader worker to the main process with their type intact.
"""
import os
from typing import Optional

__all__ = ["ImageReadError", "AnnotationError", "DatasetNotFoundError", "DataLoaderTimeout", "missing_coco_message"]


class ImageReadError(OSError):
    """An image file is missing, cannot be decoded, or has another size than its annotation says."""

    def __init__(self, message: str, path: Optional[str] = None, img_id: Optional[int] = None):
        super().__init__(message)
        self.path = path
        self.img_id = img_id

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AnnotationError(ValueError):
    """An annotation file is not valid for its format (COCO json, VOC xml, YOLO txt)."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's annotation file is not where the experiment says; the message shows where it
    should be and, for the default COCO location, how to try the built-in sample data instead."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DataLoaderTimeout(RuntimeError):
    """The loader's workers gave no data for ``data_timeout`` seconds; the message says what each
    worker was doing (``yolox.data.loader.watchdog``)."""


def missing_coco_message(ann_path: str, image_dir: str, default_location: bool) -> str:
    """What to tell a user whose COCO annotation file ``ann_path`` does not exist."""
    root = os.path.dirname(os.path.dirname(ann_path)) or "."
    lines = [
        f"COCO annotation file not found: {ann_path}",
        "The experiment expects this tree:",
        f"  {root}/",
        f"    annotations/{os.path.basename(ann_path)}",
        f"    {os.path.relpath(image_dir, root)}/*.jpg",
    ]
    if default_location:
        lines += [
            "Download COCO 2017 (https://cocodataset.org) there, or link it: ln -s /path/to/coco datasets/COCO",
            "To try the framework without COCO, train on the built-in sample data:",
            "  python tools/train.py -f exps/example/yolox_nano_sample.py",
        ]
    else:
        lines.append("Set data_dir (and train_ann / val_ann) in the experiment, or override: data_dir /path/to/data")
    return "\n".join(lines)
