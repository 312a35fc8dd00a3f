"""tools/benchmark.py: every format of a checkpoint exported once, scored by the experiment's evaluator
and timed end to end; one table and a JSON of the same rows."""
import json

import pytest

from yolox.deploy.formats import FORMATS, parse_formats
from yolox.tools import benchmark


def test_formats_parse_in_table_order_and_unknown_ones_are_named():
    assert [s.name for s in parse_formats(["onnx", "torch"])] == ["torch", "onnx"]
    assert [s.name for s in parse_formats(None)] == list(FORMATS)
    with pytest.raises(ValueError, match="tensorrt"):
        parse_formats(["torch", "tensorrt"])


@pytest.mark.slow  # exports and scores three files
def test_benchmark_exports_scores_and_times_each_format(sample_model, tmp_path, capsys):
    """The fp32 files give the checkpoint's AP (they compute the same function); each row has a
    file on disk, a positive size and times, and the stages add up to about the batch-1 latency."""
    out_json = tmp_path / "rows.json"
    code = benchmark.main(["-f", str(sample_model["exp_file"]), "-c", str(sample_model["ckpt"]),
                           "--formats", "torch", "torchscript", "onnx", "--out", str(tmp_path / "files"),
                           "--speed-images", "2", "--repeats", "2", "--batch", "2", "-b", "4",
                           "--json", str(out_json)])
    assert code == 0
    table = capsys.readouterr().out
    assert "speed-up vs torch" in table and "onnx" in table and "torchscript" in table
    rows = {r["format"]: r for r in json.loads(out_json.read_text())["rows"]}
    assert set(rows) == {"torch", "torchscript", "onnx"}
    assert (tmp_path / "files" / "model.onnx").is_file() and (tmp_path / "files" / "model.torchscript").is_file()
    for row in rows.values():
        assert row["size_mb"] > 0 and row["latency_ms"] > 0 and row["throughput"] > 0
        assert row["ap50_95"] == pytest.approx(rows["torch"]["ap50_95"], abs=0.005)
        assert row["ap50"] == pytest.approx(rows["torch"]["ap50"], abs=0.005)


def test_one_experiment_loads_a_checkpoint_fused_then_plain(sample_model):
    """load_model builds a fresh network each time: the fused load must not leave exp's cached
    model fused for the next (plain) load of the same checkpoint."""
    from yolox.deploy.model_loading import load_model
    from yolox.exp import get_exp

    exp = get_exp(str(sample_model["exp_file"]))
    fused = load_model(exp, sample_model["ckpt"], fuse=True)
    plain = load_model(exp, sample_model["ckpt"])
    assert plain.model is not fused.model
    assert any(name.endswith("bn.weight") for name, _ in plain.model.named_parameters())
