"""Static INT8 quantization of an ONNX file with onnxruntime: QDQ format, weights int8 per output
channel, activations uint8 (the U8S8 pair onnxruntime's x86 kernels run fastest, with VNNI),
MinMax ranges from calibration images; the head's last layers stay float (float_layers)."""
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import numpy as np
from loguru import logger

from yolox.deploy.metadata import METADATA_KEY, ModelMetadata
from yolox.utils.atomic_io import atomic_write_bytes

from .float_layers import onnx_float_nodes

__all__ = ["MIN_INT8_OPSET", "quantize_onnx"]

MIN_INT8_OPSET = 13  # per-channel QuantizeLinear / DequantizeLinear take an axis from opset 13 on


class _Batches:
    """onnxruntime's CalibrationDataReader protocol over [N, 3, h, w] images, ``batch`` at a time
    (a file of fixed batch gets whole batches only: the images left over are not used)."""

    def __init__(self, input_name: str, images: np.ndarray, batch: int, *, fixed: bool):
        last = len(images) - batch + 1 if fixed else len(images)
        if last < 1:
            raise ValueError(f"{len(images)} calibration images for a model of fixed batch {batch}: "
                             f"give at least {batch}")
        self._feeds: Iterator = iter([{input_name: images[i:i + batch]} for i in range(0, last, batch)])

    def get_next(self) -> Optional[dict]:
        return next(self._feeds, None)


def quantize_onnx(fp32_path: Union[str, Path], int8_path: Union[str, Path], images: np.ndarray, *,
                  keep_float: Optional[Sequence[str]] = None) -> Path:
    """Write an INT8 (QDQ) copy of the float ONNX file ``fp32_path`` (opset >= 13) to ``int8_path``,
    calibrated on ``images`` [N, 3, h, w] float32 letterboxed like evaluation. Its ``"yolox"``
    metadata, when the float file has it, says precision "int8". keep_float: node names left
    float (default ``onnx_float_nodes``; ``[]`` quantizes everything, to measure what that costs)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(fp32_path))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_INT8_OPSET:
        raise ValueError(f"{fp32_path}: opset {opset}; INT8 per-channel quantization needs opset >= {MIN_INT8_OPSET} "
                         f"(export with --opset {MIN_INT8_OPSET})")
    keep_float = onnx_float_nodes(model) if keep_float is None else list(keep_float)
    input_tensor = model.graph.input[0]
    fixed_batch = input_tensor.type.tensor_type.shape.dim[0].dim_value  # 0: symbolic
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".yolox-int8-") as tmp:
        staged = Path(tmp) / "int8.onnx"
        batches = _Batches(input_tensor.name, images, fixed_batch or 8, fixed=bool(fixed_batch))
        quantize_static(model, staged, batches,
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=keep_float or None,
                        # MinMax holds two numbers per tensor and image (its augmented graph reduces each
                        # activation); the histogram methods hold whole activations: gigabytes at 640.
                        calibrate_method=CalibrationMethod.MinMax)
        quantized = onnx.load(str(staged))
    _mark_int8(quantized)
    atomic_write_bytes(quantized.SerializeToString(), int8_path)
    logger.info("wrote {} (INT8 QDQ, onnxruntime): calibrated on {} images in {:.1f} s; {} nodes kept float "
                "(prediction convs and what follows them)", int8_path, len(images), time.perf_counter() - start,
                len(keep_float))
    return Path(int8_path)


def _mark_int8(model) -> None:
    """Set precision "int8" in the model's ``"yolox"`` metadata, where it has one."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            metadata = ModelMetadata.from_json(prop.value, source="the float ONNX file")
            metadata.precision = "int8"
            prop.value = metadata.to_json()
