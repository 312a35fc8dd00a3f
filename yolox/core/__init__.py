"""Training: the loop (Trainer), checkpoints, preemption; ``launch`` is re-exported from
``yolox.utils.launch`` under Megvii's name (``from yolox.core import Trainer, launch``)."""
from .checkpoint import model_meta
from .launch import LaunchConfig, launch
from .trainer import NonFiniteLossError, Trainer
