"""Using a trained model outside training: predict and draw, export (models come from
yolox.deploy.model_loading.load_model)."""
from .predictor import Detections, Predictor
