"""Megvii's model builders (yolox.models.yolox_s, ..., yolox_custom), the repository's hubconf.py
for torch.hub, and yolox.exp.default, the bundled experiments by module."""
import subprocess
import sys

import pytest
import torch

from yolox.models import YOLOX

NANO_PARAMS = 912_159  # Megvii's yolox_nano, 80 classes (../shared/reference/state_dict_keys.json)
S_PARAMS = 8_968_255  # Megvii's yolox_s


def _num_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """torch.hub's folder, empty, for this test only (TORCH_HOME/hub)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # a set_dir() elsewhere would win over TORCH_HOME
    return tmp_path / "torch_home" / "hub"


def test_hubconf_offers_megvii_entries(repo_root):
    import importlib.util

    spec = importlib.util.spec_from_file_location("hubconf_under_test", repo_root / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    entries = {name for name in dir(hubconf) if callable(getattr(hubconf, name)) and not name.startswith("_")}
    assert entries == {"yolox_nano", "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x", "yolov3",
                       "yolox_custom"}
    assert "torch" in hubconf.dependencies


def test_torch_hub_load_of_a_local_clone_returns_the_model(repo_root):
    model = torch.hub.load(str(repo_root), "yolox_s", source="local", pretrained=False)
    assert isinstance(model, YOLOX) and _num_params(model) == S_PARAMS
    assert next(model.parameters()).device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_a_builder_takes_megvii_positional_arguments_and_its_class_count():
    from yolox.models import yolox_nano

    model = yolox_nano(False, 3, "cpu")
    assert [p.out_channels for p in model.head.cls_preds] == [3, 3, 3]
    assert model.training  # as Exp.get_model returns it, and Megvii's builders
    assert _num_params(yolox_nano(pretrained=False, device="cpu")) == NANO_PARAMS


def test_pretrained_without_the_official_file_downloads_it_or_says_where_to_get_it(hub_dir, tmp_path, monkeypatch):
    import socket

    from yolox.models import yolox_nano
    from yolox.utils.checkpoint import WeightsDownloadError

    with socket.socket() as probe:  # a port nothing listens on: no network
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("YOLOX_WEIGHTS_URL", url)
    monkeypatch.setenv("YOLOX_HOME", str(tmp_path / "yolox_home"))
    with pytest.raises(WeightsDownloadError) as err:
        yolox_nano(pretrained=True, device="cpu")
    message = str(err.value)
    assert f"{url}/yolox_nano.pth" in message and str(tmp_path / "yolox_home" / "weights" / "yolox_nano.pth") in message


def test_pretrained_takes_the_weights_cache_when_torch_hub_has_no_copy(hub_dir, tmp_path, monkeypatch):
    from yolox.models import yolox_nano

    monkeypatch.setenv("YOLOX_HOME", str(tmp_path / "yolox_home"))
    weights = yolox_nano(pretrained=False, device="cpu").state_dict()
    weights = {k: v + 1 if v.is_floating_point() else v for k, v in weights.items()}
    (tmp_path / "yolox_home" / "weights").mkdir(parents=True)
    torch.save({"model": weights}, tmp_path / "yolox_home" / "weights" / "yolox_nano.pth")  # a finished download
    loaded = yolox_nano(pretrained=True, device="cpu").state_dict()
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)


def test_pretrained_loads_the_official_file_from_torch_hubs_checkpoint_folder(hub_dir):
    from yolox.models import yolox_nano

    weights = yolox_nano(pretrained=False, device="cpu").state_dict()
    weights = {k: v + 1 if v.is_floating_point() else v for k, v in weights.items()}
    (hub_dir / "checkpoints").mkdir(parents=True)
    torch.save({"model": weights, "start_epoch": 300}, hub_dir / "checkpoints" / "yolox_nano.pth")  # Megvii's keys
    loaded = yolox_nano(pretrained=True, device="cpu").state_dict()
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)


def test_pretrained_with_another_class_count_keeps_the_initial_weights(hub_dir, capture_log):
    from yolox.models import yolox_nano

    warnings = capture_log("WARNING")
    model = yolox_nano(pretrained=True, num_classes=3, device="cpu")  # no file needed: it is not read
    assert model.head.cls_preds[0].out_channels == 3
    assert any("COCO's 80 classes" in w and "num_classes=3" in w for w in warnings)


def test_yolox_custom_builds_the_experiment_and_loads_its_checkpoint(tmp_path):
    from yolox.models import yolox_custom

    exp_file = tmp_path / "tiny_exp.py"
    exp_file.write_text("from yolox.exp import Exp as MyExp\n\n\nclass Exp(MyExp):\n    def __init__(self):\n"
                        "        super().__init__()\n        self.num_classes = 2\n"
                        "        self.depth, self.width = 0.33, 0.125\n")
    trained = yolox_custom(exp_path=str(exp_file), device="cpu")
    assert trained.head.cls_preds[0].out_channels == 2
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.5)
    torch.save({"model": trained.state_dict()}, tmp_path / "ckpt.pth")
    loaded = yolox_custom(str(tmp_path / "ckpt.pth"), str(exp_file), "cpu")  # Megvii's order: ckpt, exp, device
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), trained.state_dict().values()))
    with pytest.raises(ValueError, match="needs exp_path"):
        yolox_custom(ckpt_path=str(tmp_path / "ckpt.pth"))


def test_an_unknown_model_name_lists_the_known_ones():
    from yolox.models import create_yolox_model

    with pytest.raises(ValueError, match=r"unknown model 'yolox-q'.*'yolox-s'.*'yolox_custom'"):
        create_yolox_model("yolox-q")


@pytest.mark.slow  # a child interpreter
def test_importing_yolox_models_does_not_load_the_experiment_layer():
    run = subprocess.run([sys.executable, "-c", "import sys, yolox.models; print('yolox.exp' in sys.modules)"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_exp_default_gives_the_bundled_experiments_by_module(repo_root):
    import importlib

    from yolox.exp.default import yolox_nano
    from yolox.exp.default.yolox_s import Exp

    assert (Exp().depth, Exp().width) == (0.33, 0.50)
    assert (yolox_nano.Exp().width, yolox_nano.Exp().depthwise) == (0.25, True)
    yolov3 = importlib.import_module("yolox.exp.default.yolov3")
    assert yolov3.Exp().darknet_depth == 53
    assert yolov3.__file__ == str(repo_root / "exps" / "yolov3.py")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("yolox.exp.default.yolox_q")
