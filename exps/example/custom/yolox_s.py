"""YOLOX-S on your own COCO-format data (Megvii's custom-data example, laid out like coco128).

``<data_dir>/annotations/instances_{train,val}2017.json``, images in ``<data_dir>/train2017`` and
``<data_dir>/val2017``. Set num_classes to the number of categories of your json.

    python tools/train.py -f exps/example/custom/yolox_s.py -b 16 data_dir /data/mydata num_classes 3
"""
from yolox.exp import Exp as MyExp


class Exp(MyExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.50

        # Define your dataset path
        self.data_dir = "datasets/coco128"
        self.train_ann = "instances_train2017.json"
        self.val_ann = "instances_val2017.json"

        self.num_classes = 71  # the categories present in coco128

        self.max_epoch = 300
        self.data_num_workers = 4
        self.eval_interval = 1  # small data: evaluate every epoch
