"""YOLOXHead.get_losses and SimOTAAssigner against the reference fixtures, case by case.

classic: Megvii YOLOX a4152a5 with the default head; geometry: newest Megvii YOLOX, reproduced by
``SimOTAAssigner(center_radius=1.5, prefilter="center")``. Tolerances: ../shared/reference/README.md.
"""
import pytest
import torch

from _loss_fixtures import (
    CASE_NAMES,
    CASES_WITH_GRADIENTS,
    LOSS_KEYS,
    VARIANTS,
    as_floats,
    clone_outputs,
    head_for,
    load_case,
    load_cases,
)
from yolox.models import DetectionTargets

EXACT_PER_IMAGE = ["fg_mask", "matched_gt_inds", "gt_matched_classes", "prefilter_mask", "dynamic_ks"]
COUNTS_PER_IMAGE = ["num_fg", "num_gt", "num_candidates", "in_constraint_count", "multi_gt_anchors"]


def assign(head, case, dtype=torch.float32):
    criterion = head.criterion
    outputs = criterion.decode(clone_outputs(case["raw_outputs"], dtype=dtype))
    return criterion.assign(outputs, DetectionTargets.from_labels(case["labels"].to(dtype)))


@pytest.mark.parametrize("variant", VARIANTS)
def test_fixture_holds_the_expected_cases(variant):
    cases = load_cases(variant)
    assert [c["name"] for c in cases] == CASE_NAMES
    assert all(c["variant"] == variant for c in cases)


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_losses_match_reference(variant, name):
    case = load_case(variant, name)
    losses = as_floats(head_for(variant, case).get_losses(clone_outputs(case["raw_outputs"]), case["labels"]))
    for ours, theirs in LOSS_KEYS.items():
        assert losses[ours] == pytest.approx(case["expected"][theirs], rel=1e-5, abs=1e-6), ours


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_float64_losses_match_reference(variant, name):
    case = load_case(variant, name)
    raw = clone_outputs(case["raw_outputs"], dtype=torch.float64)
    losses = head_for(variant, case).get_losses(raw, case["labels"].double())
    assert losses["total_loss"].dtype == torch.float64
    for ours, theirs in LOSS_KEYS.items():
        assert float(losses[ours].detach()) == pytest.approx(case["expected_f64"][theirs], rel=1e-5, abs=1e-6), ours


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_assignments_match_reference(variant, name):
    case = load_case(variant, name)
    result = assign(head_for(variant, case), case)
    assert result.fg_mask.shape == (case["batch_size"], case["num_anchors"])
    for b, expected in enumerate(case["assignments"]):
        ours = result.image(b)
        assert ours.num_gt == int(case["num_gt"][b])
        for key in EXACT_PER_IMAGE:
            assert torch.equal(getattr(ours, key).long(), expected[key].long()), f"image {b}: {key}"
        for key in COUNTS_PER_IMAGE:
            assert getattr(ours, key) == expected[key], f"image {b}: {key}"
        torch.testing.assert_close(ours.pred_ious_this_matching, expected["pred_ious_this_matching"].float(),
                                   rtol=0, atol=2e-5)


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_float64_assignments_match_reference(variant, name):
    case = load_case(variant, name)
    result = assign(head_for(variant, case), case, dtype=torch.float64)
    for b, expected in enumerate(case["assignments_f64"]):
        ours = result.image(b)
        for key in ["fg_mask", "matched_gt_inds", "gt_matched_classes"]:
            assert torch.equal(getattr(ours, key).long(), expected[key].long()), f"image {b}: {key}"
        torch.testing.assert_close(ours.pred_ious_this_matching.double(), expected["pred_ious_this_matching"],
                                   rtol=0, atol=2e-5)


@pytest.mark.parametrize("name", CASES_WITH_GRADIENTS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_match_reference(variant, name):
    case = load_case(variant, name)
    raw = clone_outputs(case["raw_outputs"], grad=True)
    head_for(variant, case).get_losses(raw, case["labels"])["total_loss"].backward()
    for level, (ours, theirs) in enumerate(zip(raw, case["grad_raw_outputs"])):
        torch.testing.assert_close(ours.grad, theirs, rtol=1e-4, atol=5e-5, msg=f"level {level}")


def test_model_forward_in_training_mode_returns_the_loss_dict():
    """YOLOX(images, labels) -> the head's dict, keys as Megvii's trainer logs them."""
    from yolox.models import YOLOX, YOLOPAFPN, YOLOXHead

    torch.manual_seed(0)
    model = YOLOX(YOLOPAFPN(0.33, 0.125, depthwise=True), YOLOXHead(3, 0.125, depthwise=True)).train()
    labels = torch.tensor([[[1.0, 40.0, 30.0, 20.0, 24.0], [0.0, 0.0, 0.0, 0.0, 0.0]]])
    losses = model(torch.rand(1, 3, 64, 96) * 255, labels)
    assert set(losses) == {"total_loss", "iou_loss", "l1_loss", "conf_loss", "cls_loss", "num_fg"}
    losses["total_loss"].backward()
    assert all(p.grad is not None for p in model.head.cls_preds.parameters())
