"""Training: the loop (Trainer), its options, and process launch (spawn, torchrun, multi-node)."""
from .launch import LaunchConfig, launch
from .run import build_exp, run_training
from .trainer import NonFiniteLossError, Trainer
