"""Errors raised on bad data. Each message names the file and the image or annotation at fault.

Both classes take a single message argument so that they survive the round trip from a
DataLoader worker to the main process with their type intact.
"""
from typing import Optional

__all__ = ["ImageReadError", "AnnotationError"]


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
