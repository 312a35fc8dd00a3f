"""The training loop of a YOLOX experiment.

Call order (each a method below, so a subclass or a reader finds every stage by name)::

    before_train    device, model, optimizer, checkpoint (resume or fine-tune), loader, LR schedule,
                    EMA, DDP, evaluator, logs; RNG states of a resumed run restored last
    for each epoch (a run resumed mid-epoch starts at the iteration after the interruption):
        before_epoch    phase switches: last ``no_aug_epochs`` -> mosaic off, L1 on, eval every
                        epoch; backbone frozen for the first ``freeze_backbone_epochs``
        for each iteration:
            train_one_iter  fetch batch -> forward -> loss dict -> finite check -> backward ->
                            optimizer step (every ``accumulate`` iterations) -> EMA -> LR -> log
            on SIGTERM/SIGUSR1 seen by the ranks: save_interrupted_checkpoint, stop (exit code 75)
        after_epoch     evaluate when due, checkpoints (latest, best, epoch_N), early stop
    after_train     summary, close logs

Reports go to ``self.sinks`` (results.csv/png and the ``-l`` logger, ``yolox.core.sinks``) at
fixed points: start, each print interval, evaluation, epoch, checkpoint, end.

Only rank 0 writes files; every rank runs the same iterations, so collectives line up.
"""
import contextlib
import os
import random
import time
from pathlib import Path
from typing import Dict, Optional

import torch
from loguru import logger
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from yolox.data import DataLoader, DataPrefetcher, YoloBatchSampler
from yolox.evaluators import COCOEvaluator
from yolox.models import YOLOFPN, YOLOPAFPN
from yolox.utils.checkpoint import (ResumeWeights, RunProgress, capture_rng_state, checkpoint_weights,
                                    load_matching_weights, model_meta, read_checkpoint, restore_rng_state,
                                    resume_weights, run_progress, save_checkpoint, training_checkpoint)
from yolox.utils.dist import get_local_rank, get_rank, get_world_size, reduce_mean_dict
from yolox.utils.allreduce_norm import all_reduce_norm
from yolox.utils.ema import ModelEMA, ema_for_epochs, unwrap_model
from yolox.utils.logger import remove_logger, setup_logger
from yolox.utils.model_utils import to_channels_last
from yolox.utils.memory import occupy_mem
from yolox.utils.meters import MeterBuffer
from yolox.utils.precision import Precision
from yolox.utils.setup_env import configure_reproducibility

from .best_report import report_best_checkpoint
from .class_watch import UnlearnedClassWatch
from .options import TrainOptions
from .preemption import PREEMPTED_EXIT_CODE, PreemptionRequest
from .progress import format_eta, memory_mb
from .sinks import CheckpointLog, EpochLog, EvaluationLog, IterationLog, RunEnd, RunStart, Sinks, build_sinks

__all__ = ["Trainer", "NonFiniteLossError"]

