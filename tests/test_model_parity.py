"""Parity with the reference YOLOX-Nano: same weights in, same detections and features out."""
import pytest
import torch

from yolox.exp import get_exp


@pytest.fixture(scope="module")
def fixture(reference_dir):
    return torch.load(reference_dir / "model_parity_nano.pt", weights_only=True)


def nano_model(state_dict):
    model = get_exp("exps/yolox_nano.py").get_model()
    model.load_state_dict(state_dict)
    return model.eval()


def assert_detections_close(actual, expected):
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual[..., :4], expected[..., :4], rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(actual[..., 4:], expected[..., 4:], rtol=1e-4, atol=1e-6)


def test_seeded_build_reproduces_reference_initialisation(fixture):
    torch.manual_seed(fixture["seed"])
    model = get_exp("exps/yolox_nano.py").get_model()
    ours = model.state_dict()
    assert list(ours) == list(fixture["state_dict"])
    for name, tensor in fixture["state_dict"].items():
        assert torch.equal(ours[name], tensor), name


def test_eval_output_matches_reference(fixture):
    model = nano_model(fixture["state_dict"])
    with torch.no_grad():
        out = model(fixture["images_uint8"].float())
    assert_detections_close(out, fixture["eval_output"])


def test_bn_calibrated_eval_output_and_features_match_reference(fixture):
    calibrated = fixture["bn_calibrated"]
    state = dict(fixture["state_dict"])
    state.update(calibrated["state_overrides"])
    model = nano_model(state)
    images = calibrated["images_uint8"].float()
    with torch.no_grad():
        out = model(images)
        backbone_feats = model.backbone.backbone(images)
        neck_feats = model.backbone(images)
    assert_detections_close(out, calibrated["eval_output"])

    probes = calibrated["feature_probe"]
    ours = {f"backbone.backbone.{k}": v for k, v in backbone_feats.items()}
    ours.update({f"backbone.{i}": f for i, f in enumerate(neck_feats)})
    for name, probe in probes.items():
        feat = ours[name]
        assert list(feat.shape) == list(probe["shape"]), name
        crop = feat[:, :8, :4, :4]
        torch.testing.assert_close(crop, probe["crop"].to(crop.dtype), rtol=1e-4, atol=1e-4, msg=name)


def test_decode_switch_returns_raw_offsets(fixture):
    model = nano_model(fixture["state_dict"])
    images = fixture["images_uint8"][:1].float()
    with torch.no_grad():
        decoded = model(images)
        model.head.decode_in_inference = False
        raw = model(images)
    # Scores are identical; boxes decode as cx = (dx + x) * s, w = exp(dw) * s.
    torch.testing.assert_close(raw[..., 4:], decoded[..., 4:])
    stride8 = raw[0, : 52 * 52]
    x = torch.arange(52).repeat(52).float()
    torch.testing.assert_close((stride8[:, 0] + x) * 8, decoded[0, : 52 * 52, 0])
    torch.testing.assert_close(torch.exp(stride8[:, 3]) * 8, decoded[0, : 52 * 52, 3])
