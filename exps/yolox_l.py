"""YOLOX-L: 54.2 M parameters, 640 input (the base Exp's depth and width)."""
from yolox.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 1.0
        self.width = 1.0
