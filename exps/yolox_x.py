"""YOLOX-X: 99.1 M parameters, 640 input."""
from yolox.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 1.33
        self.width = 1.25
