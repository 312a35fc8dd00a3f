"""Backends: one per model-file format; ``open_backend`` picks one by the file (see base.Backend).

    .pth / .pt          a training checkpoint (torch), or a TorchScript archive (told by its content)
    .torchscript        TorchScript
    .onnx               ONNX Runtime
    .xml                OpenVINO IR (its .bin beside it)

Imports only the standard library here; each backend imports its runtime when opened.
"""
import zipfile
from pathlib import Path
from typing import Union

from .base import Backend, resolve_metadata

__all__ = ["Backend", "MODEL_SUFFIXES", "backend_kind", "is_exported_model", "open_backend", "is_torchscript_archive",
           "resolve_metadata"]

MODEL_SUFFIXES = (".pth", ".pt", ".torchscript", ".onnx", ".xml")
_TORCH_OPTIONS = ("exp", "device", "precision", "fuse", "channels_last", "class_names", "allow_pickle")
_FILE_OPTIONS = ("exp", "device", "precision", "class_names", "input_size", "decoded")


def is_torchscript_archive(path: Union[str, Path]) -> bool:
    """Whether ``path`` is a saved ScriptModule (a zip with compiled ``code/``), not a torch.save checkpoint."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] or name.endswith("/constants.pkl") for name in archive.namelist())


def backend_kind(path: Union[str, Path]) -> str:
    """"checkpoint", "torchscript", "onnxruntime" or "openvino": what runs ``path`` (an existing file),
    by its suffix and, for .pth / .pt, its content; a clear error for another suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnxruntime"
    if suffix == ".xml":
        return "openvino"
    if suffix == ".torchscript" or (suffix in (".pth", ".pt") and is_torchscript_archive(path)):
        return "torchscript"
    if suffix in (".pth", ".pt"):
        return "checkpoint"
    raise ValueError(f"{str(path)!r}: unknown model file type {suffix!r}; expected one of {', '.join(MODEL_SUFFIXES)} "
                     "(a checkpoint or TorchScript .pth/.pt, .torchscript, ONNX .onnx, OpenVINO .xml)")


def is_exported_model(path: Union[str, Path, None]) -> bool:
    """Whether ``path`` is an existing exported model file (TorchScript, ONNX, OpenVINO); a training
    checkpoint, whatever its suffix, is not (the tools keep loading those as before)."""
    if path is None or not Path(path).is_file():
        return False
    suffix = Path(path).suffix.lower()
    return suffix in (".onnx", ".xml", ".torchscript") or (suffix in (".pth", ".pt") and is_torchscript_archive(path))


def open_backend(path: Union[str, Path], **options) -> Backend:
    """The backend that runs ``path`` (``backend_kind``).

    options: exp, device, precision, class_names, input_size, decoded (files), fuse, channels_last,
    allow_pickle (checkpoints); those given (not None) that the chosen backend does not take are an
    error."""
    path = Path(path)
    if not path.is_file():
        return _official(path, options)
    kind = backend_kind(path)
    if kind == "onnxruntime":
        from .onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(path, **_taken(options, _FILE_OPTIONS, "ONNX Runtime"))
    if kind == "openvino":
        return _openvino(path, options)
    if kind == "torchscript":
        from .torchscript_backend import TorchScriptBackend

        return TorchScriptBackend(path, **_taken(options, _FILE_OPTIONS, "TorchScript"))
    from .torch_backend import TorchBackend

    return TorchBackend(path, **_taken(options, _TORCH_OPTIONS, "torch (checkpoint)"))


def _official(name: Path, options: dict) -> Backend:
    """A model name ("yolox-s") or Megvii release file ("yolox_s.pth") that is not a file here:
    Megvii's checkpoint from the weights cache, downloaded once (``resolve_checkpoint``), run by
    the torch backend with the name's bundled experiment; a clear error for anything else."""
    from yolox.utils.checkpoint.download import official_model_name, resolve_checkpoint

    model_name = official_model_name(str(name)) if len(name.parts) == 1 else None
    if model_name is None:
        raise FileNotFoundError(f"model file {str(name)!r} not found (nor is it an official model name such as "
                                "'yolox-s', whose weights are downloaded)")
    from yolox.exp import get_exp

    from .torch_backend import TorchBackend

    options = dict(options)
    options["exp"] = options.get("exp") or get_exp(exp_name=model_name)
    return TorchBackend(resolve_checkpoint(str(name)), **_taken(options, _TORCH_OPTIONS, "torch (checkpoint)"))


def _openvino(path: Path, options: dict) -> Backend:
    """OpenVINOBackend(path, precision=...): an IR carries its metadata, so ``exp`` is not needed;
    ``class_names`` replaces the file's."""
    from .openvino_backend import OpenVINOBackend

    given = dict(options)
    given.pop("exp", None)
    if str(given.get("device") or "cpu").lower() == "cpu":
        given.pop("device", None)
    class_names = given.pop("class_names", None)
    backend = OpenVINOBackend(path, **_taken(given, ("precision",), "OpenVINO"))
    if class_names is not None:
        backend.metadata = resolve_metadata(backend.metadata, source=str(path), class_names=class_names)
    return backend


def _taken(options: dict, accepted: tuple, backend: str) -> dict:
    """The options given (not None) if ``backend`` takes them all; an error naming the others."""
    given = {key: value for key, value in options.items() if value is not None}
    rejected = sorted(set(given) - set(accepted))
    if rejected:
        raise ValueError(f"the {backend} backend does not take {', '.join(rejected)} "
                         f"(it takes {', '.join(accepted)})")
    return given
