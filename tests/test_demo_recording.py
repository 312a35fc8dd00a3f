"""The video/webcam demo's recording: Ctrl-C (how a webcam stream ends) keeps what was recorded,
under its final name; any other error leaves no partial file."""
import cv2
import numpy as np
import pytest

from _train_helpers import load_tool
from yolox.deploy import demo

REAL_CAPTURE = cv2.VideoCapture  # the tests replace cv2.VideoCapture, then read the result with this
WIDTH, HEIGHT = 64, 48
COLOURS = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 255, 255), (0, 255, 255)]  # BGR, one per frame


class FakeCamera:
    """A camera giving one plain-coloured WIDTH x HEIGHT frame per entry of COLOURS[:frames], then
    raising ``then`` from ``read`` (as Ctrl-C or an unplugged camera would)."""

    def __init__(self, *, frames: int, then: BaseException):
        self.frames, self.then, self.served = frames, then, 0

    def isOpened(self) -> bool:  # noqa: N802 (cv2's name)
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: 10.0, cv2.CAP_PROP_FRAME_WIDTH: WIDTH, cv2.CAP_PROP_FRAME_HEIGHT: HEIGHT}[prop]

    def read(self):
        if self.served == self.frames:
            raise self.then
        self.served += 1
        return True, np.full((HEIGHT, WIDTH, 3), COLOURS[self.served - 1], np.uint8)

    def release(self) -> None:
        pass


class _NoDetections(list):
    inference_ms = 1.0


class EchoPredictor:
    """Finds nothing and draws nothing: the recorded frames are the camera's. ``interrupt_at``: the
    frame (1-based) whose prediction is interrupted by Ctrl-C."""

    def __init__(self, interrupt_at: int = 0):
        self.interrupt_at, self.calls = interrupt_at, 0

    def predict(self, frame):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return _NoDetections()

    def draw(self, frame, detections):
        return frame


def _use_camera(monkeypatch, camera: FakeCamera) -> None:
    monkeypatch.setattr(demo.cv2, "VideoCapture", lambda source: camera)


def _read_video(path) -> list:
    capture = REAL_CAPTURE(str(path))
    assert capture.isOpened(), f"{path} does not open as a video"
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def _without_escaping_ctrl_c(run, *args):
    """``run(*args)``, where a KeyboardInterrupt escaping fails this test (pytest would take it for
    the user's own Ctrl-C and stop the whole session)."""
    try:
        return run(*args)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the demo: it should end the stream normally")


@pytest.fixture
def log_lines(capture_log):
    return capture_log("INFO")


@pytest.mark.parametrize("where, expected_frames", [("read", 3), ("predict", 2)])
def test_ctrl_c_keeps_the_recording_under_its_final_name(tmp_path, monkeypatch, log_lines, where,
                                                         expected_frames):
    _use_camera(monkeypatch, FakeCamera(frames=3, then=KeyboardInterrupt()))
    predictor = EchoPredictor(interrupt_at=3 if where == "predict" else 0)
    save_path = tmp_path / "vis" / "camera.mp4"
    assert _without_escaping_ctrl_c(demo.demo_video, predictor, 0, save_path) == expected_frames
    assert [p.name for p in save_path.parent.iterdir()] == ["camera.mp4"]  # renamed, no temp file left
    frames = _read_video(save_path)
    assert len(frames) == expected_frames
    for frame, colour in zip(frames, COLOURS):
        assert frame.shape == (HEIGHT, WIDTH, 3)
        # mp4v is lossy: each frame's mean colour stays within a few levels of the plain one written
        np.testing.assert_allclose(frame.reshape(-1, 3).mean(axis=0), colour, atol=12)
    assert f"stopped by Ctrl-C after {expected_frames} frames" in log_lines
    assert f"saved {expected_frames} frames to {save_path}" in log_lines


def test_another_error_leaves_no_partial_recording(tmp_path, monkeypatch, log_lines):
    _use_camera(monkeypatch, FakeCamera(frames=2, then=OSError("camera unplugged")))
    save_path = tmp_path / "vis" / "camera.mp4"
    with pytest.raises(OSError, match="camera unplugged"):
        demo.demo_video(EchoPredictor(), 0, save_path)
    assert list(save_path.parent.iterdir()) == []
    assert not any(line.startswith("saved") for line in log_lines)


def test_webcam_tool_ends_on_ctrl_c_with_the_recording_saved(tmp_path, monkeypatch, log_lines):
    """tools/demo.py webcam with a random nano: Ctrl-C is a normal end, not an error."""
    _use_camera(monkeypatch, FakeCamera(frames=4, then=KeyboardInterrupt()))
    monkeypatch.chdir(tmp_path)  # the experiment's output_dir is relative: ./YOLOX_outputs
    _without_escaping_ctrl_c(load_tool("demo").main, ["webcam", "-n", "yolox-nano", "--tsize", "64", "--save_result"])
    videos = list((tmp_path / "YOLOX_outputs").rglob("*.mp4"))
    assert [p.name for p in videos] == ["camera.mp4"]
    assert len(_read_video(videos[0])) == 4
    assert f"saved 4 frames to {videos[0].relative_to(tmp_path)}" in log_lines
