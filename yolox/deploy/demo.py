"""Run a Predictor (or a Detector: the same ``predict`` / ``draw``) over images, a video file or a
webcam, and save the pictures it draws and, through a ``SavedDetections``, the detections as data
(COCO results json, YOLO txt).

Every file is written atomically: images through ``atomic_write_bytes``, videos into a temp file
beside the target that is renamed over it once the stream ends (its last frame, or Ctrl-C).
"""
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Union

import cv2
from loguru import logger

from yolox.utils.image_file import write_image

from .predictor import Predictor
from .saved_detections import SavedDetections, image_id_of

__all__ = ["IMAGE_EXTENSIONS", "list_image_files", "vis_folder", "demo_images", "demo_video"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def vis_folder(output_dir: Union[str, Path], exp_name: str) -> Path:
    """``<output_dir>/<exp_name>/vis_res/<timestamp>/`` (not created here)."""
    return Path(output_dir) / exp_name / "vis_res" / time.strftime("%Y_%m_%d_%H_%M_%S")


def list_image_files(path: Union[str, Path]) -> List[Path]:
    """``path`` itself if it is a file, else the image files under it (recursively, sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"--path {str(path)!r} is neither an image file nor a folder")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {str(path)!r}")
    return files


def demo_images(predictor: Predictor, path: Union[str, Path], save_dir: Optional[Path],
                saved: Optional[SavedDetections] = None) -> List[Path]:
    """Predict every image of ``path`` (a file or a folder); draw and save into ``save_dir`` when
    given (same file names), hand the detections to ``saved`` when given (file names relative to
    a folder ``path``). Returns the written pictures."""
    written = []
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    for position, image_path in enumerate(list_image_files(path)):
        img = cv2.imread(str(image_path))
        if img is None:
            raise ValueError(f"cv2 cannot read the image {image_path}")
        detections = predictor.predict(img)
        logger.info("{}: {} detections in {:.1f} ms", image_path.name, len(detections), detections.inference_ms)
        if saved is not None:
            saved.add(detections, image_id=image_id_of(image_path, position),
                      file_name=image_path.relative_to(root).as_posix(), size=img.shape[:2])
        if save_dir is not None:
            written.append(write_image(predictor.draw(img, detections), save_dir / image_path.name))
    if save_dir is not None and written:
        logger.info("saved {} pictures in {}", len(written), save_dir)
    return written


def demo_video(predictor: Predictor, source: Union[str, int], save_path: Optional[Path],
               max_frames: Optional[int] = None, saved: Optional[SavedDetections] = None) -> int:
    """Predict the frames of a video file (``source`` a path) or a camera (an index); write the
    drawn frames to ``save_path`` (mp4) when given, hand each frame's detections to ``saved``
    when given (image id = frame index). Returns the number of frames processed.

    Ctrl-C (KeyboardInterrupt) is how a webcam stream ends: it stops the loop and the recording so
    far is kept. Any other error removes the partial recording.
    """
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open the video source {source!r}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    frames = 0
    video_name = Path(source).name if isinstance(source, (str, Path)) else f"camera{source}"
    try:
        with _video_writer(save_path, fps, size) as writer:
            try:
                while max_frames is None or frames < max_frames:
                    ok, frame = capture.read()
                    if not ok:
                        break
                    detections = predictor.predict(frame)
                    if saved is not None:
                        saved.add(detections, image_id=frames, file_name=video_name, size=frame.shape[:2],
                                  frame=frames)
                    if writer is not None:
                        writer.write(predictor.draw(frame, detections))
                    elif frames % 30 == 0:
                        logger.info("frame {}: {} detections ({:.1f} ms)", frames + 1, len(detections),
                                    detections.inference_ms)
                    frames += 1  # after the write: a Ctrl-C during prediction leaves the count at frames saved
            except KeyboardInterrupt:
                # Leaving the with-block normally closes the video file and renames it into place.
                logger.info("stopped by Ctrl-C after {} frames", frames)
    finally:
        capture.release()
    if save_path is not None:
        logger.info("saved {} frames to {}", frames, save_path)
    return frames


@contextmanager
def _video_writer(save_path: Optional[Path], fps: float, size) -> Iterator[Optional[cv2.VideoWriter]]:
    """A VideoWriter on a temp file renamed to ``save_path`` on success (None when not saving)."""
    if save_path is None:
        yield None
        return
    save_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = save_path.with_name(f".{save_path.stem}.tmp{save_path.suffix}")
    writer = cv2.VideoWriter(str(tmp_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OSError(f"cv2 cannot open a video writer for {tmp_path} (codec mp4v)")
    try:
        yield writer
        writer.release()
        os.replace(tmp_path, save_path)
    finally:
        writer.release()
        if tmp_path.exists():
            tmp_path.unlink()
