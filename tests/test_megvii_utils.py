"""The rest of Megvii YOLOX's ``yolox.utils``: meters, memory helpers, distributed helpers in one
process, box filters, mode switching, assignment drawing; each on inputs checkable by hand.
(Their collectives across two processes: tests/test_launch.py.)"""
import math
import pickle
import time

import numpy as np
import pytest
import torch
from torch import nn

needs_cuda = pytest.mark.cuda


def test_average_meter_keeps_a_window_and_the_whole_series():
    from yolox.utils import AverageMeter

    meter = AverageMeter(window_size=3)
    assert math.isnan(meter.avg) and meter.latest is None and meter.global_avg == 0.0
    for value in (1, 2, 3, torch.tensor(10.0)):
        meter.update(value)
    assert meter.avg == pytest.approx(5.0)  # 2, 3, 10
    assert meter.median == 3.0 and meter.latest == 10.0
    assert meter.total == 16.0 and meter.global_avg == 4.0
    meter.clear()  # the window only
    assert meter.latest is None and meter.total == 16.0
    meter.reset()
    assert meter.total == 0.0 and meter.global_avg == 0.0


def test_meter_buffer_makes_meters_on_first_use_and_filters_by_name():
    from yolox.utils import AverageMeter, MeterBuffer
    from yolox.utils.metric import MeterBuffer as FromMegviiPath

    assert FromMegviiPath is MeterBuffer
    meters = MeterBuffer(window_size=2)
    meters.update({"iter_time": 0.5, "total_loss": torch.tensor(4.0)}, data_time=0.1)
    meters.update(iter_time=1.5, data_time=0.3, total_loss=2.0)
    meters.update(iter_time=2.5)
    assert isinstance(meters["iter_time"], AverageMeter)
    assert meters["iter_time"].avg == pytest.approx(2.0)  # the window of 2: 1.5, 2.5
    assert meters["total_loss"].avg == pytest.approx(3.0)
    assert sorted(meters.get_filtered_meter("time")) == ["data_time", "iter_time"]
    assert sorted(meters.get_filtered_meter("loss")) == ["total_loss"]
    meters.clear_meters()
    assert meters["iter_time"].latest is None and meters["iter_time"].total == pytest.approx(4.5)
    meters.reset()
    assert meters["iter_time"].total == 0.0


def test_mem_usage_is_this_machines_memory_in_use_in_gb():
    import psutil

    from yolox.utils import mem_usage

    assert mem_usage() == pytest.approx(psutil.virtual_memory().used / 2 ** 30, rel=0.2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
@pytest.mark.parametrize("name, args", [("gpu_mem_usage", ()), ("get_total_and_free_memory_in_Mb", (0,)),
                                        ("occupy_mem", (0,))])
def test_gpu_helpers_say_there_is_no_gpu_on_a_cpu(name, args):
    from yolox import utils

    with pytest.raises(utils.NoGPUError, match=f"{name}: there is no GPU here"):
        getattr(utils, name)(*args)


def test_occupy_mem_refuses_a_cpu_device():
    from yolox.utils import NoGPUError, occupy_mem

    with pytest.raises(NoGPUError, match="cpu is not a GPU|no GPU here"):
        occupy_mem(torch.device("cpu"))


@needs_cuda
def test_gpu_helpers_report_and_reserve_gpu_memory():
    from yolox.utils import get_total_and_free_memory_in_Mb, gpu_mem_usage, occupy_mem

    block = torch.empty(64 * 2 ** 20, dtype=torch.uint8, device="cuda")
    assert gpu_mem_usage() >= 64
    del block
    total, used = get_total_and_free_memory_in_Mb(0)
    assert 0 < used < total
    occupy_mem(0, mem_ratio=min(0.5, (used + 256) / total + 0.01))
    assert torch.cuda.memory_reserved(0) / 2 ** 20 >= 200  # the block stays cached for this process
    assert get_total_and_free_memory_in_Mb(0)[1] >= used + 200


def test_single_process_dist_helpers_are_no_ops():
    from yolox.utils import all_gather, gather, get_local_size, synchronize, time_synchronized, wait_for_the_master

    synchronize()
    with wait_for_the_master():
        pass
    assert all_gather({"a": 1}) == [{"a": 1}] and gather(3) == [3]
    assert get_local_size() == 1
    assert abs(time_synchronized() - time.time()) < 5


def test_wait_for_the_master_with_an_explicit_local_rank_runs_the_block():
    from yolox.utils import wait_for_the_master

    ran = []
    for local_rank in (0, 1):  # one process: the barriers are no-ops either way
        with wait_for_the_master(local_rank):
            ran.append(local_rank)
    assert ran == [0, 1]


def test_meshgrid_uses_matrix_indexing():
    from yolox.utils import meshgrid

    ys, xs = meshgrid(torch.arange(2), torch.arange(3))
    assert ys.shape == xs.shape == (2, 3)
    assert ys.tolist() == [[0, 0, 0], [1, 1, 1]] and xs.tolist() == [[0, 1, 2], [0, 1, 2]]


def test_matrix_iou_is_the_pairwise_iou_of_numpy_boxes():
    from yolox.utils import matrix_iou

    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    iou = matrix_iou(a, b)
    assert isinstance(iou, np.ndarray) and iou.shape == (1, 3)
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])


