"""YOLOX-S at 640 on BCCD: the model the deploy benchmark (tools/benchmark.py) ships.

The BCCD recipe of yolox_nano_bccd.py (square-root-scaled LR for a batch of 8, EMA over ~3
epochs) on YOLOX-S, trained for 20 epochs: what fits a 2-core CPU in under an hour.

    python tools/train.py -f exps/example/custom/yolox_s_bccd.py -b 8
    python tools/benchmark.py -f exps/example/custom/yolox_s_bccd.py -c YOLOX_outputs/yolox_s_bccd/best_ckpt.pth
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from yolox_nano_bccd import Exp as BCCDExp  # noqa: E402


class Exp(BCCDExp):
    def __init__(self):
        super().__init__()
        self.exp_name = "yolox_s_bccd"
        # ---- YOLOX-S (Megvii's default augmentation scales for S)
        self.depth = 0.33
        self.width = 0.50
        self.depthwise = False
        self.input_size = (640, 640)
        self.test_size = (640, 640)
        self.random_size = (14, 20)  # multiscale 448..640: the upper sizes of Megvii's range, at CPU cost
        self.mosaic_scale = (0.1, 2)
        # ---- 12 epochs: 2 of warm-up, the last 3 without mosaic
        self.max_epoch = 12
        self.warmup_epochs = 2
        self.no_aug_epochs = 3
        self.eval_interval = 3
