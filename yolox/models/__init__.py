"""The YOLOX network family: backbone, neck, head and their building blocks; Megvii's model
builders (``yolox_s(pretrained=False)``, ...) from ``build``."""
from .anchors import anchor_grid
from .build import (
    create_yolox_model,
    yolov3,
    yolox_custom,
    yolox_l,
    yolox_m,
    yolox_nano,
    yolox_s,
    yolox_tiny,
    yolox_x,
)
from .darknet import CSPDarknet, Darknet
from .network_blocks import (
    BaseConv,
    Bottleneck,
    CSPLayer,
    DWConv,
    Focus,
    ResLayer,
    SPPBottleneck,
    get_activation,
)
from .yolo_fpn import YOLOFPN
from .yolo_head import YOLOXHead
from .yolo_pafpn import YOLOPAFPN
from .yolox import YOLOX
from .assigner import ImageAssignment, SimOTAAssigner, SimOTAAssignment
from .losses import DetectionTargets, IOUloss, LossWeights, YOLOXCriterion, YOLOXLoss
