"""YOLOX object detection: CSPDarknet + PAFPN + decoupled head, SimOTA training.

    from yolox import Detector
    detections = Detector("best_ckpt.pth")("photo.jpg")  # or "model.onnx", "model.xml", TorchScript
"""
__version__ = "0.1.0"

__all__ = ["Detector"]


def __getattr__(name: str):
    """``Detector`` imported on first use (PEP 562): ``import yolox`` loads nothing else, and an ONNX
    Detector never imports torch."""
    if name == "Detector":
        from .deploy.detector import Detector

        return Detector
    raise AttributeError(f"module 'yolox' has no attribute {name!r}")