LOSS_KEYS = ("total_loss", "iou_loss", "l1_loss", "conf_loss", "cls_loss", "num_fg")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stops before the next checkpoint could be hurt."""


class Trainer:
    """Trains ``exp``'s model with the flags of tools/train.py (``args``); what it reads of either is
    ``TrainOptions`` (``self.options``). The experiment's builders and Megvii's hooks
    (``random_resize``, ``preprocess``, ``eval``) are called on ``exp``."""

    def __init__(self, exp, args):
        self.exp = exp
        self.args = args
        self.options = options = TrainOptions.from_exp(exp, args)
        self.max_epoch = options.max_epoch
        self.is_distributed = get_world_size() > 1
        self.rank = get_rank()
        self.local_rank = get_local_rank()
        self.device = torch.device(f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu")
        self.precision = Precision.resolve(options.amp_request, self.device)  # autocast dtype, GradScaler or not
        self.amp_training = self.precision.enabled
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.grad_scaler)
        self.use_model_ema = bool(options.ema)
        self.accumulate = options.accumulate_steps
        self.eval_interval = options.eval_interval  # 1 in the no-aug epochs
        self.multiscale = exp.get_multiscale()  # .size: the training size now; exp.input_size is its base
        self.best_ap, self.best_epoch = 0.0, -1
        self.meter = MeterBuffer(window_size=max(int(options.print_interval), 1))
        self.file_name = os.path.join(options.output_dir, options.run_name)
        self.start_epoch = self.epoch = self.iter = 0
        self.start_iter = 0  # iterations of start_epoch done before an interruption
        self.preemption = PreemptionRequest()
        self.preempted = False  # set when the run stopped on a signal, after its checkpoint
        self.failure: Optional[str] = None  # the error that stopped the run, for its last log line
        self._preemption_agreed = False
        self._stepped = True
        self.data_seed: Optional[int] = None  # the run seed of the per-sample augmentation seeds
        self.no_aug = False
        self.stop_reason: Optional[str] = None
        self.sinks = Sinks()  # rank 0's are built in before_train; the other ranks report nowhere
        self.last_ap: Optional[tuple] = None  # (AP50:95, AP50) of the latest evaluation
        self._epoch_started = 0.0
        self.batches = None
        self.class_watch = UnlearnedClassWatch(
            warmup_epochs=options.warmup_epochs, max_epoch=self.max_epoch, batch_size=options.batch_size,
            best_checkpoint=os.path.join(self.file_name, "best_ckpt.pth"))
        self._log_handlers = []
        self._resume_rng = None
        self._frozen_params = []

    @property
    def progress_in_iter(self) -> int:
        """Global iterations done before the current one."""
        return self.epoch * self.max_iter + self.iter

    # ------------------------------------------------------------------ the run
    def train(self) -> None:
        with self.preemption:
            self.before_train()
            try:
                for epoch in range(self.start_epoch, self.max_epoch):
                    self.epoch = epoch
                    self.before_epoch()
                    for iteration in range(self.start_iter if epoch == self.start_epoch else 0, self.max_iter):
                        self.iter = iteration
                        self.train_one_iter()
                        if self._preemption_agreed and self._stepped:
                            self.save_interrupted_checkpoint()
                            return
                    self.after_epoch()
                    if self.stop_reason:
                        break
            except Exception as err:
                self.failure = f"{type(err).__name__}: {err}"
                raise
            finally:
                self.after_train()

    def train_one_iter(self) -> None:
        start = time.perf_counter()
        inps, targets = self.fetch_batch()
        data_end = time.perf_counter()
        step_now = (self.iter + 1) % self.accumulate == 0 or self.iter == self.max_iter - 1
        lr = self.set_lr(self.progress_in_iter)
        sync = contextlib.nullcontext() if step_now or not self.is_distributed else self.model.no_sync()
        with sync:
            with self.precision.autocast():
                outputs = self.model(inps, targets)
            values = self.check_finite(outputs)
            self.scaler.scale(outputs["total_loss"] / self.accumulate).backward()
        if step_now:
            self.optimizer_step()
        self._stepped = step_now  # a preemption waits for the step: accumulated gradients are not saved
        self.meter.update(values, lr=lr, iter_time=time.perf_counter() - start, data_time=data_end - start)
        self.after_iter()

    # ------------------------------------------------------------------ stages
    def before_train(self) -> None:
        self.prepare_output()
        options = self.options
        configure_reproducibility(options.seed, rank=self.rank, deterministic=options.deterministic)
        logger.info("options: {}", options)
        logger.info("exp:\n{}", self.exp)
        model = self.exp.get_model().to(self.device)
        if options.channels_last:
            to_channels_last(model)
        self.optimizer = self.exp.get_optimizer(options.batch_size)
        resumed = self.load_start_checkpoint(model)
        self.no_aug = self.start_epoch >= self.max_epoch - options.no_aug_epochs
        if self.is_distributed:
            # The ranks check free memory for their RAM caches together, before any fills one.
            torch.distributed.barrier()
        self.train_loader = self.exp.get_data_loader(batch_size=options.batch_size,
                                                     is_distributed=self.is_distributed, no_aug=self.no_aug,
                                                     cache_img=options.cache)
        # A dataset of an experiment's own making may not name its classes.
        self.class_names = getattr(self.train_loader.dataset, "class_names", None)
        self.check_num_classes()
        self.max_iter = len(self.train_loader)
        self.schedule_no_aug()
        self.seed_samples()
        self.lr_scheduler = self.exp.get_lr_scheduler(options.basic_lr_per_img * options.batch_size, self.max_iter)
        self.batches = self.batch_stream(self.start_epoch * self.max_iter + self.start_iter)
        if options.occupy and self.device.type == "cuda":
            occupy_mem(self.device)
        elif options.occupy:
            logger.info("-o/--occupy reserves GPU memory; there is no GPU here, so it does nothing")
        self.model = self.wrap_distributed(model)
        self.setup_ema(model, resumed)
        self.evaluator = self.exp.get_evaluator(batch_size=options.batch_size, is_distributed=self.is_distributed)
        logger.info("training from epoch {}{} for {} epochs of {} iterations; model:\n{}", self.start_epoch + 1,
                    f", iteration {self.start_iter + 1}" if self.start_iter else "", self.max_epoch, self.max_iter,
                    _model_summary(model, self.exp.test_size))
        self.setup_sinks()
        restore_rng_state(self._resume_rng)  # last: building the pieces above draws random numbers

    def before_epoch(self) -> None:
        logger.info("---> start train epoch {}", self.epoch + 1)
        if self.epoch >= self.max_epoch - self.options.no_aug_epochs:
            self.switch_to_no_aug()
        self.model.train()
        self.freeze_backbone(self.epoch < self.options.freeze_backbone_epochs)
        self.meter.reset()  # the epoch's means (results.csv) start here
        self._epoch_started = time.perf_counter()

    def after_iter(self) -> None:
        if (self.iter + 1) % self.options.print_interval == 0:
            self.log_progress()
        if self.multiscale.due(self.progress_in_iter + 1):
            # Megvii's hook, so an experiment overriding it still picks the sizes.
            self.multiscale.size = tuple(self.exp.random_resize(self.train_loader, self.epoch, self.rank,
                                                                self.is_distributed))

    def after_epoch(self) -> None:
        epoch_time = time.perf_counter() - self._epoch_started  # training only, before the evaluation
        self.log_epoch_timing()
        last_epoch = self.epoch + 1 == self.max_epoch
        improved = False
        self.agree_norm_statistics()
        evaluated = (self.epoch + 1) % self.eval_interval == 0 or last_epoch
        if evaluated:
            improved = self.evaluate()
        self.report_epoch(evaluated=evaluated, epoch_time=epoch_time)
        self.save_checkpoints(improved)
        patience = int(self.options.patience)
        if patience > 0 and self.epoch - self.best_epoch >= patience and not last_epoch:
            self.stop_reason = f"no AP gain for {self.epoch - self.best_epoch} epochs (patience {patience})"
            logger.info("early stop after epoch {}: {}", self.epoch + 1, self.stop_reason)

    def after_train(self) -> None:
        if self.failure is not None:
            logger.error("training of {} stopped at epoch {}, iteration {}: {}", self.file_name, self.epoch + 1,
                         self.iter + 1, self.failure)
        else:
            logger.info("training of {} {}: best AP50:95 {:.2f} at epoch {}", self.file_name,
                        "stopped for preemption" if self.preempted else "done", self.best_ap * 100,
                        self.best_epoch + 1)
        self.close_loader()
        if self.rank == 0 and self.failure is None and not self.preempted:
            report_best_checkpoint(self.exp, run_dir=self.file_name, model=unwrap_model(self.model),
                                   evaluator=self.evaluator, distributed=self.is_distributed)
        status = "failed" if self.failure is not None else "preempted" if self.preempted else "done"
        self.sinks.on_end(RunEnd(status=status, run_dir=Path(self.file_name), best_ap50_95=self.best_ap,
                                 best_epoch=self.best_epoch + 1, failure=self.failure))
        remove_logger(self._log_handlers)

    def close_loader(self) -> None:
        """Let the loader's workers go now (their iterator is dropped), not at interpreter exit."""
        if self.batches is not None:
            self.batches.close()
        self.batches = None

    # ------------------------------------------------------------------ pieces
    def prepare_output(self) -> None:
        if self.rank == 0:
            Path(self.file_name).mkdir(parents=True, exist_ok=True)
        self._log_handlers = setup_logger(self.file_name, distributed_rank=self.rank, filename="train_log.txt",
                                          mode="a")
        if self.precision.enabled:
            logger.info("mixed precision: {}", self.precision)

    def check_num_classes(self) -> None:
        """The head must have a prediction for every class in the data; a too-large head only wastes."""
        names = self.class_names
        if not names or len(names) == self.exp.num_classes:
            return
        if len(names) > self.exp.num_classes:
            raise ValueError(f"the training data has {len(names)} classes {list(names)} but the experiment's "
                             f"num_classes is {self.exp.num_classes}: set num_classes = {len(names)} in the exp file "
                             f"(or override: num_classes {len(names)})")
        logger.warning("the training data has {} classes but num_classes is {}: the extra outputs never see a "
                       "positive", len(names), self.exp.num_classes)

    def batch_stream(self, batches_done: int):
        """Endless (images, targets) on the device; a resumed run starts after ``batches_done``
        (the project's ``DataLoader`` skips them unloaded; a loader of an experiment's own making
        starts its stream again, with a warning)."""
        if isinstance(self.train_loader, DataLoader):
            self.train_loader.fast_forward(batches_done)
        elif batches_done:
            logger.warning("the experiment's own loader ({}) cannot skip the {} batches already trained on: the "
                           "resumed run starts its data stream again", type(self.train_loader).__name__, batches_done)
        if self.device.type == "cuda":
            return _prefetched(DataPrefetcher(self.train_loader, device=self.device))
        # No prefetch on a CPU: a batch is drawn when it is used, so a resumed run replays the
        # same augmentations from the restored RNG states.
        return ((batch[0], batch[1]) for batch in self.train_loader)

    def fetch_batch(self):
        """(images [B, 3, h, w], targets [B, M, 5] cls, cx, cy, w, h) at the current multiscale size."""
        inps, targets = next(self.batches)
        inps = inps.to(self.device, non_blocking=True).float()
        targets = targets.to(self.device, non_blocking=True).float()
        return self.exp.preprocess(inps, targets, self.multiscale.size)  # Megvii's hook

    def set_lr(self, iteration: int) -> float:
        lr = self.lr_scheduler.update_lr(iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def check_finite(self, outputs: Dict[str, torch.Tensor]) -> Dict[str, float]:
        """The loss terms as floats (one device sync); raises NonFiniteLossError on NaN/inf, on every
        rank at once when distributed. The same collective carries this rank's preemption signal, so
        all ranks learn at the same iteration that one was signalled (and stop together)."""
        keys = [k for k in LOSS_KEYS if k in outputs]
        values = torch.stack([torch.as_tensor(outputs[k], dtype=torch.float32, device=self.device).detach()
                              for k in keys])
        flags = torch.stack([(~torch.isfinite(values)).any().float(),
                             torch.tensor(float(self.preemption.signalled), device=self.device)])
        if self.is_distributed:
            torch.distributed.all_reduce(flags)
        floats = values.tolist()
        bad, signalled = flags.tolist()
        if signalled > 0 and not self._preemption_agreed:
            self._preemption_agreed = True
            logger.info("{} received: stopping after this iteration ({} of epoch {}) with a checkpoint",
                        self.preemption.source, self.iter + 1, self.epoch + 1)
        if bad > 0:
            terms = ", ".join(f"{k}={v}" for k, v in zip(keys, floats))
            raise NonFiniteLossError(
                f"non-finite loss at epoch {self.epoch + 1}, iteration {self.iter + 1} (on this or another rank): "
                f"{terms}. Training stopped; the last checkpoint in {self.file_name} is untouched. Try a lower "
                "learning rate (basic_lr_per_img), check the labels (tools/check_dataset.py), or drop --fp16.")
        return dict(zip(keys, floats))

    def optimizer_step(self) -> None:
        for param in self._frozen_params:
            param.grad = None  # SGD leaves parameters without a gradient untouched
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.use_model_ema:
            self.ema_model.update(self.model)

    def switch_to_no_aug(self) -> None:
        """The last epochs: real images (no mosaic/MixUp), the L1 box term, evaluation every epoch."""
        if not self.no_aug or not unwrap_model(self.model).head.use_l1:
            logger.info("--->no mosaic/mixup and L1 loss from epoch {} on", self.epoch + 1)
        self.no_aug = True
        self.train_loader.close_mosaic()
        unwrap_model(self.model).head.enable_l1()
        self.eval_interval = 1

    def schedule_no_aug(self) -> None:
        """Tell the loader now at which batch mosaic/MixUp stop: its workers prepare batches ahead,
        and those of the first no-aug epoch must not depend on when they were asked for."""
        if isinstance(self.train_loader, DataLoader):  # others get Megvii's close_mosaic() at that epoch
            first_no_aug_batch = max(0, self.max_epoch - self.options.no_aug_epochs) * self.max_iter
            self.train_loader.close_mosaic(from_batch=first_no_aug_batch)

    def seed_samples(self) -> None:
        """Give the batch sampler a run seed for its per-sample seeds (``yolox.data.sample_seeds``)
        when the experiment has none: a resumed run takes the checkpoint's, a new one draws one
        (rank 0's, for all ranks), so --resume repeats the batches of any run, seeded or not."""
        if not (isinstance(self.train_loader, DataLoader)
                and isinstance(self.train_loader.batch_sampler, YoloBatchSampler)):
            return  # a loader of the experiment's own making
        batch_sampler = self.train_loader.batch_sampler
        if batch_sampler.seed is None:
            if self.data_seed is None:
                drawn = torch.tensor([random.SystemRandom().randrange(2 ** 31)], device=self.device)
                if self.is_distributed:
                    torch.distributed.broadcast(drawn, src=0)
                self.data_seed = int(drawn.item())
            batch_sampler.seed = self.data_seed
        self.data_seed = int(batch_sampler.seed)

    def freeze_backbone(self, frozen: bool) -> None:
        """Frozen: CSPDarknet's weights get no updates and its BatchNorms keep their statistics."""
        neck = unwrap_model(self.model).backbone
        backbone = neck.backbone if isinstance(neck, (YOLOPAFPN, YOLOFPN)) else neck  # the darknet under the neck
        if frozen and not self._frozen_params:
            logger.info("backbone frozen for the first {} epochs", self.options.freeze_backbone_epochs)
        self._frozen_params = list(backbone.parameters()) if frozen else []
        if frozen:
            for module in backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def wrap_distributed(self, model: nn.Module) -> nn.Module:
        if not self.is_distributed:
            return model
        if self.options.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        device_ids = [self.local_rank] if self.device.type == "cuda" else None
        return DDP(model, device_ids=device_ids, broadcast_buffers=False)

    def setup_ema(self, model: nn.Module, resumed: Optional[ResumeWeights]) -> None:
        """The EMA of ``model``; a resume restores the checkpoint's EMA where it kept one apart (a
        Megvii file did not: its weights, now the model's, seed the EMA, as Megvii's trainer does)."""
        if not self.use_model_ema:
            return
        steps_per_epoch = -(-self.max_iter // self.accumulate)
        if self.options.ema_epochs is not None:
            decay, ramp = ema_for_epochs(self.options.ema_epochs, steps_per_epoch)
        else:
            decay, ramp = float(self.options.ema_decay), 2000.0
        self.ema_model = ModelEMA(model, decay=decay, ramp=ramp)
        self.log_ema_window(steps_per_epoch)
        if resumed is not None and resumed.ema is not None and resumed.ema_updates is not None:
            self.ema_model.load_state_dict({"state_dict": resumed.ema, "updates": resumed.ema_updates})
        else:
            self.ema_model.updates = self.max_iter * self.start_epoch

    def log_ema_window(self, steps_per_epoch: int) -> None:
        """Say what the EMA averages; when the run ends inside the EMA's ramp, say that the weights
        evaluated and saved are then close to the last steps' (noise included) and how to widen it."""
        ema = self.ema_model
        total_steps = steps_per_epoch * self.max_epoch
        final = ModelEMA.decay_at(decay=ema.decay, ramp=ema.ramp, updates=total_steps)
        window = 1.0 / max(1e-12, 1.0 - ema.decay)
        logger.info("EMA: decay {:.6g}, ramp {:.0f} updates: averages ~{:.1f} epochs of {} steps",
                    ema.decay, ema.ramp, window / max(1, steps_per_epoch), steps_per_epoch)
        if self.options.ema_epochs is None and final < 0.9 * ema.decay:
            # Info, not a warning: short runs such as the built-in sample's do well without averaging.
            logger.info("EMA: the run's {} steps end inside the {:.0f}-update ramp (decay {:.2f} at the end), "
                        "so the EMA averages only the last few steps; set ema_epochs (e.g. 3) in the "
                        "experiment to average over epochs", total_steps, ema.ramp, final)

    def setup_sinks(self) -> None:
        """Rank 0 reports to results.csv/png and the -l logger; the sinks start with this run's facts."""
        if self.rank != 0:
            return
        self.sinks = build_sinks(self.options.logger, run_dir=Path(self.file_name),
                                 wandb_options=self.options.wandb_options)
        self.sinks.on_start(RunStart(run_dir=Path(self.file_name), run_name=self.options.run_name, exp=self.exp,
                                     args=self.args, start_epoch=self.start_epoch, max_epoch=self.max_epoch,
                                     iters_per_epoch=self.max_iter, class_names=self.class_names))

    # ------------------------------------------------------------ checkpoints
    def load_start_checkpoint(self, model: nn.Module) -> Optional[ResumeWeights]:
        """--resume: the whole state of ``latest_ckpt.pth`` (or -c), in any layout the checkpoint
        home reads; returns its weights for the EMA. -c alone: the fitting tensors of the weights to run."""
        options = self.options
        ckpt_path = options.ckpt
        if not options.resume:
            if ckpt_path:
                ckpt = read_checkpoint(ckpt_path, allow_pickle=options.unsafe_load)
                load_matching_weights(model, checkpoint_weights(ckpt), source=str(ckpt_path))
            return None
        ckpt_path = ckpt_path or os.path.join(self.file_name, "latest_ckpt.pth")
        ckpt = read_checkpoint(ckpt_path, allow_pickle=options.unsafe_load)
        resumed, progress = resume_weights(ckpt), run_progress(ckpt)
        if options.start_epoch is None and progress.start_epoch is None:
            raise ValueError(f"--resume: {ckpt_path} records no epoch (it holds weights only); fine-tune from it "
                             "with -c alone, or give the epoch to restart at with -e")
        model.load_state_dict(resumed.model)
        if ckpt.get("optimizer"):
            self.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ckpt["scaler"])
        self.best_ap, self.best_epoch = progress.best_ap, progress.best_epoch
        if progress.data_seed is not None:
            self.data_seed = progress.data_seed
        if options.start_epoch is not None:  # -e restarts whole epochs
            self.start_epoch = options.start_epoch - 1
        else:  # the very position of an interrupted run
            self.start_epoch, self.start_iter = progress.start_epoch, progress.epoch_iteration
            self._resume_rng = ckpt.get("rng")
            self.multiscale.size = progress.multiscale_size or self.multiscale.size
        logger.info("resumed from {} at epoch {}{}", ckpt_path, self.start_epoch + 1,
                    f", iteration {self.start_iter + 1}" if self.start_iter else "")
        return resumed

    def checkpoint_state(self, *, epoch_done: bool = True) -> dict:
        """This run as ``yolox.utils.checkpoint.training_checkpoint`` lays it out: "model" holds the
        weights to run (the EMA's, which were evaluated), "train_model" the raw ones.
        ``epoch_done=False``: the state after the current iteration of an unfinished epoch."""
        epoch_iteration = 0 if epoch_done else self.iter + 1
        weights = ResumeWeights(model=unwrap_model(self.model).state_dict())
        if self.use_model_ema:
            weights.ema, weights.ema_updates = self.ema_model.ema.state_dict(), int(self.ema_model.updates)
        progress = RunProgress(
            start_epoch=self.epoch + 1 if epoch_done else self.epoch, epoch_iteration=epoch_iteration,
            iteration=self.epoch * self.max_iter + (self.max_iter if epoch_done else epoch_iteration),
            multiscale_size=self.multiscale.size, data_seed=self.data_seed, best_ap=self.best_ap,
            best_epoch=self.best_epoch)
        return training_checkpoint(weights=weights, progress=progress, optimizer=self.optimizer.state_dict(),
                                   scaler=self.scaler.state_dict() if self.scaler.is_enabled() else None,
                                   rng=capture_rng_state(), meta=model_meta(self.exp, self.class_names))

    def agree_norm_statistics(self) -> None:
        """Average BatchNorm statistics over the ranks (each tracked only its own batches; DDP does not
        broadcast buffers here), so every rank evaluates, and rank 0 saves, the same model."""
        if not self.is_distributed:
            return
        all_reduce_norm(unwrap_model(self.model))
        if self.use_model_ema:
            all_reduce_norm(self.ema_model.ema)

    def save_checkpoints(self, improved: bool) -> None:
        if self.rank != 0:
            return
        state = self.checkpoint_state()
        path = Path(save_checkpoint(state, is_best=improved, save_dir=self.file_name, model_name="latest"))
        paths = {"latest": path}
        if improved:
            paths["best"] = path.with_name("best_ckpt.pth")
        if self.options.save_history_ckpt:
            name = f"epoch_{self.epoch + 1}"
            paths[name] = Path(save_checkpoint(state, is_best=False, save_dir=self.file_name, model_name=name))
        logger.info("saved {} checkpoint(s) to {}", ", ".join(paths), path.parent)
        self.sinks.on_checkpoint(CheckpointLog(epoch=self.epoch + 1, paths=paths, improved=improved,
                                               best_ap50_95=self.best_ap))

    def save_interrupted_checkpoint(self) -> None:
        """latest_ckpt.pth at the iteration every rank stopped at (rank 0 writes; the others wait, so
        no launcher ends rank 0 mid-write). BatchNorm statistics are not averaged here: each rank
        resumes with rank 0's, which the next epoch end averages anyway."""
        if self.rank == 0:
            path = save_checkpoint(self.checkpoint_state(epoch_done=False), is_best=False, save_dir=self.file_name,
                                   model_name="latest")
            logger.info("preempted ({}) at epoch {}, iteration {}/{}: saved {}; `--resume` continues with the next "
                        "batch (exit code {})", self.preemption.source,
                        self.epoch + 1, self.iter + 1, self.max_iter, path, PREEMPTED_EXIT_CODE)
        if self.is_distributed:
            torch.distributed.barrier()
        self.preempted = True

    # ------------------------------------------------------------ evaluation and logs
    def evaluate(self) -> bool:
        """AP of the EMA model (or the model); True when it is the best so far."""
        eval_model = self.ema_model.ema if self.use_model_ema else unwrap_model(self.model)
        # The detections only when a sink draws them; Megvii's trainer always asks (return_outputs), so an
        # experiment written for it takes the keyword.
        extra = {"return_outputs": True} if self.sinks.wants_detections else {}
        (ap50_95, ap50, summary), detections = _split_eval_result(
            self.exp.eval(eval_model, self.evaluator, self.is_distributed, **extra))
        improved = ap50_95 > self.best_ap or self.best_epoch < 0
        if improved:
            self.best_ap, self.best_epoch = ap50_95, self.epoch
        self.last_ap = (ap50_95, ap50)
        if self.rank == 0:
            logger.info("epoch {} evaluation:\n{}", self.epoch + 1, summary)
            logger.info("AP50:95 {:.4f}, AP50 {:.4f} (best AP50:95 {:.4f} at epoch {})", ap50_95, ap50,
                        self.best_ap, self.best_epoch + 1)
            self.warn_unlearned_classes()
            self.sinks.on_evaluation(EvaluationLog(
                epoch=self.epoch + 1, ap50_95=ap50_95, ap50=ap50,
                best_ap50_95=self.best_ap, best_epoch=self.best_epoch + 1, improved=improved,
                detections=detections if isinstance(detections, dict) else None,
                dataset=getattr(getattr(self.evaluator, "dataloader", None), "dataset", None)))
        return improved

    def warn_unlearned_classes(self) -> None:
        """Per-class figures of the last evaluation to the watch for classes the model does not learn."""
        if isinstance(self.evaluator, COCOEvaluator) and self.evaluator.last_scores is not None:
            self.class_watch.check(self.epoch + 1, self.evaluator.last_scores)
        # else a VOC or an experiment's own evaluator: no per-class COCO figures

    def log_progress(self) -> None:
        losses = {k: torch.tensor(self.meter[k].avg) for k in LOSS_KEYS if k in self.meter}
        losses = {k: float(v) for k, v in reduce_mean_dict(losses).items()}
        if self.rank != 0:
            return
        iter_time = self.meter["iter_time"].avg
        remaining = (self.max_epoch * self.max_iter - self.progress_in_iter - 1) * iter_time
        logger.info(
            "epoch: {}/{}, iter: {}/{}, mem: {:.0f}Mb, iter_time: {:.3f}s, data_time: {:.3f}s, {}, lr: {:.3e}, "
            "size: {}, ETA: {}", self.epoch + 1, self.max_epoch, self.iter + 1, self.max_iter,
            memory_mb(self.device), iter_time, self.meter["data_time"].avg,
            ", ".join(f"{k}: {v:.3f}" for k, v in losses.items()), self.meter["lr"].latest,
            self.multiscale.size[0], format_eta(remaining))
        self.sinks.on_iteration(IterationLog(step=self.progress_in_iter + 1, epoch=self.epoch + 1,
                                             iteration=self.iter + 1, losses=losses, lr=self.meter["lr"].latest))

    def report_epoch(self, *, evaluated: bool, epoch_time: float) -> None:
        """The epoch's means over its iterations and the ranks, its speed, and its AP when it was evaluated."""
        losses = {k: torch.tensor(self.meter[k].global_avg) for k in LOSS_KEYS if k in self.meter}
        losses = {k: float(v) for k, v in reduce_mean_dict(losses).items()}
        if self.rank != 0:
            return
        iterations = self.max_iter - (self.start_iter if self.epoch == self.start_epoch else 0)
        ap50_95, ap50 = self.last_ap if evaluated and self.last_ap is not None else (None, None)
        self.sinks.on_epoch(EpochLog(epoch=self.epoch + 1, losses=losses, lr=self.meter["lr"].latest,
                                     epoch_time_s=epoch_time,
                                     images_per_s=iterations * self.options.batch_size / max(epoch_time, 1e-9),
                                     ap50_95=ap50_95, ap50=ap50))

    def log_epoch_timing(self) -> None:
        iter_time, data_time = self.meter["iter_time"].avg, self.meter["data_time"].avg
        if iter_time > 0:
            logger.info("epoch {}: {:.3f}s per iteration, {:.0%} of it waiting for data{}", self.epoch + 1,
                        iter_time, data_time / iter_time,
                        " (the loader is the bottleneck: more data_num_workers or --cache)"
                        if data_time > 0.3 * iter_time else "")


def _model_summary(model: nn.Module, test_size) -> str:
    from yolox.utils.model_utils import get_model_info

    return get_model_info(model, test_size)


def _split_eval_result(result):
    """((ap50_95, ap50, summary), detections or None) of an experiment's eval: this package's
    evaluators give (ap50_95, ap50, summary[, outputs]); Megvii's, asked for outputs,
    ((ap50_95, ap50, summary), outputs)."""
    if len(result) == 2 and isinstance(result[0], (tuple, list)):
        return tuple(result[0]), result[1]
    return tuple(result[:3]), (result[3] if len(result) > 3 else None)


def _prefetched(prefetcher):
    """The (images, targets) of a ``DataPrefetcher`` as a generator (closable like the CPU stream)."""
    while True:
        images, targets = prefetcher.next()
        if images is None:
            return
        yield images, targets
