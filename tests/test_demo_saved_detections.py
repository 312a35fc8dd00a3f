"""tools/demo.py --save_json / --save_txt: the detections as a COCO results json and YOLO txt, in
the original image's pixels, for an image folder and a video."""
import json

import cv2
import numpy as np
import pytest
from test_demo_tool import NAMES, confident_checkpoint, scene

from yolox.data.datasets.coco_classes import COCO_CLASSES
from yolox.deploy import Predictor
from yolox.deploy.demo import demo_images, demo_video
from yolox.deploy.model_loading import load_model
from yolox.deploy.saved_detections import SavedDetections, image_id_of
from yolox.exp import get_exp
from yolox.tools import demo as demo_tool


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    loaded = load_model(get_exp(exp_name="yolox-nano"), confident_checkpoint(tmp_path_factory.mktemp("ckpt") / "c.pth"))
    return Predictor(loaded.model, num_classes=3, test_size=(96, 96), conf=0.5, nms=0.45, class_names=NAMES)


def test_image_ids_follow_numeric_file_names():
    assert image_id_of("val2017/000000000139.jpg", 5) == 139
    assert image_id_of("frames/cat.png", 5) == 5


def test_json_and_txt_of_an_image_folder(tmp_path, predictor):
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "000000000042.png"), scene(120, 200))
    cv2.imwrite(str(folder / "sub" / "wide.png"), scene(100, 300))
    saved = SavedDetections(json_path=tmp_path / "out" / "detections.json", txt_dir=tmp_path / "out" / "labels",
                            class_names=NAMES)
    demo_images(predictor, folder, None, saved=saved)
    saved.close()

    records = json.loads((tmp_path / "out" / "detections.json").read_text())
    expected = predictor.predict(scene(120, 200))
    first = [r for r in records if r["file_name"] == "000000000042.png"]
    assert len(first) == len(expected) == 9 and {r["image_id"] for r in first} == {42}
    assert {r["image_id"] for r in records if r["file_name"] == "sub/wide.png"} == {1}  # its position
    assert {r["category_id"] for r in records} == {1}  # not COCO's classes: the contiguous index ("pear")
    x1, y1, x2, y2 = expected.boxes[0]
    np.testing.assert_allclose(first[0]["bbox"], [x1, y1, x2 - x1, y2 - y1], atol=0.01)  # original pixels
    assert first[0]["score"] == pytest.approx(float(expected.scores[0]), abs=1e-5)

    lines = (tmp_path / "out" / "labels" / "000000000042.txt").read_text().splitlines()
    assert len(lines) == 9
    cls, cx, cy, w, h, score = (float(v) for v in lines[0].split())
    assert cls == 1 and score == pytest.approx(float(expected.scores[0]), abs=1e-5)
    np.testing.assert_allclose([cx * 200, cy * 120, w * 200, h * 120],
                               [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], atol=1e-3)
    assert (tmp_path / "out" / "labels" / "wide.txt").is_file()
    assert not list((tmp_path / "out").rglob("*.tmp"))  # atomic writes leave no temp files


@pytest.mark.slow  # encodes a video and predicts its frames: seconds of torch warm-up on a busy machine
def test_video_frames_are_images(tmp_path, predictor):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (200, 120))
    for _ in range(3):
        writer.write(scene(120, 200))
    writer.release()
    saved = SavedDetections(json_path=tmp_path / "d.json", txt_dir=tmp_path / "labels", class_names=NAMES)
    assert demo_video(predictor, str(video), None, saved=saved) == 3
    saved.close()
    records = json.loads((tmp_path / "d.json").read_text())
    assert sorted({(r["image_id"], r["frame"]) for r in records}) == [(0, 0), (1, 1), (2, 2)]
    assert {r["file_name"] for r in records} == {"clip.mp4"}
    assert sorted(p.name for p in (tmp_path / "labels").iterdir()) == [f"clip_{n:06d}.txt" for n in range(3)]


def test_coco_classes_get_cocos_category_ids():
    saved = SavedDetections(json_path=None, class_names=COCO_CLASSES)
    assert saved.category_ids[0] == 1 and saved.category_ids[-1] == 90 and len(saved.category_ids) == 80


@pytest.mark.slow  # builds a second model and runs the whole tool: about 4 s on a busy machine
def test_demo_tool_flags(tmp_path, monkeypatch):
    ckpt = confident_checkpoint(tmp_path / "c.pth")
    cv2.imwrite(str(tmp_path / "scene.png"), scene(120, 200))
    monkeypatch.chdir(tmp_path)
    demo_tool.main(["image", "-n", "yolox-nano", "-c", str(ckpt), "--path", str(tmp_path / "scene.png"),
                    "--conf", "0.5", "--tsize", "96", "--save_json", "--save_txt"])
    (out,) = (tmp_path / "YOLOX_outputs" / "yolox_nano" / "vis_res").iterdir()
    assert {p.name for p in out.iterdir()} == {"detections.json", "labels"}  # no pictures without --save_result
    assert len(json.loads((out / "detections.json").read_text())) == 9
    assert (out / "labels" / "scene.txt").is_file()
