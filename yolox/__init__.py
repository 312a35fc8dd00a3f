"""YOLOX object detection: CSPDarknet + PAFPN + decoupled head, SimOTA training."""

__version__ = "0.1.0"
