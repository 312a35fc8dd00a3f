"""YOLOX-Nano: 0.91 M parameters, depthwise convolutions, 416 input."""
from yolox.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.25
        self.depthwise = True
        self.input_size = (416, 416)
        self.test_size = (416, 416)
        self.random_size = (10, 20)  # multiscale 320..640
        # Small models underfit with strong augmentation: milder mosaic, half the time, no mixup.
        self.mosaic_scale = (0.5, 1.5)
        self.mosaic_prob = 0.5
        self.enable_mixup = False
