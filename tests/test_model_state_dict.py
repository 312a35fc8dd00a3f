"""Every YOLOX size has the official parameter names, shapes, dtypes and counts."""
import json

import pytest
import torch

from yolox.exp import get_exp
from yolox.models import YOLOFPN, YOLOPAFPN, YOLOX, Darknet, YOLOXHead

SIZES = ["yolox_nano", "yolox_tiny", "yolox_s"] + [
    pytest.param(name, marks=pytest.mark.slow) for name in ("yolox_m", "yolox_l", "yolox_x")]  # large builds


@pytest.fixture(scope="module")
def official(reference_dir):
    return json.loads((reference_dir / "state_dict_keys.json").read_text())["models"]


@pytest.mark.parametrize("name", SIZES)
def test_bundled_exp_builds_the_official_state_dict(name, official, repo_root):
    expected = official[name]
    exp = get_exp(str(repo_root / "exps" / f"{name}.py"))
    assert (exp.depth, exp.width, exp.depthwise) == (expected["depth"], expected["width"], expected["depthwise"])
    assert list(exp.input_size) == expected["input_size"] and list(exp.test_size) == expected["test_size"]
    model = exp.get_model()
    ours = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]
    assert ours == expected["keys"]
    assert sum(p.numel() for p in model.parameters()) == expected["num_params"]
    bn = [(m.eps, m.momentum) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert set(bn) == {tuple(v) for v in expected["bn_eps_momentum"]}


@pytest.mark.slow  # 63.7 M parameters
def test_yolov3_exp_builds_the_official_state_dict(official):
    expected = official["yolov3"]
    model = get_exp(exp_name="yolov3").get_model()
    ours = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]
    assert ours == expected["keys"]
    assert sum(p.numel() for p in model.parameters()) == expected["num_params"] == 63_724_767
    kinds = {type(m).__name__ for m in model.modules() if isinstance(m, (torch.nn.LeakyReLU, torch.nn.SiLU))}
    assert sorted(kinds) == expected["activation_modules"]
    bn = [(m.eps, m.momentum) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert set(bn) == {tuple(v) for v in expected["bn_eps_momentum"]}


def test_yolofpn_keys_are_megvii_yolov3_keys_under_backbone(official):
    """Megvii's yolov3 exp builds ``YOLOFPN()`` positionally; a narrow copy has the same names."""
    names = [k for k, _, _ in official["yolov3"]["keys"] if k.startswith("backbone.")]
    narrow = YOLOFPN(53, stem_out_channels=2)
    assert ["backbone." + k for k in narrow.state_dict()] == names
    shapes = [tuple(out.shape) for out in narrow(torch.zeros(1, 3, 64, 96))]
    assert shapes == [(1, 8, 8, 12), (1, 16, 4, 6), (1, 32, 2, 3)]  # 4c, 8c, 16c at strides 8, 16, 32


@pytest.mark.parametrize("depth,residuals", [(21, [1, 1, 2, 2, 1]), (53, [1, 2, 8, 8, 4])])
def test_darknet_depths_and_output_shapes(depth, residuals):
    net = Darknet(depth, stem_out_channels=4, out_features=("stem", "dark2", "dark3", "dark4", "dark5"))
    counts = [sum(type(m).__name__ == "ResLayer" for m in getattr(net, name)) for name in net.STAGES]
    assert counts == residuals
    shapes = {k: tuple(v.shape) for k, v in net(torch.zeros(1, 3, 64, 64)).items()}
    assert shapes == {"stem": (1, 8, 32, 32), "dark2": (1, 16, 16, 16), "dark3": (1, 32, 8, 8),
                      "dark4": (1, 64, 4, 4), "dark5": (1, 64, 2, 2)}
    with pytest.raises(ValueError, match="Darknet depth must be one of \\[21, 53\\]"):
        Darknet(50)


def test_megvii_style_get_model_override_still_builds(official):
    """Megvii's nano experiment builds the network itself with these positional/keyword arguments."""
    in_channels = [256, 512, 1024]
    backbone = YOLOPAFPN(0.33, 0.25, in_channels=in_channels, act="silu", depthwise=True)
    head = YOLOXHead(80, 0.25, in_channels=in_channels, act="silu", depthwise=True)
    keys = [k for k in YOLOX(backbone, head).state_dict()]
    assert keys == [k for k, _, _ in official["yolox_nano"]["keys"]]


ACTIVATIONS = [("relu", torch.nn.ReLU), ("lrelu", torch.nn.LeakyReLU), ("silu", torch.nn.SiLU)]


@pytest.mark.parametrize("act,module", ACTIVATIONS)
def test_activation_option_reaches_every_block(act, module):
    model = YOLOX(YOLOPAFPN(0.33, 0.125, act=act), YOLOXHead(3, 0.125, act=act))
    kinds = {type(m) for m in model.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.SiLU))}
    assert kinds == {module}


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        YOLOPAFPN(0.33, 0.125, act="gelu")
