"""YOLOX_FAST_LOADER=0: every loader the project builds takes torch's plain DataLoader path (no batch
slots, no worker watch, no malloc tuning) and gives the same batches; data_timeout becomes torch's timeout."""
import time

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from yolox.data import BatchSlotLoader, DataLoader, DataLoaderTimeout
from yolox.data.loader import base_loader, malloc_tuning, switches, torch_private
from yolox.data.loader.slots import SlotIterator
from yolox.exp import Exp

from _train_helpers import make_tiny_sample


class PairIndexedImages(Dataset):
    """Item i, asked for as i or YoloBatchSampler's (mosaic, i): (image [3, 8, 10] float32 of i with
    one pixel -i, labels [2, 5] of i, image id i)."""

    def __init__(self, n: int = 11):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        i = index[1] if isinstance(index, tuple) else index
        img = np.full((3, 8, 10), float(i), dtype=np.float32)
        img[0, 0, 0] = -i
        return img, np.full((2, 5), i, dtype=np.float32), i


def _epoch(loader):
    """[(images [B, 3, 8, 10], labels [B, 2, 5], ids [B])] of one epoch, copied out of any slot."""
    return [tuple(field.clone() for field in batch) for batch in loader]


def _assert_same(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert all(torch.equal(a, b) for a, b in zip(g, e))


def _is_torchs_own(iterator) -> bool:
    """The iterator torch builds for a plain DataLoader (single- or multi-process)."""
    return type(iterator).__module__ == "torch.utils.data.dataloader"


@pytest.fixture
def fast_loader_off(monkeypatch):
    monkeypatch.setenv("YOLOX_FAST_LOADER", "0")
    monkeypatch.setattr(switches, "_said_off", False)


@pytest.mark.parametrize("workers", [0, 2])
def test_batches_are_equal_with_the_switch_on_and_off(monkeypatch, workers):
    dataset = PairIndexedImages()
    expected = _epoch(torch.utils.data.DataLoader(dataset, batch_size=4))
    monkeypatch.setenv("YOLOX_FAST_LOADER", "1")
    fast = DataLoader(dataset, batch_size=4, num_workers=workers)
    iterator = iter(fast)
    assert isinstance(iterator, SlotIterator) == (workers > 0)
    _assert_same(_epoch(iterator), expected)

    monkeypatch.setenv("YOLOX_FAST_LOADER", "0")
    plain = DataLoader(dataset, batch_size=4, num_workers=workers)
    iterator = iter(plain)
    assert _is_torchs_own(iterator)
    _assert_same(_epoch(iterator), expected)


def test_switch_off_uses_no_slots_no_watch_no_malloc_tuning(monkeypatch, fast_loader_off):
    tuned = []
    monkeypatch.setattr(base_loader, "raise_malloc_thresholds", lambda: tuned.append(True))

    def no_internals(feature):
        raise AssertionError(f"the {feature} guard was consulted with YOLOX_FAST_LOADER=0")

    monkeypatch.setattr(base_loader, "missing_torch_internal", no_internals)
    seen_ids = []
    loader = BatchSlotLoader(PairIndexedImages(8), batch_size=4, num_workers=2, reuse_batch_memory=True,
                             data_timeout=5, worker_init_fn=seen_ids.append)
    assert tuned == []
    assert loader.worker_init_fn == seen_ids.append  # no malloc tuning wrapped around the worker init
    assert not loader.reuse_batch_memory and not loader.watch_workers
    assert loader.timeout == 5  # data_timeout still stops a stalled loader, through torch's own timeout
    iterator = iter(loader)
    assert _is_torchs_own(iterator) and not isinstance(iterator, torch_private.DeadlineWorkersIterator)
    assert [ids.tolist() for _, _, ids in iterator] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert malloc_tuning._apply() is False  # a worker or script calling the tuning itself gets none either


def test_switch_off_is_said_once(fast_loader_off, capture_log):
    messages = capture_log("INFO")
    for _ in range(2):
        BatchSlotLoader(PairIndexedImages(4), batch_size=2)
        DataLoader(PairIndexedImages(4), batch_size=2)
    said = [m for m in messages if "YOLOX_FAST_LOADER=0" in m]
    assert len(said) == 1 and "torch's plain DataLoader path" in said[0]


def test_finer_switches_leave_the_rest_on(monkeypatch):
    monkeypatch.setenv("YOLOX_FAST_LOADER", "1")
    monkeypatch.setenv("YOLOX_MALLOC_TUNING", "0")
    assert switches.batch_slots_enabled() and not switches.malloc_tuning_enabled()
    monkeypatch.setenv("YOLOX_MALLOC_TUNING", "1")
    monkeypatch.setenv("YOLOX_BATCH_SLOTS", "0")
    assert not switches.batch_slots_enabled() and switches.malloc_tuning_enabled()
    monkeypatch.setenv("YOLOX_FAST_LOADER", "0")
    monkeypatch.setenv("YOLOX_BATCH_SLOTS", "1")
    assert not switches.batch_slots_enabled() and not switches.malloc_tuning_enabled()


def test_the_experiments_loaders_follow_the_switch(tmp_path, fast_loader_off):
    exp = Exp()
    exp.num_classes, exp.data_dir = 5, str(make_tiny_sample(tmp_path))
    exp.input_size = exp.test_size = (64, 64)
    exp.data_num_workers, exp.data_timeout = 2, 42
    train = exp.get_data_loader(batch_size=2, is_distributed=False)
    evaluation = exp.get_eval_loader(batch_size=2, is_distributed=False)
    for loader in (train, evaluation):
        assert not loader.fast_loader and not loader.reuse_batch_memory
    assert train.timeout == 42 and not train.watch_workers
    iterator = iter(evaluation)
    assert _is_torchs_own(iterator)
    images = next(iterator)[0]
    assert images.shape == (2, 3, 64, 64)


class StuckAt(Dataset):
    """Item i: (image [3, 4, 4] float32 of i, label i); item ``stuck`` hangs (bounded, so a loader
    without any limit fails the test instead of hanging it)."""

    def __init__(self, stuck: int):
        self.stuck = stuck

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == self.stuck:
            time.sleep(30)
        return np.full((3, 4, 4), float(i), dtype=np.float32), i


@pytest.mark.slow
def test_switch_off_stops_a_stalled_loader_with_torchs_timeout(fast_loader_off):
    loader = BatchSlotLoader(StuckAt(stuck=5), batch_size=2, num_workers=2, data_timeout=2)
    labels = []
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 2 seconds") as info:
        for _, label in loader:
            labels.extend(label.tolist())
    assert not isinstance(info.value, DataLoaderTimeout)  # torch's error: no workers' report
    assert labels == [0, 1, 2, 3] and time.monotonic() - start < 15
