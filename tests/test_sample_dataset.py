"""The built-in synthetic dataset: valid COCO, deterministic, boxes inside the images."""
import hashlib
import json

from pycocotools.coco import COCO

from yolox.data.synthetic_dataset import SAMPLE_CLASSES, SampleSpec, ensure_sample_dataset, make_sample_dataset

SPEC = SampleSpec(num_train=6, num_val=3, img_size=(96, 128), min_side=12, max_side=40, seed=3)


def digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest() for p in files}


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = digest(make_sample_dataset(tmp_path / "a", SPEC))
    b = digest(make_sample_dataset(tmp_path / "b", SPEC))
    c = digest(make_sample_dataset(tmp_path / "c", SampleSpec(**{**SPEC.__dict__, "seed": 4})))
    assert a == b
    assert a != c
    assert len([k for k in a if k.endswith(".jpg")]) == 9


def test_annotations_are_valid_coco_with_boxes_inside_images(tmp_path):
    root = make_sample_dataset(tmp_path, SPEC)
    for split, count in (("train2017", 6), ("val2017", 3)):
        coco = COCO(str(root / "annotations" / f"instances_{split}.json"))
        assert len(coco.getImgIds()) == count
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(SAMPLE_CLASSES)
        for ann in coco.loadAnns(coco.getAnnIds()):
            img = coco.loadImgs(ann["image_id"])[0]
            x, y, w, h = ann["bbox"]
            assert w >= SPEC.min_side - 1 and h >= SPEC.min_side - 1
            assert x >= 0 and y >= 0 and x + w <= img["width"] and y + h <= img["height"]
            assert (root / split / img["file_name"]).is_file()


def test_ensure_generates_once_then_reuses(tmp_path):
    root = ensure_sample_dataset(tmp_path / "s", SPEC)
    ann = root / "annotations" / "instances_train2017.json"
    stamp = ann.stat().st_mtime_ns
    ensure_sample_dataset(root, SPEC)
    assert ann.stat().st_mtime_ns == stamp
    assert json.loads(ann.read_text())["images"]
