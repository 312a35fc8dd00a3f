"""The public names of Megvii YOLOX's package: each where Megvii's package exports it, with Megvii's
positional parameters first, and called on small inputs whose results can be checked by hand."""
import importlib
import inspect
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_fakes import (TEST_SIZE, FakeDataset, FakeLoader, TableModel, coco_from_dict, detection_rows,
                        ground_truth_detections, ratio_of, tiny_coco_dict)
from torch import nn


def test_every_megvii_name_imports_from_its_megvii_path():
    from yolox.core import Trainer, launch
    from yolox.data import get_yolox_datadir
    from yolox.data.data_augment import ValTransform, preproc
    from yolox.data.datasets import COCO_CLASSES
    from yolox.evaluators.coco_evaluator import COCOEvaluator
    from yolox.exp import Exp, check_exp_value, get_exp
    from yolox.models.network_blocks import SiLU
    from yolox.utils import (
        LRScheduler,
        ModelEMA,
        adjust_box_anns,
        all_reduce_norm,
        configure_module,
        configure_nccl,
        configure_omp,
        demo_postprocess,
        freeze_module,
        fuse_model,
        get_model_info,
        get_num_devices,
        load_ckpt,
        mkdir,
        multiclass_nms,
        postprocess,
        replace_module,
        save_checkpoint,
        setup_logger,
        vis,
    )

    names = [Trainer, launch, get_yolox_datadir, ValTransform, preproc, Exp, check_exp_value, get_exp, SiLU,
             LRScheduler, ModelEMA, adjust_box_anns, all_reduce_norm, configure_module, configure_nccl,
             configure_omp, demo_postprocess, freeze_module, fuse_model, get_model_info, get_num_devices,
             load_ckpt, mkdir, multiclass_nms, postprocess, replace_module, save_checkpoint, setup_logger, vis]
    assert all(callable(n) for n in names)
    assert len(COCO_CLASSES) == 80 and COCO_CLASSES[0] == "person"
    assert callable(COCOEvaluator.convert_to_coco_format) and callable(COCOEvaluator.evaluate_prediction)


