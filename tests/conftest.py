"""Shared test fixtures: where ../shared lives, and skips with a reason when it does not."""
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (../shared is absent in a plain clone)")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return _require(SHARED_DIR / "reference", "reference fixtures")


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    return _require(SHARED_DIR / "datasets", "shared datasets")
