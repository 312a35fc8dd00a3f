"""COCO, VOC and YOLO-txt readers give the same targets; class-id mapping; crowd and degenerate boxes."""
import json
import os

import numpy as np
import pytest
from _data_helpers import (BCCD, CATEGORY_IDS, CLASSES, COCO_MINI, DEFAULT_SCENES, expected_targets, make_coco,
                           make_voc, make_yolo, require)

from yolox.data import COCO_CLASSES, COCODataset, VOCDetection, YOLODataset
from yolox.data.datasets.coco_view import coco_from_dict, records_to_coco_dict


@pytest.fixture(scope="module")
def tiny_formats(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    coco = COCODataset(str(make_coco(root / "coco")), img_size=(64, 64))
    voc = VOCDetection(str(make_voc(root / "voc")), image_sets=["train"], img_size=(64, 64), class_names=CLASSES)
    yolo = YOLODataset(str(make_yolo(root / "yolo")), split="train", img_size=(64, 64))
    return coco, voc, yolo


def test_three_formats_of_the_same_images_give_the_same_items(tiny_formats):
    coco, voc, yolo = tiny_formats
    assert coco.class_names == voc.class_names == yolo.class_names == CLASSES
    for index, scene in enumerate(DEFAULT_SCENES):
        r = min(64 / scene[0][0], 64 / scene[0][1])
        h, w = int(scene[0][0] * r), int(scene[0][1] * r)
        want = expected_targets(scene) * np.array([r, r, r, r, 1], dtype=np.float32)
        want[:, :4] = np.minimum(want[:, :4], [w, h, w, h])  # the resized image is int(size * r) wide
        items = [ds.pull_item(index) for ds in (coco, voc, yolo)]
        for img, targets, img_info, _ in items:
            assert img.shape == (h, w, 3)
            assert img_info == scene[0]
            np.testing.assert_allclose(targets, want, atol=1e-4)


def test_voc_keeps_the_difficult_flag_in_records_and_coco_view(tiny_formats):
    _, voc, _ = tiny_formats
    assert voc.records[0].difficult.tolist() == [True, False]
    anns = voc.coco.loadAnns(voc.coco.getAnnIds(imgIds=[voc.ids[0]]))
    assert [a["difficult"] for a in anns] == [1, 0]


def test_coco_category_ids_map_to_contiguous_classes_and_back(tiny_formats):
    coco, _, _ = tiny_formats
    assert coco.class_ids == list(CATEGORY_IDS)
    targets = coco.load_anno(3)  # classes 1, 0, 2 in annotation order
    assert [coco.class_ids[int(c)] for c in targets[:, 4]] == [7, 3, 12]
    names = [coco.coco.loadCats(cid)[0]["name"] for cid in coco.class_ids]
    assert tuple(names) == coco.class_names


def test_coco_view_of_voc_and_yolo_reads_back_as_the_same_targets(tiny_formats, tmp_path):
    _, voc, yolo = tiny_formats
    for ds in (voc, yolo):
        data = records_to_coco_dict(ds.records, ds.class_names, ds.class_ids)
        (tmp_path / "annotations").mkdir(exist_ok=True)
        (tmp_path / "annotations" / "view.json").write_text(json.dumps(data))
        folder = os.path.dirname(ds.records[0].path)
        again = COCODataset(str(tmp_path), "view.json", name=os.path.relpath(folder, tmp_path), img_size=(64, 64))
        assert again.class_names == ds.class_names
        for index in range(len(ds)):
            np.testing.assert_allclose(again.load_anno(index), ds.load_anno(index), atol=1e-4)
        assert len(ds.coco.getAnnIds()) == sum(len(r.boxes) for r in ds.records)


def test_negative_image_is_kept_with_empty_targets(tiny_formats):
    for ds in tiny_formats:
        assert len(ds) == len(DEFAULT_SCENES)
        assert ds.load_anno(2).shape == (0, 5)


def test_crowd_boxes_are_left_out_of_targets_but_kept_in_the_coco_view(tmp_path):
    data = {
        "images": [{"id": 5, "file_name": "img_0.png", "height": 48, "width": 64}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 1, "bbox": [1, 1, 10, 10], "iscrowd": 0},
            {"id": 2, "image_id": 5, "category_id": 1, "bbox": [20, 20, 30, 20], "iscrowd": 1},
        ],
    }
    ds = COCODataset(str(make_coco(tmp_path, DEFAULT_SCENES[:1], data=data)), img_size=(48, 64))
    np.testing.assert_allclose(ds.load_anno(0), [[1, 1, 11, 11, 0]])
    assert len(ds.coco.getAnnIds(imgIds=[5])) == 2


