"""Exp: the YOLOX experiment. Attribute names and defaults follow Megvii YOLOX so their
experiment files (``from yolox.exp import Exp as MyExp``) run unchanged."""
import inspect
import os

from torch import nn

from .base_exp import BaseExp

__all__ = ["Exp"]


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        # ---------------- model ---------------- #
        self.num_classes = 80
        self.depth = 1.00
        self.width = 1.00
        self.act = "silu"
        self.depthwise = False  # nano sets True (Megvii's nano file overrides get_model instead)

        # ---------------- dataloader ---------------- #
        self.data_num_workers = 4
        self.input_size = (640, 640)  # (height, width)
        # Multiscale training picks sizes in input_size +- multiscale_range * 32;
        # an experiment may set random_size = (min, max) in units of 32 instead.
        self.multiscale_range = 5
        self.data_dir = None  # None: datasets/COCO
        self.train_ann = "instances_train2017.json"
        self.val_ann = "instances_val2017.json"
        self.test_ann = "instances_test2017.json"

        # ---------------- augmentation ---------------- #
        self.mosaic_prob = 1.0
        self.mixup_prob = 1.0
        self.hsv_prob = 1.0
        self.flip_prob = 0.5
        self.degrees = 10.0
        self.translate = 0.1
        self.mosaic_scale = (0.1, 2)
        self.enable_mixup = True
        self.mixup_scale = (0.5, 1.5)
        self.shear = 2.0

        # ---------------- training ---------------- #
        self.warmup_epochs = 5
        self.max_epoch = 300
        self.warmup_lr = 0
        self.min_lr_ratio = 0.05
        self.basic_lr_per_img = 0.01 / 64.0
        self.scheduler = "yoloxwarmcos"
        self.no_aug_epochs = 15
        self.ema = True
        self.weight_decay = 5e-4
        self.momentum = 0.9
        self.print_interval = 10
        self.eval_interval = 10
        self.save_history_ckpt = True
        self.exp_name = _defining_file_stem(type(self))

        # ---------------- testing ---------------- #
        self.test_size = (640, 640)
        self.test_conf = 0.01
        self.nmsthre = 0.65

    # ------------------------------------------------------------------ model
    def get_model(self) -> nn.Module:
        """Build (once) and return the YOLOX model in train mode, with YOLOX's BN settings and
        a 0.01 prior on class and objectness probabilities."""
        from yolox.models import YOLOPAFPN, YOLOX, YOLOXHead
        from yolox.utils.model_utils import set_bn_hyperparams

        if getattr(self, "model", None) is None:
            in_channels = [256, 512, 1024]
            backbone = YOLOPAFPN(self.depth, self.width, in_channels=in_channels, act=self.act,
                                 depthwise=self.depthwise)
            head = YOLOXHead(self.num_classes, self.width, in_channels=in_channels, act=self.act,
                             depthwise=self.depthwise)
            self.model = YOLOX(backbone, head)
        set_bn_hyperparams(self.model, eps=1e-3, momentum=0.03)
        self.model.head.initialize_biases(1e-2)
        self.model.train()
        return self.model

    # ------------------------------------------------------------- evaluation
    def get_evaluator(self, batch_size: int, is_distributed: bool, testdev: bool = False, legacy: bool = False):
        """A COCOEvaluator over ``get_eval_loader`` with this experiment's test size and thresholds."""
        from yolox.evaluators import COCOEvaluator

        return COCOEvaluator(
            dataloader=self.get_eval_loader(batch_size, is_distributed, testdev=testdev, legacy=legacy),
            img_size=self.test_size,
            confthre=self.test_conf,
            nmsthre=self.nmsthre,
            num_classes=self.num_classes,
            testdev=testdev,
        )


def _defining_file_stem(cls: type) -> str:
    """Experiment name = the file that defines the Exp subclass (``exps/yolox_s.py`` -> ``yolox_s``)."""
    try:
        return os.path.splitext(os.path.basename(inspect.getfile(cls)))[0]
    except (TypeError, OSError):
        return cls.__name__