# Megvii YOLOX's public names, package by package (what its ``__init__`` files export, at commit 6ddff48 of
# github.com/Megvii-BaseDetection/YOLOX), each with its leading positional parameters (a class: its
# constructor's, ``self`` left out; None: a constant). Written down as facts about that package.
MEGVII_NAMES = {
    "yolox.utils": {
        "get_async_norm_states": ("module",), "pyobj2tensor": ("pyobj", "device"), "tensor2pyobj": ("tensor",),
        "all_reduce": ("py_dict", "op", "group"), "all_reduce_norm": ("module",),
        "filter_box": ("output", "scale_range"),
        "postprocess": ("prediction", "num_classes", "conf_thre", "nms_thre", "class_agnostic"),
        "bboxes_iou": ("bboxes_a", "bboxes_b", "xyxy"), "matrix_iou": ("a", "b"),
        "adjust_box_anns": ("bbox", "scale_ratio", "padw", "padh", "w_max", "h_max"),
        "xyxy2xywh": ("bboxes",), "xyxy2cxcywh": ("bboxes",), "cxcywh2xyxy": ("bboxes",),
        "load_ckpt": ("model", "ckpt"), "save_checkpoint": ("state", "is_best", "save_dir", "model_name"),
        "meshgrid": (), "mkdir": ("path",), "nms": ("boxes", "scores", "nms_thr"),
        "multiclass_nms": ("boxes", "scores", "nms_thr", "score_thr", "class_agnostic"),
        "demo_postprocess": ("outputs", "img_size", "p6"), "random_color": (),
        "visualize_assign": ("img", "boxes", "coords", "match_results", "save_name"),
        "get_num_devices": (), "wait_for_the_master": ("local_rank",), "is_main_process": (), "synchronize": (),
        "get_world_size": (), "get_rank": (), "get_local_rank": (), "get_local_size": (), "time_synchronized": (),
        "gather": ("data", "dst", "group"), "all_gather": ("data", "group"),
        "ModelEMA": ("model", "decay", "updates"), "is_parallel": ("model",),
        "WandbLogger": ("project", "name", "id", "entity", "save_dir", "config", "val_dataset", "num_eval_images",
                        "log_checkpoints"),
        "MlflowLogger": (), "setup_logger": ("save_dir", "distributed_rank", "filename", "mode"),
        "LRScheduler": ("name", "lr", "iters_per_epoch", "total_epochs"),
        "AverageMeter": ("window_size",), "MeterBuffer": ("window_size",),
        "get_total_and_free_memory_in_Mb": ("cuda_device",), "occupy_mem": ("cuda_device", "mem_ratio"),
        "gpu_mem_usage": (), "mem_usage": (),
        "fuse_conv_and_bn": ("conv", "bn"), "fuse_model": ("model",), "get_model_info": ("model", "tsize"),
        "replace_module": ("module", "replaced_module_type", "new_module_type", "replace_func"),
        "freeze_module": ("module", "name"), "adjust_status": ("module", "training"),
        "configure_nccl": (), "configure_module": ("ulimit_value",), "configure_omp": ("num_threads",),
        "vis": ("img", "boxes", "scores", "cls_ids", "conf", "class_names"),
    },
    "yolox.core": {
        "launch": ("main_func", "num_gpus_per_machine", "num_machines", "machine_rank", "backend", "dist_url",
                   "args", "timeout"),
        "Trainer": ("exp", "args"),
    },
    "yolox.exp": {"BaseExp": (), "get_exp": ("exp_file", "exp_name"), "Exp": (), "check_exp_value": ("exp",)},
    "yolox.data": {
        "TrainTransform": ("max_labels", "flip_prob", "hsv_prob"), "ValTransform": ("swap", "legacy"),
        "DataPrefetcher": ("loader",), "DataLoader": (), "get_yolox_datadir": (),
        "worker_init_reset_seed": ("worker_id",),
        "COCODataset": ("data_dir", "json_file", "name", "img_size", "preproc", "cache", "cache_type"),
        "COCO_CLASSES": None,
        "CacheDataset": ("input_dimension", "num_imgs", "data_dir", "cache_dir_name", "path_filename", "cache",
                         "cache_type"),
        "ConcatDataset": ("datasets",), "Dataset": ("input_dimension", "mosaic"), "MixConcatDataset": ("datasets",),
        "MosaicDetection": ("dataset", "img_size", "mosaic", "preproc", "degrees", "translate", "mosaic_scale",
                            "mixup_scale", "shear", "enable_mixup", "mosaic_prob", "mixup_prob"),
        "VOCDetection": ("data_dir", "image_sets", "img_size", "preproc", "target_transform", "dataset_name", "cache",
                         "cache_type"),
        "InfiniteSampler": ("size", "shuffle", "seed", "rank", "world_size"), "YoloBatchSampler": (),
    },
    "yolox.models": {
        "create_yolox_model": ("name", "pretrained", "num_classes", "device", "exp_path", "ckpt_path"),
        **{name: ("pretrained", "num_classes", "device")
           for name in ("yolox_nano", "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x", "yolov3")},
        "yolox_custom": ("ckpt_path", "exp_path", "device"),
        "CSPDarknet": ("dep_mul", "wid_mul", "out_features", "depthwise", "act"),
        "Darknet": ("depth", "in_channels", "stem_out_channels", "out_features"),
        "IOUloss": ("reduction", "loss_type"), "YOLOFPN": ("depth", "in_features"),
        "YOLOXHead": ("num_classes", "width", "strides", "in_channels", "act", "depthwise"),
        "YOLOPAFPN": ("depth", "width", "in_features", "in_channels", "depthwise", "act"),
        "YOLOX": ("backbone", "head"),
    },
    "yolox.evaluators": {
        "COCOEvaluator": ("dataloader", "img_size", "confthre", "nmsthre", "num_classes", "testdev", "per_class_AP",
                          "per_class_AR"),
        "VOCEvaluator": ("dataloader", "img_size", "confthre", "nmsthre", "num_classes"),
    },
}
# Where this package chooses to differ: each is named in the README's "What differs".
DELIBERATELY_DIFFERENT = {
    ("yolox.utils", "WandbLogger"),  # not provided: training logs to tensorboard
    ("yolox.utils", "MlflowLogger"),
    ("yolox.data", "CacheDataset"),  # caching is DetectionDataset's (cache, cache_type)
    ("yolox.data", "VOCDetection"),  # class_names where Megvii's takes target_transform, dataset_name
}
MEGVII_SIGNATURES = [(package, name, params) for package, names in MEGVII_NAMES.items()
                     for name, params in names.items() if (package, name) not in DELIBERATELY_DIFFERENT]


