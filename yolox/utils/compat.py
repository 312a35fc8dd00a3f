"""Version shims (Megvii YOLOX's ``yolox.utils.compat``)."""
from typing import Tuple

import torch

__all__ = ["meshgrid"]


def meshgrid(*tensors: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """``torch.meshgrid`` with matrix ("ij") indexing, the behaviour of torch before ``indexing``
    existed, without the warning newer torch gives when it is left out: for 1-d tensors of
    lengths n1, n2, ... each output has shape [n1, n2, ...]."""
    return torch.meshgrid(*tensors, indexing="ij")
