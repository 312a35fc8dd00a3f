"""Megvii's bundled experiments have equivalents here: yolov3 trains a step, and the VOC and
custom-data examples build their model, training loader and evaluator on tiny local data."""
import pytest
import torch

from _data_helpers import DEFAULT_SCENES, make_coco, make_voc
from yolox.evaluators import COCOEvaluator, VOCEvaluator
from yolox.exp import get_exp

TINY = ["input_size", "(64, 64)", "test_size", "(64, 64)", "data_num_workers", "0"]


def first_train_batch(exp, batch_size: int = 2):
    """images [B, 3, H, W] and labels [B, max_labels, 5] of the experiment's training loader."""
    loader = exp.get_data_loader(batch_size=batch_size, is_distributed=False, no_aug=False)
    images, labels, *_ = next(iter(loader))
    return images, labels


def first_eval_batch(evaluator):
    images, _, info_imgs, ids = next(iter(evaluator.dataloader))
    return images, info_imgs, ids


@pytest.fixture
def voc_devkit(tmp_path):
    """VOC2007 (trainval: 4 images, test: the first 2) and VOC2012 (trainval: the last 2)."""
    root = tmp_path / "VOCdevkit"
    make_voc(root / "VOC2007", DEFAULT_SCENES, image_set="trainval")
    (root / "VOC2007" / "ImageSets" / "Main" / "test.txt").write_text("img_0\nimg_1\n")
    make_voc(root / "VOC2012", DEFAULT_SCENES[2:], image_set="trainval")
    return root


def test_voc_example_reads_2007_and_2012_trains_and_evaluates_on_2007_test(voc_devkit, repo_root):
    exp = get_exp(str(repo_root / "exps" / "example" / "yolox_voc" / "yolox_voc_s.py"))
    assert exp.num_classes == 20 and (exp.depth, exp.width) == (0.33, 0.50)
    exp.merge(TINY + ["data_dir", str(voc_devkit)])
    dataset = exp.get_dataset()
    assert len(dataset) == 4 + 2
    images, labels = first_train_batch(exp)
    assert images.shape == (2, 3, 64, 64) and labels.shape[0] == 2 and labels.shape[2] == 5
    evaluator = exp.get_evaluator(batch_size=2, is_distributed=False)
    assert isinstance(evaluator, VOCEvaluator)
    assert len(evaluator.dataloader.dataset) == 2
    images, _, ids = first_eval_batch(evaluator)
    assert images.shape == (2, 3, 64, 64) and [int(i) for i in ids] == [0, 1]
    # The 20 VOC names in the standard order, whichever classes the files happen to hold.
    assert len(dataset.class_names) == 20 and dataset.class_names[7] == "cat"


def test_voc_example_defaults_to_the_yolox_datadir(monkeypatch, tmp_path, repo_root):
    monkeypatch.setenv("YOLOX_DATADIR", str(tmp_path))
    exp = get_exp(str(repo_root / "exps" / "example" / "yolox_voc" / "yolox_voc_s.py"))
    assert exp.voc_root() == str(tmp_path / "VOCdevkit")


@pytest.fixture
def coco_folder(tmp_path):
    root = tmp_path / "coco128"
    make_coco(root, DEFAULT_SCENES, name="train2017", json_file="instances_train2017.json")
    make_coco(root, DEFAULT_SCENES[:2], name="val2017", json_file="instances_val2017.json")
    return root


@pytest.mark.parametrize("name,width,depthwise", [("nano", 0.25, True), ("yolox_s", 0.50, False)])
def test_custom_examples_build_model_loader_and_evaluator(name, width, depthwise, coco_folder, repo_root):
    exp = get_exp(str(repo_root / "exps" / "example" / "custom" / f"{name}.py"))
    assert (exp.data_dir, exp.num_classes, exp.width, exp.depthwise) == ("datasets/coco128", 71, width, depthwise)
    exp.merge(TINY + ["data_dir", str(coco_folder)])
    model = exp.get_model()
    assert model.head.cls_preds[0].out_channels == 71
    uses_dw = any(type(m).__name__ == "DWConv" for m in model.modules())
    assert uses_dw == depthwise
    images, labels = first_train_batch(exp)
    assert images.shape == (2, 3, 64, 64) and labels.shape[2] == 5
    evaluator = exp.get_evaluator(batch_size=2, is_distributed=False)
    assert isinstance(evaluator, COCOEvaluator)
    assert first_eval_batch(evaluator)[0].shape == (2, 3, 64, 64)


def test_yolov3_by_name_is_the_bundled_file():
    exp = get_exp(exp_name="yolov3")
    assert (exp.exp_name, exp.darknet_depth, exp.width) == ("yolov3", 53, 1.0)


@pytest.mark.slow  # Darknet + YOLOFPN forward and backward, ~2 s narrowed
def test_narrowed_yolov3_takes_a_training_step_on_sample_data(tmp_path):
    from _train_helpers import make_tiny_sample

    data_dir = make_tiny_sample(tmp_path / "sample")
    exp = get_exp(exp_name="yolov3")
    # Darknet-21 with an 8-channel stem (width 0.25) and a 5-class head: same wiring, a sliver of the size.
    exp.merge(["darknet_depth", "21", "width", "0.25", "num_classes", "5", "data_dir", str(data_dir),
               "input_size", "(128, 128)", "data_num_workers", "0", "seed", "0"])
    torch.manual_seed(0)
    model = exp.get_model()
    images, labels = first_train_batch(exp, batch_size=2)
    losses = model(images, labels)
    assert torch.isfinite(losses["total_loss"]) and losses["num_fg"] > 0
    losses["total_loss"].backward()
    stem_grad = model.backbone.backbone.stem[0].conv.weight.grad
    assert stem_grad is not None and torch.isfinite(stem_grad).all() and stem_grad.abs().sum() > 0