def _leading_positional_names(obj) -> tuple:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in inspect.signature(obj).parameters.values() if p.kind in kinds)


@pytest.mark.parametrize("package, name, params", MEGVII_SIGNATURES,
                         ids=[f"{package}.{name}" for package, name, _ in MEGVII_SIGNATURES])
def test_megvii_name_exists_where_megvii_has_it_with_its_positional_parameters_first(package, name, params):
    """Code written for Megvii's package passes these arguments by position or by keyword: both work
    when our positional parameters start with Megvii's (ours may add more after them). launch is
    also called as Megvii's tools call it, in tests/test_launch.py."""
    obj = getattr(importlib.import_module(package), name, None)
    assert obj is not None, f"{package} has no {name}"
    if params is not None:
        assert _leading_positional_names(obj)[:len(params)] == params


def _what_differs() -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    return readme.split("What differs:", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("package, name", sorted(DELIBERATELY_DIFFERENT))
def test_each_deliberate_difference_is_in_the_readme_and_still_differs(package, name):
    assert f"`{name}`" in _what_differs(), f"README's 'What differs' does not name {name}"
    obj = getattr(importlib.import_module(package), name, None)
    params = MEGVII_NAMES[package][name]
    assert obj is None or _leading_positional_names(obj)[:len(params)] != params, \
        f"{package}.{name} matches Megvii's now: take it out of DELIBERATELY_DIFFERENT and the README's list"


# Three boxes: A and B overlap heavily (inclusive-pixel IoU 81 / 119 = 0.68), C stands apart.
BOXES = np.array([[0, 0, 9, 9], [1, 1, 10, 10], [20, 20, 29, 29]], dtype=np.float32)
SCORES = np.array([[0.9, 0.1], [0.2, 0.8], [0.05, 0.6]], dtype=np.float32)  # [N, C]


def test_multiclass_nms_class_agnostic_keeps_each_box_best_class_and_suppresses_across_classes():
    from yolox.utils import multiclass_nms

    dets = multiclass_nms(BOXES, SCORES, nms_thr=0.45, score_thr=0.1)  # class_agnostic is the default
    # B's best class (1) differs from A's (0), yet A suppresses it.
    np.testing.assert_allclose(dets, [[0, 0, 9, 9, 0.9, 0], [20, 20, 29, 29, 0.6, 1]], rtol=1e-6)


def test_multiclass_nms_class_aware_runs_nms_within_each_class():
    from yolox.utils import multiclass_nms

    dets = multiclass_nms(BOXES, SCORES, nms_thr=0.45, score_thr=0.1, class_agnostic=False)
    # class 0: A (0.9) suppresses B (0.2); class 1: A's 0.1 is not above the threshold, B and C survive.
    np.testing.assert_allclose(dets, [[0, 0, 9, 9, 0.9, 0], [1, 1, 10, 10, 0.8, 1], [20, 20, 29, 29, 0.6, 1]],
                               rtol=1e-6)
    # A looser NMS keeps overlapping boxes.
    assert len(multiclass_nms(BOXES, SCORES, nms_thr=0.7, score_thr=0.1, class_agnostic=False)) == 4


def test_multiclass_nms_returns_none_when_nothing_scores_above_the_threshold():
    from yolox.utils import multiclass_nms

    assert multiclass_nms(BOXES, SCORES, nms_thr=0.45, score_thr=0.95) is None
    assert multiclass_nms(BOXES, SCORES, nms_thr=0.45, score_thr=0.95, class_agnostic=False) is None


def test_nms_pixel_convention_megvii_inclusive_by_default_or_continuous_like_torchvision():
    from torchvision.ops import nms as torchvision_nms

    from yolox.utils import nms

    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 6]], dtype=np.float32)
    scores = np.array([0.9, 0.8], dtype=np.float32)
    # Whole pixels: IoU 77 / 121 = 0.636 > 0.62; continuous: 60 / 100 = 0.6 < 0.62.
    assert nms(boxes, scores, 0.62) == [0]
    assert nms(boxes, scores, 0.62, inclusive=False) == [0, 1]
    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 100, size=(200, 2)).astype(np.float32)
    many = np.concatenate([corners, corners + rng.uniform(5, 40, size=(200, 2)).astype(np.float32)], axis=1)
    many_scores = rng.random(200).astype(np.float32)
    expected = torchvision_nms(torch.from_numpy(many), torch.from_numpy(many_scores), 0.45).tolist()
    assert nms(many, many_scores, 0.45, inclusive=False) == expected


