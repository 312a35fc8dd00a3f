"""What a runtime needs to use an exported YOLOX file, stored in the file itself.

Imports only the standard library, so the torch-free ONNX path can read it. One JSON string under
the key ``"yolox"``: in ONNX ``metadata_props``, in OpenVINO's runtime info (``rt_info["yolox"]``),
in TorchScript's extra files (``yolox.json``); a ``.pth`` checkpoint's ``meta`` dict maps onto it
with ``from_checkpoint_meta``.
"""
import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

__all__ = ["METADATA_KEY", "METADATA_VERSION", "ModelMetadata"]

METADATA_KEY = "yolox"
METADATA_VERSION = 1


@dataclass
class ModelMetadata:
    """Describes a model's input and output.

    input_size: (height, width) the file takes; decoded: output boxes are cx, cy, w, h in input
    pixels (False: raw grid offsets dx, dy, log w, log h that the Detector decodes with
    ``strides``); batch_size: the file's fixed batch (None: any); legacy: Megvii's old
    preprocessing (RGB, ImageNet mean/std); precision: how the file computes ("fp32", "int8", ...).
    """

    class_names: List[str]
    input_size: Tuple[int, int]
    decoded: bool = False
    strides: Tuple[int, ...] = (8, 16, 32)
    batch_size: Optional[int] = None
    legacy: bool = False
    precision: str = "fp32"
    exp_name: str = ""
    extra: Dict[str, str] = field(default_factory=dict)
    version: int = METADATA_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "model file") -> "ModelMetadata":
        """The metadata written by ``to_json``; a clear error naming ``source`` when it is not."""
        try:
            data = json.loads(text)
            data["input_size"] = tuple(int(v) for v in data["input_size"])
            data["strides"] = tuple(int(v) for v in data.get("strides", (8, 16, 32)))
            known = set(cls.__dataclass_fields__)
            return cls(**{k: v for k, v in data.items() if k in known})
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{source}: the {METADATA_KEY!r} metadata is not valid ({err}); "
                             "re-export the model with this version of yolox") from err

    @classmethod
    def from_checkpoint_meta(cls, meta: Dict, *, class_names: List[str], decoded: bool = True,
                             input_size: Optional[Tuple[int, int]] = None) -> "ModelMetadata":
        """The metadata of a model built from a checkpoint whose ``meta`` is ``model_meta``'s dict."""
        size = input_size or meta.get("test_size") or (640, 640)
        return cls(class_names=list(class_names), input_size=(int(size[0]), int(size[1])), decoded=decoded,
                   exp_name=str(meta.get("exp_name") or ""))
