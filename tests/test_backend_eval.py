"""evaluate_detector scores a Detector's Backend (raw offsets decoded, or decoded in the file; fixed
batch fed in chunks) exactly as the evaluator scores the PyTorch model it came from."""
import numpy as np
import pytest
import torch

from yolox.deploy.backend_model import BackendModel, evaluate_detector
from yolox.deploy.detector import Detector
from yolox.deploy.metadata import ModelMetadata
from yolox.exp import get_exp

SIZE = (64, 96)


class TorchBackend:
    """The model as a Backend: numpy in, numpy out, raw or decoded as the head is set."""

    name = "torch"

    def __init__(self, model, metadata: ModelMetadata):
        self.model, self.metadata, self.calls = model, metadata, []

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.calls.append(len(images))
        if self.metadata.batch_size is not None:
            assert len(images) == self.metadata.batch_size
        return self.model(torch.from_numpy(images)).numpy()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    exp = get_exp(exp_name="yolox-nano")
    exp.width = 0.125
    net = exp.get_model().eval()
    with torch.no_grad():  # some boxes above the 0.01 threshold of COCO evaluation
        for conv in list(net.head.cls_preds) + list(net.head.obj_preds):
            conv.bias.normal_(0.0, 2.0)
    return net


def _metadata(decoded: bool, batch_size=None) -> ModelMetadata:
    return ModelMetadata(class_names=[f"c{i}" for i in range(80)], input_size=SIZE, decoded=decoded,
                         batch_size=batch_size)


@pytest.mark.parametrize("decoded, batch_size", [(False, 2), (True, None)], ids=["raw-fixed-batch", "decoded"])
def test_backend_model_outputs_what_the_decoding_head_outputs(model, decoded, batch_size):
    images = torch.rand(3, 3, *SIZE) * 255
    model.head.decode_in_inference = decoded
    backend = TorchBackend(model, _metadata(decoded, batch_size))
    output = BackendModel(Detector(backend))(images)
    model.head.decode_in_inference = True
    with torch.no_grad():
        expected = model(images)
    torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-3)
    assert backend.calls == ([2, 2] if batch_size else [3])  # the last chunk padded to the fixed batch


def test_evaluate_detector_gives_the_models_own_figures(model, six_image_coco):
    root, _ = six_image_coco
    exp = get_exp(exp_name="yolox-nano")
    exp.merge(["data_dir", str(root), "val_ann", "six.json", "test_size", "(64,96)", "data_num_workers", "0"])
    model.head.decode_in_inference = True
    direct = exp.get_evaluator(2, False).evaluate(model, return_outputs=True)
    model.head.decode_in_inference = False
    try:
        through_file = evaluate_detector(exp, Detector(TorchBackend(model, _metadata(False, 1))), batch_size=2,
                                         return_outputs=True)
    finally:
        model.head.decode_in_inference = True
    assert through_file[:2] == pytest.approx(direct[:2], abs=1e-6)
    # A random model scores AP 0: the detections themselves are what must agree.
    records, expected = _records(through_file[3]), _records(direct[3])
    assert len(expected) > 0 and len(records) == len(expected)
    np.testing.assert_allclose(records, expected, atol=1e-2)


def _records(outputs: dict) -> np.ndarray:
    """[N, 7] image id, category, x, y, w, h, score of the evaluator's per-image outputs, sorted by
    image, then score (distinct floats; boxes of near-equal x could swap places)."""
    rows = np.array([[image_id, category, *box, score] for image_id, entry in outputs.items()
                     for box, score, category in zip(entry["bboxes"], entry["scores"], entry["categories"])],
                    dtype=np.float64)
    return rows[np.lexsort((rows[:, 6], rows[:, 0]))] if len(rows) else rows


def test_a_file_of_another_input_size_is_refused(model):
    exp = get_exp(exp_name="yolox-nano")
    with pytest.raises(ValueError, match=r"the file takes \(64, 96\) images.*--tsize 64"):
        evaluate_detector(exp, Detector(TorchBackend(model, _metadata(True))))
