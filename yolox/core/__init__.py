"""Training: the loop (Trainer), its options, preemption; ``launch`` is re-exported from
``yolox.utils.launch`` under Megvii's name (``from yolox.core import Trainer, launch``)."""
from .launch import LaunchConfig, launch
from .trainer import NonFiniteLossError, Trainer
