"""Bad data gives a specific, located error (or one summarised warning), never a crash deep in cv2."""
import json

import numpy as np
import pytest
import torch
from _data_helpers import DEFAULT_SCENES, coco_dict, make_coco, make_voc, make_yolo

from yolox.data import AnnotationError, COCODataset, ImageReadError, VOCDetection, YOLODataset

NAMES = [f"img_{k}.png" for k in range(len(DEFAULT_SCENES))]


@pytest.fixture
def warnings_log(capture_log):
    return capture_log("WARNING")


def _coco(tmp_path, **kwargs):
    return COCODataset(str(tmp_path), img_size=(64, 64), **kwargs)


def _write_json(tmp_path, data):
    make_coco(tmp_path, data=data)
    return tmp_path / "annotations" / "instances_train2017.json"


def test_missing_image_file_names_the_file_and_image_id(tmp_path):
    make_coco(tmp_path)
    (tmp_path / "train2017" / "img_1.png").unlink()
    with pytest.raises(ImageReadError, match=r"image id 1: .*img_1\.png") as err:
        _coco(tmp_path)
    assert "not found" in str(err.value) and err.value.img_id == 1


def test_missing_image_can_be_skipped_with_a_warning(tmp_path, warnings_log):
    make_coco(tmp_path)
    (tmp_path / "train2017" / "img_1.png").unlink()
    ds = _coco(tmp_path, skip_bad_images=True)
    assert ds.ids == [0, 2, 3]
    assert len(warnings_log) == 1 and "img_1.png" in warnings_log[0]


def test_corrupt_image_names_the_file_and_image_id(tmp_path):
    make_coco(tmp_path)
    (tmp_path / "train2017" / "img_1.png").write_bytes(b"not an image at all")
    ds = _coco(tmp_path)
    with pytest.raises(ImageReadError, match=r"image id 1: cannot decode image file .*img_1\.png"):
        ds.pull_item(1)


def test_corrupt_image_is_skipped_once_with_a_warning(tmp_path, warnings_log):
    make_coco(tmp_path)
    (tmp_path / "train2017" / "img_1.png").write_bytes(b"\x89PNG broken")
    ds = _coco(tmp_path, skip_bad_images=True)
    first = ds.pull_item(1)
    second = ds.pull_item(1)
    assert first[3] == second[3] == 2  # the next readable image stands in
    assert len(warnings_log) == 1 and "image id 1" in warnings_log[0] and "skipped" in warnings_log[0]


def test_image_of_another_size_than_its_annotation_is_an_error(tmp_path):
    data = coco_dict(DEFAULT_SCENES, NAMES)
    data["images"][0]["height"], data["images"][0]["width"] = 64, 48  # the file is 48 x 64
    _write_json(tmp_path, data)
    message = r"image id 0: .*decodes to height x width 48x64 but its annotation says 64x48"
    with pytest.raises(ImageReadError, match=message):
        _coco(tmp_path).pull_item(0)


def test_error_from_a_worker_keeps_its_type_and_message(tmp_path):
    make_coco(tmp_path)
    (tmp_path / "train2017" / "img_0.png").write_bytes(b"garbage")
    loader = torch.utils.data.DataLoader(_coco(tmp_path), batch_size=1, num_workers=1, collate_fn=lambda b: b)
    batches = iter(loader)
    with pytest.raises(ImageReadError, match="image id 0: cannot decode") as err:
        next(batches)
    # The iterator sits in a reference cycle now; left to the garbage collector its shutdown
    # waits 5 s for the worker, so stop it here.
    batches._shutdown_workers()
    assert err.value.img_id is None  # only the message crosses the process boundary


@pytest.mark.parametrize("section", ["images", "annotations", "categories"])
def test_coco_json_without_a_section(tmp_path, section):
    data = coco_dict(DEFAULT_SCENES, NAMES)
    del data[section]
    path = _write_json(tmp_path, data)
    with pytest.raises(AnnotationError, match=f"{path}: not a COCO annotation file: the '{section}' list is missing"):
        _coco(tmp_path)


