"""Checkpoint layouts others can read: "model" holds the weights to run (EMA), "train_model" the raw
ones; the earlier project's layout, Megvii's files and bare state dicts still run and resume; every
file the trainer writes loads with ``weights_only=True``, and a file that needs unpickling loads
only when asked to."""
import argparse
import pickle
import re

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from loguru import logger

from yolox.core import Trainer
from yolox.exp import get_exp
from yolox.deploy.model_loading import load_model
from yolox.tools.eval import run_evaluation
from yolox.tools.exp_flags import build_exp
from yolox.utils.checkpoint import UnsafeCheckpointError, checkpoint_weights, read_checkpoint, resume_weights

from _train_helpers import load_tool, load_train_tool, make_tiny_sample, max_state_difference, read_ckpt, write_exp

AP_LINE = re.compile(r"AP50:95 (\d\.\d{4}), AP50 ")


@pytest.fixture
def log_messages():
    messages = []
    handler = logger.add(lambda m: messages.append(str(m)), format="{level} {message}", level="INFO")
    yield messages
    logger.remove(handler)


def _states(seed: int) -> tuple:
    """Two different state dicts of the same keys: (raw, ema)."""
    gen = torch.Generator().manual_seed(seed)
    raw = {"a.weight": torch.randn(3, 2, generator=gen), "a.bias": torch.randn(3, generator=gen)}
    return raw, {k: v + 1.0 for k, v in raw.items()}


def test_each_layout_names_the_weights_to_run_and_what_a_resume_restores():
    raw, ema = _states(0)
    ours = {"model": ema, "train_model": raw, "ema_updates": 8, "start_epoch": 1}
    ours_no_ema = {"model": raw, "train_model": raw, "ema_updates": None, "start_epoch": 1}
    earlier = {"model": raw, "ema": {"state_dict": ema, "updates": 8, "decay": 0.9999}, "start_epoch": 1}
    earlier_no_ema = {"model": raw, "ema": None, "start_epoch": 1}
    megvii = {"model": ema, "optimizer": {}, "start_epoch": 300, "best_ap": 40.5}
    bare = {"model": raw}  # read_checkpoint's wrapping of a bare state dict

    for ckpt in (ours, earlier, megvii):
        assert checkpoint_weights(ckpt) is ema
    for ckpt in (ours_no_ema, earlier_no_ema, bare):
        assert checkpoint_weights(ckpt) is raw
    assert checkpoint_weights(ours, prefer_ema=False) is raw and checkpoint_weights(earlier, prefer_ema=False) is raw

    for ckpt in (ours, earlier):
        resumed = resume_weights(ckpt)
        assert resumed.model is raw and resumed.ema is ema and resumed.ema_updates == 8
    for ckpt in (ours_no_ema, earlier_no_ema, bare):
        resumed = resume_weights(ckpt)
        assert resumed.model is raw and resumed.ema is None
    # Megvii kept only its EMA weights: they are the model to continue from, and seed a new EMA.
    resumed = resume_weights(megvii)
    assert resumed.model is ema and resumed.ema is None and resumed.ema_updates is None


def _nano_states(num_classes: int = 3) -> tuple:
    """(raw, ema) state dicts of a yolox-nano with ``num_classes``: the EMA weights differ from the raw ones."""
    exp = get_exp(exp_name="yolox-nano")
    exp.num_classes = num_classes
    torch.manual_seed(0)
    raw = exp.get_model().state_dict()
    ema = {k: v + 0.5 if v.is_floating_point() else v for k, v in raw.items()}
    return raw, ema


@pytest.mark.parametrize("layout", ["ours", "earlier", "megvii", "bare"])
def test_eval_demo_and_export_run_the_ema_weights_of_every_layout(tmp_path, layout):
    raw, ema = _nano_states()
    files = {
        "ours": {"model": ema, "train_model": raw, "ema_updates": 3, "start_epoch": 1},
        "earlier": {"model": raw, "ema": {"state_dict": ema, "updates": 3, "decay": 0.9999}, "start_epoch": 1},
        "megvii": {"model": ema, "optimizer": {"state": {}, "param_groups": []}, "start_epoch": 300},
        "bare": ema,
    }
    path = tmp_path / f"{layout}.pth"
    torch.save(files[layout], path)
    # load_model builds the model of tools/eval.py, tools/demo.py and both export tools.
    loaded = load_model(get_exp(exp_name="yolox-nano"), path)
    assert loaded.num_classes == 3
    assert max_state_difference(loaded.model.state_dict(), ema) == 0.0


