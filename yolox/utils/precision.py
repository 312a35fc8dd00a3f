"""Mixed precision, decided once: from the flags (``--fp16``, ``--amp``) and the device, which
autocast a run enters and whether gradients go through a GradScaler.

    precision = Precision.resolve("fp16", torch.device("cuda"))  # fp16 autocast + GradScaler
    precision = Precision.resolve("fp16", torch.device("cpu"))   # bf16 autocast, no scaler
    with precision.autocast():
        loss = model(images, targets)["total_loss"]

Training, evaluation and the demo read this one object, so "which dtype, which scaler" has one
answer. The request "fp16" (Megvii's ``--fp16``) means "the device's usual reduced precision": float16 on
CUDA, bfloat16 on a CPU, whose autocast has fast bfloat16 kernels (oneDNN, AVX512-BF16/AMX) and
only slow float16 ones. "bf16" asks for bfloat16 anywhere (Ampere or newer GPUs, or a CPU).
The model's weights stay float32 either way: autocast casts per operation, and the loss and
the assigner promote their inputs to float32 themselves.
"""
import contextlib
from dataclasses import dataclass
from typing import ContextManager, Optional, Union

import torch
from loguru import logger

__all__ = ["AMP_CHOICES", "Precision", "amp_request", "cpu_has_native_bf16", "cuda_has_native_bf16"]

AMP_CHOICES = ("fp16", "bf16")
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
_NAMES = {torch.float16: "fp16", torch.bfloat16: "bf16"}


def amp_request(fp16: Union[bool, str, None] = False, amp: Optional[str] = None) -> Optional[str]:
    """The reduced precision asked for: ``--amp`` when given, else "fp16" for ``--fp16`` (or Megvii's
    ``half=True``); None for float32. ``fp16`` may itself be a name (a ``half`` argument passed on)."""
    if amp is not None:
        request = amp
    elif isinstance(fp16, str):
        request = fp16
    else:
        request = "fp16" if fp16 else None
    if request is not None and request not in AMP_CHOICES:
        raise ValueError(f"mixed precision {request!r}: choose one of {', '.join(AMP_CHOICES)}")
    return request


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN has bfloat16 kernels for this CPU (AVX512-BF16 or AMX); elsewhere CPU
    bfloat16 is emulated and slower than float32."""
    checker = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(checker()) if checker is not None else False


def cuda_has_native_bf16(device: Union[str, torch.device] = "cuda") -> bool:
    """Whether GPU ``device`` computes bfloat16 natively: Ampere or newer (compute capability 8+), or
    ROCm. Not ``torch.cuda.is_bf16_supported()``: it also says yes for older GPUs that merely emulate
    bfloat16 (slowly), and it reads the current GPU, not ``device``."""
    if torch.version.hip:
        return True
    major, _minor = torch.cuda.get_device_capability(torch.device(device))
    return major >= 8


@dataclass(frozen=True)
class Precision:
    """How a run computes on ``device_type`` ("cuda", "cpu"): ``dtype`` None is plain float32,
    torch.float16 / torch.bfloat16 the autocast dtype."""

    device_type: str = "cpu"
    dtype: Optional[torch.dtype] = None

    @classmethod
    def resolve(cls, request: Union[bool, str, None], device: Union[str, torch.device]) -> "Precision":
        """``request``: None / False (float32), True or "fp16" (the device's reduced precision), "bf16"."""
        device = torch.device(device)
        device_type = device.type
        name = amp_request(request)
        if name is None:
            return cls(device_type=device_type)
        if name == "fp16" and device_type != "cuda":
            # CPU autocast's float16 kernels are slow; bfloat16 is the CPU's reduced precision.
            name = "bf16"
        if name == "bf16" and device_type == "cuda" and not cuda_has_native_bf16(device):
            raise ValueError(f"--amp bf16: GPU {device} has no native bfloat16 (it needs Ampere or newer, compute "
                             "capability 8+); use --fp16")
        if name == "bf16" and device_type == "cpu" and not cpu_has_native_bf16():
            logger.warning("bf16 on this CPU: no AVX512-BF16/AMX, so bfloat16 is emulated and slower than float32")
        return cls(device_type=device_type, dtype=_DTYPES[name])

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    @property
    def name(self) -> str:
        """"fp32", "fp16" or "bf16"."""
        return _NAMES.get(self.dtype, "fp32")

    @property
    def grad_scaler(self) -> bool:
        """The GradScaler runs for float16 only: its 5-bit exponent flushes small gradients to
        zero unless the loss is scaled up; bfloat16 has float32's exponent range."""
        return self.dtype == torch.float16

    def autocast(self) -> ContextManager:
        """The autocast to run the model under (a no-op context for float32)."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def __str__(self) -> str:
        if not self.enabled:
            return f"fp32 on {self.device_type}"
        scaler = "GradScaler on" if self.grad_scaler else "no GradScaler"
        return f"{self.name} autocast on {self.device_type} ({scaler})"
