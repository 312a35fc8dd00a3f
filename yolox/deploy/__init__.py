"""Using a trained model outside training: ``Detector`` (one API for checkpoints, TorchScript,
ONNX and OpenVINO files), the torch ``Predictor``, exporters (models come from
yolox.deploy.model_loading.load_model).

Names are imported on first use (``yolox.utils.lazy_exports``): ``from yolox.deploy import
Detector`` needs no torch for an ONNX file.
"""
from yolox.utils.lazy_exports import lazy_exports

_EXPORTS = {
    ".detector": ("Detector",),
    ".detections": ("Detections",),
    ".metadata": ("ModelMetadata",),
    ".predictor": ("Predictor",),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
