"""fuse_model keeps outputs; get_model_info reports parameters and FLOPs."""
import copy

import torch

from yolox.models import YOLOPAFPN, YOLOX, YOLOXHead
from yolox.utils.model_utils import fuse_model, get_model_info, model_stats


def randomised_bn_model():
    torch.manual_seed(0)
    model = YOLOX(YOLOPAFPN(0.33, 0.125, depthwise=True), YOLOXHead(4, 0.125, depthwise=True))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # non-trivial statistics so folding matters
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_fused_model_gives_the_same_outputs():
    model = randomised_bn_model()
    fused = fuse_model(copy.deepcopy(model))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    images = torch.rand(2, 3, 96, 96) * 255
    with torch.no_grad():
        torch.testing.assert_close(fused(images), model(images), rtol=1e-4, atol=1e-4)


def test_model_stats_counts_parameters_and_scales_flops_with_area():
    model = randomised_bn_model()
    small, large = model_stats(model, (320, 320)), model_stats(model, (640, 640))
    assert small.params == sum(p.numel() for p in model.parameters())
    assert abs(large.gflops / small.gflops - 4.0) < 1e-6
    assert get_model_info(model, (640, 640)).startswith(f"Params: {small.params / 1e6:.2f}M, Gflops: ")


def test_model_stats_matches_a_direct_count_at_that_size():
    model = randomised_bn_model()
    counter = torch.utils.flop_counter.FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, 320, 320))
    assert abs(model_stats(model, (320, 320)).gflops - counter.get_total_flops() / 1e9) < 1e-6
