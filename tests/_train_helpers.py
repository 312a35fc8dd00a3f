"""Tiny training runs for the trainer tests: a 16-image synthetic set, 128 px, width 0.125."""
import importlib
import textwrap
from pathlib import Path

import torch

from yolox.data.synthetic_dataset import SampleSpec, make_sample_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]

TINY_EXP = '''
from yolox.exp import Exp as MyExp


class Exp(MyExp):
    def __init__(self):
        super().__init__()
        self.depth = 0.33
        self.width = 0.125
        self.num_classes = {num_classes}
        self.data_dir = {data_dir!r}
        self.train_ann = "instances_train2017.json"
        self.val_ann = "instances_val2017.json"
        self.input_size = (128, 128)
        self.test_size = (128, 128)
        self.multiscale_range = 1
        self.max_epoch = 2
        self.warmup_epochs = 1
        self.no_aug_epochs = 1
        self.eval_interval = 1
        self.print_interval = 2
        self.data_num_workers = 0
        self.seed = 0
        self.output_dir = {output_dir!r}
        self.report_after_train = False  # seconds of drawing per run; tests/test_best_report.py covers it
'''


def make_tiny_sample(root: Path) -> Path:
    """16 train + 8 val synthetic 128x128 scenes of 5 classes (deterministic)."""
    spec = SampleSpec(num_train=16, num_val=8, img_size=(128, 128), min_side=12, max_side=48, seed=0)
    return make_sample_dataset(root, spec)


def write_exp(path: Path, *, data_dir: Path, output_dir: Path, num_classes: int = 5, extra: str = "") -> Path:
    body = TINY_EXP.format(num_classes=num_classes, data_dir=str(data_dir), output_dir=str(output_dir))
    path.write_text(body + textwrap.indent(textwrap.dedent(extra), " " * 8))
    return path


def load_tool(name: str):
    """The module behind tools/<name>.py (``yolox.tools.<name>``), to call its ``main(argv)``."""
    return importlib.import_module(f"yolox.tools.{name}")


def load_train_tool():
    return load_tool("train")


def read_ckpt(path: Path) -> dict:
    """A checkpoint the trainer wrote, read as any user may: tensors and plain data only."""
    return torch.load(path, map_location="cpu", weights_only=True)


def max_state_difference(a: dict, b: dict) -> float:
    """Largest absolute difference over the floating tensors of two state dicts with equal keys."""
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() if a[k].numel() else 0.0
               for k in a if a[k].dtype.is_floating_point)
