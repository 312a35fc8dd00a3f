"""Detection datasets (COCO json, VOC xml, YOLO txt) with one item contract, and the mosaic wrapper."""
from .build import build_dataset, dataset_format
from .coco import COCODataset
from .coco_classes import COCO_CLASSES
from .datasets_wrapper import ConcatDataset, Dataset, MixConcatDataset
from .detection import DetectionDataset, ImageRecord, get_yolox_datadir
from .mosaicdetection import MosaicDetection
from .voc import VOCDetection
from .voc_classes import VOC_CLASSES
from .yolo_txt import YOLODataset
