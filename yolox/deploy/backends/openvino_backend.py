"""OpenVINO backend: an IR (``.xml`` + ``.bin``) compiled for the CPU, tuned for one image at a time.

Precision: the IR's weights are float32 (or INT8 where it was quantized); the CPU plugin computes
its floating-point layers in ``INFERENCE_PRECISION_HINT``: bf16 where the CPU has it (AVX512-BF16 or
AMX; ``OPTIMIZATION_CAPABILITIES`` lists "BF16"), which roughly halves latency at a small accuracy
cost, else f32. Imports numpy and openvino only (no torch).
"""
import hashlib
import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..metadata import METADATA_KEY, ModelMetadata

__all__ = ["OpenVINOBackend", "cpu_supports_bf16", "file_sha256", "read_checked_ir", "read_metadata",
           "PRECISIONS", "BIN_HASH_KEY"]

# What ``precision=`` accepts -> the CPU plugin's INFERENCE_PRECISION_HINT.
PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
# Runtime info key of a yolox IR: the hex SHA-256 of the .bin its .xml was saved with (openvino_export).
BIN_HASH_KEY = "yolox_bin_sha256"


def file_sha256(path: Union[str, Path]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cpu_supports_bf16(core=None) -> bool:
    """Whether OpenVINO's CPU plugin can compute in bfloat16 on this machine."""
    import openvino as ov

    core = core or ov.Core()
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVINOBackend:
    """A YOLOX OpenVINO IR, compiled once on the CPU.

    precision: None (the CPU's best float: "bf16" where supported, else "fp32"), "fp32" or "bf16"
    (a ValueError on a CPU without bf16). metadata: for an IR written without it (not by
    yolox's exporter); otherwise read from the IR's runtime info ``"yolox"``.
    ``inference_precision`` is what was compiled ("fp32" or "bf16"); an INT8 file (metadata
    precision "int8") runs its quantized layers in INT8 and the rest in that precision.
    """

    name = "openvino"

    def __init__(self, path: Union[str, Path], *, precision: Optional[str] = None,
                 metadata: Optional[ModelMetadata] = None):
        import openvino as ov

        self.path = Path(path)
        core = ov.Core()
        model = read_checked_ir(core, self.path)
        self.metadata = metadata or _read_metadata(model, self.path)
        self.inference_precision = _resolve_precision(precision, core)
        config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": _available_cores(),
            "INFERENCE_PRECISION_HINT": PRECISIONS[self.inference_precision],
        }
        self._compiled = core.compile_model(model, "CPU", config)
        self._request = self._compiled.create_infer_request()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """images [B, 3, h, w] float32 -> [B, A, 5 + C] float32 (see Backend)."""
        self._request.infer({0: np.ascontiguousarray(images, dtype=np.float32)})
        return np.array(self._request.get_output_tensor(0).data, dtype=np.float32)  # a copy: the buffer is reused


def read_checked_ir(core, xml_path: Union[str, Path]):
    """The ``openvino.Model`` of ``xml_path``; a FileNotFoundError when the .xml or its .bin is
    missing, a ValueError when the .bin is not the one the .xml was written with."""
    xml_path = Path(xml_path)
    model = core.read_model(str(xml_path), str(_checked_bin(xml_path)))
    _check_bin_hash(model, xml_path)
    return model


def read_metadata(model, xml_path: Union[str, Path]) -> ModelMetadata:
    """The ``"yolox"`` runtime info of an IR, or a ValueError that says what to pass instead."""
    return _read_metadata(model, Path(xml_path))


def _checked_bin(xml_path: Path) -> Path:
    if not xml_path.is_file():
        raise FileNotFoundError(f"no OpenVINO IR at {xml_path} (export one with tools/export_openvino.py)")
    weights = xml_path.with_suffix(".bin")
    if not weights.is_file():
        raise FileNotFoundError(f"{xml_path}: its weights file {weights.name} is missing; an OpenVINO IR is "
                                f"the .xml and the .bin of the same name, side by side")
    return weights


def _check_bin_hash(model, xml_path: Path) -> None:
    """Refuse a .bin that is not the one the .xml was saved with (a pair cut in half by a crash,
    or files of two exports mixed). IRs not written by yolox carry no hash and are not checked."""
    if not model.has_rt_info(BIN_HASH_KEY):
        return
    if file_sha256(xml_path.with_suffix(".bin")) != model.get_rt_info(BIN_HASH_KEY).astype(str):
        raise ValueError(f"{xml_path}: {xml_path.with_suffix('.bin').name} is not the weights file this .xml "
                         "was written with (an interrupted export, or files of two exports); export again")


def _read_metadata(model, xml_path: Path) -> ModelMetadata:
    if not model.has_rt_info(METADATA_KEY):
        raise ValueError(f"{xml_path}: no {METADATA_KEY!r} runtime info (not written by tools/export_openvino.py); "
                         "pass OpenVINOBackend(path, metadata=ModelMetadata(class_names=..., input_size=(h, w), "
                         "decoded=...)) or export the model again with tools/export_openvino.py")
    return ModelMetadata.from_json(model.get_rt_info(METADATA_KEY).astype(str), source=str(xml_path))


def _resolve_precision(precision: Optional[str], core) -> str:
    """"fp32" or "bf16": ``precision`` checked against the CPU, None -> the best the CPU has."""
    if precision is None:
        return "bf16" if cpu_supports_bf16(core) else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: expected None (the CPU's best), 'fp32' or 'bf16'")
    if precision == "bf16" and not cpu_supports_bf16(core):
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        raise ValueError(f"precision='bf16': this CPU cannot compute in bfloat16 (OpenVINO's CPU capabilities: "
                         f"{', '.join(capabilities)}; bf16 needs AVX512-BF16 or AMX); use precision='fp32' or None")
    return precision


def _available_cores() -> int:
    """The cores this process may run on (its affinity mask; os.cpu_count() where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
