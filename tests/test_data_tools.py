"""tools/check_dataset.py and tools/visualize_data.py, and the package code under them
(yolox.data.dataset_report, yolox.data.batch_grid), on tiny hand-made COCO data and on BCCD."""
import importlib
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from _data_helpers import BCCD, CATEGORY_IDS, CLASSES, coco_dict, make_coco, require
from yolox.data.dataset_report import format_report, num_classes_warning, summarize_dataset
from yolox.data.batch_grid import grid_layout, label_boxes, render_batch_grid
from yolox.exp import Exp
from yolox.utils.visualize import color_for

# Sizes chosen around COCO's area limits 32^2 = 1024 and 96^2 = 9216.
SCENES = [
    ((120, 160), [(0, 0, 10, 10, 0),        # area 100: small
                  (10, 10, 42, 42, 1),      # 32 x 32 = 1024: medium (the lower limit belongs to medium)
                  (50, 20, 150, 120, 0)]),  # 100 x 100: large
    ((100, 100), []),                       # a negative image
    ((100, 100), [(0, 0, 31, 33, 2),        # 1023: small
                  (0, 0, 96, 96, 0)]),      # 9216: large
]


def _tool(name: str):
    return importlib.import_module(f"yolox.tools.{name}")


def _tiny_coco(root: Path, split: str) -> Path:
    """SCENES as COCO plus one crowd region and one zero-width box, which training must not see."""
    names = [f"img_{k}.png" for k in range(len(SCENES))]
    data = coco_dict(SCENES, names)
    extra = [{"bbox": [60, 60, 20, 20], "iscrowd": 1}, {"bbox": [5, 5, 0, 8], "iscrowd": 0}]
    for k, fields in enumerate(extra):
        data["annotations"].append({"id": 100 + k, "image_id": 0, "category_id": CATEGORY_IDS[1], "area": 0,
                                    **fields})
    return make_coco(root, SCENES, name=f"{split}2017", json_file=f"instances_{split}2017.json", data=data)


@pytest.fixture()
def tiny_root(tmp_path):
    _tiny_coco(tmp_path / "data", "train")
    return _tiny_coco(tmp_path / "data", "val")


def _exp_file(folder: Path, data_dir: Path, *, num_classes: int = 80, input_size: int = 64) -> Path:
    path = folder / "tiny_exp.py"
    path.write_text(
        "from yolox.exp import Exp as BaseExp\n\n\nclass Exp(BaseExp):\n    def __init__(self):\n"
        "        super().__init__()\n"
        f"        self.data_dir = {str(data_dir)!r}\n        self.num_classes = {num_classes}\n"
        f"        self.input_size = self.test_size = ({input_size}, {input_size})\n"
        "        self.data_num_workers = 0\n        self.seed = 0\n"
    )
    return path


def test_report_counts_a_hand_made_coco_file(tiny_root):
    exp = Exp()
    exp.data_dir = str(tiny_root)
    report = summarize_dataset(exp.get_dataset(), split="train", exp_num_classes=len(CLASSES))
    boxes = [box for _, scene_boxes in SCENES for box in scene_boxes]
    assert report.num_images == len(SCENES) and report.num_boxes == len(boxes) == 5
    assert report.boxes_per_image == (0, pytest.approx(5 / 3), 3)
    assert report.images_without_boxes == 1
    assert report.class_names == CLASSES
    assert report.class_counts == tuple(Counter(b[4] for b in boxes)[c] for c in range(3)) == (3, 1, 1)
    assert report.size_counts == {"small": 2, "medium": 1, "large": 2}
    assert report.crowd_ignored == 1
    assert report.dropped == {"with zero or negative width or height": 1}
    assert report.num_classes_matches
    text = format_report(report)
    assert "images: 3" in text and "boxes: 5" in text and "min 0 / mean 1.67 / max 3" in text
    assert "images without boxes: 1" in text and "crowd annotations ignored: 1" in text
    assert all(name in text for name in CLASSES) and "WARNING" not in text


def test_num_classes_mismatch_is_a_warning_that_names_both_counts():
    assert num_classes_warning(3, CLASSES) is None
    too_many = num_classes_warning(80, CLASSES)
    assert "exp.num_classes = 80" in too_many and "3 classes (cat, dog, bird)" in too_many
    assert "self.num_classes = 3" in too_many
    too_few = num_classes_warning(2, CLASSES)
    assert "exp.num_classes = 2" in too_few and "labels of 1 classes (2 bird) have no output in the head" in too_few


def test_check_dataset_tool_reports_both_splits_and_exits_1_on_a_class_count_mismatch(tiny_root, tmp_path, capsys):
    tool = _tool("check_dataset")
    exp_file = _exp_file(tmp_path, tiny_root)
    assert tool.main(["-f", str(exp_file)]) == 1
    out = capsys.readouterr().out
    assert out.count("images: 3   boxes: 5") == 2  # train and val
    assert "[train]" in out and "[val]" in out
    assert out.count("WARNING: exp.num_classes = 80 but the data has 3 classes") == 2
    assert tool.main(["-f", str(exp_file), "num_classes", "3"]) == 0
    assert "WARNING" not in capsys.readouterr().out
    with pytest.raises(KeyError, match="unknown experiment attribute 'num_clases'"):
        tool.main(["-f", str(exp_file), "num_clases", "3"])


