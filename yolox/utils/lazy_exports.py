"""PEP 562 lazy package exports: a package's public names are imported on first use, so importing
the package (or one torch-free module under it) does not import torch.

    __all__, __getattr__, __dir__ = lazy_exports(__name__, {".boxes": ("postprocess", ...)}, globals())

Imports only the standard library. ``from package import *`` still gets every name (``__all__``);
a submodule not yet imported is imported on attribute access, as the eager ``__init__`` allowed.
"""
import importlib
import importlib.util
from typing import Callable, Dict, List, Sequence, Tuple

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Dict[str, Sequence[str]],
                 namespace: dict) -> Tuple[List[str], Callable, Callable]:
    """exports: {submodule relative to ``package`` (".boxes"): its public names} ->
    (``__all__``, ``__getattr__``, ``__dir__``) for the package's module ``namespace``."""
    owner = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name in owner:
            value = getattr(importlib.import_module(owner[name], package), name)
        elif not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> List[str]:
        return sorted(set(namespace) | set(owner))

    return list(owner), __getattr__, __dir__
