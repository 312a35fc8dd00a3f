"""OpenVINO IR export: the IR computes what PyTorch does (fp32 within the export tolerances), its
metadata round-trips through the runtime info, bf16 runs where the CPU has it (and is refused with
a clear error where it does not), a broken .xml/.bin pair is refused, and the tool works."""
import shutil

import numpy as np
import pytest
import torch

from yolox.deploy.export_check import check_batches, verification_batch
from yolox.deploy.metadata import ModelMetadata
from yolox.exp import get_exp

pytestmark = pytest.mark.slow  # exports a model (~5 s idle, 12 s on a loaded machine)

ov = pytest.importorskip("openvino", reason="openvino is not installed (pip install -e \".[deploy]\")")

from yolox.deploy.backends.openvino_backend import OpenVINOBackend, cpu_supports_bf16  # noqa: E402
from yolox.deploy.openvino_export import bin_path, check_openvino, export_openvino  # noqa: E402

SIZE = (64, 96)  # (height, width): small and not square, to catch a swapped axis


def tiny_model(seed: int = 0) -> torch.nn.Module:
    """Nano's layout at half its width, 3 classes; scores livelier than the 0.01 prior."""
    torch.manual_seed(seed)
    exp = get_exp(exp_name="yolox-nano")
    exp.width, exp.num_classes = 0.125, 3
    model = exp.get_model().eval()
    with torch.no_grad():
        for conv in list(model.head.cls_preds) + list(model.head.obj_preds):
            conv.bias.normal_(0.0, 2.0)
    return model


def tiny_metadata(**changes) -> ModelMetadata:
    fields = dict(class_names=["RBC", "WBC", "Platelets"], input_size=SIZE, decoded=True, batch_size=1,
                  exp_name="tiny")
    return ModelMetadata(**{**fields, **changes})


@pytest.fixture(scope="module")
def tiny():
    return tiny_model()


@pytest.fixture(scope="module")
def ir(tiny, tmp_path_factory):
    """The tiny model as an fp32 IR (boxes decoded in the graph)."""
    tiny.head.decode_in_inference = True
    return export_openvino(tiny, tmp_path_factory.mktemp("ir") / "tiny.xml", metadata=tiny_metadata())


def test_fp32_ir_matches_pytorch_within_the_export_tolerances(tiny, ir):
    assert ir.is_file() and bin_path(ir).is_file()
    (check,) = check_batches(tiny, lambda ref, images: check_openvino(ir, ref, images), image=None, input_size=SIZE,
                             batch_sizes=[1])
    assert check.passed, str(check)
    assert check.runtime == "OpenVINO"


def test_metadata_round_trips_through_the_runtime_info(ir):
    backend = OpenVINOBackend(ir, precision="fp32")
    assert backend.name == "openvino"
    assert backend.metadata == tiny_metadata()
    assert backend.inference_precision == "fp32"


def test_output_has_the_protocol_shape_and_is_a_copy(ir):
    backend = OpenVINOBackend(ir, precision="fp32")
    images = verification_batch(None, SIZE, 1)
    first = backend(images)
    # [1, A, 5 + C], A = (64 / 8) * (96 / 8) + (64 / 16) * (96 / 16) + (64 / 32) * (96 / 32)
    assert first.shape == (1, 8 * 12 + 4 * 6 + 2 * 3, 8) and first.dtype == np.float32
    kept = first.copy()
    backend(np.zeros_like(images))
    np.testing.assert_array_equal(first, kept)  # the next call does not overwrite an earlier result


def test_bf16_runs_where_the_cpu_has_it_and_is_refused_where_not(tiny, ir):
    if not cpu_supports_bf16():
        with pytest.raises(ValueError, match="cannot compute in bfloat16.*precision='fp32'"):
            OpenVINOBackend(ir, precision="bf16")
        assert OpenVINOBackend(ir).inference_precision == "fp32"  # None: the best the CPU has
        return
    backend = OpenVINOBackend(ir)  # None: bf16 on this CPU
    assert backend.inference_precision == "bf16"
    images = verification_batch(None, SIZE, 1)
    with torch.no_grad():
        reference = tiny(torch.from_numpy(images)).numpy()
    diff = np.abs(backend(images) - reference)
    # bfloat16 keeps 8 bits of mantissa: a box of ~50 px moves by well under a pixel, a score by < 0.05.
    assert diff[..., :4].max() < 1.0 and diff[..., 4:].max() < 0.05


