"""visualize_assign: the assignment view matches SimOTA's result, the drawing uses one colour per
GT, and the tool writes pictures for real training images."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from yolox.exp import get_exp
from yolox.models.assignment_view import compute_assignments
from yolox.utils.visualize import color_for, draw_assignments, tensor_to_image


@pytest.fixture(scope="module")
def nano():
    torch.manual_seed(0)
    return get_exp(exp_name="yolox-nano").get_model()


def batch():
    """Two 128 x 128 images: three boxes in the first (class, cx, cy, w, h), none in the second."""
    images = torch.full((2, 3, 128, 128), 114.0)
    labels = torch.zeros(2, 5, 5)
    labels[0, :3] = torch.tensor([[0, 30, 30, 40, 36], [2, 90, 70, 50, 60], [1, 100, 20, 12, 10]])
    return images, labels


def test_every_gt_gets_anchors_near_it_and_empty_images_get_none(nano):
    images, labels = batch()
    views = compute_assignments(nano, images, labels)
    first, second = views
    assert first.gt_boxes.shape == (3, 4) and first.gt_classes.tolist() == [0, 2, 1]
    np.testing.assert_allclose(first.gt_boxes[1], [65, 40, 115, 100])
    assert (first.anchors_per_gt() >= 1).all()
    # SimOTA only takes candidates: centres inside the box or within 2.5 strides of its centre.
    for (x, y), stride, g in zip(first.anchor_centers, first.anchor_strides, first.anchor_gt):
        x1, y1, x2, y2 = first.gt_boxes[g]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        in_box = x1 < x < x2 and y1 < y < y2
        in_centre = abs(x - cx) < 2.5 * stride and abs(y - cy) < 2.5 * stride
        assert in_box or in_centre
    assert len(second.gt_boxes) == 0 and len(second.anchor_centers) == 0
    assert nano.training  # the mode is restored


def test_drawing_uses_one_colour_per_gt(nano):
    images, labels = batch()
    view = compute_assignments(nano, images, labels)[0]
    picture = draw_assignments(tensor_to_image(images[0]), view, class_names=["a", "b", "c"])
    assert picture.shape == (128, 128, 3)
    for g in range(3):
        assert np.all(picture == np.array(color_for(g), np.uint8), axis=2).sum() > 10


@pytest.mark.slow
def test_visualize_assign_tool_on_real_images(datasets_dir, repo_root, tmp_path):
    mini = datasets_dir / "coco_val2017_mini"
    data = json.loads((mini / "annotations" / "instances_val2017.json").read_text())
    keep = {139, 802}
    subset = dict(data, images=[i for i in data["images"] if i["id"] in keep],
                  annotations=[a for a in data["annotations"] if a["image_id"] in keep])
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "two.json").write_text(json.dumps(subset))
    (tmp_path / "train2017").symlink_to(mini / "val2017", target_is_directory=True)
    out = tmp_path / "pictures"
    cmd = [sys.executable, str(repo_root / "tools" / "visualize_assign.py"), "-n", "yolox-nano", "-b", "2",
           "--no-aug", "--output-dir", str(out), "data_dir", str(tmp_path), "train_ann", "two.json",
           "data_num_workers", "0", "input_size", "192,192"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    pictures = sorted(out.glob("assign_0_*.png"))
    assert len(pictures) == 2
    assert cv2.imread(str(pictures[0])).shape == (192, 192, 3)
    assert "anchors per GT" in run.stderr
