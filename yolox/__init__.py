"""YOLOX object detection: CSPDarknet + PAFPN + decoupled head, SimOTA training.

    from yolox import Detector
    detections = Detector("best_ckpt.pth")("photo.jpg")  # or "model.onnx", "model.xml", TorchScript
"""
from .utils.lazy_exports import lazy_exports

__version__ = "0.1.0"

__all__, __getattr__, __dir__ = lazy_exports(__name__, {".deploy.detector": ("Detector",)}, globals())
