"""YOLOX-Tiny: 5.06 M parameters, 416 input."""
from yolox.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.375
        self.input_size = (416, 416)
        self.test_size = (416, 416)
        self.random_size = (10, 20)  # multiscale 320..640
        # Small models underfit with strong augmentation: milder mosaic scale, no mixup.
        self.mosaic_scale = (0.5, 1.5)
        self.enable_mixup = False
