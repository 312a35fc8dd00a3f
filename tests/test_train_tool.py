"""tools/train.py as users run it: a Megvii-style experiment on real images, DDP on CPU, flags, errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from _train_helpers import REPO_ROOT, load_train_tool, make_tiny_sample, read_ckpt, write_exp

pytestmark = pytest.mark.slow  # trains through tools/train.py, two processes in one test

TRAIN = str(REPO_ROOT / "tools" / "train.py")

# Written the way Megvii's exps/example/custom files are: subclass, set a few attributes, and
# override the dataset builders to point COCODataset at the image folder.
MEGVII_STYLE_EXP = '''
import os

from yolox.data import COCODataset, TrainTransform, ValTransform
from yolox.exp import Exp as MyExp


class Exp(MyExp):
    def __init__(self):
        super(Exp, self).__init__()
        self.depth = 0.33
        self.width = 0.125
        self.exp_name = os.path.split(os.path.realpath(__file__))[1].split(".")[0]
        self.data_dir = {data_dir!r}
        self.train_ann = "mini_train.json"
        self.val_ann = "mini_val.json"
        self.num_classes = 3
        self.max_epoch = 2
        self.no_aug_epochs = 1
        self.warmup_epochs = 1
        self.data_num_workers = 0
        self.eval_interval = 1
        self.input_size = (160, 160)
        self.test_size = (160, 160)
        self.multiscale_range = 0
        self.print_interval = 1
        self.output_dir = {output_dir!r}

    def get_dataset(self, cache=False, cache_type="ram"):
        return COCODataset(data_dir=self.data_dir, json_file=self.train_ann, name={images!r},
                           img_size=self.input_size, preproc=TrainTransform(max_labels=50, flip_prob=self.flip_prob,
                                                                            hsv_prob=self.hsv_prob))

    def get_eval_dataset(self, **kwargs):
        return COCODataset(data_dir=self.data_dir, json_file=self.val_ann, name={images!r},
                           img_size=self.test_size, preproc=ValTransform(legacy=kwargs.get("legacy", False)))
'''


def _subset(src: Path, dst: Path, count: int) -> None:
    data = json.loads(src.read_text())
    images = data["images"][:count]
    keep = {im["id"] for im in images}
    data.update(images=images, annotations=[a for a in data["annotations"] if a["image_id"] in keep])
    dst.write_text(json.dumps(data))


def _run(*argv, cwd):
    return subprocess.run([sys.executable, TRAIN, *argv], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_megvii_style_exp_trains_on_bccd(tmp_path, datasets_dir):
    bccd = datasets_dir / "bccd"
    (tmp_path / "data" / "annotations").mkdir(parents=True)
    _subset(bccd / "annotations" / "instances_train.json", tmp_path / "data" / "annotations" / "mini_train.json", 8)
    _subset(bccd / "annotations" / "instances_val.json", tmp_path / "data" / "annotations" / "mini_val.json", 4)
    exp_file = tmp_path / "bccd_tiny.py"
    exp_file.write_text(MEGVII_STYLE_EXP.format(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out"),
                                                images=str(bccd / "voc" / "JPEGImages")))
    result = _run("-f", str(exp_file), "-b", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "out" / "bccd_tiny"
    for name in ("latest_ckpt.pth", "best_ckpt.pth", "epoch_1_ckpt.pth", "epoch_2_ckpt.pth", "train_log.txt"):
        assert (folder / name).is_file(), name
    assert list((folder / "tensorboard").glob("events.out.tfevents.*"))
    ckpt = read_ckpt(folder / "latest_ckpt.pth")
    assert {"model", "optimizer", "start_epoch", "train_model", "ema_updates", "iteration", "best_ap", "rng",
            "meta"} <= set(ckpt)
    assert ckpt["start_epoch"] == 2 and ckpt["iteration"] == 4
    assert ckpt["meta"]["num_classes"] == 3 and ckpt["meta"]["class_names"] == ["RBC", "WBC", "Platelets"]
    log = (folder / "train_log.txt").read_text()
    for field in ("epoch: 2/2", "iter: 2/2", "total_loss:", "lr:", "mem:", "data_time:", "ETA:", "AP50:95"):
        assert field in log, field


DUMP_EVAL_NORM_STATS = """
    def eval(self, model, evaluator, is_distributed, half=False, return_outputs=False):
        import torch
        from yolox.utils.dist import get_rank

        stats = {{k: v.clone() for k, v in model.state_dict().items() if "running_" in k}}
        torch.save(stats, {folder!r} + f"/norm_stats_rank{{get_rank()}}.pt")
        return super().eval(model, evaluator, is_distributed, half=half, return_outputs=return_outputs)
