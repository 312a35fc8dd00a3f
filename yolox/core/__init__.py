"""Training: the loop (Trainer), checkpoints, and process launch (spawn, torchrun, multi-node)."""
from .checkpoint import load_matching_weights, model_meta, save_checkpoint
from .launch import LaunchConfig, launch
from .run import build_exp, run_training
from .trainer import NonFiniteLossError, Trainer
