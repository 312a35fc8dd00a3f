"""The built-in sample experiment shrunk to the fewest iterations that still evaluate, and readers of
what the loggers wrote: TensorBoard event files and W&B offline run files."""
import glob
import struct
from pathlib import Path

from yolox.data.synthetic_dataset import SampleSpec, make_sample_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_EXP = str(REPO_ROOT / "exps" / "example" / "yolox_nano_sample.py")
RUN_NAME = "yolox_nano_sample"


def make_small_sample(root: Path) -> Path:
    """4 train + 2 val 128x128 scenes: with -b 4, one iteration an epoch."""
    return make_sample_dataset(root, SampleSpec(num_train=4, num_val=2, img_size=(128, 128), min_side=12,
                                                max_side=48, seed=0))


def sample_argv(data_dir: Path, output_dir: Path, *, max_epoch: int) -> list:
    """tools/train.py's flags and overrides: batch 4, 128 px, width 0.125, evaluate every epoch."""
    return ["-f", SAMPLE_EXP, "-b", "4", "data_dir", str(data_dir), "output_dir", str(output_dir), "width", "0.125",
            "input_size", "128,128", "test_size", "128,128", "multiscale_range", "0", "max_epoch", str(max_epoch),
            "warmup_epochs", "1", "no_aug_epochs", "1", "eval_interval", "1", "print_interval", "1",
            "data_num_workers", "0", "test_conf", "0"]


def skip_model_summary(monkeypatch) -> None:
    """The FLOPs count in the trainer's start-of-run log takes seconds on a busy 2-core host and is
    not what these tests look at."""
    monkeypatch.setattr("yolox.core.trainer._model_summary", lambda model, test_size: "(summary skipped)")


def tensorboard_events(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    events.Reload()
    return events


def wandb_offline_records(wandb_dir: Path) -> list:
    """The protobuf records of the one offline run under ``wandb_dir``. The .wandb file is a LevelDB
    log (32 KiB blocks of records with a 7-byte header: crc, length, type) after wandb's 7-byte file
    header; wandb 0.31 ships no Python reader for it."""
    from wandb.proto import wandb_internal_pb2

    (path,) = glob.glob(str(Path(wandb_dir) / "wandb" / "offline-run-*" / "run-*.wandb"))
    data, block, pos = Path(path).read_bytes(), 32768, 7
    records, pending = [], b""
    while pos + 7 <= len(data):
        left_in_block = block - pos % block
        if left_in_block < 7:  # a block's tail too short for a header is padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0:  # zero-filled: the rest of the block is padding
            pos += left_in_block
            continue
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a record is complete
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records
