"""The README's first command ends in `python tools/model_info.py`: it must print the size table."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # runs a tool in a child process over all six sizes


def test_model_info_prints_every_size_with_official_parameter_counts(repo_root):
    result = subprocess.run([sys.executable, "tools/model_info.py"], cwd=repo_root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name, params in [("yolox_nano", "912,159"), ("yolox_tiny", "5,055,855"), ("yolox_s", "8,968,255"),
                         ("yolox_m", "25,326,495"), ("yolox_l", "54,208,895"), ("yolox_x", "99,071,455")]:
        line = next(ln for ln in result.stdout.splitlines() if ln.startswith(name + " "))
        assert params in line, line


def test_model_info_help_explains_flags(repo_root):
    result = subprocess.run([sys.executable, "tools/model_info.py", "-h"], cwd=repo_root,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--tsize" in result.stdout and "--exp_file" in result.stdout
