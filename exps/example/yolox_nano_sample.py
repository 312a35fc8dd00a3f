"""YOLOX-Nano on the built-in synthetic dataset: the README's main command, minutes on a CPU.

The dataset (datasets/sample, COCO format) is generated on first use;
`python tools/make_sample_dataset.py` makes it by hand.
"""
from yolox.data.synthetic_dataset import SAMPLE_CLASSES, ensure_sample_dataset
from yolox.exp import Exp as BaseExp


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.25
        self.depthwise = True
        self.num_classes = len(SAMPLE_CLASSES)
        self.data_dir = "datasets/sample"
        self.train_ann = "instances_train2017.json"
        self.val_ann = "instances_val2017.json"

        # The scenes are 320x320: training at their size keeps a CPU epoch short.
        self.input_size = (320, 320)
        self.test_size = (320, 320)
        self.multiscale_range = 2  # 256..384
        self.mosaic_scale = (0.5, 1.5)
        self.mosaic_prob = 0.5
        self.enable_mixup = False

        # Small batches give a CPU run many more updates in the same minutes than YOLOX's 64.
        self.batch_size = 16
        self.max_epoch = 12
        self.warmup_epochs = 1
        self.no_aug_epochs = 3
        self.eval_interval = 2
        self.print_interval = 5
        self.save_history_ckpt = False
        # Few images, short schedule: a higher learning rate than COCO's 0.01 / 64 per image.
        self.basic_lr_per_img = 0.04 / 64.0
        self.data_num_workers = 2

    def prepare_data(self):
        ensure_sample_dataset(self.data_dir)

    def get_dataset(self, *args, **kwargs):
        self.prepare_data()
        return super().get_dataset(*args, **kwargs)

    def get_eval_dataset(self, *args, **kwargs):
        self.prepare_data()
        return super().get_eval_dataset(*args, **kwargs)
