"""Training: the loop (Trainer), checkpoints, and process launch (spawn, torchrun, multi-node)."""
from .checkpoint import model_meta
from .launch import LaunchConfig, launch
from .run import build_exp, run_training
from .trainer import NonFiniteLossError, Trainer
