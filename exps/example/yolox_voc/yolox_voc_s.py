"""YOLOX-S on PASCAL VOC: train on VOC2007 + VOC2012 trainval, evaluate VOC mAP on VOC2007 test.

The VOCdevkit layout: ``<data_dir>/VOC2007/{Annotations,JPEGImages,ImageSets/Main}`` and the same
for VOC2012. data_dir defaults to ``$YOLOX_DATADIR/VOCdevkit`` (``datasets/VOCdevkit``).

    python tools/train.py -f exps/example/yolox_voc/yolox_voc_s.py -b 64 data_dir /data/VOCdevkit
"""
import os

from yolox.exp import Exp as MyExp


class Exp(MyExp):
    def __init__(self):
        super().__init__()
        self.num_classes = 20
        self.depth = 0.33
        self.width = 0.50
        self.warmup_epochs = 1  # VOC epochs are long (16.5k images): one is enough warm-up

        # ---------- transform config ------------ #
        self.mosaic_prob = 1.0
        self.mixup_prob = 1.0
        self.hsv_prob = 1.0
        self.flip_prob = 0.5

        # VOC image sets (year, split) in place of COCO json names, so tools that look at the
        # annotation (train's data check, check_dataset) see a VOC experiment.
        self.data_dir = None  # None: $YOLOX_DATADIR/VOCdevkit
        self.train_ann = [("2007", "trainval"), ("2012", "trainval")]
        self.val_ann = [("2007", "test")]

    def voc_root(self) -> str:
        from yolox.data import get_yolox_datadir

        return self.data_dir if self.data_dir is not None else os.path.join(get_yolox_datadir(), "VOCdevkit")

    def get_dataset(self, cache: bool = False, cache_type: str = "ram"):
        from yolox.data import VOC_CLASSES, TrainTransform, VOCDetection

        # The 20 names given explicitly: the class order then never depends on which files are present.
        return VOCDetection(
            data_dir=self.voc_root(), image_sets=self.train_ann, img_size=self.input_size,
            preproc=TrainTransform(max_labels=50, flip_prob=self.flip_prob, hsv_prob=self.hsv_prob),
            class_names=VOC_CLASSES, cache=cache, cache_type=cache_type,
        )

    def get_eval_dataset(self, **kwargs):
        from yolox.data import VOC_CLASSES, ValTransform, VOCDetection

        return VOCDetection(
            data_dir=self.voc_root(), image_sets=self.val_ann, img_size=self.test_size,
            preproc=ValTransform(legacy=kwargs.get("legacy", False)), class_names=VOC_CLASSES,
        )

    def get_evaluator(self, batch_size: int, is_distributed: bool, testdev: bool = False, legacy: bool = False):
        from yolox.evaluators import VOCEvaluator

        return VOCEvaluator(
            dataloader=self.get_eval_loader(batch_size, is_distributed, testdev=testdev, legacy=legacy),
            img_size=self.test_size, confthre=self.test_conf, nmsthre=self.nmsthre, num_classes=self.num_classes,
        )