"""


def test_two_process_ddp_on_cpu(tmp_path):
    sample = make_tiny_sample(tmp_path / "sample")
    exp_file = write_exp(tmp_path / "ddp.py", data_dir=sample, output_dir=tmp_path / "out",
                         extra="self.max_epoch = 1\nself.no_aug_epochs = 0\n")
    exp_file.write_text(exp_file.read_text() + DUMP_EVAL_NORM_STATS.format(folder=str(tmp_path)))
    result = _run("-f", str(exp_file), "-b", "4", "-d", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = read_ckpt(tmp_path / "out" / "ddp" / "latest_ckpt.pth")
    # Each rank saw other images; the statistics both evaluated, and rank 0 saved, are one average.
    stats = [torch.load(tmp_path / f"norm_stats_rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert stats[0] and stats[0].keys() == stats[1].keys()
    for key, value in stats[0].items():
        assert torch.equal(value, stats[1][key]), key
        assert torch.equal(value, ckpt["model"][key]), key
    assert "spawning 2 processes (world size 2)" in result.stderr
    assert ckpt["iteration"] == 4  # 16 images, 2 ranks of 2 images per iteration
    log = (tmp_path / "out" / "ddp" / "train_log.txt").read_text()
    assert log.count("epoch: 1/1, iter: 4/4") == 1  # rank 0 alone writes the log


def test_torchrun_trains_the_weights_of_dash_d_2(tmp_path):
    """`torchrun --standalone --nproc_per_node 2 tools/train.py` and `tools/train.py -d 2` are the same run:
    same seed, same ranks, same data per rank, so bit-identical weights (CPU, gloo, --deterministic)."""
    sample = make_tiny_sample(tmp_path / "sample")
    runs = {}
    for name, launcher in (("spawned", [sys.executable, TRAIN]),
                           ("torchrun", [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                         "--nproc_per_node", "2", TRAIN])):
        exp_file = write_exp(tmp_path / f"{name}.py", data_dir=sample, output_dir=tmp_path / "out",
                             extra="self.max_epoch = 1\nself.no_aug_epochs = 0\n")
        devices = ["-d", "2"] if name == "spawned" else []
        result = subprocess.run([*launcher, "-f", str(exp_file), "-b", "4", "--deterministic", *devices],
                                cwd=tmp_path, capture_output=True, text=True, timeout=600,
                                env=dict(os.environ, OMP_NUM_THREADS="1"))  # equal thread counts, equal sums
        assert result.returncode == 0, f"{name}:\n{result.stderr[-3000:]}"
        runs[name] = read_ckpt(tmp_path / "out" / name / "latest_ckpt.pth")
    assert runs["torchrun"]["iteration"] == runs["spawned"]["iteration"] == 4
    for key in ("model", "train_model"):
        spawned, torchrun = runs["spawned"][key], runs["torchrun"][key]
        assert spawned.keys() == torchrun.keys()
        assert all(torch.equal(spawned[k], torchrun[k]) for k in spawned), key


def test_two_machines_by_flags_train_the_weights_of_dash_d_2(tmp_path):
    """Megvii's multi-node flags without torchrun (--num_machines 2 --machine_rank r --dist-url
    tcp://...), two "machines" of one process each on this host: the same ranks and data as
    `-d 2`, so the same weights bit for bit (the first test of this file's pair gives -d 2's)."""
    from yolox.utils.launch import find_free_port

    sample = make_tiny_sample(tmp_path / "sample")
    extra = "self.max_epoch = 1\nself.no_aug_epochs = 0\n"
    spawned_exp = write_exp(tmp_path / "spawned.py", data_dir=sample, output_dir=tmp_path / "out", extra=extra)
    env = dict(os.environ, OMP_NUM_THREADS="1")  # one thread per process in both: thread counts change float sums
    result = subprocess.run([sys.executable, TRAIN, "-f", str(spawned_exp), "-b", "4", "--deterministic", "-d", "2"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    nodes_exp = write_exp(tmp_path / "nodes.py", data_dir=sample, output_dir=tmp_path / "out", extra=extra)
    url = f"tcp://127.0.0.1:{find_free_port()}"
    machines = [subprocess.Popen([sys.executable, TRAIN, "-f", str(nodes_exp), "-b", "4", "--deterministic", "-d", "1",
                                  "--num_machines", "2", "--machine_rank", str(rank), "--dist-url", url],
                                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                for rank in (0, 1)]
    for rank, machine in enumerate(machines):
        _, err = machine.communicate(timeout=600)
        assert machine.returncode == 0, f"machine {rank}:\n{err[-3000:]}"
    spawned = read_ckpt(tmp_path / "out" / "spawned" / "latest_ckpt.pth")
    nodes = read_ckpt(tmp_path / "out" / "nodes" / "latest_ckpt.pth")
    assert nodes["iteration"] == spawned["iteration"] == 4
    for key in ("model", "train_model"):
        assert all(torch.equal(spawned[key][k], nodes[key][k]) for k in spawned[key]), key


def test_flag_help_and_errors(tmp_path):
    tool = load_train_tool()
    help_text = tool.make_parser().format_help()
    for flag in ("--exp_file", "--batch-size", "--devices", "--fp16", "--ckpt", "--resume", "--start_epoch",
                 "--cache", "--occupy", "--num_machines", "--machine_rank", "--dist-url", "--dist-backend",
                 "--logger", "-expn"):
        assert flag in help_text, flag
    with pytest.raises(SystemExit, match="error: experiment file .*nowhere.py.* does not exist"):
        tool.main(["-f", str(tmp_path / "nowhere.py")])
    broken = tmp_path / "broken.py"
    broken.write_text("from yolox.exp import Exp as MyExp\nclass Exp(MyExp)\n")
    with pytest.raises(SyntaxError):
        tool.main(["-f", str(broken)])
    exp_file = write_exp(tmp_path / "ok.py", data_dir=tmp_path, output_dir=tmp_path / "out")
    with pytest.raises(KeyError, match="max_epochs.*did you mean max_epoch"):
        tool.main(["-f", str(exp_file), "max_epochs", "3"])


def test_missing_coco_stops_with_the_expected_tree(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no datasets/COCO here
    monkeypatch.delenv("YOLOX_DATADIR", raising=False)
    tool = load_train_tool()
    assert tool.main(["-f", str(REPO_ROOT / "exps" / "yolox_s.py")]) == 2
    err = capsys.readouterr().err
    for text in ("datasets/COCO/annotations/instances_train2017.json", "train2017/*.jpg",
                 "exps/example/yolox_nano_sample.py"):
        assert text in err, text
    assert not (tmp_path / "YOLOX_outputs").exists()  # stopped before the run began


def test_sample_experiment_makes_its_data_before_the_annotation_check(tmp_path, monkeypatch):
    """The README's main command on a fresh clone: no datasets/sample yet."""
    from yolox.tools.train import check_train_data
    from yolox.exp import get_exp

    monkeypatch.chdir(tmp_path)
    exp = get_exp(str(REPO_ROOT / "exps" / "example" / "yolox_nano_sample.py"))
    check_train_data(exp)  # raised DatasetNotFoundError before the sample data existed
    assert (tmp_path / "datasets" / "sample" / "annotations" / "instances_train2017.json").is_file()


def test_batch_size_defaults_to_the_experiments(tmp_path):
    tool = load_train_tool()
    exp_file = write_exp(tmp_path / "b.py", data_dir=tmp_path, output_dir=tmp_path / "out",
                         extra="self.batch_size = 6\n")
    args = tool.make_parser().parse_args(["-f", str(exp_file)])
    from yolox.tools.exp_flags import build_exp

    build_exp(args)
    assert args.batch_size == 6
    args = tool.make_parser().parse_args(["-f", str(exp_file), "-b", "2"])
    build_exp(args)
    assert args.batch_size == 2


def test_missing_custom_coco_annotation_names_the_file_and_data_dir(tmp_path):
    from yolox.data import COCODataset, DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match="mine.json") as err:
        COCODataset(data_dir=str(tmp_path), json_file="mine.json", name="images")
    assert "images/*.jpg" in str(err.value) and "data_dir" in str(err.value)
    assert "yolox_nano_sample" not in str(err.value)  # the sample hint is for the default COCO place only
