"""fuse_model and the channels-last layout keep outputs; get_model_info reports parameters and FLOPs."""
import copy

import torch

from yolox.models import YOLOPAFPN, YOLOX, YOLOXHead
from yolox.utils.model_utils import fuse_model, get_model_info, is_channels_last, model_stats, to_channels_last


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


def test_channels_last_keeps_outputs_losses_and_checkpoints(tmp_path):
    model = randomised_bn_model()
    nhwc = to_channels_last(copy.deepcopy(model))
    assert is_channels_last(nhwc) and not is_channels_last(model)
    images = torch.rand(2, 3, 96, 96) * 255
    with torch.no_grad():
        expected = model(images)
        torch.testing.assert_close(nhwc(images), expected, rtol=1e-4, atol=1e-4)
        fused = fuse_model(copy.deepcopy(nhwc))
        assert is_channels_last(fused)
        torch.testing.assert_close(fused(images), expected, rtol=1e-4, atol=1e-4)
    labels = torch.tensor([[[1.0, 40.0, 40.0, 30.0, 20.0]], [[3.0, 60.0, 30.0, 16.0, 40.0]]])
    train_a, train_b = copy.deepcopy(model).train(), copy.deepcopy(nhwc).train()
    loss_a, loss_b = train_a(images, labels)["total_loss"], train_b(images, labels)["total_loss"]
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-4, atol=1e-4)
    # A channels-last model's checkpoint loads into a plain one (and so into Megvii's) unchanged.
    torch.save({"model": nhwc.state_dict()}, tmp_path / "nhwc.pth")
    plain = randomised_bn_model()
    for p in plain.parameters():
        torch.nn.init.zeros_(p)
    plain.load_state_dict(torch.load(tmp_path / "nhwc.pth")["model"])
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), model.state_dict().values()))


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
