"""Experiments: configuration objects that build the model, data, optimizer and evaluator."""
from .base_exp import BaseExp
from .build import check_exp_value, get_exp
from .yolox_base import Exp