def test_a_file_needing_unpickling_loads_only_with_the_flag_and_a_warning(tmp_path, log_messages):
    raw, _ = _states(1)
    path = tmp_path / "with_args.pth"
    torch.save({"model": raw, "args": argparse.Namespace(lr=0.01)}, path)  # as some older trainers saved
    with pytest.raises(UnsafeCheckpointError, match=re.escape(str(path)) + r".*argparse\.Namespace.*--unsafe-load"):
        read_checkpoint(path)
    assert not any("WARNING" in m for m in log_messages)
    ckpt = read_checkpoint(path, allow_pickle=True)
    assert ckpt["args"].lr == 0.01 and torch.equal(ckpt["model"]["a.weight"], raw["a.weight"])
    warnings = [m for m in log_messages if m.startswith("WARNING")]
    assert len(warnings) == 1 and str(path) in warnings[0] and "--unsafe-load" in warnings[0]


def test_a_plain_checkpoint_loads_without_the_flag_and_without_a_warning(tmp_path, log_messages):
    raw, ema = _states(2)
    path = tmp_path / "plain.pth"
    torch.save({"model": ema, "train_model": raw, "ema_updates": 1, "meta": {"input_size": (64, 64)}}, path)
    assert read_checkpoint(path)["meta"]["input_size"] == (64, 64)
    assert not any(m.startswith("WARNING") for m in log_messages)


def test_demo_tool_reads_a_file_needing_unpickling_only_with_unsafe_load(tmp_path, log_messages):
    raw, _ = _nano_states()
    ckpt = tmp_path / "pickled.pth"
    torch.save({"model": raw, "args": argparse.Namespace(lr=0.01)}, ckpt)
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), np.full((64, 96, 3), 90, np.uint8))
    argv = ["image", "-n", "yolox-nano", "-c", str(ckpt), "--path", str(image), "--tsize", "64"]
    demo = load_tool("demo")
    with pytest.raises(UnsafeCheckpointError, match=re.escape(str(ckpt))):
        demo.main(argv)
    demo.main(argv + ["--unsafe-load"])
    assert any(m.startswith("WARNING") and str(ckpt) in m for m in log_messages)
    assert any("3 classes" in m for m in log_messages)


@pytest.mark.parametrize("tool", ["train", "eval", "demo", "export_onnx", "export_torchscript"])
def test_every_checkpoint_reading_tool_has_the_unsafe_load_flag(tool):
    help_text = load_tool(tool).make_parser().format_help()
    assert "--unsafe-load" in help_text


# ------------------------------------------------------------------ trained runs
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One deterministic 2-epoch run of the tiny sample experiment (EMA on; test_conf 0: two tiny
    epochs score below any threshold): its experiment file, output folder, and the weights of the
    model each epoch's evaluation ran, as the trainer handed it to ``exp.eval``."""
    root = tmp_path_factory.mktemp("layout")
    sample = make_tiny_sample(root / "sample")
    exp_file = write_exp(root / "run.py", data_dir=sample, output_dir=root / "out", extra="self.test_conf = 0.0\n")
    args = load_train_tool().make_parser().parse_args(["-f", str(exp_file), "-b", "4", "--deterministic"])
    exp = build_exp(args)
    evaluated = []
    real_eval = exp.eval

    def recording_eval(model, *rest, **kwargs):
        evaluated.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return real_eval(model, *rest, **kwargs)

    exp.eval = recording_eval
    try:
        Trainer(exp, args).train()
    finally:
        torch.use_deterministic_algorithms(False)
    return SimpleNamespace(exp_file=exp_file, folder=root / "out" / "run", evaluated=evaluated)


@pytest.mark.slow
def test_every_file_the_trainer_writes_loads_weights_only(trained):
    folder = trained.folder
    files = sorted(folder.glob("*.pth"))
    assert {p.name for p in files} >= {"latest_ckpt.pth", "best_ckpt.pth", "epoch_1_ckpt.pth", "epoch_2_ckpt.pth"}
    for path in files:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        assert ckpt["model"].keys() == ckpt["train_model"].keys() and ckpt["ema_updates"] == 4 * ckpt["start_epoch"]
        assert max_state_difference(ckpt["model"], ckpt["train_model"]) > 0.0  # EMA apart from the raw weights


