"""Every third-party module the project imports is installed by the README's install command
(requirements.txt, and setup.py's extras for the optional loggers and deployment, which CI installs too).

The imports are read with ``ast`` (nothing is run), so a module imported only on a rare path, inside a
function or a ``try``, counts too. A package that happens to be on the machine proves nothing: a
module must map to a distribution that requirements.txt names.
"""
import ast
import re
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("yolox", "tools", "exps", "benchmarks", "tests", "demo")

# Import name -> distribution name, where the two differ or a package installs several names.
MODULE_TO_DIST = {
    "cv2": "opencv-python-headless",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "faster_coco_eval": "faster-coco-eval",
    "_pytest": "pytest",
    "mlflow": "mlflow-skinny",
    "dotenv": "python-dotenv",
}


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def required_distributions(requirements: Path) -> set:
    """Distribution names in a requirements file: `name>=1.0  # comment` -> `name`."""
    names = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_normalise(re.split(r"[<>=!~;\[\s]", line, maxsplit=1)[0]))
    return names


def extra_distributions(setup_py: Path) -> set:
    """Distribution names of every extra in setup.py's ``EXTRAS = {...}`` literal."""
    for node in ast.parse(setup_py.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXTRAS" for t in node.targets):
            requirements = [req for reqs in ast.literal_eval(node.value).values() for req in reqs]
            return {_normalise(re.split(r"[<>=!~;\[\s]", req, maxsplit=1)[0]) for req in requirements}
    return set()


def imported_modules(path: Path) -> set:
    """Top-level names of the absolute imports in one Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def project_modules() -> set:
    """Names that resolve to the project's own files: the package and the scripts beside each other."""
    local = {"yolox"}
    for folder in SCANNED:
        local.update(p.stem for p in (REPO_ROOT / folder).rglob("*.py"))
    return local


def third_party_imports() -> dict:
    """{top-level module: first file that imports it} over the scanned folders, stdlib and project left out."""
    skip = set(sys.stdlib_module_names) | project_modules() | {"__future__"}
    found = {}
    for folder in SCANNED:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for name in imported_modules(path) - skip:
                found.setdefault(name, path.relative_to(REPO_ROOT))
    return found


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names needs Python 3.10")
def test_every_third_party_import_is_a_requirement():
    required = required_distributions(REPO_ROOT / "requirements.txt") | extra_distributions(REPO_ROOT / "setup.py")
    missing = {
        module: str(path) for module, path in third_party_imports().items()
        if _normalise(MODULE_TO_DIST.get(module, module)) not in required
    }
    assert not missing, (
        f"imported but not installed by requirements.txt or setup.py's EXTRAS (module: first importer): {missing}; "
        "add the distribution to requirements.txt (or an extra), and to MODULE_TO_DIST here when its name differs "
        "from the module's")


def test_the_scan_sees_imports_inside_functions_and_try_blocks(tmp_path):
    source = tmp_path / "snippet.py"
    source.write_text("import os\nfrom . import sibling\n"
                      "def f():\n    try:\n        import yaml.loader\n    except ImportError:\n        pass\n"
                      "    from cv2 import imread\n")
    assert imported_modules(source) == {"os", "yaml", "cv2"}


def test_requirement_lines_parse_to_distribution_names(tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# comment\ntorch>=2.0,<2.15\nopencv_python-headless>=4.5  # why\npyyaml\n\nonnx[ref]>=1.12\n")
    assert required_distributions(reqs) == {"torch", "opencv-python-headless", "pyyaml", "onnx"}



def test_the_logger_extra_is_read_from_setup_py():
    assert {"wandb", "mlflow-skinny", "python-dotenv"} <= extra_distributions(REPO_ROOT / "setup.py")


def test_the_deploy_extra_brings_openvino_and_nncf():
    """tools/export_openvino.py, the OpenVINO backend and NNCF quantization import them."""
    assert {"openvino", "nncf"} <= extra_distributions(REPO_ROOT / "setup.py")
