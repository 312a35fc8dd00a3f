"""The image caches (``--cache ram`` / ``--cache disk``): same batches as no cache, a RAM cache that
does not fit is refused with its figures, stale or half-written disk entries are never read."""
import os
import random
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from yolox.data import cache as cache_module
from yolox.exp import Exp

from _train_helpers import make_tiny_sample

INPUT = (96, 96)  # the sample's 128 px images are resized: the caches hold resized images


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    return make_tiny_sample(tmp_path_factory.mktemp("cache_sample"))


def tiny_exp(data_dir, workers: int) -> Exp:
    exp = Exp()
    exp.num_classes, exp.data_dir, exp.input_size = 5, str(data_dir), INPUT
    exp.data_num_workers, exp.seed = workers, 0
    return exp


def first_batches(data_dir, *, cache_img, workers: int, count: int = 5):
    """``count`` batches of 4 from the training loader (mosaic, MixUp, affine, HSV, flip), seeded."""
    exp = tiny_exp(data_dir, workers)
    # With workers the loader's generator seeds them; with 0 the main process's RNGs draw.
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    loader = exp.get_data_loader(batch_size=4, is_distributed=False, cache_img=cache_img)
    batches = []
    for batch, _ in zip(loader, range(count)):
        images, targets = batch[0], batch[1]
        batches.append((images.clone(), targets.clone()))
    return batches


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_cached_loader_yields_the_uncached_batches(tmp_path, workers):
    data_dir = make_tiny_sample(tmp_path / "sample")  # its own copy: the disk cache writes beside it
    plain = first_batches(data_dir, cache_img=None, workers=workers)
    for cache_img in ("ram", "disk"):
        cached = first_batches(data_dir, cache_img=cache_img, workers=workers)
        for (img_a, tgt_a), (img_b, tgt_b) in zip(plain, cached):
            assert torch.equal(img_a, img_b), cache_img
            assert torch.equal(tgt_a, tgt_b), cache_img
    npy = list(data_dir.glob("cache_*/*.npy"))
    assert len(npy) == 16  # the disk run read its own files, one per training image


def test_dataset_items_from_caches_equal_the_files(sample_dir):
    exp = tiny_exp(sample_dir, 0)
    plain = exp.get_dataset()
    for cache_type in ("ram", "disk"):
        cached = tiny_exp(sample_dir, 0).get_dataset(cache=True, cache_type=cache_type)
        for i in range(len(plain)):
            img_a, tgt_a, info_a, id_a = plain.pull_item(i)
            img_b, tgt_b, info_b, id_b = cached.pull_item(i)
            assert img_b.shape == (*INPUT, 3)
            np.testing.assert_array_equal(img_a, img_b)
            np.testing.assert_array_equal(tgt_a, tgt_b)
            assert (info_a, id_a) == (info_b, id_b)


def fake_available(monkeypatch, num_bytes: int) -> None:
    monkeypatch.setattr(cache_module.psutil, "virtual_memory", lambda: SimpleNamespace(available=num_bytes))


NEEDED = 16 * 96 * 96 * 3  # the 16 training images resized to 96 px, uint8 BGR


def test_ram_cache_that_does_not_fit_is_refused_with_figures(sample_dir, monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    fake_available(monkeypatch, 400_000)
    with pytest.raises(MemoryError) as info:
        tiny_exp(sample_dir, 0).get_data_loader(batch_size=4, is_distributed=False, cache_img="ram")
    message = str(info.value)
    assert message == (
        f"the RAM image cache of 16 images needs 432.0 KiB ({NEEDED} bytes) but only 390.6 KiB (400000 bytes) "
        "of RAM is available (keeping 10% free); use the disk cache (--cache disk, one copy shared by all "
        "processes) or no cache"
    )
    fake_available(monkeypatch, 10 * NEEDED)  # fits: built
    assert tiny_exp(sample_dir, 0).get_dataset(cache=True, cache_type="ram")._image_cache is not None


def test_ram_cache_counts_every_process_on_the_machine(sample_dir, monkeypatch):
    fake_available(monkeypatch, 3 * NEEDED)  # one copy fits, four do not
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert tiny_exp(sample_dir, 0).get_dataset(cache=True, cache_type="ram")._image_cache is not None
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    with pytest.raises(MemoryError, match=r"needs 4 processes x 432\.0 KiB = 1\.7 MiB \(1769472 bytes\) "
                                          r"but only 1\.3 MiB \(1327104 bytes\)"):
        tiny_exp(sample_dir, 0).get_dataset(cache=True, cache_type="ram")


def test_local_world_size_follows_torchrun_else_world_size(monkeypatch):
    from yolox.utils import dist as dist_utils

    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")
    assert dist_utils.get_local_world_size() == 3
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    monkeypatch.setattr(dist_utils, "get_world_size", lambda: 2)  # -d 2 spawned, without torchrun
    assert dist_utils.get_local_world_size() == 2


def rewrite_image(path, seed: int) -> np.ndarray:
    """Replace the picture at ``path`` by noise; -> what the dataset decodes from it, resized."""
    img = np.random.default_rng(seed).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    decoded = cv2.imread(str(path))
    return cv2.resize(decoded, INPUT[::-1], interpolation=cv2.INTER_LINEAR)


def test_disk_cache_entry_is_rebuilt_when_its_image_changes(tmp_path):
    data_dir = make_tiny_sample(tmp_path / "sample")
    first = tiny_exp(data_dir, 0).get_dataset(cache=True, cache_type="disk")
    path = first.records[3].path
    stat = os.stat(path)
    old = first.read_img(3)

    expected = rewrite_image(path, seed=1)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a write one ms later
    second = tiny_exp(data_dir, 0).get_dataset(cache=True, cache_type="disk")
    np.testing.assert_array_equal(second.read_img(3), second.load_resized_img(3))
    assert not np.array_equal(second.read_img(3), old)
    np.testing.assert_array_equal(second.read_img(3), expected)
    # The other 15 entries were reused, and the stale one is gone: one file per image.
    assert len(list(data_dir.glob("cache_*/*.npy"))) == 16


def test_disk_cache_write_is_atomic(tmp_path, monkeypatch):
    data_dir = make_tiny_sample(tmp_path / "sample")
    real_save = np.save

    def save_then_die(handle, arr):
        handle.write(b"\x93NUMPY half a file")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(cache_module.np, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        tiny_exp(data_dir, 0).get_dataset(cache=True, cache_type="disk")
    folder = next(data_dir.glob("cache_*"))
    assert sorted(os.listdir(folder)) == []  # neither a partial .npy nor a temp file is left

    monkeypatch.setattr(cache_module.np, "save", real_save)
    dataset = tiny_exp(data_dir, 0).get_dataset(cache=True, cache_type="disk")
    np.testing.assert_array_equal(dataset.read_img(0), dataset.load_resized_img(0))


def test_truncated_disk_entry_is_rebuilt(tmp_path):
    data_dir = make_tiny_sample(tmp_path / "sample")
    tiny_exp(data_dir, 0).get_dataset(cache=True, cache_type="disk")
    entry = sorted(data_dir.glob("cache_*/*.npy"))[0]
    entry.write_bytes(entry.read_bytes()[:200])  # a file cut short by a crash of an older writer
    dataset = tiny_exp(data_dir, 0).get_dataset(cache=True, cache_type="disk")
    index = next(i for i, rec in enumerate(dataset.records) if entry.name.startswith(rec.file_name[:-4] + "."))
    np.testing.assert_array_equal(dataset.read_img(index), dataset.load_resized_img(index))
