"""Workers writing batches into reused shared-memory slots (yolox.data.loader.slots)."""
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from yolox.data import BatchSlotLoader
from yolox.data.loader import torch_private
from yolox.data.loader.slots import SlotBatch, SlotIterator


class NumberedImages(Dataset):
    """Item i: (image [3, 8, 10] float32 filled with i, labels [2, 5] with i, (h, w), image id i)."""

    def __init__(self, n: int = 23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        img = np.full((3, 8, 10), float(i), dtype=np.float32)
        img[0, 0, 0] = -i  # not constant: a batch from the wrong slot or a stale write shows
        return img, np.full((2, 5), i, dtype=np.float32), (8, 10), i


def _batches(loader):
    return [b for b in loader]


def _torch_batches(dataset, batch_size):
    return _batches(torch.utils.data.DataLoader(dataset, batch_size=batch_size))


def _assert_same_batches(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert type(g) is type(e) and len(g) == len(e)
        for gf, ef in zip(g, e):
            if isinstance(ef, torch.Tensor):
                assert gf.dtype == ef.dtype and torch.equal(gf, ef)
            else:  # the (h, w) field: a list of tensors
                assert all(torch.equal(a, b) for a, b in zip(gf, ef))


def test_slot_batches_equal_torch_default_collate_and_slots_come_back():
    dataset = NumberedImages()
    expected = _torch_batches(dataset, 4)
    loader = BatchSlotLoader(dataset, batch_size=4, num_workers=2)
    for _ in range(2):
        iterator = iter(loader)
        assert isinstance(iterator, SlotIterator)
        got = []
        for batch in iterator:  # each batch dropped before the next: its slot comes back
            got.append([field.clone() if isinstance(field, torch.Tensor) else field for field in batch])
            del batch
        _assert_same_batches(got, expected)  # includes the short last batch (3 images)
        assert got[-1][0].shape == (3, 3, 8, 10)
        assert iterator.lent == len(expected)  # every batch went through a slot
        assert len(iterator._mapped) <= 2 * (loader.prefetch_factor + 2)


def test_batches_kept_beyond_the_slots_are_never_overwritten():
    dataset = NumberedImages()
    expected = _torch_batches(dataset, 1)
    iterator = iter(BatchSlotLoader(dataset, batch_size=1, num_workers=2))
    got = list(iterator)  # 23 batches alive: more than the 2 x 4 slots
    _assert_same_batches(got, expected)
    assert 0 < iterator.lent < len(expected)  # the rest took torch's path instead of waiting
    views = [b[0][0] for b in got]  # views and arrays keep a slot lent out as well
    arrays = [b[0].numpy() for b in got]
    del got
    again = list(BatchSlotLoader(dataset, batch_size=1, num_workers=2))
    _assert_same_batches(again, expected)
    for i, (view, array) in enumerate(zip(views, arrays)):
        assert torch.equal(view, expected[i][0][0]) and np.array_equal(array, expected[i][0].numpy())


def test_two_epochs_and_a_dropped_iterator_keep_batches_right():
    dataset = NumberedImages(17)
    expected = _torch_batches(dataset, 3)
    loader = BatchSlotLoader(dataset, batch_size=3, num_workers=2)
    partial = iter(loader)
    next(partial)
    del partial  # workers stopped mid-epoch; the next epoch gets fresh slots
    for _ in range(2):
        _assert_same_batches(_batches(loader), expected)


def test_torch_path_when_turned_off_or_not_the_default_collate():
    dataset = NumberedImages(9)
    expected = _torch_batches(dataset, 4)
    off = BatchSlotLoader(dataset, batch_size=4, num_workers=2, reuse_batch_memory=False)
    assert not isinstance(iter(off), SlotIterator)
    _assert_same_batches(_batches(off), expected)

    def first_fields(samples):
        return [s[3] for s in samples]

    custom = BatchSlotLoader(dataset, batch_size=4, num_workers=2, collate_fn=first_fields)
    assert not isinstance(iter(custom), SlotIterator)
    assert not isinstance(iter(BatchSlotLoader(dataset, batch_size=4)), SlotIterator)  # 0 workers
    assert _batches(custom) == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]


class MixedShapes(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.zeros((3, 4 + i, 4), dtype=np.float32), i


def test_samples_that_do_not_stack_get_torchs_own_error():
    loader = BatchSlotLoader(MixedShapes(), batch_size=2, num_workers=2)
    with pytest.raises(RuntimeError, match="equal size"):
        _batches(loader)


@pytest.mark.slow
def test_the_environment_can_turn_slots_off(monkeypatch):
    monkeypatch.setenv("YOLOX_BATCH_SLOTS", "0")
    assert not isinstance(iter(BatchSlotLoader(NumberedImages(4), batch_size=2, num_workers=1)), SlotIterator)
    monkeypatch.setenv("YOLOX_BATCH_SLOTS", "1")
    assert isinstance(iter(BatchSlotLoader(NumberedImages(4), batch_size=2, num_workers=1)), SlotIterator)


def test_persistent_workers_take_the_torch_path():
    loader = BatchSlotLoader(NumberedImages(8), batch_size=4, num_workers=1, persistent_workers=True)
    expected = _torch_batches(NumberedImages(8), 4)
    for _ in range(2):
        _assert_same_batches(_batches(loader), expected)


class SamplerPairImages(NumberedImages):
    """NumberedImages read the way yolox.data.DataLoader's YoloBatchSampler asks: (mosaic, i)."""

    def __getitem__(self, index):
        return super().__getitem__(index[1] if isinstance(index, tuple) else index)


def test_yolox_dataloader_batches_travel_through_the_slots_and_equal_torchs():
    from yolox.data import DataLoader

    dataset = SamplerPairImages(10)
    expected = _torch_batches(dataset, 4)
    iterator = iter(DataLoader(dataset, batch_size=4, num_workers=2))  # the loader class the Exp builds
    assert isinstance(iterator, SlotIterator)
    got = []
    for batch in iterator:
        # The image tensor is lent out of a slot: its memory starts at one of the mapped slots.
        slot_starts = {storage.data_ptr() for storage in iterator._mapped.values()}
        assert batch[0].data_ptr() in slot_starts
        got.append([field.clone() if isinstance(field, torch.Tensor) else field for field in batch])
        del batch
    _assert_same_batches(got, expected)
    assert iterator.lent == len(expected) == 3  # every batch, the short last one too, came through a slot


@pytest.mark.cuda
def test_pinned_batches_come_out_pinned_and_equal():
    dataset = NumberedImages(10)
    expected = _torch_batches(dataset, 4)
    got = _batches(BatchSlotLoader(dataset, batch_size=4, num_workers=2, pin_memory=True))
    _assert_same_batches(got, expected)
    assert all(b[0].is_pinned() for b in got)
    assert not any(isinstance(b, SlotBatch) for b in got)


class HalfImages(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return torch.full((2, 3), float(i), dtype=torch.bfloat16), i


def test_dtypes_numpy_lacks_are_copied_out_of_their_slot():
    got = _batches(BatchSlotLoader(HalfImages(), batch_size=2, num_workers=2))
    _assert_same_batches(got, _torch_batches(HalfImages(), 2))
    assert all(b[0].dtype == torch.bfloat16 for b in got)


def test_main_side_frees_a_pinned_slot_at_once_and_a_lent_one_when_its_batch_dies():
    import gc
    import multiprocessing

    locks = [multiprocessing.BoundedSemaphore(1) for _ in range(2)]
    for lock in locks:
        lock.acquire()  # both slots written by worker 0
    images = torch.arange(6.0).reshape(1, 2, 3)
    inner = iter([
        SlotBatch(images=images.clone(), rest=[torch.tensor([7])], worker=0, slot=0, owned=True,
                  storage=images.untyped_storage()),  # what the pin-memory thread hands on
        SlotBatch(images=images, rest=[torch.tensor([8])], worker=0, slot=1),
    ])
    iterator = SlotIterator(inner, [locks])
    pinned = next(iterator)
    assert torch.equal(pinned[0], images) and pinned[1].item() == 7
    assert locks[0].acquire(block=False)  # free again at once
    lent = next(iterator)
    view = lent[0][0]
    del lent
    gc.collect()
    assert not locks[1].acquire(block=False)  # a view still reaches the slot
    del view
    gc.collect()
    assert locks[1].acquire(block=False)
    assert iterator.lent == 2


def _rename_get_iterator(monkeypatch):
    """As if torch renamed the hook: its __iter__ calls ``_make_iterator``, ``_get_iterator`` is gone."""
    from torch.utils.data import DataLoader as TorchDataLoader

    def torch_iter(self):  # torch's __iter__ for loaders without persistent workers
        return self._make_iterator()

    monkeypatch.setattr(TorchDataLoader, "_make_iterator", TorchDataLoader._get_iterator, raising=False)
    monkeypatch.delattr(TorchDataLoader, "_get_iterator")
    monkeypatch.setattr(TorchDataLoader, "__iter__", torch_iter)


def _drop_pin_memory_helper(monkeypatch):
    import torch.utils.data._utils.pin_memory as pin_module

    monkeypatch.delattr(pin_module, "pin_memory")


def _replace_public_default_collate(monkeypatch):
    """The loader's default collate is no longer the one torch.utils.data exports."""
    def other_collate(samples):
        return torch.utils.data._utils.collate.default_collate(samples)

    monkeypatch.setattr(torch_private, "default_collate", other_collate)


@pytest.fixture
def fresh_guard():
    torch_private.missing_torch_internal.cache_clear()
    yield torch_private
    torch_private.missing_torch_internal.cache_clear()


@pytest.mark.parametrize("break_torch, missing", [
    (_rename_get_iterator, "DataLoader._get_iterator is missing"),
    (_drop_pin_memory_helper, "_utils.pin_memory.pin_memory is missing"),
    (_replace_public_default_collate, "default_collate is missing or not"),
])
def test_missing_torch_internals_fall_back_to_torchs_path_and_say_so_once(monkeypatch, fresh_guard, break_torch,
                                                                          missing):
    from loguru import logger

    dataset = NumberedImages(9)
    expected = _torch_batches(dataset, 4)
    break_torch(monkeypatch)
    warnings = []
    handler = logger.add(lambda message: warnings.append(str(message)), level="WARNING")
    try:
        for _ in range(2):  # two loaders, two epochs each: one warning in all
            loader = BatchSlotLoader(dataset, batch_size=4, num_workers=2)
            for _ in range(2):
                iterator = iter(loader)
                assert not isinstance(iterator, SlotIterator)
                _assert_same_batches(list(iterator), expected)
    finally:
        logger.remove(handler)
    assert len(warnings) == 1 and missing in warnings[0] and "batch slots off" in warnings[0]
    assert fresh_guard.missing_torch_internal("batch_slots") is not None
