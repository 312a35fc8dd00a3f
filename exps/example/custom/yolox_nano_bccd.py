"""YOLOX-Nano on your own COCO-format data, shown on BCCD (blood-cell photographs, 3 classes).

Copy this file for your data: point data_dir at the folder holding ``annotations/``, name the
json files and the image folder, set num_classes. Everything else is the YOLOX-Nano recipe.

    python tools/train.py -f exps/example/custom/yolox_nano_bccd.py -b 8
    python tools/train.py -f exps/example/custom/yolox_nano_bccd.py data_dir /data/bccd max_epoch 30
    python tools/eval.py -f exps/example/custom/yolox_nano_bccd.py -c YOLOX_outputs/yolox_nano_bccd/best_ckpt.pth
"""
import os

from yolox.exp import Exp as MyExp

# The copy of BCCD beside this repository (../shared/datasets/bccd); override with `data_dir PATH`.
_BCCD = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                                      "shared", "datasets", "bccd"))


class Exp(MyExp):
    def __init__(self):
        super().__init__()
        # ---- the data: <data_dir>/annotations/<*_ann>, images in <data_dir>/<*_img_dir>
        self.data_dir = _BCCD
        self.train_ann = "instances_train.json"
        self.val_ann = "instances_val.json"
        self.test_ann = "instances_test.json"  # tools/eval.py --test
        self.train_img_dir = self.val_img_dir = self.test_img_dir = "voc/JPEGImages"
        self.num_classes = 3

        # ---- YOLOX-Nano
        self.depth = 0.33
        self.width = 0.25
        self.depthwise = True
        self.input_size = (416, 416)
        self.test_size = (416, 416)
        self.random_size = (10, 20)  # multiscale 320..640
        self.mosaic_scale = (0.5, 1.5)
        self.mosaic_prob = 0.5
        self.enable_mixup = False

        # ---- schedule for a few hundred images
        self.batch_size = 8
        # Megvii's 0.01 per 64 images scaled to a batch of 8 by the square root (0.01/64 * sqrt(64/8)),
        # not linearly: 26 steps an epoch at the linear rule's 1.25e-3 leave the class branch at its
        # prior for the first epochs, and whether a rare class ever learns depends on the seed (issue 24).
        self.basic_lr_per_img = 4.4e-4
        # The EMA averages ~3 epochs (Megvii's 0.9998 is ~2.7 COCO epochs); with 1560-2080 steps in all the
        # default 2000-step ramp would keep it from averaging anything.
        self.ema_epochs = 3
        # 80 epochs, the last 20 without mosaic: at 60 (15 without) the smallest class (Platelets) was
        # still rising when one seed of five ended (val AP50 0.23); at 80 it reached 0.66 there and every
        # class passed val AP50 0.66 in every seed (issue 24).
        self.max_epoch = 80
        self.warmup_epochs = 5
        self.no_aug_epochs = 20
        self.eval_interval = 5
        self.print_interval = 10
        self.save_history_ckpt = False
        self.data_num_workers = 2
        self.seed = 0
