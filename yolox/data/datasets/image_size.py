"""Image (height, width) from the file header, without decoding the pixels."""
from typing import Tuple

from PIL import Image

from ..errors import ImageReadError

__all__ = ["image_size_hw"]

_EXIF_ORIENTATION = 0x0112
_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def image_size_hw(path: str) -> Tuple[int, int]:
    """(height, width) as cv2.imread will decode it (EXIF rotation applied)."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except FileNotFoundError:
        raise ImageReadError(f"image file not found: {path}", path=path) from None
    except (OSError, SyntaxError) as err:  # PIL's UnidentifiedImageError is an OSError
        raise ImageReadError(f"cannot read the size of image file (corrupt or not an image): {path}",
                             path=path) from err
    return (w, h) if orientation in _ROTATED else (h, w)