def test_demo_postprocess_decodes_grid_offsets_to_input_pixels():
    from yolox.utils import demo_postprocess

    # A 64 x 64 input: 8x8 cells at stride 8, 4x4 at 16, 2x2 at 32 -> 84 anchors.
    raw = np.zeros((1, 84, 6), dtype=np.float32)
    raw[0, 64, :4] = [0.5, 0.25, math.log(2.0), 0.0]  # first anchor of stride 16
    out = demo_postprocess(raw.copy(), (64, 64))
    np.testing.assert_allclose(out[0, 0, :4], [0, 0, 8, 8])  # cell (0, 0), stride 8
    np.testing.assert_allclose(out[0, 9, :4], [8, 8, 8, 8])  # row 1, column 1 of stride 8
    np.testing.assert_allclose(out[0, 64, :4], [8, 4, 32, 16], rtol=1e-6)
    np.testing.assert_allclose(out[0, 83, :4], [32, 32, 32, 32])  # last cell of stride 32
    assert demo_postprocess(np.zeros((1, 85, 6)), (64, 64), p6=True)[0, 84, 2] == 64  # stride 64 level


def test_demo_postprocess_agrees_with_the_torch_head_decode():
    from yolox.models.anchors import anchor_grid
    from yolox.utils import demo_postprocess

    raw = np.random.default_rng(0).normal(size=(2, 8 * 12 + 4 * 6 + 2 * 3, 7)).astype(np.float32)
    grid, stride = anchor_grid([(8, 12), (4, 6), (2, 3)], [8, 16, 32])
    expected = torch.from_numpy(raw.copy())
    expected[..., :2] = (expected[..., :2] + grid) * stride[:, None]
    expected[..., 2:4] = expected[..., 2:4].exp() * stride[:, None]
    np.testing.assert_allclose(demo_postprocess(raw, (64, 96)), expected.numpy(), rtol=1e-5)


def test_preproc_letterboxes_into_a_padded_chw_float_image_and_returns_the_ratio():
    from yolox.data.data_augment import preproc

    img = np.full((10, 20, 3), 7, dtype=np.uint8)
    out, ratio = preproc(img, (16, 16))
    assert ratio == pytest.approx(0.8)  # min(16 / 10, 16 / 20)
    assert out.shape == (3, 16, 16) and out.dtype == np.float32
    assert (out[:, :8, :] == 7).all() and (out[:, 8:, :] == 114).all()  # 8 x 16 image, then padding


def test_vis_draws_boxes_above_conf_only():
    from yolox.data.datasets import COCO_CLASSES
    from yolox.utils import vis

    img = np.zeros((64, 64, 3), dtype=np.uint8)
    boxes = np.array([[10, 20, 40, 50], [45, 45, 60, 60]], dtype=np.float32)
    out = vis(img, boxes, np.array([0.9, 0.2]), np.array([0, 1]), conf=0.5, class_names=COCO_CLASSES)
    assert out is img
    assert img[35, 10].any() and img[50, 25].any()  # the left and bottom edges of the first box
    assert not img[52:58, 52:58].any()  # the second box scored below conf


