"""The command-line tools as a package: ``python -m yolox.tools.<name>`` is ``python tools/<name>.py``,
and a tool loads only the layers it uses (evaluating, exporting or drawing never loads the trainer)."""
import importlib
import inspect
import json
import os
import pickle
import subprocess
import sys

import pytest

from _train_helpers import REPO_ROOT

TOOLS = ("train", "eval", "demo", "export_onnx", "export_torchscript", "check_dataset", "visualize_assign",
         "visualize_data", "model_info", "make_sample_dataset", "benchmark")


def _run(argv, timeout=120):
    # This checkout's package first, in the child too, whatever yolox is installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow  # child processes
@pytest.mark.parametrize("name", ["train", "eval", "demo"])
def test_module_and_script_print_the_same_help(name):
    as_module = _run(["-m", f"yolox.tools.{name}", "-h"])
    as_script = _run([f"tools/{name}.py", "-h"])
    assert as_module.returncode == 0, as_module.stderr
    assert as_script.returncode == 0, as_script.stderr
    assert as_module.stdout == as_script.stdout
    assert as_module.stdout.startswith(f"usage: {name}.py ")
    assert "--exp_file" in as_module.stdout and "--ckpt" in as_module.stdout and "--unsafe-load" in as_module.stdout


@pytest.mark.slow  # child processes
def test_a_script_runs_the_package_tool_and_keeps_its_exit_status(tmp_path):
    """tools/check_dataset.py passes on the package tool's status: 1 for a split it cannot read."""
    exp_file = tmp_path / "no_data.py"
    exp_file.write_text("from yolox.exp import Exp as MyExp\n\n\nclass Exp(MyExp):\n    def __init__(self):\n"
                        f"        super().__init__()\n        self.data_dir = {str(tmp_path)!r}\n")
    run = _run(["tools/check_dataset.py", "-f", str(exp_file)])
    assert run.returncode == 1, run.stderr
    assert "[train] ERROR" in run.stdout and "[val] ERROR" in run.stdout


@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_module_has_a_parser_and_a_main_taking_argv_and_a_script(name):
    module = importlib.import_module(f"yolox.tools.{name}")
    assert module.make_parser().format_help().startswith("usage:")
    assert list(inspect.signature(module.main).parameters) == ["argv"]
    script = (REPO_ROOT / "tools" / f"{name}.py").read_text()
    assert f"from yolox.tools.{name} import main" in script


LOADED_LAYERS = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(name for name in sys.modules if name.startswith("yolox."))))
"""


@pytest.mark.slow  # child processes
@pytest.mark.parametrize("name", TOOLS)
def test_importing_a_tool_loads_nothing_of_the_training_layer(name):
    """yolox.core (the trainer) loads in a training rank only, at run time; eval launches its ranks
    with yolox.utils.launch."""
    run = _run(["-c", LOADED_LAYERS, f"yolox.tools.{name}"])
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stdout)
    assert f"yolox.tools.{name}" in loaded
    assert [m for m in loaded if m == "yolox.core" or m.startswith("yolox.core.")] == []


@pytest.mark.slow  # child processes
def test_the_tools_package_imports_no_tool():
    run = _run(["-c", LOADED_LAYERS, "yolox.tools"])
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == ["yolox.tools"]


def test_one_module_declares_the_experiment_flags():
    """The same -f/-n/-c/--unsafe-load wording in every tool; tools/visualize_data.py keeps -n for
    its image count, tools/demo.py takes its KEY VALUE overrides without an opts positional."""
    helps = {name: importlib.import_module(f"yolox.tools.{name}").make_parser() for name in TOOLS}
    exp_file_helps = {name: action.help for name, parser in helps.items() for action in parser._actions
                      if action.dest == "exp_file"}
    assert set(exp_file_helps) == set(TOOLS) - {"make_sample_dataset"}  # the one tool without an experiment
    assert len(set(exp_file_helps.values())) == 1, exp_file_helps
    args = helps["visualize_data"].parse_args(["-n", "3", "--name", "yolox-s", "seed", "1"])
    assert (args.num_images, args.name, args.opts) == (3, "yolox-s", ["seed", "1"])
    assert not hasattr(args, "ckpt")  # it reads no checkpoint
    args = helps["eval"].parse_args(["-n", "yolox-s", "-c", "w.pth", "--unsafe-load", "--tsize", "320", "-b", "2",
                                     "test_conf", "0.1"])
    assert (args.name, args.ckpt, args.unsafe_load, args.tsize, args.opts) == (
        "yolox-s", "w.pth", True, 320, ["test_conf", "0.1"])
    assert "opts" not in {action.dest for action in helps["demo"]._actions}


def test_the_training_rank_function_pickles_by_reference():
    """launch hands run_training to spawned processes by its module's name."""
    from yolox.tools.train import run_training

    assert run_training.__module__ == "yolox.tools.train"
    assert pickle.loads(pickle.dumps(run_training)) is run_training


def test_the_launcher_keeps_megvii_import_paths():
    from yolox.core import LaunchConfig as CoreConfig
    from yolox.core import launch as core_launch
    from yolox.core.launch import launch as megvii_path_launch
    from yolox.utils.launch import LaunchConfig, launch

    assert core_launch is megvii_path_launch is launch and CoreConfig is LaunchConfig
