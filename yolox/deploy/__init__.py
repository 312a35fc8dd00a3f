"""Using a trained model outside training: predict and draw, export (models come from
yolox.exp.checkpoint_model.load_model)."""
from .predictor import Detections, Predictor
