"""Under CI=true a skip fails (it would hide a missing module or ../shared); CUDA-marked tests still skip."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # runs pytest in child processes

TESTS_DIR = Path(__file__).resolve().parent

PROBE_TESTS = '''
import pytest

def test_needs_shared(datasets_dir):
    pass

def test_missing_module():
    pytest.importorskip("a_module_nobody_installed")

@pytest.mark.cuda
def test_on_gpu():
    import torch
    assert torch.cuda.is_available()

def test_plain():
    pass
'''


def _run_probe(tmp_path: Path, ci: str) -> str:
    """Outcome lines of a pytest run over PROBE_TESTS with this project's conftest, where ../shared is absent."""
    suite = tmp_path / "clone" / "tests"  # conftest looks for ../shared beside "clone": not there
    suite.mkdir(parents=True)
    shutil.copy(TESTS_DIR / "conftest.py", suite / "conftest.py")
    shutil.copy(TESTS_DIR.parent / "pytest.ini", suite.parent / "pytest.ini")
    (suite / "test_probe.py").write_text(PROBE_TESTS)
    env = {**os.environ, "CI": ci}
    result = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "tests"],
                            cwd=suite.parent, env=env, capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def test_ci_turns_skips_into_failures_naming_what_is_missing(tmp_path):
    out = _run_probe(tmp_path, ci="true")
    assert "FAILED tests/test_probe.py::test_missing_module" in out
    assert "a_module_nobody_installed" in out
    assert "ERROR tests/test_probe.py::test_needs_shared" in out  # the fixture's skip, at setup
    assert "shared datasets not found at" in out
    assert "PASSED tests/test_probe.py::test_plain" in out
    if torch.cuda.is_available():
        assert "PASSED tests/test_probe.py::test_on_gpu" in out
    else:
        assert "SKIPPED [1] tests/test_probe.py" in out and "needs CUDA" in out
        assert "1 test(s) marked cuda skipped: no GPU on this machine" in out


def test_outside_ci_the_same_tests_skip_with_their_reason(tmp_path):
    out = _run_probe(tmp_path, ci="")
    assert ("2 passed, 2 skipped" if torch.cuda.is_available() else "1 passed, 3 skipped") in out
    assert "shared datasets not found at" in out and "a_module_nobody_installed" in out
