"""Detection datasets (COCO json, VOC xml, YOLO txt) with one item contract, and the mosaic wrapper.

Imported on first use (``yolox.utils.lazy_exports``): COCO_CLASSES and VOC_CLASSES load without torch.
"""
from yolox.utils.lazy_exports import lazy_exports

_EXPORTS = {
    ".build": ("build_dataset", "dataset_format"),
    ".coco": ("COCODataset",),
    ".coco_classes": ("COCO_CLASSES",),
    ".datasets_wrapper": ("ConcatDataset", "Dataset", "MixConcatDataset"),
    ".detection": ("DetectionDataset", "ImageRecord", "get_yolox_datadir"),
    ".mosaicdetection": ("MosaicDetection",),
    ".voc": ("VOCDetection",),
    ".voc_classes": ("VOC_CLASSES",),
    ".yolo_txt": ("YOLODataset",),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