def test_an_unknown_precision_is_refused(ir):
    with pytest.raises(ValueError, match="expected None.*'fp32' or 'bf16'"):
        OpenVINOBackend(ir, precision="fp16")


def test_a_missing_bin_is_a_clear_error(ir, tmp_path):
    lonely = tmp_path / "lonely.xml"
    shutil.copy(ir, lonely)
    with pytest.raises(FileNotFoundError, match="lonely.bin is missing"):
        OpenVINOBackend(lonely)
    with pytest.raises(FileNotFoundError, match="no OpenVINO IR at"):
        OpenVINOBackend(tmp_path / "absent.xml")


def test_a_bin_of_another_export_is_refused(ir, tmp_path):
    """What a crash between the two renames would leave: the old .xml beside a new .bin of the same
    size (another export of the same architecture: other weights)."""
    shutil.copy(ir, tmp_path / "mixed.xml")
    weights = bytearray(bin_path(ir).read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (tmp_path / "mixed.bin").write_bytes(bytes(weights))
    with pytest.raises(ValueError, match="mixed.bin is not the weights file this .xml was written with"):
        OpenVINOBackend(tmp_path / "mixed.xml")


def test_an_ir_without_yolox_metadata_needs_it_passed(ir, tmp_path):
    foreign = tmp_path / "foreign.xml"
    model = ov.Core().read_model(str(ir))
    for key in ("yolox", "yolox_bin_sha256"):  # as an IR written by other tools
        del model.get_rt_info()[key]
    ov.save_model(model, foreign, compress_to_fp16=False)
    assert not ov.Core().read_model(str(foreign)).has_rt_info("yolox")
    with pytest.raises(ValueError, match=r"no 'yolox' runtime info.*metadata=ModelMetadata"):
        OpenVINOBackend(foreign)
    assert OpenVINOBackend(foreign, metadata=tiny_metadata()).metadata.class_names == ["RBC", "WBC", "Platelets"]


def test_a_save_cut_short_leaves_the_old_xml_and_no_temp_files(ir, tmp_path, monkeypatch):
    """A failure after the new .bin is in place and before the .xml is: the old .xml stays (and,
    with the hash, refuses a .bin of other weights), and no staging files are left behind."""
    from yolox.deploy import openvino_export

    shutil.copy(ir, tmp_path / "pair.xml")
    shutil.copy(bin_path(ir), tmp_path / "pair.bin")
    old_xml = (tmp_path / "pair.xml").read_bytes()
    moved = []
    real_move = openvino_export._move_into_place

    def move_then_fail(staged, final):
        if final.suffix == ".xml":
            raise OSError(28, "No space left on device")
        moved.append(final.name)
        real_move(staged, final)

    monkeypatch.setattr(openvino_export, "_move_into_place", move_then_fail)
    model = ov.Core().read_model(str(ir))
    with pytest.raises(OSError, match="No space left"):
        openvino_export.save_ir(model, tmp_path / "pair.xml", tiny_metadata(exp_name="other"))
    assert moved == ["pair.bin"]
    assert (tmp_path / "pair.xml").read_bytes() == old_xml
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pair.bin", "pair.xml"]
    assert OpenVINOBackend(tmp_path / "pair.xml").metadata.exp_name == "tiny"  # same weights: still valid


def test_on_a_cpu_without_bf16_none_means_fp32_and_bf16_is_refused(ir, monkeypatch):
    """The other branch of the test above, whatever this CPU has."""
    from yolox.deploy.backends import openvino_backend

    monkeypatch.setattr(openvino_backend, "cpu_supports_bf16", lambda core=None: False)
    assert OpenVINOBackend(ir).inference_precision == "fp32"
    with pytest.raises(ValueError, match=r"precision='bf16': this CPU cannot compute in bfloat16 .*use "
                                         r"precision='fp32' or None"):
        OpenVINOBackend(ir, precision="bf16")
