"""The deployable formats of one trained model, each written once into a folder and opened as a Detector.

    torch           the checkpoint, PyTorch eager, float32
    torch-fused     the checkpoint, BatchNorm folded into the convolutions, weights channels-last
    torch-bf16      the checkpoint under CPU bfloat16 autocast
    torchscript     traced TorchScript, float32
    onnx            ONNX Runtime, float32
    onnx-int8       ONNX Runtime, static INT8 (QDQ), prediction layers and decode kept float
    openvino        OpenVINO IR run in float32
    openvino-bf16   the same IR run in bfloat16 (CPUs with avx512_bf16 / AMX)
    openvino-int8   OpenVINO INT8 (NNCF), prediction layers and decode kept float (run in bf16
                    where the CPU has it, else fp32)

Every exported file takes any batch size and gives raw box offsets (the Detector decodes them),
as ``tools/export_*`` write them by default, with the metadata that makes it self-describing.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from loguru import logger

__all__ = ["FORMATS", "FormatSpec", "ModelFiles", "file_size"]


@dataclass
class FormatSpec:
    """name: the --formats key; label: what the table calls it; file: which file of ModelFiles it
    runs ("checkpoint", "torchscript", "onnx", "onnx-int8", "openvino", "openvino-int8");
    options: the Detector's options for it (precision, fuse, channels_last)."""

    name: str
    label: str
    file: str
    options: Dict = field(default_factory=dict)


FORMATS: Dict[str, FormatSpec] = {spec.name: spec for spec in [
    FormatSpec("torch", "PyTorch eager fp32", "checkpoint", {"channels_last": False}),
    FormatSpec("torch-fused", "PyTorch fused, channels-last", "checkpoint", {"fuse": True, "channels_last": True}),
    FormatSpec("torch-bf16", "PyTorch bf16 autocast", "checkpoint", {"precision": "bf16", "channels_last": True}),
    FormatSpec("torchscript", "TorchScript fp32", "torchscript"),
    FormatSpec("onnx", "ONNX Runtime fp32", "onnx"),
    FormatSpec("onnx-int8", "ONNX Runtime INT8", "onnx-int8"),
    FormatSpec("openvino", "OpenVINO fp32", "openvino", {"precision": "fp32"}),
    FormatSpec("openvino-bf16", "OpenVINO bf16", "openvino", {"precision": "bf16"}),
    # The layers left float run in the CPU's best float (bf16 where it has it): INT8 is about speed.
    FormatSpec("openvino-int8", "OpenVINO INT8", "openvino-int8"),
]}


def file_size(path: Path) -> int:
    """Bytes on disk of a model file (an OpenVINO .xml with its .bin)."""
    size = path.stat().st_size
    if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        size += path.with_suffix(".bin").stat().st_size
    return size


class ModelFiles:
    """The files of one checkpoint in ``folder``, written on first request (``path(kind)``).

    exp: the experiment (input size: its test_size); ckpt: the checkpoint; calib_images: a callable
    giving the INT8 calibration batch [N, 3, h, w] float32 (asked for once, when an INT8 file is
    first needed).
    """

    def __init__(self, exp, ckpt: str, folder: Path, *, calib_images: Callable[[], "object"],
                 allow_pickle: bool = False):
        self.exp = exp
        self.ckpt = ckpt
        self.folder = Path(folder)
        self.calib_images = calib_images
        self.allow_pickle = allow_pickle
        self.export_seconds: Dict[str, float] = {}
        self._paths: Dict[str, Path] = {"checkpoint": Path(ckpt)}
        self._model = None
        self._calib = None

    def path(self, kind: str) -> Path:
        if kind not in self._paths:
            import time

            self.folder.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            self._paths[kind] = getattr(self, "_write_" + kind.replace("-", "_"))()
            self.export_seconds[kind] = time.perf_counter() - start
            logger.info("{}: {} written in {:.1f} s", kind, self._paths[kind], self.export_seconds[kind])
        return self._paths[kind]

    def _loaded(self):
        if self._model is None:
            from .model_loading import model_for_export

            self._model = model_for_export(self.exp, self.ckpt, decode_in_inference=False,
                                           allow_pickle=self.allow_pickle)
        return self._model

    def _metadata(self):
        from .model_loading import export_metadata

        return export_metadata(self._loaded(), input_size=tuple(self.exp.test_size), batch_size=None,
                               exp_name=str(getattr(self.exp, "exp_name", "")))

    def _calibration(self):
        if self._calib is None:
            self._calib = self.calib_images()
        return self._calib

    def _write_torchscript(self) -> Path:
        from .torchscript_export import export_torchscript

        return export_torchscript(self._loaded().model, self.folder / "model.torchscript",
                                  input_size=tuple(self.exp.test_size), metadata=self._metadata())

    def _write_onnx(self) -> Path:
        from .onnx_export import OnnxExportSettings, export_onnx

        # Opset 13: what per-channel INT8 needs, so the INT8 file is this one quantized.
        settings = OnnxExportSettings(input_size=tuple(self.exp.test_size), dynamic=True, opset=13)
        return export_onnx(self._loaded().model, self.folder / "model.onnx", settings, metadata=self._metadata())

    def _write_onnx_int8(self) -> Path:
        from .quantization import quantize_onnx

        return quantize_onnx(self.path("onnx"), self.folder / "model_int8.onnx", self._calibration())

    def _write_openvino(self) -> Path:
        from .openvino_export import export_openvino

        return export_openvino(self._loaded().model, self.folder / "model.xml", metadata=self._metadata(),
                               dynamic=True)

    def _write_openvino_int8(self) -> Path:
        from .quantization import quantize_openvino

        return quantize_openvino(self.path("openvino"), self.folder / "model_int8.xml", self._calibration())


def parse_formats(names: Optional[List[str]]) -> List[FormatSpec]:
    """The specs of ``names`` (default: all), in the table's order; a clear error for an unknown one."""
    if not names:
        return list(FORMATS.values())
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    return [FORMATS[n] for n in FORMATS if n in names]