@pytest.mark.parametrize("field, value, message", [
    ("image_id", 99, "annotation 1 refers to unknown image_id 99"),
    ("category_id", 5, r"annotation 1 has unknown category_id 5 \(categories: \[3, 7, 12\]\)"),
    ("bbox", [1, 2, 3], r"annotation 1 bbox must be 4 numbers \[x, y, w, h\], got \[1, 2, 3\]"),
])
def test_coco_annotation_with_a_bad_reference(tmp_path, field, value, message):
    data = coco_dict(DEFAULT_SCENES, NAMES)
    data["annotations"][0][field] = value
    _write_json(tmp_path, data)
    with pytest.raises(AnnotationError, match=message):
        _coco(tmp_path)


def test_coco_json_that_is_not_json_or_has_duplicate_ids(tmp_path):
    path = _write_json(tmp_path, coco_dict(DEFAULT_SCENES, NAMES))
    path.write_text("{ this is not json")
    with pytest.raises(AnnotationError, match="instances_train2017.json: not valid JSON"):
        _coco(tmp_path)
    data = coco_dict(DEFAULT_SCENES, NAMES)
    data["images"][1]["id"] = 0
    path.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match="images id 0 appears twice"):
        _coco(tmp_path)


def test_degenerate_boxes_are_dropped_with_one_summarised_warning(tmp_path, warnings_log):
    data = coco_dict(DEFAULT_SCENES, NAMES)
    good = {"image_id": 0, "category_id": 3, "iscrowd": 0}
    bad_boxes = [[float("nan"), 1, 5, 5], [5, 5, 0, 10], [5, 5, -3, 4], [100, 100, 10, 10], [-20, 2, 10, 10]]
    for k, bbox in enumerate(bad_boxes):
        data["annotations"].append(dict(good, id=100 + k, bbox=bbox))
    data["annotations"].append(dict(good, id=200, bbox=[60, 40, 10, 10]))  # partly outside: clipped, kept
    _write_json(tmp_path, data)
    ds = _coco(tmp_path)
    assert len(warnings_log) == 1
    message = warnings_log[0]
    assert "dropped 5 of 12 boxes" in message
    assert "1 with a NaN or infinite coordinate" in message and "2 with zero or negative width or height" in message
    assert "2 fully outside the image" in message and "annotation 100 of image 0 (img_0.png)" in message
    np.testing.assert_allclose(ds.load_anno(0)[-1], [60, 40, 64, 48, 0])
    assert ds.box_report.dropped == 5


def test_voc_unknown_class_bad_xml_and_missing_coordinate(tmp_path):
    root = make_voc(tmp_path)
    message = r"img_0.xml: class name\(s\) \['cat', 'dog'\] not in class_names \['horse'\]"
    with pytest.raises(AnnotationError, match=message):
        VOCDetection(str(root), image_sets=["train"], class_names=("horse",))
    xml = root / "Annotations" / "img_1.xml"
    xml.write_text(xml.read_text().replace("<xmax>40</xmax>", ""))
    with pytest.raises(AnnotationError, match=r"img_1.xml: object 0 has no numeric bndbox/xmax \(got None\)"):
        VOCDetection(str(root), image_sets=["train"])
    xml.write_text("<annotation><object>")
    with pytest.raises(AnnotationError, match="img_1.xml: not valid VOC xml"):
        VOCDetection(str(root), image_sets=["train"])


def test_voc_missing_image_set_file(tmp_path):
    root = make_voc(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"ImageSets/Main/val.txt"):
        VOCDetection(str(root), image_sets=["val"])


@pytest.mark.parametrize("line, message", [
    ("0 0.5 0.5 0.2", r"img_1.txt:1: expected 'class cx cy w h', got 4 values"),
    ("7 0.5 0.5 0.2 0.2", r"img_1.txt:1: class 7 is not an integer in 0..2"),
    ("a 0.5 0.5 0.2 0.2", r"img_1.txt:1: not numbers"),
])
def test_yolo_bad_label_lines(tmp_path, line, message):
    root = make_yolo(tmp_path)
    (root / "labels" / "train" / "img_1.txt").write_text(line + "\n")
    with pytest.raises(AnnotationError, match=message):
        YOLODataset(str(root))


def test_yolo_without_class_names(tmp_path):
    root = make_yolo(tmp_path)
    (root / "data.yaml").unlink()
    with pytest.raises(AnnotationError, match="no class names; pass class_names="):
        YOLODataset(str(root))