def test_filter_box_keeps_areas_strictly_inside_the_scale_range():
    from yolox.utils import filter_box

    # Sides 4, 8, 10 and 20: areas 16, 64, 100, 400; (8, 20) keeps 64 < area < 400, the side-10 box only.
    output = torch.tensor([[0, 0, 4, 4, 0.9], [0, 0, 8, 8, 0.8], [0, 0, 10, 10, 0.7], [0, 0, 20, 20, 0.6]])
    kept = filter_box(output, (8, 20))
    assert kept[:, 4].tolist() == pytest.approx([0.7])
    assert filter_box(output, (3, 21))[:, 4].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])


def test_megvii_box_converters_take_bboxes_by_keyword():
    from yolox.utils import cxcywh2xyxy, xyxy2cxcywh, xyxy2xywh

    assert xyxy2xywh(bboxes=np.array([[1.0, 2.0, 4.0, 6.0]])).tolist() == [[1.0, 2.0, 3.0, 4.0]]
    assert xyxy2cxcywh(bboxes=np.array([[0.0, 0.0, 4.0, 2.0]])).tolist() == [[2.0, 1.0, 4.0, 2.0]]
    assert cxcywh2xyxy(bboxes=np.array([[2.0, 1.0, 4.0, 2.0]])).tolist() == [[0.0, 0.0, 4.0, 2.0]]


def test_adjust_status_sets_a_mode_and_restores_each_submodules_own():
    from yolox.utils import adjust_status

    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)).train()
    model[1].eval()  # a frozen norm layer inside a training model
    with adjust_status(model, training=False) as inside:
        assert inside is model and not any(m.training for m in model.modules())
    assert model.training and model[0].training and not model[1].training
    with adjust_status(model, training=True):
        assert all(m.training for m in model.modules())
    assert not model[1].training


def test_is_parallel_and_fuse_conv_and_bn_are_exported():
    from yolox.utils import fuse_conv_and_bn, is_parallel

    conv, bn = nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    x = torch.randn(1, 2, 5, 5)
    torch.testing.assert_close(fuse_conv_and_bn(conv, bn)(x), bn.eval()(conv(x)))
    assert is_parallel(nn.DataParallel(conv)) and not is_parallel(conv)


def test_pyobj_round_trips_through_a_byte_tensor_and_all_reduce_is_identity_alone():
    from yolox.utils import all_reduce, get_async_norm_states, pyobj2tensor, tensor2pyobj

    obj = {"keys": ["a", "b"], "n": 3}
    tensor = pyobj2tensor(obj, device="cpu")
    assert tensor.dtype == torch.uint8 and tensor.numel() == len(pickle.dumps(obj))
    assert tensor2pyobj(tensor) == obj
    states = {"x": torch.ones(2)}
    assert all_reduce(states, op="mean") is states
    with pytest.raises(ValueError, match="op must be one of"):
        all_reduce(states, op="max")
    bn_states = get_async_norm_states(nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)))
    assert sorted(bn_states) == ["1.bias", "1.running_mean", "1.running_var", "1.weight"]


def test_visualize_assign_draws_assigned_anchors_in_the_box_colour_and_writes_the_picture(tmp_path):
    from yolox.utils import visualize_assign
    from yolox.utils.visualize import UNMATCHED_COLOR, color_for

    img = np.zeros((40, 40, 3), dtype=np.uint8)
    boxes = torch.tensor([[2.0, 2.0, 18.0, 18.0], [22.0, 22.0, 38.0, 38.0]])
    coords = torch.tensor([[10.0, 10.0], [30.0, 30.0]])
    match_results = torch.tensor([0, 0])  # both anchors to box 0; box 1 has none
    out = visualize_assign(img, boxes, coords, match_results, save_name=str(tmp_path / "assign.png"))
    assert out is img
    assert tuple(img[10, 10]) == color_for(0) and tuple(img[30, 30]) == color_for(0)
    assert tuple(img[38, 30]) == UNMATCHED_COLOR  # bottom edge of the unmatched box
    assert (tmp_path / "assign.png").stat().st_size > 0


def test_random_color_gives_three_channel_values():
    from yolox.utils import random_color

    color = random_color()
    assert len(color) == 3 and all(0 <= c <= 255 for c in color)
