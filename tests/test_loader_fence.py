"""torch's private loader API stays behind one fence: yolox/data/loader/torch_private.py.

Inside yolox/data only the package __init__ and the loader package itself import ``yolox.data.loader``
(datasets, augmentations, mosaic, caches and samplers never load it), and no project code outside
torch_private.py names torch.utils.data's private modules, classes or methods. Read with ``ast``.
"""
import ast
import re
from pathlib import Path
from typing import Iterator, List, Optional, Set

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "yolox" / "data"
LOADER = DATA / "loader"
FENCE = LOADER / "torch_private.py"
PROJECT_CODE = ["yolox", "tools", "benchmarks", "exps", "demo", "setup.py"]  # tests may poke torch on purpose

# torch.utils.data's private names a loader could reach for (modules, iterator classes and their members).
TORCH_PRIVATE_NAMES = {
    "_utils", "_get_iterator", "_get_data", "_try_get_data", "_next_data", "_MultiProcessingDataLoaderIter",
    "_SingleProcessDataLoaderIter", "_BaseDataLoaderIter", "MP_STATUS_CHECK_INTERVAL", "_pin_memory",
    "_pin_memory_thread", "_workers", "_worker_loop", "_index_queues", "_worker_result_queue", "_shutdown_workers",
    "_DatasetKind", "_InfiniteConstantSampler", "_get_shared_seed", "_try_put_index", "_process_data",
}
PRIVATE_MODULE = re.compile(r"torch\.utils\.data(\.\w+)*\._\w+")


def _python_files(roots: List[str]) -> Iterator[Path]:
    for root in roots:
        path = REPO / root
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def _imported_modules(path: Path, source: Optional[str] = None) -> Set[str]:
    """Absolute dotted names ``path`` (or ``source`` as if it were ``path``'s text) imports: each
    ``from M import n`` gives M and M.n."""
    package = list(path.relative_to(REPO).with_suffix("").parts)[:-1]  # the module's (or __init__'s) package
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8") if source is None else source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif _is_lazy_export_table(node):
            # A package's lazy exports ({".module": names}, yolox.utils.lazy_exports) import on first use.
            found.update(".".join(package + [key.value.lstrip(".")]) for key in node.value.keys)
    return found


def _is_lazy_export_table(node: ast.AST) -> bool:
    return (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
            and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
            and all(isinstance(k, ast.Constant) and str(k.value).startswith(".") for k in node.value.keys))


def _torch_private_uses(path: Path) -> List[str]:
    """The private torch.utils.data names ``path``'s code uses: in imports, attributes, names,
    definitions (an override) and string constants (``getattr(it, "_try_get_data")``)."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("torch.utils.data"):
            uses += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
            uses += [node.module] if PRIVATE_MODULE.fullmatch(node.module) else []
        elif isinstance(node, ast.Import):
            uses += [a.name for a in node.names if PRIVATE_MODULE.match(a.name)]
        elif isinstance(node, ast.Attribute) and node.attr in TORCH_PRIVATE_NAMES:
            uses.append(f".{node.attr}")
        elif isinstance(node, ast.Name) and node.id in TORCH_PRIVATE_NAMES:
            uses.append(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in TORCH_PRIVATE_NAMES:
            uses.append(f"def {node.name}")
        elif isinstance(node, ast.Constant) and node.value in TORCH_PRIVATE_NAMES:
            uses.append(repr(node.value))
    return uses


def test_only_the_data_package_init_and_the_loader_import_the_loader():
    importers = sorted(
        str(path.relative_to(REPO)) for path in DATA.rglob("*.py")
        if LOADER not in path.parents and any(m == "yolox.data.loader" or m.startswith("yolox.data.loader.")
                                              for m in _imported_modules(path))
    )
    assert importers == ["yolox/data/__init__.py"]


def test_no_project_code_outside_the_fence_touches_torchs_private_loader_api():
    found = {str(path.relative_to(REPO)): _torch_private_uses(path) for path in _python_files(PROJECT_CODE)
             if path != FENCE}
    assert {path: uses for path, uses in found.items() if uses} == {}


def test_nothing_outside_the_loader_package_mentions_torchs_private_loader_modules():
    mentions = [
        f"{path.relative_to(REPO)}:{number}" for path in _python_files(PROJECT_CODE) if LOADER not in path.parents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE_MODULE.search(line) or "_MultiProcessingDataLoaderIter" in line
    ]
    assert mentions == []


def test_the_checks_see_what_they_look_for(tmp_path):
    fence_uses = _torch_private_uses(FENCE)
    for expected in ["torch.utils.data._utils", "MP_STATUS_CHECK_INTERVAL", "def _get_iterator", "._try_get_data",
                     "'_try_get_data'", "torch.utils.data.dataloader._MultiProcessingDataLoaderIter"]:
        assert expected in fence_uses
    probe = tmp_path / "probe.py"
    probe.write_text("import torch.utils.data._utils.collate as c\nx = it._workers\n")
    assert _torch_private_uses(probe) == ["torch.utils.data._utils.collate", "._workers"]
    coco = DATA / "datasets" / "coco.py"
    assert "yolox.data.loader.slots" in _imported_modules(coco, "from ..loader import slots")
    assert "yolox.data.loader" in _imported_modules(DATA / "samplers.py", "from . import loader")
    assert "yolox.data.loader" in _imported_modules(DATA / "__init__.py", "from .loader import DataLoader")
