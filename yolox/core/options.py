"""What the trainer reads from the experiment's attributes and tools/train.py's flags, declared once.

``TrainOptions.from_exp(exp, args)`` is the only place that reads them, with the defaults below:
an experiment written for Megvii (or on ``BaseExp`` alone) may lack this project's extra
attributes, and a script of its own may hand the trainer a Namespace with fewer flags. The
experiment's *builders* (``get_model``, ``get_data_loader``, ``random_resize``, ...) are hooks the
trainer still calls on the experiment, so an experiment that overrides them keeps working.
"""
from dataclasses import dataclass, fields
from typing import Any, Dict, Optional

from .sinks.wandb_sink import split_wandb_options

from yolox.utils.precision import amp_request

__all__ = ["TrainOptions"]

_FROM_ARGS = ("batch_size", "fp16", "amp", "ckpt", "resume", "start_epoch", "unsafe_load", "cache", "occupy",
              "logger", "experiment_name", "deterministic", "sync_bn", "wandb_options")


@dataclass(frozen=True)
class TrainOptions:
    # ------------------------------------------------ tools/train.py's flags
    batch_size: int = 64  # images per iteration over all processes (-b)
    fp16: bool = False  # mixed precision: fp16 autocast + GradScaler on CUDA, bf16 autocast on a CPU
    amp: Optional[str] = None  # --amp fp16 / bf16: the reduced precision by name (over fp16)
    ckpt: Optional[str] = None  # -c: the run to resume (with resume) or weights to fine-tune from
    resume: bool = False
    start_epoch: Optional[int] = None  # -e with --resume: restart at this epoch, 1-based
    unsafe_load: bool = False  # read checkpoints that need full unpickling
    cache: Optional[str] = None  # "ram" / "disk" image cache
    occupy: bool = False  # reserve GPU memory up front
    logger: str = "tensorboard"  # -l: "tensorboard", "wandb", "mlflow" or "none" (results.csv is always written)
    experiment_name: Optional[str] = None  # -expn: output folder name (default: exp_name)
    deterministic: bool = False
    sync_bn: bool = False
    # Megvii's trailing wandb-<key> <value> pairs (tools/train.py takes them out of the experiment's
    # overrides); a script's Namespace without it: read from its opts, as Megvii's trainer does.
    wandb_options: Optional[Dict[str, Any]] = None
    # ------------------------------------------------ the experiment's attributes (Exp's defaults)
    exp_name: str = "yolox"
    output_dir: str = "./YOLOX_outputs"
    seed: Optional[int] = None
    max_epoch: int = 300
    warmup_epochs: int = 5
    no_aug_epochs: int = 15
    basic_lr_per_img: float = 0.01 / 64.0
    ema: bool = True
    ema_decay: float = 0.9999
    ema_epochs: Optional[float] = None  # EMA window in epochs (ema_for_epochs); None: ema_decay, ramp 2000
    accumulate: int = 1  # iterations whose gradients add up before one optimizer step
    patience: int = 0  # epochs without a better AP before stopping; 0: never
    freeze_backbone_epochs: int = 0
    channels_last: bool = True
    print_interval: int = 10
    eval_interval: int = 10
    save_history_ckpt: bool = True

    @classmethod
    def from_exp(cls, exp: Any, args: Any) -> "TrainOptions":
        """The options of ``exp`` (an ``Exp``) and ``args`` (tools/train.py's parsed flags, or any
        object with some of them); missing ones take the defaults above."""
        values = {}
        for option in fields(cls):
            source = args if option.name in _FROM_ARGS else exp
            values[option.name] = getattr(source, option.name, option.default)
        if values["wandb_options"] is None:
            values["wandb_options"] = split_wandb_options(getattr(args, "opts", None))[1]
        if values["batch_size"] is None:  # -b not given: the experiment's
            values["batch_size"] = getattr(exp, "batch_size", cls.batch_size)
        return cls(**values)

    @property
    def run_name(self) -> str:
        """The output folder's name: -expn, else the experiment's name."""
        return self.experiment_name or self.exp_name

    @property
    def amp_request(self) -> Optional[str]:
        """"fp16", "bf16" or None (float32), as ``yolox.utils.precision.Precision.resolve`` takes it."""
        return amp_request(self.fp16, self.amp)

    @property
    def accumulate_steps(self) -> int:
        return max(1, int(self.accumulate))
