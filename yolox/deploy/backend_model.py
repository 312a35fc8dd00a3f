"""A Detector's model file as the evaluators call a model: torch images in, decoded torch outputs out.

``predict_loader`` (and so every evaluator) runs it like an ``nn.Module`` in eval mode; the
forward pass is the Detector's (its fixed-batch chunking and its decode of raw outputs), the
post-processing the evaluator's own, so an exported file is scored by the same code as its checkpoint.
"""
import numpy as np
import torch

from .detector import Detector

__all__ = ["BackendModel", "evaluate_detector"]


class BackendModel:
    """detector: a Detector whose file is evaluated; ``device``: where the outputs go (the CPU)."""

    def __init__(self, detector: Detector):
        self.detector = detector
        self.device = torch.device("cpu")

    @property
    def num_classes(self) -> int:
        return self.detector.metadata.num_classes

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """images: [B, 3, h, w] letterboxed (h, w the file's input size) -> [B, A, 5 + C] float32 decoded."""
        size, expected = tuple(images.shape[-2:]), tuple(self.detector.metadata.input_size)
        if size != expected:
            raise ValueError(f"the loader gives {size} images, the model file takes {expected}")
        blob = images.detach().to("cpu", torch.float32).numpy()
        return torch.from_numpy(np.ascontiguousarray(self.detector.forward(blob)))


def evaluate_detector(exp, detector: Detector, *, batch_size: int = 8, return_outputs: bool = False) -> tuple:
    """(ap50_95, ap50, summary[, outputs]) of ``detector``'s file on ``exp``'s eval split, scored as
    tools/eval.py scores a checkpoint. The file's input size must be ``exp.test_size`` (the loader
    letterboxes to it)."""
    size, file_size = tuple(int(v) for v in exp.test_size), tuple(detector.metadata.input_size)
    if file_size != size:
        raise ValueError(f"the file takes {file_size} images, the experiment evaluates at {size}: pass --tsize "
                         f"{file_size[0]} (or test_size {file_size}) or export at {size}")
    evaluator = exp.get_evaluator(batch_size, False, False, detector.legacy)
    return evaluator.evaluate(BackendModel(detector), False, None, return_outputs=return_outputs)
