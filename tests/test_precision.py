"""Mixed precision policy (yolox.utils.precision) and the loss under bfloat16: which autocast and
scaler each flag gives on each device, and get_losses on the reference fixtures in bf16."""
from argparse import Namespace

import pytest
import torch

from _loss_fixtures import CASE_NAMES, LOSS_KEYS, VARIANTS, as_floats, clone_outputs, head_for, load_case
from yolox.core.options import TrainOptions
from yolox.exp import Exp
from yolox.utils.precision import Precision, amp_request


@pytest.mark.parametrize("request_, device, name, scaler", [
    (None, "cpu", "fp32", False),
    (False, "cuda", "fp32", False),
    ("fp16", "cuda", "fp16", True),  # Megvii's --fp16 on a GPU: fp16 autocast + GradScaler
    (True, "cuda", "fp16", True),  # Megvii's half=True
    ("fp16", "cpu", "bf16", False),  # --fp16 on a CPU: its reduced precision is bfloat16
    ("bf16", "cpu", "bf16", False),
])
def test_resolve_picks_dtype_and_scaler(request_, device, name, scaler):
    precision = Precision.resolve(request_, device)
    assert (precision.name, precision.grad_scaler, precision.device_type) == (name, scaler, device)
    assert precision.enabled == (name != "fp32")


def test_amp_names_the_precision_over_fp16_and_unknown_names_fail():
    assert amp_request(True, None) == "fp16" and amp_request(True, "bf16") == "bf16"
    assert amp_request(False, None) is None and amp_request("bf16") == "bf16"
    with pytest.raises(ValueError, match="'fp8'.*fp16, bf16"):
        amp_request(False, "fp8")
    options = TrainOptions.from_exp(Exp(), Namespace(batch_size=4, fp16=True, amp="bf16"))
    assert options.amp_request == "bf16"


def test_cpu_autocast_runs_the_model_in_bf16_and_returns_float32_boxes():
    exp = Exp()
    exp.depth, exp.width, exp.num_classes = 0.33, 0.125, 3
    torch.manual_seed(0)
    model = exp.get_model().eval()
    images = torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        reference = model(images)
        with Precision.resolve("bf16", "cpu").autocast():
            assert model.backbone(images)[0].dtype == torch.bfloat16  # the convolutions ran in bf16
            outputs = model(images)
    assert outputs.dtype == torch.float32  # decoded in float32: bf16 would space centres 2 px apart at 256+
    assert (outputs[..., :4] - reference[..., :4]).abs().max() < 2.0  # px, at 64 px input
    assert (outputs[..., 4:] - reference[..., 4:]).abs().max() < 0.02  # scores


@pytest.mark.parametrize("variant", VARIANTS)
def test_bf16_losses_on_the_reference_fixtures_within_1e_2_of_fp32(variant):
    """The fixtures' raw outputs cast to bfloat16 and scored under CPU autocast: the criterion
    promotes them to float32 (no dtype error), so only the inputs' rounding (8-bit mantissa)
    separates the losses from float32's."""
    for name in CASE_NAMES:
        case = load_case(variant, name)
        head = head_for(variant, case)
        fp32 = as_floats(head.get_losses(clone_outputs(case["raw_outputs"]), case["labels"]))
        with Precision.resolve("bf16", "cpu").autocast():
            losses = head.get_losses(clone_outputs(case["raw_outputs"], dtype=torch.bfloat16), case["labels"])
        assert losses["total_loss"].dtype == torch.float32, name
        bf16 = as_floats(losses)
        for key in LOSS_KEYS:
            assert bf16[key] == pytest.approx(fp32[key], rel=1e-2, abs=1e-4), f"{name}: {key}"


@pytest.mark.parametrize("capability, emulated, native", [((7, 0), True, False), ((7, 5), True, False),
                                                          ((8, 0), True, True), ((9, 0), True, True)])
def test_cuda_bf16_needs_ampere_even_where_torch_counts_emulation(monkeypatch, capability, emulated, native):
    """torch.cuda.is_bf16_supported() says yes on a V100 or T4 (it counts emulation, by default): the
    policy asks the requested GPU's compute capability instead, so --amp bf16 there fails at once."""
    asked = []
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: emulated)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: asked.append(device) or capability)
    if native:
        assert Precision.resolve("bf16", "cuda:1").dtype == torch.bfloat16
    else:
        with pytest.raises(ValueError, match=r"cuda:1 has no native bfloat16.*use --fp16"):
            Precision.resolve("bf16", "cuda:1")
    assert asked == [torch.device("cuda:1")]  # the GPU the run uses, not the current one
    assert Precision.resolve("fp16", "cuda:1").grad_scaler  # --fp16 needs no bfloat16