def test_mkdir_creates_nested_directories_and_tolerates_existing_ones(tmp_path):
    from yolox.utils import mkdir

    target = tmp_path / "a" / "b"
    mkdir(str(target))
    mkdir(str(target))
    assert target.is_dir()


def test_replace_module_swaps_silu_for_the_export_friendly_one_with_equal_outputs():
    from yolox.models.network_blocks import BaseConv, CSPLayer, SiLU
    from yolox.utils import replace_module

    torch.manual_seed(0)
    model = nn.Sequential(BaseConv(3, 8, 3, 1), CSPLayer(8, 8, n=1), nn.SiLU()).eval()
    x = torch.randn(1, 3, 16, 16)
    before = model(x)
    assert replace_module(model, nn.SiLU, SiLU) is model
    assert not any(isinstance(m, nn.SiLU) for m in model.modules())
    assert sum(isinstance(m, SiLU) for m in model.modules()) == 7  # 1 + 5 in the CSP layer + 1
    torch.testing.assert_close(model(x), before)
    assert isinstance(replace_module(nn.SiLU(), nn.SiLU, SiLU), SiLU)  # a matching root is replaced too


def test_get_num_devices_counts_visible_devices(monkeypatch):
    from yolox.utils import get_num_devices

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,3")
    assert get_num_devices() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert get_num_devices() == 0
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert get_num_devices() == torch.cuda.device_count()


def test_adjust_box_anns_scales_shifts_and_clips_in_place():
    from yolox.utils import adjust_box_anns

    boxes = np.array([[-10.0, 5.0, 50.0, 200.0]])
    out = adjust_box_anns(boxes, 0.5, 2, 3, 20, 60)
    assert out is boxes
    np.testing.assert_allclose(out, [[0.0, 5.5, 20.0, 60.0]])  # x: -3 -> 0, 27 -> 20; y: 5.5, 103 -> 60


def test_freeze_module_by_name_freezes_only_matching_parameters_and_modules():
    from yolox.utils import freeze_module

    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).train()
    freeze_module(model, name="1")
    assert model[0].weight.requires_grad and model[0].training
    assert not any(p.requires_grad for p in model[1].parameters()) and not model[1].training
    freeze_module(model)
    assert not any(p.requires_grad for p in model.parameters())


def test_lr_scheduler_yoloxwarmcos_at_a_few_iterations():
    from yolox.utils import LRScheduler

    # 10 epochs of 10 iterations: 1 warm-up epoch, 2 final epochs at the floor lr * 0.05.
    sched = LRScheduler("yoloxwarmcos", 0.01, 10, 10, warmup_epochs=1, warmup_lr_start=0,
                        no_aug_epochs=2, min_lr_ratio=0.05)
    assert sched.update_lr(5) == pytest.approx(0.01 * 0.25)  # quadratic warm-up, half-way
    assert sched.update_lr(45) == pytest.approx(0.0005 + 0.5 * (0.01 - 0.0005))  # cosine half-way
    assert sched.update_lr(85) == pytest.approx(0.0005)  # the no-augmentation tail


