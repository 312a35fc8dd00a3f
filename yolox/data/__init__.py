"""The data layer: datasets, augmentations, mosaic, samplers, loaders, caching.

Names used by YOLOX experiment files (``from yolox.data import ...``) are all here.
"""
from .data_augment import TrainTransform, ValTransform, preproc, random_affine
from .data_prefetcher import DataPrefetcher
from .datasets import (
    COCO_CLASSES,
    VOC_CLASSES,
    COCODataset,
    ConcatDataset,
    Dataset,
    DetectionDataset,
    ImageRecord,
    MixConcatDataset,
    MosaicDetection,
    VOCDetection,
    YOLODataset,
    build_dataset,
    dataset_format,
    get_yolox_datadir,
)
from .errors import AnnotationError, DataLoaderTimeout, DatasetNotFoundError, ImageReadError
from .loader import BatchSlotLoader, DataLoader, worker_init_reset_seed
from .multiscale import Multiscale, random_input_size, resize_batch
from .samplers import InfiniteSampler, YoloBatchSampler
