"""TrainOptions: what the trainer reads of the experiment and the command line, declared once, with
the experiment's own defaults; the trainer reads its inputs through it, not by probing."""
import ast
from argparse import Namespace
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

from yolox.core.options import TrainOptions, _FROM_ARGS
from yolox.exp import Exp

TRAINER = Path(__file__).resolve().parents[1] / "yolox" / "core" / "trainer.py"


def test_the_defaults_are_the_experiments_defaults():
    exp = Exp()
    differing = {f.name: (f.default, getattr(exp, f.name)) for f in fields(TrainOptions)
                 if f.name not in _FROM_ARGS and f.name != "exp_name" and f.default != getattr(exp, f.name)}
    assert differing == {}


def test_flags_come_from_args_and_settings_from_the_experiment():
    exp = Exp()
    exp.max_epoch, exp.accumulate, exp.channels_last, exp.batch_size = 7, 3, False, 16
    options = TrainOptions.from_exp(exp, Namespace(batch_size=None, fp16=True, resume=True, experiment_name="run"))
    assert (options.max_epoch, options.accumulate_steps, options.channels_last) == (7, 3, False)
    assert options.batch_size == 16  # -b not given: the experiment's
    assert (options.fp16, options.resume, options.ckpt, options.logger) == (True, True, None, "tensorboard")
    assert options.run_name == "run"
    assert TrainOptions.from_exp(exp, Namespace(batch_size=8)).run_name == exp.exp_name


def test_an_experiment_without_this_projects_extra_attributes_gets_the_defaults():
    megvii_like = SimpleNamespace(exp_name="megvii", max_epoch=5, no_aug_epochs=1, ema=True, print_interval=10,
                                  eval_interval=10, save_history_ckpt=False, seed=None, output_dir="out",
                                  basic_lr_per_img=0.001)
    options = TrainOptions.from_exp(megvii_like, Namespace(batch_size=4))
    assert (options.ema_decay, options.accumulate_steps, options.patience, options.freeze_backbone_epochs,
            options.channels_last) == (0.9999, 1, 0, 0, True)
    assert (options.max_epoch, options.save_history_ckpt, options.output_dir) == (5, False, "out")


def _probes(tree: ast.AST) -> list:
    """getattr/hasattr calls whose object is the experiment or the command-line args."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
            target = ast.unparse(node.args[0])
            if target in ("exp", "args", "self.exp", "self.args") or target.startswith(("self.exp.", "self.args.")):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_trainer_does_not_probe_the_experiment_or_the_args():
    tree = ast.parse(TRAINER.read_text(encoding="utf-8"))
    assert _probes(tree) == []
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "inspect" not in imported  # no signature probing of the experiment's loader either


def test_the_probe_finder_finds_probes():
    assert len(_probes(ast.parse("getattr(self.exp, 'x', 1)\nhasattr(args, 'y')\ngetattr(other, 'z')"))) == 2
