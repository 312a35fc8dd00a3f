"""INT8 post-training quantization of an OpenVINO IR with NNCF (``nncf.quantize``): the MIXED
preset (symmetric int8 weights, asymmetric activations: SiLU outputs dip below zero), ranges from
calibration images, the head's last layers in the ignored scope (float_layers)."""
import logging
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from loguru import logger

from ..backends.openvino_backend import read_checked_ir, read_metadata
from ..openvino_export import save_ir
from .float_layers import openvino_float_nodes

__all__ = ["quantize_openvino"]


def quantize_openvino(fp32_xml: Union[str, Path], int8_xml: Union[str, Path], images: np.ndarray, *,
                      keep_float: Optional[Sequence[str]] = None) -> Path:
    """Write an INT8 copy of the float IR ``fp32_xml`` to ``int8_xml`` (+ .bin), calibrated on
    ``images`` [N, 3, h, w] float32 letterboxed like evaluation; metadata precision "int8".
    keep_float: operation names left float (default ``openvino_float_nodes``; ``[]``: none)."""
    import openvino as ov

    try:
        import nncf
    except ImportError as err:
        raise ImportError("INT8 quantization of an OpenVINO IR needs NNCF: pip install nncf "
                          "(or pip install -e \".[deploy]\")") from err
    nncf.set_log_level(logging.WARNING)  # its per-node INFO lines list every skipped quantizer
    model = read_checked_ir(ov.Core(), fp32_xml)
    metadata = read_metadata(model, fp32_xml)
    keep_float = openvino_float_nodes(model) if keep_float is None else list(keep_float)
    batch = model.input(0).get_partial_shape()[0]
    size = batch.get_length() if batch.is_static else 1
    feeds = [images[i:i + size] for i in range(0, len(images) - size + 1, size)]
    if not feeds:
        raise ValueError(f"{len(images)} calibration images for a model of fixed batch {size}: give at least {size}")
    start = time.perf_counter()
    quantized = nncf.quantize(model, nncf.Dataset(feeds), preset=nncf.QuantizationPreset.MIXED,
                              subset_size=len(feeds),
                              ignored_scope=nncf.IgnoredScope(names=keep_float) if keep_float else None)
    elapsed = time.perf_counter() - start
    metadata.precision = "int8"
    path = save_ir(quantized, int8_xml, metadata)
    logger.info("quantized {} with NNCF: calibrated on {} images in {:.1f} s; {} operations kept float "
                "(prediction convs and what follows them)", int8_xml, len(feeds) * size, elapsed, len(keep_float))
    return path
