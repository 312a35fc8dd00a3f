"""The data layer: datasets, augmentations, mosaic, samplers, loaders, caching.

Names used by YOLOX experiment files (``from yolox.data import ...``) are all here, imported on
first use (``yolox.utils.lazy_exports``): the torch-free modules below (COCO_CLASSES) load
without torch.
"""
from yolox.utils.lazy_exports import lazy_exports

_EXPORTS = {
    ".data_augment": ("TrainTransform", "ValTransform", "preproc", "random_affine"),
    ".data_prefetcher": ("DataPrefetcher",),
    ".datasets": ("COCO_CLASSES", "VOC_CLASSES", "COCODataset", "ConcatDataset", "Dataset", "DetectionDataset",
                  "ImageRecord", "MixConcatDataset", "MosaicDetection", "VOCDetection", "YOLODataset",
                  "build_dataset", "dataset_format", "get_yolox_datadir"),
    ".errors": ("AnnotationError", "DataLoaderTimeout", "DatasetNotFoundError", "ImageReadError"),
    ".loader": ("BatchSlotLoader", "DataLoader", "worker_init_reset_seed"),
    ".multiscale": ("Multiscale", "random_input_size", "resize_batch"),
    ".samplers": ("InfiniteSampler", "YoloBatchSampler"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