def test_check_dataset_tool_names_a_missing_image_and_still_reports_the_other_split(tiny_root, tmp_path, capsys):
    (tiny_root / "val2017" / "img_1.png").unlink()
    tool = _tool("check_dataset")
    assert tool.main(["-f", str(_exp_file(tmp_path, tiny_root, num_classes=3))]) == 1
    out = capsys.readouterr().out
    assert "[train] " in out and "images: 3" in out
    assert "[val] ERROR:" in out and str(tiny_root / "val2017" / "img_1.png") in out and "image id 1" in out


def _bccd_tree(root: Path) -> Path:
    """A COCO layout over BCCD (images stay in voc/JPEGImages) that the plain Exp reads."""
    bccd = require(BCCD)
    root.mkdir()
    (root / "annotations").symlink_to(bccd / "annotations")
    for split in ("train2017", "val2017"):
        (root / split).symlink_to(bccd / "voc" / "JPEGImages")
    return root


def test_check_dataset_on_bccd_agrees_with_its_json(tmp_path, capsys):
    root = _bccd_tree(tmp_path / "bccd")
    exp_file = _exp_file(tmp_path, root, num_classes=3)
    tool = _tool("check_dataset")
    assert tool.main(["-f", str(exp_file), "train_ann", "instances_train.json", "val_ann", "instances_val.json"]) == 0
    out = capsys.readouterr().out
    for split in ("train", "val"):
        data = json.loads((root / "annotations" / f"instances_{split}.json").read_text())
        names = {c["id"]: c["name"] for c in data["categories"]}
        per_class = Counter(names[a["category_id"]] for a in data["annotations"])
        areas = np.array([a["bbox"][2] * a["bbox"][3] for a in data["annotations"]])
        block = out.split(f"[{split}]")[1].split("\n[")[0]
        assert f"images: {len(data['images'])}   boxes: {len(data['annotations'])}" in block
        for name, count in per_class.items():
            assert any(line.split()[1:3] == [name, str(count)] for line in block.splitlines() if name in line)
        assert f"small {(areas < 32 ** 2).sum()} " in block and f"large {(areas >= 96 ** 2).sum()} " in block
        assert "images without boxes: 0" in block and "matches the data" in block


def test_label_boxes_drops_padding_rows_and_gives_corners():
    labels = torch.zeros(4, 5)
    labels[0] = torch.tensor([2, 30, 20, 10, 8])
    labels[1] = torch.tensor([0, 5, 5, 4, 6])  # class 0 is a real class, not padding
    boxes, classes = label_boxes(labels)
    np.testing.assert_allclose(boxes, [[25, 16, 35, 24], [3, 2, 7, 8]])
    assert classes.tolist() == [2, 0]


def test_grid_draws_each_box_in_its_class_colour_and_has_the_layout_size():
    images = torch.full((5, 3, 64, 48), 114.0)
    labels = torch.zeros(5, 3, 5)
    labels[1, 0] = torch.tensor([1, 24, 32, 20, 30])
    grid = render_batch_grid(images, labels, class_names=CLASSES)
    rows, cols, height, width = grid_layout(5, (64, 48))
    assert (rows, cols) == (2, 3) and grid.shape == (height, width, 3) == (2 * 64 + 4, 3 * 48 + 2 * 4, 3)
    second_tile = grid[:64, 48 + 4:2 * 48 + 4]
    assert np.all(second_tile == np.array(color_for(1), np.uint8), axis=2).sum() > 50
    first_tile = grid[:64, :48]
    assert (first_tile == 114).all()  # padding rows draw nothing
    half = render_batch_grid(images, labels, tile_size=32)
    assert half.shape == (2 * 32 + 4, 3 * 24 + 2 * 4, 3)


def test_visualize_data_tool_writes_a_decodable_grid_of_training_samples(tiny_root, tmp_path):
    exp_file = _exp_file(tmp_path, tiny_root, num_classes=3, input_size=64)
    tool = _tool("visualize_data")
    written = tool.main(["-f", str(exp_file), "-n", "5", "--output", str(tmp_path / "vis.png")])
    grid = cv2.imread(str(written))
    assert written == tmp_path / "vis.png" and grid is not None
    _, _, height, width = grid_layout(5, (64, 64))
    assert grid.shape == (height, width, 3)
    default = tool.main(["-f", str(exp_file), "-n", "4", "--no-aug", "output_dir", str(tmp_path / "out")])
    assert default == tmp_path / "out" / "tiny_exp" / "data_vis.jpg"
    assert cv2.imread(str(default)).shape == (2 * 64 + 4, 2 * 64 + 4, 3)  # 4 tiles: 2 x 2
