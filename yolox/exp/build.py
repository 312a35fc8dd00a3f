"""get_exp: load an experiment from a Python file or by the name of a bundled one."""
import importlib.util
import sys
from pathlib import Path
from typing import Optional

from .base_exp import BaseExp

__all__ = ["get_exp", "get_exp_by_file", "get_exp_by_name", "check_exp_value", "bundled_exps_dir",
           "ExperimentNotFoundError"]


class ExperimentNotFoundError(FileNotFoundError, ValueError):
    """The flags name no experiment: no -f and no -n, a missing file, an unknown bundled name. Both
    bases, so code that caught the FileNotFoundError or ValueError raised before keeps working."""


def bundled_exps_dir() -> Path:
    """The ``exps/`` folder of this checkout (present with ``pip install -e .``)."""
    return Path(__file__).resolve().parents[2] / "exps"


def get_exp_by_file(exp_file: str) -> BaseExp:
    """Import ``exp_file`` and instantiate its ``Exp`` class.

    Raises ExperimentNotFoundError (a FileNotFoundError) for a missing file, lets the SyntaxError
    (with file and line) of a broken file through, and AttributeError when the module has no ``Exp``
    class.
    """
    path = Path(exp_file)
    if not path.is_file():
        raise ExperimentNotFoundError(f"experiment file {exp_file!r} does not exist")
    # Megvii puts the experiment's folder on sys.path, so files may import their neighbours.
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)
    module_name = f"yolox_exp_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    exp_cls = getattr(module, "Exp", None)
    if not isinstance(exp_cls, type):
        raise AttributeError(f"experiment file {exp_file!r} defines no class named 'Exp'")
    return exp_cls()


def get_exp_by_name(exp_name: str) -> BaseExp:
    """``yolox-s`` or ``yolox_s`` -> the bundled ``exps/yolox_s.py``."""
    exp_file = bundled_exps_dir() / f"{exp_name.replace('-', '_')}.py"
    if not exp_file.is_file():
        known = sorted(p.stem for p in bundled_exps_dir().glob("*.py")) if bundled_exps_dir().is_dir() else []
        raise ExperimentNotFoundError(f"no bundled experiment named {exp_name!r}; known: {', '.join(known)}")
    return get_exp_by_file(str(exp_file))


def get_exp(exp_file: Optional[str] = None, exp_name: Optional[str] = None) -> BaseExp:
    """Experiment from a file path (``-f``) or a bundled name (``-n``); the file wins if both are given."""
    if exp_file is not None:
        return get_exp_by_file(exp_file)
    if exp_name is not None:
        return get_exp_by_name(exp_name)
    raise ExperimentNotFoundError("give an experiment file (-f path/to/exp.py) or a name (-n yolox-s)")


def check_exp_value(exp: BaseExp) -> None:
    """Input and test sizes must be multiples of 32, the largest stride."""
    for attr in ("input_size", "test_size"):
        size = getattr(exp, attr, None)
        if size is None:
            continue
        if len(size) != 2 or any(int(v) % 32 for v in size):
            raise ValueError(f"{attr}={tuple(size)} must be (height, width), both multiples of 32")
