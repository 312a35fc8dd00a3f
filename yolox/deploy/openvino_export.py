"""OpenVINO IR export (an ``.xml`` graph and its ``.bin`` weights), written as one atomic pair.

The route is PyTorch -> ONNX (``export_onnx``) -> ``openvino.convert_model``, not
``convert_model(torch_module)``: the ONNX exporter is the one the project already proves against
onnxruntime, converting from ONNX takes a fraction of a TorchScript trace, and the IR keeps the ONNX
node names (``/head/cls_preds.0/Conv``), so the INT8 code finds the head's prediction layers by the
same module paths in both formats. Weights stay float32 (``compress_to_fp16=False``); the runtime
picks bf16 or f32 when it compiles (see backends/openvino_backend.py).

An IR is two files, and no rename moves both at once. The ``.xml`` carries the SHA-256 of its
``.bin`` (runtime info ``yolox_bin_sha256``) and is renamed into place last, so a pair cut in half
(new ``.bin`` beside an old ``.xml``, or one file missing) is refused when loaded, never run.
"""
import os
import tempfile
from pathlib import Path
from typing import Union

import numpy as np
from loguru import logger
from torch import nn

from yolox.utils.atomic_io import atomic_write

from .backends.openvino_backend import BIN_HASH_KEY, file_sha256
from .export_check import ExportCheck, compare_outputs
from .metadata import METADATA_KEY, ModelMetadata
from .onnx_export import OnnxExportSettings, export_onnx

__all__ = ["export_openvino", "onnx_to_openvino", "save_ir", "bin_path", "check_openvino"]


def bin_path(xml_path: Union[str, Path]) -> Path:
    """The weights file OpenVINO reads beside ``xml_path``: same name, ``.bin``."""
    return Path(xml_path).with_suffix(".bin")


def save_ir(ov_model, xml_path: Union[str, Path], metadata: ModelMetadata) -> Path:
    """Write ``ov_model`` (an ``openvino.Model``) as ``xml_path`` + its ``.bin``, float weights
    uncompressed, ``metadata`` in the runtime info under ``"yolox"``; see the module doc for why a
    half-written pair cannot load. ``xml_path`` must end in ``.xml``."""
    import openvino as ov

    xml_path = Path(xml_path)
    if xml_path.suffix != ".xml":
        raise ValueError(f"{xml_path}: an OpenVINO IR is written as NAME.xml (plus NAME.bin)")
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    ov_model.set_rt_info(metadata.to_json(), METADATA_KEY)
    with tempfile.TemporaryDirectory(prefix=f".{xml_path.stem}.", dir=xml_path.parent) as tmp:
        staged = Path(tmp) / "model.xml"
        ov.save_model(ov_model, staged, compress_to_fp16=False)
        # The hash goes into the .xml only; the .bin of a second save is the same bytes (checked).
        digest = file_sha256(bin_path(staged))
        ov_model.set_rt_info(digest, BIN_HASH_KEY)
        ov.save_model(ov_model, staged, compress_to_fp16=False)
        if file_sha256(bin_path(staged)) != digest:
            raise RuntimeError(f"{xml_path}: openvino.save_model wrote different weights for the same model twice; "
                               "the .bin hash cannot be recorded (nothing was written)")
        _move_into_place(bin_path(staged), bin_path(xml_path))
        _move_into_place(staged, xml_path)  # last: until now the old .xml refuses the new .bin
    logger.info("wrote {} + {} ({:.1f} MB, OpenVINO IR, precision {})", xml_path, bin_path(xml_path).name,
                bin_path(xml_path).stat().st_size / 1e6, metadata.precision)
    return xml_path


def _move_into_place(staged: Path, final: Path) -> None:
    """``staged`` (a finished file in the same folder tree) renamed over ``final`` through
    ``atomic_write``'s temp-file-fsync-rename, so the permissions and crash safety are the project's."""
    with atomic_write(final, "wb") as handle, open(staged, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            handle.write(block)
    os.remove(staged)


def onnx_to_openvino(onnx_path: Union[str, Path]):
    """The ``openvino.Model`` of an ONNX file (node names kept: they are the ONNX node names)."""
    import openvino as ov

    return ov.convert_model(str(onnx_path))


def export_openvino(model: nn.Module, output_path: Union[str, Path], *, metadata: ModelMetadata,
                    batch_size: int = 1, dynamic: bool = False) -> Path:
    """Write ``model`` (eval mode, CPU) as an fp32 OpenVINO IR with input [B, 3, h, w]
    (h, w = ``metadata.input_size``) and output [B, A, 5 + C]. ``dynamic``: any batch size."""
    # No onnxslim pass: OpenVINO folds constants itself when converting, and slimming costs seconds.
    settings = OnnxExportSettings(input_size=tuple(metadata.input_size), batch_size=batch_size, dynamic=dynamic,
                                  opset=13, simplify=False)
    with tempfile.TemporaryDirectory(prefix=".yolox-openvino-") as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "model.onnx", settings)
        # Saved inside the block: the converted model may still map the ONNX file's weights.
        return save_ir(onnx_to_openvino(onnx_path), output_path, metadata)



def check_openvino(path: Union[str, Path], reference: np.ndarray, images: np.ndarray, *,
                   precision: str = "fp32") -> ExportCheck:
    """Compare the IR's output on ``images`` (compiled in ``precision``) with the PyTorch ``reference``."""
    from .backends.openvino_backend import OpenVINOBackend

    backend = OpenVINOBackend(path, precision=precision)
    label = "OpenVINO" if precision == "fp32" else f"OpenVINO {precision}"
    return compare_outputs(reference, backend(images), runtime=label)
