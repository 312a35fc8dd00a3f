"""tools/demo.py and the Predictor with a custom 3-class checkpoint on an 80-class experiment:
the head follows the checkpoint, names come from its metadata, and pictures are written."""
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from yolox.deploy import Predictor
from yolox.deploy.model_loading import load_model
from yolox.exp import get_exp
from yolox.utils.visualize import color_for

NAMES = ["apple", "pear", "plum"]


def confident_checkpoint(path, num_classes=3):
    """A nano with ``num_classes`` classes that detects exactly one "pear" per stride-32 cell:
    the finer levels score ~0, the coarsest predicts a box of 0.6 strides at each cell centre."""
    exp = get_exp(exp_name="yolox-nano")
    exp.num_classes = num_classes
    torch.manual_seed(0)
    model = exp.get_model()
    head = model.head
    with torch.no_grad():
        for level in (0, 1):
            head.obj_preds[level].bias.fill_(-10.0)
        for conv in (head.obj_preds[2], head.cls_preds[2], head.reg_preds[2]):
            conv.weight.zero_()
        head.obj_preds[2].bias.fill_(6.0)
        head.cls_preds[2].bias.copy_(torch.tensor([-6.0, 6.0, -6.0][:num_classes]))
        head.reg_preds[2].bias.copy_(torch.tensor([0.5, 0.5, math.log(0.6), math.log(0.6)]))
    meta = {"num_classes": num_classes, "class_names": NAMES[:num_classes], "depth": 0.33, "width": 0.25,
            "act": "silu", "depthwise": True, "exp_name": "custom"}
    torch.save({"model": model.state_dict(), "meta": meta, "start_epoch": 3}, path)
    return path


def scene(h=120, w=200):
    img = np.full((h, w, 3), 90, np.uint8)
    cv2.rectangle(img, (30, 20), (90, 100), (30, 200, 220), -1)
    return img


def test_checkpoint_num_classes_and_names_win_over_the_experiment(tmp_path):
    exp = get_exp(exp_name="yolox-nano")
    assert exp.num_classes == 80
    loaded = load_model(exp, confident_checkpoint(tmp_path / "custom.pth"))
    assert loaded.num_classes == 3 and loaded.model.head.num_classes == 3
    assert loaded.class_names == NAMES and loaded.class_names_source == "checkpoint"
    assert not loaded.model.training


def test_predictor_boxes_are_in_original_pixels(tmp_path):
    loaded = load_model(get_exp(exp_name="yolox-nano"), confident_checkpoint(tmp_path / "custom.pth"))
    predictor = Predictor(loaded.model, num_classes=3, test_size=(96, 96), conf=0.5, nms=0.45,
                          class_names=loaded.class_names)
    detections = predictor.predict(scene(120, 200))
    # One pear per stride-32 cell of the 96 x 96 input: 3 x 3 boxes, 0.6 * 32 px wide, centred at
    # (x + 0.5) * 32; the letterbox scaled by 96 / 200 = 0.48, so in the image: centres / 0.48.
    assert len(detections) == 9 and set(detections.class_ids.tolist()) == {1}
    centres = np.sort(np.unique(np.round((detections.boxes[:, 0] + detections.boxes[:, 2]) / 2, 3)))
    np.testing.assert_allclose(centres, np.array([16.0, 48.0, 80.0]) / 0.48, atol=1e-3)
    np.testing.assert_allclose(detections.boxes[:, 2] - detections.boxes[:, 0], 0.6 * 32 / 0.48, rtol=1e-5)


@pytest.mark.slow
def test_demo_tool_writes_a_picture_of_the_input_size_with_boxes(tmp_path, repo_root):
    ckpt = confident_checkpoint(tmp_path / "custom.pth")
    image_path = tmp_path / "inputs" / "scene.png"
    image_path.parent.mkdir()
    original = scene(120, 200)
    cv2.imwrite(str(image_path), original)
    cmd = [sys.executable, str(repo_root / "tools" / "demo.py"), "image", "-n", "yolox-nano", "-c", str(ckpt),
           "--path", str(image_path.parent), "--conf", "0.5", "--nms", "0.1", "--tsize", "96", "--save_result"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    written = list((tmp_path / "YOLOX_outputs" / "yolox_nano" / "vis_res").glob("*/scene.png"))
    assert len(written) == 1, run.stderr
    drawn = cv2.imread(str(written[0]))
    assert drawn.shape == original.shape
    changed = np.any(drawn != original, axis=2)
    assert 0 < changed.mean() < 0.9  # lines and tags drawn, not a blank or repainted image
    # The boxes are drawn in the colour of class 1 ("pear"), named from the checkpoint's metadata.
    pear = np.all(drawn.astype(int) == np.array(color_for(1)), axis=2)
    assert pear.sum() > 100
    assert "names from the checkpoint" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["video"])
def test_demo_tool_needs_a_path_for_files(mode, repo_root, tmp_path):
    run = subprocess.run([sys.executable, str(repo_root / "tools" / "demo.py"), mode, "-n", "yolox-nano"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "give --path" in run.stderr