def test_model_ema_update_moves_towards_the_model_by_the_ramped_decay():
    from yolox.utils import ModelEMA

    model = nn.Linear(2, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = ModelEMA(model, decay=0.9999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    d = 0.9999 * (1 - math.exp(-1 / 2000))
    torch.testing.assert_close(ema.ema.weight, torch.full((1, 2), 1 - d))
    assert ema.updates == 1


def test_all_reduce_norm_is_a_no_op_in_a_single_process():
    from yolox.utils import all_reduce_norm

    bn = nn.BatchNorm2d(3)
    bn.train()(torch.randn(4, 3, 5, 5))
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    all_reduce_norm(nn.Sequential(bn))
    for k, v in bn.state_dict().items():
        torch.testing.assert_close(v, before[k])


def _average_norm_worker(rank: int, init_file: str) -> None:
    import torch.distributed as dist

    from yolox.utils import all_reduce_norm

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    model[1].running_mean.fill_(float(rank * 2))  # 0 and 2 -> 1
    model[1].running_var.fill_(float(rank + 1))  # 1 and 2 -> 1.5
    model[0].weight.data.fill_(float(rank))  # not a norm layer: left alone
    all_reduce_norm(model)
    assert torch.equal(model[1].running_mean, torch.full((2,), 1.0))
    assert torch.equal(model[1].running_var, torch.full((2,), 1.5))
    assert torch.equal(model[0].weight, torch.full_like(model[0].weight, float(rank)))
    dist.destroy_process_group()


@pytest.mark.slow
def test_all_reduce_norm_averages_bn_statistics_over_two_processes(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_average_norm_worker, args=(str(tmp_path / "init"),), nprocs=2)


def test_setup_logger_writes_the_log_file(tmp_path):
    from loguru import logger

    from yolox.utils import setup_logger
    from yolox.utils.logger import remove_logger

    handlers = setup_logger(tmp_path, distributed_rank=0, filename="log.txt", mode="o")
    logger.info("hello from the test")
    remove_logger(handlers)
    assert "hello from the test" in (tmp_path / "log.txt").read_text()


def test_configure_helpers_set_megvii_environment(monkeypatch):
    from yolox.utils import configure_module, configure_nccl, configure_omp

    monkeypatch.delenv("NCCL_LAUNCH_MODE", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENCV_OPENCL_RUNTIME", raising=False)
    configure_nccl()
    assert os.environ["NCCL_LAUNCH_MODE"] == "PARALLEL"
    configure_omp()  # one process: nothing to share the cores with, so left alone
    assert "OMP_NUM_THREADS" not in os.environ
    import cv2

    threads = cv2.getNumThreads()
    try:
        configure_module()
        assert os.environ["OPENCV_OPENCL_RUNTIME"] == "disabled"
    finally:
        cv2.setNumThreads(threads)  # leave the rest of the session as it was


@pytest.fixture
def evaluator():
    from yolox.evaluators.coco_evaluator import COCOEvaluator

    dataset = FakeDataset(coco_from_dict(tiny_coco_dict()))
    return COCOEvaluator(FakeLoader(dataset, batch_size=2), TEST_SIZE, confthre=0.01, nmsthre=0.65,
                         num_classes=len(dataset.class_ids))


def _ground_truth_outputs(dataset, score: float = 0.9):
    """Every image's non-crowd GT as postprocess rows [N, 7] x1, y1, x2, y2, obj, cls_conf, class in
    letterboxed pixels (None for an image without any)."""
    outputs = []
    for image_id in dataset.ids:
        r = ratio_of(dataset.coco.imgs[image_id])
        rows = [[a["bbox"][0] * r, a["bbox"][1] * r, (a["bbox"][0] + a["bbox"][2]) * r,
                 (a["bbox"][1] + a["bbox"][3]) * r, score, 1.0, dataset.class_ids.index(a["category_id"])]
                for a in dataset.coco.imgToAnns[image_id] if not a["iscrowd"]]
        outputs.append(torch.tensor(rows, dtype=torch.float64) if rows else None)
    return outputs


def test_convert_to_coco_format_gives_records_and_image_wise_corners_in_original_pixels(evaluator):
    dataset = evaluator.dataset
    outputs = _ground_truth_outputs(dataset)
    outputs[1] = None  # image 11 found nothing
    infos = [dataset.coco.imgs[i] for i in dataset.ids]
    info_imgs = (torch.tensor([i["height"] for i in infos]), torch.tensor([i["width"] for i in infos]))
    ids = torch.tensor(dataset.ids)
    records = evaluator.convert_to_coco_format(outputs, info_imgs, ids)
    records_again, per_image = evaluator.convert_to_coco_format(outputs, info_imgs, ids, return_outputs=True)
    assert records == records_again
    assert {r["image_id"] for r in records} == {7, 42} and len(records) == 4
    first = next(r for r in records if r["image_id"] == 7 and r["category_id"] == 3)
    assert first["bbox"] == pytest.approx([10.0, 20.0, 50.0, 40.0]) and first["score"] == pytest.approx(0.9)
    assert set(per_image) == {7, 42}
    assert per_image[7]["bboxes"][0] == pytest.approx([10.0, 20.0, 60.0, 60.0])  # x1, y1, x2, y2
    assert per_image[7]["categories"] == [3, 17] and per_image[7]["scores"] == pytest.approx([0.9, 0.9])


def test_evaluate_prediction_scores_records_and_reports_timing(evaluator):
    dataset = evaluator.dataset
    records = []
    for start in range(0, len(dataset.ids), 2):  # batch by batch, as Megvii's evaluate loop does
        chunk = dataset.ids[start:start + 2]
        infos = [dataset.coco.imgs[i] for i in chunk]
        info_imgs = (torch.tensor([i["height"] for i in infos]), torch.tensor([i["width"] for i in infos]))
        outputs = _ground_truth_outputs(dataset)[start:start + 2]
        records.extend(evaluator.convert_to_coco_format(outputs, info_imgs, torch.tensor(chunk)))
    ap50_95, ap50, summary = evaluator.evaluate_prediction(records, torch.tensor([0.2, 0.04, 2.0]))
    assert ap50_95 == pytest.approx(1.0) and ap50 == pytest.approx(1.0)  # every GT box found exactly
    assert "Average forward time: 50.00 ms" in summary  # 0.2 s over 2 batches of 2 images
    # Nothing detected: AP 0 rather than an error.
    assert evaluator.evaluate_prediction([], [0.0, 0.0, 1.0])[:2] == (0.0, 0.0)


def test_evaluate_takes_the_six_positional_arguments_of_megvii_eval_tool(evaluator):
    """Megvii's tools/eval.py: evaluator.evaluate(model, is_distributed, args.fp16, trt_file, decoder,
    exp.test_size); its TensorRT path (a trt_file or decoder) is refused, by name."""
    dataset = evaluator.dataset
    model = TableModel(detection_rows(dataset, ground_truth_detections(dataset.coco)), num_classes=3)
    ap50_95, ap50, summary = evaluator.evaluate(model, False, False, None, None, TEST_SIZE)
    assert ap50_95 == pytest.approx(1.0) and ap50 == pytest.approx(1.0) and "Average forward time" in summary
    with pytest.raises(ValueError, match="TensorRT"):
        evaluator.evaluate(model, False, False, "model_trt.pth", None, TEST_SIZE)


def test_megvii_box_helpers_convert_in_place_and_return_their_argument():
    """Megvii's xyxy2xywh, xyxy2cxcywh and cxcywh2xyxy write into the array they are given (code
    written for them may ignore the return value); bboxes_iou is a pairwise IoU matrix."""
    from yolox.utils import bboxes_iou, cxcywh2xyxy, xyxy2cxcywh, xyxy2xywh

    boxes = np.array([[10.0, 20.0, 50.0, 40.0]])
    assert xyxy2xywh(boxes) is boxes and boxes.tolist() == [[10.0, 20.0, 40.0, 20.0]]
    boxes = torch.tensor([[10.0, 20.0, 50.0, 40.0, 0.5]])  # a score column rides along untouched
    assert xyxy2cxcywh(boxes) is boxes and boxes.tolist() == [[30.0, 30.0, 40.0, 20.0, 0.5]]
    assert cxcywh2xyxy(boxes) is boxes and boxes[0, :4].tolist() == [10.0, 20.0, 50.0, 40.0]
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    assert torch.allclose(bboxes_iou(a, b), torch.tensor([[1.0, 50 / 150, 0.0]]))
    centre = torch.tensor([[5.0, 5.0, 10.0, 10.0]])
    assert torch.allclose(bboxes_iou(centre, centre, xyxy=False), torch.ones(1, 1))
