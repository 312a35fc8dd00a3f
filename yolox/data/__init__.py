"""The data layer: datasets, augmentations, mosaic, samplers, loaders, caching.

Names used by YOLOX experiment files (``from yolox.data import ...``) are all here.
"""
from .data_augment import TrainTransform, ValTransform, preproc, random_affine
from .batch_slots import BatchSlotLoader
from .data_prefetcher import DataPrefetcher
from .dataloading import DataLoader, get_yolox_datadir, worker_init_reset_seed
from .datasets import (
    COCO_CLASSES,
    VOC_CLASSES,
    COCODataset,
    Dataset,
    DetectionDataset,
    ImageRecord,
    MosaicDetection,
    VOCDetection,
    YOLODataset,
    build_dataset,
    dataset_format,
)
from .errors import AnnotationError, DataLoaderTimeout, DatasetNotFoundError, ImageReadError
from .multiscale import Multiscale, random_input_size, resize_batch
from .samplers import InfiniteSampler, YoloBatchSampler
