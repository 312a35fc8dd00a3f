"""Using a trained model outside training: load a checkpoint, predict and draw, export."""
from .checkpoint_loading import LoadedModel, apply_checkpoint_architecture, load_model, resolve_class_names
from .predictor import Detections, Predictor
