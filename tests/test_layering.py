"""Import edges between yolox's subpackages point down the floors of the architecture, never up.

Floors, top to bottom: tools (the command lines) -> core and deploy (apart: neither imports the other)
-> exp -> evaluators and data (apart) -> models -> utils. Read with ``ast``; lazy imports inside
functions count too.
"""
import ast
from pathlib import Path
from typing import Dict, Set, Tuple

PACKAGE = Path(__file__).resolve().parents[1] / "yolox"
FLOORS = {"utils": 0, "models": 1, "data": 2, "evaluators": 2, "exp": 3, "core": 4, "deploy": 4, "tools": 5}
# Edges allowed against the floors, each with its reason.
EXCEPTIONS = {
    # Megvii's Exp.get_trainer(args) returns the Trainer, and Megvii-style train scripts call it;
    # the import is inside that one method, so building models or data never loads the trainer.
    ("exp", "core"): "Exp.get_trainer, Megvii's API",
    # Megvii's yolox.models exports the model builders (yolox_s(pretrained, num_classes, device), ...,
    # yolox_custom(ckpt_path, exp_path, device); hubconf.py's entries), which build through an Exp;
    # models/build.py imports get_exp inside them, so importing yolox.models never loads yolox.exp.
    ("models", "exp"): "models/build.py, Megvii's model builders",
}


def _absolute(module_path: Path, node: ast.ImportFrom) -> str:
    """The absolute dotted name a (possibly relative) ``from ... import`` refers to."""
    if node.level == 0:
        return node.module or ""
    package = list(module_path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def subpackage_edges() -> Dict[Tuple[str, str], Set[str]]:
    """{(importer subpackage, imported subpackage): files} over yolox/, within-subpackage imports left out."""
    edges: Dict[Tuple[str, str], Set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) < 2:
            continue  # yolox/__init__.py
        source = parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                targets = [_absolute(path, node)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                names = target.split(".")
                if len(names) > 1 and names[0] == "yolox" and names[1] != source:
                    edges.setdefault((source, names[1]), set()).add(str(path.relative_to(PACKAGE.parent)))
    return edges


def test_every_subpackage_has_a_floor():
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert subpackages == set(FLOORS), "a new subpackage needs its floor in FLOORS (and ARCHITECTURE's map)"


def test_imports_point_down_the_floors():
    upward = {
        f"{a} -> {b}": sorted(files) for (a, b), files in subpackage_edges().items()
        if FLOORS[a] <= FLOORS[b] and (a, b) not in EXCEPTIONS
    }
    assert not upward, f"imports that point up or sideways: {upward}"


def test_each_exception_is_still_needed():
    edges = subpackage_edges()
    assert [e for e in EXCEPTIONS if e not in edges] == []


def test_relative_imports_resolve_to_their_package():
    module = PACKAGE / "data" / "datasets" / "coco.py"
    node = ast.parse("from ..errors import X").body[0]
    assert _absolute(module, node) == "yolox.data.errors"
    node = ast.parse("from ...utils import boxes").body[0]
    assert _absolute(module, node) == "yolox.utils"
