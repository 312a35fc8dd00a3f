"""Every tool command in the README names a tool that exists and flags that tool accepts, and
the workflow commands are the ones tests/test_end_to_end.py runs for real."""
import importlib
import re
import shlex
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
README = (REPO_ROOT / "README.md").read_text()


def _readme_tool_commands():
    commands = []
    for line in README.splitlines():
        match = re.search(r"(tools/\w+\.py.*?)(`|$)", line)
        if match and ("python " in line or "torchrun " in line) and not line.lstrip().startswith("#"):
            commands.append(match.group(1).strip())
    return commands


def _parser(tool: str):
    """The parser of tools/<name>.py, which runs ``yolox.tools.<name>``."""
    return importlib.import_module(f"yolox.tools.{Path(tool).stem}").make_parser()


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one():
    install = "pip install -r requirements.txt && pip install -e ."
    assert f"{install} && python tools/train.py -f exps/example/yolox_nano_sample.py" in README
    # The tests' install adds the optional loggers and deploy extras, so their tests run rather than skip.
    test_command = 'pip install -r requirements.txt && pip install -e ".[loggers,deploy]" && pytest'
    assert test_command in README
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    pattern = re.search(r"grep -m1 -E '([^']+)' README.md", ci)
    assert pattern, ".ci/run no longer reads its test command from the README"
    lines = [ln for ln in README.splitlines() if re.search(pattern.group(1), ln)]
    assert lines == [test_command], "the README's first matching line is what CI runs"
    assert "python3 -m venv" in ci and "mktemp -d" in ci  # a fresh virtualenv outside the checkout


@pytest.mark.parametrize("command", _readme_tool_commands())
def test_readme_command_parses(command):
    tool, *argv = shlex.split(command)
    assert (REPO_ROOT / tool).is_file(), tool
    args, unknown = _parser(tool).parse_known_args(argv)
    assert not [a for a in unknown if a.startswith("-")], f"{command}: unknown flags {unknown}"
    for attr in ("exp_file",):
        value = getattr(args, attr, None)
        if value and not value.startswith(("/data", "my_exp")):
            assert (REPO_ROOT / value).is_file(), f"{command}: no experiment file {value}"


def test_readme_lists_enough_commands():
    tools = {shlex.split(c)[0] for c in _readme_tool_commands()}
    for tool in ("tools/train.py", "tools/eval.py", "tools/demo.py", "tools/export_onnx.py",
                 "tools/export_torchscript.py", "tools/check_dataset.py"):
        assert tool in tools, tool
