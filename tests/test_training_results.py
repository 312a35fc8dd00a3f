"""What every run leaves besides checkpoints: results.csv (a row per epoch) and results.png, and
TensorBoard's scalars, PR curves and validation images; the PR counts by hand; -l's missing library."""
import math
import sys

import numpy as np
import pytest

from yolox.core.sinks import (RESULTS_COLUMNS, EpochLog, ResultsCsvSink, RunEnd, RunStart, read_results,
                              split_wandb_options)
from yolox.data.datasets.detection import ImageRecord
from yolox.evaluators.pr_counts import match_detections, pr_counts

from _sink_helpers import RUN_NAME, make_small_sample, sample_argv, skip_model_summary, tensorboard_events
from _train_helpers import load_train_tool, read_ckpt


@pytest.mark.slow  # trains 2 epochs of 1 iteration
def test_results_csv_png_and_tensorboard(tmp_path, monkeypatch):
    skip_model_summary(monkeypatch)
    sample = make_small_sample(tmp_path / "sample")
    assert load_train_tool().main(sample_argv(sample, tmp_path / "out", max_epoch=2)) == 0
    run_dir = tmp_path / "out" / RUN_NAME

    rows = read_results(run_dir / "results.csv")
    assert [row["epoch"] for row in rows] == [1, 2]
    assert tuple(rows[0]) == RESULTS_COLUMNS
    for row in rows:
        assert row["total_loss"] > 0 and math.isfinite(row["total_loss"])
        assert row["images_per_s"] > 0 and row["epoch_time_s"] > 0
        assert row["ap50"] >= row["ap50_95"] >= 0
    assert rows[0]["l1_loss"] == 0 and rows[1]["l1_loss"] > 0  # L1 joins in the no-aug epoch
    assert max(row["ap50_95"] for row in rows) == pytest.approx(read_ckpt(run_dir / "best_ckpt.pth")["best_ap"],
                                                                abs=1e-5)
    png = (run_dir / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert not list(run_dir.glob(".results.*.tmp"))  # atomic writes leave no temp file

    events = tensorboard_events(run_dir / "tensorboard")
    tags = events.Tags()
    assert [e.step for e in events.Scalars("val/COCOAP50_95")] == [1, 2]
    assert [e.value for e in events.Scalars("val/COCOAP50_95")] == pytest.approx([r["ap50_95"] for r in rows])
    assert [e.step for e in events.Scalars("train/total_loss")] == [1, 2]
    pr_tags = [t for t in tags["tensors"] if t.startswith("val_pr_iou50/")]
    assert len(pr_tags) == 5 and "val_pr_iou50/red_circle" in pr_tags  # one curve per sample class
    assert [e.step for e in events.Tensors(pr_tags[0])] == [1, 2]
    assert len(tags["images"]) == 2  # both validation images (fewer than the 4 drawn)


def _record(img_id, boxes, classes):
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return ImageRecord(img_id=img_id, file_name="", path="", height=100, width=100, boxes=boxes,
                       classes=np.asarray(classes, dtype=np.int64), difficult=np.zeros(len(boxes), dtype=bool))


def test_pr_counts_by_hand():
    """Class 0 (category 7): two boxes in image 1, none found in image 2's one. Detections in score
    order: 0.9 hits the first box, 0.8 duplicates it (the box is taken), 0.6 overlaps the second box
    by IoU 0.33 only (a miss at 0.5), 0.4 hits the second box. Class 1 (category 9): no boxes."""
    records = [_record(1, [[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0]), _record(2, [[50, 50, 60, 60]], [0])]
    detections = {1: {"bboxes": [[0, 0, 10, 10], [1, 0, 10, 10], [15, 20, 10, 10], [20, 20, 10, 10]],
                      "scores": [0.9, 0.8, 0.6, 0.4], "categories": [7, 7, 7, 7]},
                  2: {"bboxes": [[0, 0, 5, 5]], "scores": [0.5], "categories": [9]}}
    matches = match_detections(detections=detections, records=records, class_ids=[7, 9])
    assert matches[0].num_gt == 3 and matches[1].num_gt == 0
    assert matches[0].true_positive.tolist() == [True, False, False, True]
    counts = pr_counts(matches[0], num_thresholds=11)  # thresholds 0, 0.1, ..., 1
    assert counts.true_positives[[0, 5, 7, 9, 10]].tolist() == [2, 1, 1, 1, 0]
    assert counts.false_positives[[0, 5, 7, 9, 10]].tolist() == [2, 2, 1, 0, 0]
    assert counts.false_negatives[0] == 1  # image 2's box
    assert counts.precision[0] == 0.5 and counts.recall[0] == pytest.approx(2 / 3)
    assert counts.precision[10] == 0  # nothing scores 1.0
    other = pr_counts(matches[1], num_thresholds=11)
    assert other.false_positives[0] == 1 and other.recall.tolist() == [0] * 11


def test_wandb_options_leave_the_experiment_overrides():
    exp_pairs, options = split_wandb_options(["max_epoch", "3", "wandb-project", "p", "wandb-num_eval_images", "-1",
                                              "wandb-log_checkpoints", "True"])
    assert exp_pairs == ["max_epoch", "3"]
    assert options == {"project": "p", "num_eval_images": -1, "log_checkpoints": "True"}
    assert split_wandb_options(["max_epoch"]) == (["max_epoch"], {})  # merge reports the odd list


@pytest.mark.parametrize("choice, install", [("wandb", "pip install wandb"), ("mlflow", "pip install mlflow-skinny")])
def test_a_missing_logger_library_stops_before_training(tmp_path, monkeypatch, capsys, choice, install):
    monkeypatch.setitem(sys.modules, choice, None)  # `import wandb` now raises ImportError
    argv = ["-l", choice] + sample_argv(tmp_path / "sample", tmp_path / "out", max_epoch=1)
    monkeypatch.setattr("yolox.tools.train.check_train_data", lambda exp: None)  # no data needed to fail
    assert load_train_tool().main(argv) == 2
    err = capsys.readouterr().err
    assert f"-l {choice} needs the {choice} package" in err and install in err and '.[loggers]' in err
    assert not (tmp_path / "out").exists()


def test_the_trainer_reads_every_form_of_an_experiments_eval():
    from yolox.core.trainer import _split_eval_result

    assert _split_eval_result((0.1, 0.2, "s")) == ((0.1, 0.2, "s"), None)  # an exp's own evaluator
    assert _split_eval_result((0.1, 0.2, "s", {1: {}})) == ((0.1, 0.2, "s"), {1: {}})  # this package's
    assert _split_eval_result(((0.1, 0.2, "s"), {1: {}})) == ((0.1, 0.2, "s"), {1: {}})  # Megvii's


def _epoch(epoch, ap=None):
    return EpochLog(epoch=epoch, losses={"total_loss": 10.0 - epoch, "cls_loss": 1.0}, lr=0.01, epoch_time_s=2.0,
                    images_per_s=8.0, ap50_95=ap, ap50=None if ap is None else 2 * ap)


def test_results_rows_survive_a_resume_and_unevaluated_epochs_stay_blank(tmp_path):
    """No training: the csv sink fed by hand. A run resumed at epoch 2 (start_epoch 1, 0-based) keeps
    row 1 of the interrupted run and replaces its half-written epoch 2; the picture appears with an
    evaluation, no more than once every png_interval_s, and at the end."""
    def start(epoch):
        return RunStart(run_dir=tmp_path, run_name="r", exp=None, args=None, start_epoch=epoch, max_epoch=3,
                        iters_per_epoch=1)

    first = ResultsCsvSink(tmp_path, png_interval_s=0)
    first.on_start(start(0))
    first.on_epoch(_epoch(1))
    assert not (tmp_path / "results.png").exists()  # nothing evaluated yet
    first.on_epoch(_epoch(2, ap=0.1))
    assert (tmp_path / "results.png").is_file()
    (tmp_path / "results.png").unlink()

    resumed = ResultsCsvSink(tmp_path)  # png_interval_s 60: the picture waits for the end
    resumed.on_start(start(1))
    resumed.on_epoch(_epoch(2, ap=0.2))
    resumed.on_epoch(_epoch(3))
    assert not (tmp_path / "results.png").exists()
    resumed.on_end(RunEnd(status="done", run_dir=tmp_path, best_ap50_95=0.2, best_epoch=2))
    rows = read_results(tmp_path / "results.csv")
    assert [(r["epoch"], r["ap50_95"], r["ap50"]) for r in rows] == [(1, None, None), (2, 0.2, 0.4), (3, None, None)]
    assert rows[2]["total_loss"] == 7.0 and rows[2]["iou_loss"] is None  # a term the loss did not report


def test_a_failing_sink_is_logged_and_the_others_still_report(capture_log):
    """A sink that raises (issue 26's find: TensorBoard drawing an untrained model's infinite boxes
    stopped the README's sample run at its first evaluation) costs its report, not the training."""
    from yolox.core.sinks.base import Sink, Sinks

    class Broken(Sink):
        def on_epoch(self, log):
            raise OverflowError("cannot convert float infinity to integer")

    class Recorder(Sink):
        def __init__(self):
            self.epochs = []

        def on_epoch(self, log):
            self.epochs.append(log)

    recorder = Recorder()
    messages = capture_log("ERROR")
    Sinks([Broken(), recorder]).on_epoch("epoch 1")
    assert recorder.epochs == ["epoch 1"]
    assert any("Broken.on_epoch failed" in m for m in messages)


def test_boxes_reaching_infinity_are_drawn_at_the_edge_and_nan_ones_skipped():
    from yolox.utils.visualize import vis

    img = np.zeros((40, 60, 3), np.uint8)
    vis(img, np.array([[10, 5, np.inf, 30]], np.float32), np.array([0.9]), np.array([0]), conf=0.1)
    assert img[12:29, 10].any() and img[30, 12:58].any()  # its left edge, and its bottom edge to the picture's end
    blank = np.zeros((40, 60, 3), np.uint8)
    vis(blank, np.array([[np.nan, 1, 5, 5]], np.float32), np.array([0.9]), np.array([1]), conf=0.1)
    assert not blank.any()