def test_bccd_xml_and_json_give_the_same_targets_with_the_two_points_dropped():
    root = require(BCCD)
    names = ("RBC", "WBC", "Platelets")
    dropped = []
    for split in ("trainval", "test"):
        coco = COCODataset(str(root), f"instances_{split}.json", name="voc/JPEGImages", img_size=(640, 640))
        voc = VOCDetection(str(root / "voc"), image_sets=[split], img_size=(640, 640), class_names=names)
        by_file = {rec.file_name: i for i, rec in enumerate(voc.records)}
        assert sorted(by_file) == sorted(rec.file_name for rec in coco.records)
        for i, rec in enumerate(coco.records):
            np.testing.assert_array_equal(coco.load_anno(i), voc.load_anno(by_file[rec.file_name]))
        dropped += [example.split(" (")[0] for example in voc.box_report.examples]
    assert sorted(dropped) == ["BloodImage_00338.xml object 12", "BloodImage_00343.xml object 3"]


def test_bccd_image_id_zero_is_an_ordinary_image():
    root = require(BCCD)
    coco = COCODataset(str(root), "instances_trainval.json", name="voc/JPEGImages", img_size=(320, 320))
    index = coco.ids.index(0)
    img, targets, info, img_id = coco.pull_item(index)
    assert img_id == 0 and info == (480, 640) and img.shape == (240, 320, 3) and len(targets) > 0


def test_coco_mini_yolo_txt_labels_match_the_json(tmp_path):
    root = require(COCO_MINI)
    labels_dir = root / "labels_yolo_ultralytics" / "val2017"
    images = tmp_path / "images"
    images.mkdir()
    for label in sorted(labels_dir.iterdir()):
        name = label.stem + ".jpg"
        os.symlink(root / "val2017" / name, images / name)
    yolo = YOLODataset(str(tmp_path), img_size=(640, 640), class_names=COCO_CLASSES,
                       images_dir=str(images), labels_dir=str(labels_dir))
    coco = COCODataset(str(root), "instances_val2017.json", name="val2017", img_size=(640, 640))
    assert len(yolo) == 5 and coco.class_names == COCO_CLASSES
    by_file = {rec.file_name: i for i, rec in enumerate(coco.records)}
    for i, rec in enumerate(yolo.records):
        coco_index = by_file[rec.file_name]
        want = coco.load_anno(coco_index)  # crowd boxes are out of both
        got = yolo.load_anno(i)
        np.testing.assert_array_equal(got[:, 4], want[:, 4])
        np.testing.assert_allclose(got[:, :4], want[:, :4], atol=0.01)
        assert [coco.class_ids[int(c)] for c in got[:, 4]] == [
            a["category_id"] for a in coco.coco.loadAnns(coco.coco.getAnnIds(imgIds=[coco.ids[coco_index]], iscrowd=0))]


def test_coco_mini_crowd_annotations_are_not_targets():
    root = require(COCO_MINI)
    coco = COCODataset(str(root), "instances_val2017.json", name="val2017", img_size=(640, 640))
    all_anns = coco.coco.dataset["annotations"]
    crowd = sum(a["iscrowd"] for a in all_anns)
    assert crowd == 16
    assert sum(len(r.boxes) for r in coco.records) == len(all_anns) - crowd


def test_coco_from_dict_builds_an_index_without_a_file():
    coco = coco_from_dict({"images": [{"id": 1, "file_name": "a", "width": 2, "height": 2}], "annotations": [],
                           "categories": [{"id": 9, "name": "x"}]})
    assert coco.getCatIds() == [9] and coco.getImgIds() == [1]
