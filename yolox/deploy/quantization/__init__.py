"""INT8 post-training quantization of exported YOLOX files, one module per idea:

- ``calibration``: the images (the experiment's own eval letterbox) that set the INT8 ranges;
- ``float_layers``: what stays in floating point (the head's prediction convs and everything after
  them: flatten, concat, sigmoid, decode), found in the exported graph by the weights' names;
- ``onnxruntime_int8``: static QDQ quantization of an ONNX file with onnxruntime;
- ``openvino_int8``: the same for an OpenVINO IR with NNCF.
"""
from .calibration import calibration_images
from .float_layers import onnx_float_nodes, openvino_float_nodes
from .onnxruntime_int8 import quantize_onnx
from .openvino_int8 import quantize_openvino

__all__ = ["calibration_images", "onnx_float_nodes", "openvino_float_nodes", "quantize_onnx", "quantize_openvino"]