@pytest.mark.slow
def test_the_best_checkpoints_model_weights_are_those_evaluated(trained, tmp_path, log_messages, monkeypatch):
    """best_ckpt.pth's "model" is exactly the model its epoch's evaluation ran (the EMA, not the raw
    weights), and tools/eval.py on it, loaded Megvii's way into a bare state dict or as the file
    itself, gives the AP training logged and stored."""
    best = torch.load(trained.folder / "best_ckpt.pth", map_location="cpu", weights_only=True)
    assert max_state_difference(best["model"], trained.evaluated[best["best_epoch"]]) == 0.0
    assert max_state_difference(best["train_model"], trained.evaluated[best["best_epoch"]]) > 0.0
    model = get_exp(str(trained.exp_file)).get_model()
    model.load_state_dict(best["model"])  # what Megvii's tools and most downstream code do
    bare = tmp_path / "bare_state_dict.pth"
    torch.save(model.state_dict(), bare)

    logged = AP_LINE.findall((trained.folder / "train_log.txt").read_text())  # one per evaluated epoch
    expected = f"{best['best_ap']:.4f}"
    assert best["best_ap"] > 0 and logged[best["best_epoch"]] == expected
    eval_tool = load_tool("eval")
    outcomes = []

    def recording_run_evaluation(*args, **kwargs):  # the AP at full precision, besides the printed one
        outcomes.append(run_evaluation(*args, **kwargs))
        return outcomes[-1]

    monkeypatch.setattr(eval_tool, "run_evaluation", recording_run_evaluation)
    for ckpt in (bare, trained.folder / "best_ckpt.pth"):
        start = len(log_messages)
        assert eval_tool.main(["-f", str(trained.exp_file), "-c", str(ckpt), "-b", "4"]) == 0
        printed = [m.group(1) for m in map(AP_LINE.search, log_messages[start:]) if m]
        assert printed == [expected], ckpt
        assert outcomes[-1].ap50_95 == pytest.approx(best["best_ap"], rel=1e-9, abs=0), ckpt


def _earlier_layout(ckpt: dict) -> dict:
    """``ckpt`` as the earlier project wrote it: raw weights under "model", the EMA under "ema", the
    RNG states as random.getstate() / np.random.get_state() tuples (numpy arrays in the file)."""
    rng = dict(ckpt["rng"])
    version, internal, gauss_next = rng["python"]
    numpy_state = rng["numpy"]
    rng["python"] = (version, tuple(internal), gauss_next)
    rng["numpy"] = (numpy_state["bit_generator"], numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
                    numpy_state["has_gauss"], numpy_state["cached_gaussian"])
    earlier = {k: v for k, v in ckpt.items() if k not in ("train_model", "ema_updates")}
    earlier.update(model=ckpt["train_model"], rng=rng,
                   ema={"state_dict": ckpt["model"], "updates": ckpt["ema_updates"], "decay": 0.9999})
    return earlier


@pytest.mark.slow
def test_an_earlier_layout_checkpoint_resumes_exactly_and_runs_its_ema(trained, tmp_path):
    exp_file, folder = trained.exp_file, trained.folder
    epoch_1 = read_ckpt(folder / "epoch_1_ckpt.pth")
    old = tmp_path / "earlier_epoch_1.pth"
    torch.save(_earlier_layout(epoch_1), old)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(old, weights_only=True)  # numpy arrays: only our reader's allowlist takes them

    loaded = load_model(get_exp(str(exp_file)), old)  # what eval, demo and export build
    assert max_state_difference(loaded.model.state_dict(), epoch_1["model"]) == 0.0
    assert max_state_difference(loaded.model.state_dict(), epoch_1["train_model"]) > 0.0

    try:
        load_train_tool().main(["-f", str(exp_file), "-b", "4", "--deterministic", "--resume", "-c", str(old),
                                "-expn", "from_earlier"])
    finally:
        torch.use_deterministic_algorithms(False)
    straight = read_ckpt(folder / "latest_ckpt.pth")
    resumed = read_ckpt(folder.parent / "from_earlier" / "latest_ckpt.pth")
    assert resumed["start_epoch"] == straight["start_epoch"] == 2
    assert resumed["ema_updates"] == straight["ema_updates"] == 8
    assert max_state_difference(resumed["train_model"], straight["train_model"]) < 1e-6
    assert max_state_difference(resumed["model"], straight["model"]) < 1e-6
