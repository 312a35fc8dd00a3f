"""A loader whose workers give nothing for ``data_timeout`` seconds raises, naming each worker's pid,
state and the sample it is stuck on (yolox.data.loader.watchdog), on the slot path and torch's path."""
import gc
import re
import time

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from yolox.data import BatchSlotLoader, DataLoaderTimeout
from yolox.data.loader.slots import SlotIterator
from yolox.data.loader.watchdog import WorkerActivity, _sample_index
from yolox.exp import Exp

from _train_helpers import make_tiny_sample


class StuckAt(Dataset):
    """Item i: (image [3, 4, 4] float32 of i, label i); item ``stuck`` never returns."""

    def __init__(self, n: int = 16, stuck: int = -1):
        self.n, self.stuck = n, stuck

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.stuck:
            # A hung read. Bounded, so a loader that does not watch fails the test instead of hanging
            # it; the loader's shutdown terminates the worker.
            time.sleep(30)
        return np.full((3, 4, 4), float(i), dtype=np.float32), i


@pytest.mark.slow
@pytest.mark.parametrize("slots", [True, False], ids=["slot_path", "torch_path"])
def test_stuck_worker_is_named_with_its_sample(slots):
    check_stuck_worker_is_named(slots=slots, pin_memory=False)


@pytest.mark.slow
@pytest.mark.cuda
@pytest.mark.parametrize("slots", [True, False], ids=["slot_path", "torch_path"])
def test_stuck_worker_is_named_with_pin_memory(slots):
    # With pin_memory (the trainer's setting on a GPU) the batches come through torch's pin thread.
    check_stuck_worker_is_named(slots=slots, pin_memory=True)


def check_stuck_worker_is_named(*, slots: bool, pin_memory: bool):
    # Batches of 2 go to the workers in turn: batch 3 (samples 6, 7) is worker 1's second batch.
    loader = BatchSlotLoader(StuckAt(stuck=7), batch_size=2, num_workers=2, reuse_batch_memory=slots,
                             pin_memory=pin_memory, data_timeout=2)
    iterator = iter(loader)
    assert isinstance(iterator, SlotIterator) == slots
    start = time.monotonic()
    labels = []
    with pytest.raises(DataLoaderTimeout) as info:
        for _, label in iterator:
            labels.extend(label.tolist())
    waited = time.monotonic() - start
    pids = [w.pid for w in iterator._workers]
    del iterator
    gc.collect()  # shuts the workers down (the stuck one is terminated)

    assert labels == [0, 1, 2, 3, 4, 5]  # everything before the stuck batch came through
    assert waited < 10
    message = str(info.value)
    assert message.startswith("the data loader yielded no batch for 2 s (data_timeout; 0 waits forever); "
                              "its workers:\n")
    assert re.search(rf"^  worker 1 \(pid {pids[1]}, alive\): loading sample 7 for [2-9] s$", message, re.M)
    # Worker 0 finished its batches and waits for work (the loader asks no more of it).
    assert re.search(rf"^  worker 0 \(pid {pids[0]}, alive\): not loading a sample for \d+ s \(\d+ loaded\)$",
                     message, re.M)


@pytest.mark.slow
@pytest.mark.parametrize("slots", [True, False], ids=["slot_path", "torch_path"])
def test_watched_loader_yields_every_batch(slots):
    loader = BatchSlotLoader(StuckAt(n=23), batch_size=4, num_workers=2, reuse_batch_memory=slots, data_timeout=2)
    expected = list(torch.utils.data.DataLoader(StuckAt(n=23), batch_size=4))
    for _ in range(2):  # a second epoch: fresh workers, fresh activity table
        got = [(images.clone(), labels) for images, labels in loader]
        assert len(got) == len(expected)
        for (img, lab), (exp_img, exp_lab) in zip(got, expected):
            assert torch.equal(img, exp_img) and torch.equal(lab, exp_lab)


def test_worker_lines_say_state_and_sample():
    class Process:
        pid, exitcode = 4321, -9

        def is_alive(self):
            return False

    activity = WorkerActivity(2)
    activity.table[0] = torch.tensor([57.0, 100.0, 3.0])
    line = activity.describe(0, Process(), now=412.4)
    assert line == "worker 0 (pid 4321, dead, exit code -9): loading sample 57 for 312 s"
    assert activity.describe(1, Process(), now=5.0) == "worker 1 (pid 4321, dead, exit code -9): has not started"


def test_sample_index_of_mosaic_batches():
    assert _sample_index(57) == 57
    assert _sample_index((True, 57)) == 57  # YoloBatchSampler's (mosaic flag, index)
    assert _sample_index(np.int64(3)) == 3
    assert _sample_index("key") == -1


def test_bad_timeouts_are_refused():
    with pytest.raises(ValueError, match="data_timeout must be >= 0"):
        BatchSlotLoader(StuckAt(), batch_size=2, data_timeout=-1)
    with pytest.raises(ValueError, match="not both"):
        BatchSlotLoader(StuckAt(), batch_size=2, num_workers=1, data_timeout=5, timeout=5)


def test_training_loader_gets_the_experiments_limit(tmp_path):
    exp = Exp()
    assert exp.data_timeout == 300
    exp.num_classes, exp.data_dir, exp.input_size = 5, str(make_tiny_sample(tmp_path)), (64, 64)
    exp.data_num_workers = 0
    exp.data_timeout = 42
    assert exp.get_data_loader(batch_size=2, is_distributed=False).data_timeout == 42


@pytest.fixture
def fresh_guard():
    from yolox.data.loader import torch_private

    torch_private.missing_torch_internal.cache_clear()
    yield torch_private
    torch_private.missing_torch_internal.cache_clear()


def test_missing_iterator_internal_falls_back_to_torchs_timeout_and_says_so_once(monkeypatch, fresh_guard,
                                                                              capture_log):
    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

    monkeypatch.delattr(_MultiProcessingDataLoaderIter, "_try_get_data")  # as if torch renamed it
    warnings = capture_log("WARNING")
    loaders = [BatchSlotLoader(StuckAt(n=6), batch_size=2, num_workers=2, data_timeout=7) for _ in range(2)]
    assert all(not loader.watch_workers and loader.timeout == 7 for loader in loaders)
    assert [len(warnings), "_MultiProcessingDataLoaderIter._try_get_data is missing" in warnings[0]] == [1, True]
    assert "data_timeout falls back to torch's timeout" in warnings[0]
    slots_still_on = loaders[0].reuse_batch_memory  # the other feature does not need the iterator
    assert slots_still_on and fresh_guard.missing_torch_internal("batch_slots") is None


def test_guards_know_their_features():
    from yolox.data.loader import torch_private

    with pytest.raises(ValueError, match="unknown loader feature 'slots'"):
        torch_private.missing_torch_internal("slots")
