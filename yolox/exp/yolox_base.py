"""Exp: the YOLOX experiment. Attribute names and defaults follow Megvii YOLOX so their
experiment files (``from yolox.exp import Exp as MyExp``) run unchanged."""
import inspect
import os

import torch
from torch import nn

from .base_exp import BaseExp

__all__ = ["Exp"]


class Exp(BaseExp):
    def __init__(self):
        super().__init__()
        # ---------------- model ---------------- #
        self.num_classes = 80
        self.depth = 1.00
        self.width = 1.00
        self.act = "silu"
        self.depthwise = False  # nano sets True (Megvii's nano file overrides get_model instead)
        # SimOTA candidate prefilter (beyond Megvii's surface): "box_or_center", the classic YOLOX
        # rule (anchor centre in the GT box or within center_radius strides of its centre), or
        # "center", current Megvii's centre-only "geometry constraint" (used with radius 1.5).
        # None for the radius: the reference value of the prefilter (2.5 or 1.5).
        self.assigner_prefilter = "box_or_center"
        self.assigner_center_radius = None

        # ---------------- dataloader ---------------- #
        self.data_num_workers = 4
        # Seconds without a batch from the loader workers before training stops with what each worker
        # was loading (beyond Megvii's surface); 0 waits forever.
        self.data_timeout = 300
        self.input_size = (640, 640)  # (height, width): the loader's size, the base of multiscale training
        # Multiscale training picks sizes in input_size +- multiscale_range * 32;
        # an experiment may set random_size = (min, max) in units of 32 instead.
        self.multiscale_range = 5
        self.random_size = None
        self.data_dir = None  # None: datasets/COCO
        self.train_ann = "instances_train2017.json"
        self.val_ann = "instances_val2017.json"
        self.test_ann = "instances_test2017.json"
        # COCO image folders relative to data_dir (absolute paths work too); None: YOLOX's layout,
        # train2017 / val2017 / test2017. Data whose json sits beside other folders sets these.
        self.train_img_dir = None
        self.val_img_dir = None
        self.test_img_dir = None

        # ---------------- augmentation ---------------- #
        self.mosaic_prob = 1.0
        self.mixup_prob = 1.0
        self.hsv_prob = 1.0
        self.flip_prob = 0.5
        self.degrees = 10.0
        self.translate = 0.1
        self.mosaic_scale = (0.1, 2)
        self.enable_mixup = True
        self.mixup_scale = (0.5, 1.5)
        self.shear = 2.0

        # ---------------- training ---------------- #
        self.warmup_epochs = 5
        self.max_epoch = 300
        self.warmup_lr = 0
        self.min_lr_ratio = 0.05
        self.basic_lr_per_img = 0.01 / 64.0
        self.scheduler = "yoloxwarmcos"
        self.no_aug_epochs = 15
        self.ema = True
        self.weight_decay = 5e-4
        self.momentum = 0.9
        self.print_interval = 10
        self.eval_interval = 10
        self.save_history_ckpt = True
        self.exp_name = _defining_file_stem(type(self))
        # Beyond Megvii's surface (their files never set these, so the defaults keep their behaviour).
        self.ema_decay = 0.9999
        # EMA window in epochs instead of ema_decay's fixed count of updates: for short runs on
        # small data sets, where 0.9999 and the 2000-update ramp would average nothing.
        self.ema_epochs = None
        self.accumulate = 1  # iterations whose gradients add up before one optimizer step
        self.patience = 0  # stop after this many epochs without a better AP; 0: never
        self.freeze_backbone_epochs = 0  # CSPDarknet frozen (weights and BN stats) for the first epochs
        self.batch_size = 64  # tools/train.py's -b when it is not given (Megvii's default)
        # Weights stored NHWC for training, evaluation and demo (not export): same numbers up to
        # float rounding, 1.2-1.6x faster on CPU (benchmarks/inference.py).
        self.channels_last = True

        # ---------------- testing ---------------- #
        self.test_size = (640, 640)
        self.test_conf = 0.01
        self.nmsthre = 0.65
        # COCO scorer (beyond Megvii's surface): "faster_coco_eval" (C++, several times faster) or
        # "pycocotools" (the reference implementation); both give the same numbers.
        self.coco_backend = "faster_coco_eval"
        # At the end of training, evaluate best_ckpt.pth and write its evaluation report (figures,
        # CSV, JSON) into <output_dir>/<exp_name>/eval/<timestamp>/ (yolox/core/best_report.py).
        self.report_after_train = True

    # ------------------------------------------------------------------ model
    def get_model(self) -> nn.Module:
        """Build (once) and return the YOLOX model in train mode, with YOLOX's BN settings and
        a 0.01 prior on class and objectness probabilities."""
        from yolox.models import YOLOPAFPN, YOLOX, YOLOXHead
        from yolox.utils.model_utils import set_bn_hyperparams

        if getattr(self, "model", None) is None:
            in_channels = [256, 512, 1024]
            backbone = YOLOPAFPN(depth=self.depth, width=self.width, in_channels=in_channels, act=self.act,
                                 depthwise=self.depthwise)
            head = YOLOXHead(num_classes=self.num_classes, width=self.width, in_channels=in_channels, act=self.act,
                             depthwise=self.depthwise, assigner=self.get_assigner())
            self.model = YOLOX(backbone=backbone, head=head)
        set_bn_hyperparams(self.model, eps=1e-3, momentum=0.03)
        self.model.head.initialize_biases(1e-2)
        self.model.train()
        return self.model

    def get_assigner(self) -> nn.Module:
        """The head's SimOTA assigner, from ``assigner_prefilter`` and ``assigner_center_radius``."""
        from yolox.models import SimOTAAssigner

        prefilter, radius = assigner_settings(self.assigner_prefilter, self.assigner_center_radius)
        return SimOTAAssigner(prefilter=prefilter, center_radius=radius)

    def check_overrides(self, updates: dict) -> None:
        """Bad assigner settings fail at the command line, before anything is built."""
        assigner_settings(updates.get("assigner_prefilter", self.assigner_prefilter),
                          updates.get("assigner_center_radius", self.assigner_center_radius))

    # ------------------------------------------------------------------ data
    def prepare_data(self) -> None:
        """Make the data available before anything reads it; tools/train.py calls it before
        checking the training annotation. Nothing to do here; the sample experiment generates
        its scenes on first use."""

    def get_dataset(self, cache: bool = False, cache_type: str = "ram"):
        """The training dataset, without mosaic: ``train_ann`` under ``data_dir``.

        The format follows ``train_ann``: ``*.json`` COCO (images in ``train2017/``), ``*.yaml``
        YOLO-txt, otherwise a VOC image-set name (see ``yolox.data.build_dataset``).
        """
        from yolox.data import TrainTransform, build_dataset

        return build_dataset(
            data_dir=self.data_dir, ann=self.train_ann, split="train", name=self.train_img_dir,
            img_size=self.input_size,
            preproc=TrainTransform(max_labels=50, flip_prob=self.flip_prob, hsv_prob=self.hsv_prob),
            cache=cache, cache_type=cache_type,
        )

    def get_data_loader(self, batch_size: int, is_distributed: bool, no_aug: bool = False, cache_img: str = None):
        """Endless training loader: mosaic + affine + MixUp + HSV + flip, ``batch_size`` images in
        total (split over ranks). ``loader.close_mosaic()`` ends mosaic/MixUp for the last epochs.

        ``self.dataset`` is built here unless the launcher built it earlier (with a cache).
        """
        import torch

        from yolox.data import (DataLoader, InfiniteSampler, MosaicDetection, TrainTransform, YoloBatchSampler,
                                worker_init_reset_seed)

        if self.dataset is None:
            self.dataset = self.get_dataset(cache=cache_img is not None, cache_type=cache_img or "ram")
        dataset = MosaicDetection(
            self.dataset, mosaic=not no_aug, img_size=self.input_size,
            preproc=TrainTransform(max_labels=120, flip_prob=self.flip_prob, hsv_prob=self.hsv_prob),
            degrees=self.degrees, translate=self.translate, mosaic_scale=self.mosaic_scale,
            mixup_scale=self.mixup_scale, shear=self.shear, enable_mixup=self.enable_mixup,
            mosaic_prob=self.mosaic_prob, mixup_prob=self.mixup_prob,
        )
        rank, world_size = _rank_and_world_size(is_distributed)
        seed = self.seed if self.seed is not None else 0
        sampler = InfiniteSampler(len(dataset), seed=seed, rank=rank, world_size=world_size)
        # Every sample is augmented from its own seed (run seed, rank, position in the stream), so
        # --resume and any data_num_workers repeat the uninterrupted run's batches; without exp.seed
        # the trainer gives the sampler a drawn run seed (Trainer.seed_samples).
        batch_sampler = YoloBatchSampler(sampler, batch_size // world_size, drop_last=False, mosaic=not no_aug,
                                         seed=self.seed, rank=rank)
        # Seeds the workers' own RNGs, for datasets that draw outside the seeded samples.
        generator = torch.Generator().manual_seed(self.seed + rank) if self.seed is not None else None
        return DataLoader(dataset, batch_sampler=batch_sampler, num_workers=self.data_num_workers,
                          pin_memory=torch.cuda.is_available(), worker_init_fn=worker_init_reset_seed,
                          generator=generator, data_timeout=self.data_timeout)

    def get_multiscale(self):
        """The multiscale training policy (``yolox.data.Multiscale``): sizes around ``input_size``
        (``multiscale_range``, or ``random_size``); the trainer owns it and keeps its current size."""
        from yolox.data import Multiscale

        return Multiscale(base_size=self.input_size, multiscale_range=self.multiscale_range,
                          random_size=self.random_size)

    def random_resize(self, data_loader, epoch: int, rank: int, is_distributed: bool):
        """Megvii's hook: the next multiscale size (h, w), the same on every rank (drawn on rank 0).
        An experiment may override it; by default ``get_multiscale().draw``."""
        return self.get_multiscale().draw(distributed=is_distributed)

    def preprocess(self, inputs, targets, tsize):
        """Megvii's hook: resize a batch (images [B, 3, H, W], labels [B, M, 5] cls, cx, cy, w, h) from
        input_size to tsize. An experiment may override it; by default ``get_multiscale().resize``."""
        return self.get_multiscale().resize(inputs, targets, tsize)

    def get_eval_dataset(self, **kwargs):
        """Validation (or ``testdev=True``: test) dataset at test_size, letterbox only."""
        from yolox.data import ValTransform, build_dataset

        testdev = kwargs.get("testdev", False)
        return build_dataset(
            data_dir=self.data_dir, ann=self.test_ann if testdev else self.val_ann,
            split="test" if testdev else "val", img_size=self.test_size,
            name=self.test_img_dir if testdev else self.val_img_dir,
            preproc=ValTransform(legacy=kwargs.get("legacy", False)),
        )

    def get_eval_loader(self, batch_size: int, is_distributed: bool, **kwargs):
        """Loader over the eval dataset in order (sharded over ranks when distributed)."""
        import torch
        from torch.utils.data import DistributedSampler, SequentialSampler

        from yolox.data import BatchSlotLoader

        dataset = self.get_eval_dataset(**kwargs)
        _, world_size = _rank_and_world_size(is_distributed)
        sampler = DistributedSampler(dataset, shuffle=False) if is_distributed else SequentialSampler(dataset)
        return BatchSlotLoader(dataset, batch_size=max(1, batch_size // world_size), sampler=sampler,
                               num_workers=self.data_num_workers, pin_memory=torch.cuda.is_available())

    # ------------------------------------------------------------- optimisation
    def get_optimizer(self, batch_size: int) -> torch.optim.Optimizer:
        """SGD with Nesterov momentum over three groups, in Megvii's order (so their optimizer
        states load): BatchNorm weights without decay, other weights with ``weight_decay``,
        biases without decay. Built once; lr starts at ``warmup_lr`` when warming up."""
        if getattr(self, "optimizer", None) is None:
            lr = self.warmup_lr if self.warmup_epochs > 0 else self.basic_lr_per_img * batch_size
            groups = parameter_groups(self.get_model() if getattr(self, "model", None) is None else self.model)
            optimizer = torch.optim.SGD(groups["bn_weights"], lr=lr, momentum=self.momentum, nesterov=True)
            optimizer.add_param_group({"params": groups["weights"], "weight_decay": self.weight_decay})
            optimizer.add_param_group({"params": groups["biases"]})
            self.optimizer = optimizer
        return self.optimizer

    def get_lr_scheduler(self, lr: float, iters_per_epoch: int):
        """The per-iteration schedule named by ``scheduler`` (yoloxwarmcos, warmcos, cos, multistep,
        yoloxsemiwarmcos) peaking at ``lr``."""
        from yolox.utils.lr_scheduler import LRScheduler

        extra = {k: getattr(self, k) for k in ("milestones", "gamma", "semi_epoch", "iters_per_epoch_semi")
                 if getattr(self, k, None) is not None}
        return LRScheduler(self.scheduler, lr, iters_per_epoch, self.max_epoch, warmup_epochs=self.warmup_epochs,
                           warmup_lr_start=self.warmup_lr, no_aug_epochs=self.no_aug_epochs,
                           min_lr_ratio=self.min_lr_ratio, **extra)

    def get_trainer(self, args):
        """The training loop for this experiment and the command-line ``args`` of tools/train.py."""
        from yolox.core.trainer import Trainer

        return Trainer(self, args)

    # ------------------------------------------------------------- evaluation
    def get_evaluator(self, batch_size: int, is_distributed: bool, testdev: bool = False, legacy: bool = False):
        """A COCOEvaluator over ``get_eval_loader`` with this experiment's test size and thresholds."""
        from yolox.evaluators import COCOEvaluator

        return COCOEvaluator(
            dataloader=self.get_eval_loader(batch_size, is_distributed, testdev=testdev, legacy=legacy),
            img_size=self.test_size,
            confthre=self.test_conf,
            nmsthre=self.nmsthre,
            num_classes=self.num_classes,
            testdev=testdev,
            backend=self.coco_backend,
        )

    def eval(self, model, evaluator, is_distributed: bool, half: bool = False, return_outputs: bool = False):
        """(ap50_95, ap50, summary) of ``model`` by ``evaluator`` (plus per-image outputs when asked)."""
        return evaluator.evaluate(model, is_distributed, half, return_outputs=return_outputs)


def assigner_settings(prefilter, center_radius) -> tuple:
    """(prefilter, center radius in strides) from the Exp attributes ``assigner_prefilter`` and
    ``assigner_center_radius`` (None: the prefilter's reference radius), or a ValueError naming the
    attribute and what it allows."""
    from yolox.models.assigner import REFERENCE_CENTER_RADIUS

    if prefilter not in REFERENCE_CENTER_RADIUS:
        raise ValueError(f"assigner_prefilter={prefilter!r}: expected one of {sorted(REFERENCE_CENTER_RADIUS)}")
    if center_radius is None:
        return prefilter, REFERENCE_CENTER_RADIUS[prefilter]
    if isinstance(center_radius, bool) or not isinstance(center_radius, (int, float)) or not center_radius > 0:
        raise ValueError(f"assigner_center_radius={center_radius!r}: expected a positive number of strides "
                         f"(2.5 classic, 1.5 centre-only) or None for the prefilter's reference value")
    return prefilter, float(center_radius)


def parameter_groups(model: nn.Module) -> dict:
    """{"bn_weights", "weights", "biases"}: every trainable parameter of ``model`` exactly once."""
    groups = {"bn_weights": [], "weights": [], "biases": []}
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            if name == "bias":
                groups["biases"].append(param)
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                groups["bn_weights"].append(param)
            else:
                groups["weights"].append(param)
    return groups


def _rank_and_world_size(is_distributed: bool):
    import torch.distributed as dist

    if is_distributed and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _defining_file_stem(cls: type) -> str:
    """Experiment name = the file that defines the Exp subclass (``exps/yolox_s.py`` -> ``yolox_s``)."""
    try:
        return os.path.splitext(os.path.basename(inspect.getfile(cls)))[0]
    except (TypeError, OSError):
        return cls.__name__
