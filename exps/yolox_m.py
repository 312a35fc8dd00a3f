"""YOLOX-M: 25.3 M parameters, 640 input."""
from yolox.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.67
        self.width = 0.75
