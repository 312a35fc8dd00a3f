"""Samplers, the loader (seeding, close_mosaic across workers), the prefetcher's CPU path, multiscale."""
import random

import numpy as np
import pytest
import torch
from _data_helpers import TinyDataset

from yolox.data import (DataLoader, DataPrefetcher, InfiniteSampler, MosaicDetection, TrainTransform,
                        YoloBatchSampler, random_input_size, resize_batch, worker_init_reset_seed)
from yolox.data.multiscale import multiscale_sizes


def _train_loader(dataset, seed, num_workers=2, batch_size=2, **kwargs):
    sampler = InfiniteSampler(len(dataset), seed=0)
    batches = YoloBatchSampler(sampler, batch_size, drop_last=False)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_sampler=batches, num_workers=num_workers, worker_init_fn=worker_init_reset_seed,
                      generator=generator, **kwargs)


def _first_batches(loader, n):
    it = iter(loader)
    out = [next(it) for _ in range(n)]
    if hasattr(it, "_shutdown_workers"):
        it._shutdown_workers()  # an endless sampler: stop the workers now rather than at garbage collection
    return out


def test_infinite_sampler_is_seeded_endless_and_sharded():
    a = list(zip(range(20), InfiniteSampler(7, seed=3)))
    b = list(zip(range(20), InfiniteSampler(7, seed=3)))
    assert a == b and sorted(i for _, i in a[:7]) == list(range(7))  # each pass is a permutation
    assert [i for _, i in a] != [i for _, i in zip(range(20), InfiniteSampler(7, seed=4))]
    full = [i for _, i in zip(range(20), InfiniteSampler(7, seed=3))]
    rank0 = [i for _, i in zip(range(10), InfiniteSampler(7, seed=3, rank=0, world_size=2))]
    rank1 = [i for _, i in zip(range(10), InfiniteSampler(7, seed=3, rank=1, world_size=2))]
    assert rank0 == full[0::2] and rank1 == full[1::2]
    assert list(zip(range(3), InfiniteSampler(3, shuffle=False))) == [(0, 0), (1, 1), (2, 2)]


def test_yolo_batch_sampler_carries_the_mosaic_flag():
    sampler = YoloBatchSampler(range(5), 2, drop_last=False)
    assert list(sampler) == [[(True, 0), (True, 1)], [(True, 2), (True, 3)], [(True, 4)]]
    sampler.mosaic = False
    assert next(iter(sampler)) == [(False, 0), (False, 1)]


def test_same_seed_same_batches_and_another_seed_other_batches():
    ds = MosaicDetection(TinyDataset(), (64, 64), preproc=TrainTransform(max_labels=30))
    first = _first_batches(_train_loader(ds, seed=7), 3)
    again = _first_batches(_train_loader(ds, seed=7), 3)
    other = _first_batches(_train_loader(ds, seed=8), 3)
    for (img_a, lab_a, _, ids_a), (img_b, lab_b, _, ids_b) in zip(first, again):
        assert torch.equal(img_a, img_b) and torch.equal(lab_a, lab_b) and torch.equal(ids_a, ids_b)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, other))


def test_different_workers_draw_different_augmentations():
    class SameImage(TinyDataset):
        def pull_item(self, index):
            return super().pull_item(0)  # every index is the same image: only the augmentation differs

        def load_anno(self, index):
            return super().load_anno(0)

    ds = MosaicDetection(SameImage(), (64, 64), preproc=TrainTransform(max_labels=30))
    worker0, worker1 = _first_batches(_train_loader(ds, seed=1, batch_size=1), 2)  # round-robin over workers
    assert not torch.equal(worker0[0], worker1[0])


def _seeded_loader(dataset, num_workers, start=0, run_seed=5, rank=0, batch_size=2):
    sampler = InfiniteSampler(len(dataset), seed=0, start=start)
    batches = YoloBatchSampler(sampler, batch_size, drop_last=False, seed=run_seed, rank=rank)
    # its own generator: the loader's base-seed draw is then not one of the process's draws
    return DataLoader(dataset, batch_sampler=batches, num_workers=num_workers, worker_init_fn=worker_init_reset_seed,
                      generator=torch.Generator().manual_seed(0))


def _assert_same_batches(first, second):
    assert len(first) == len(second)
    for (img_a, lab_a, _, ids_a), (img_b, lab_b, _, ids_b) in zip(first, second):
        assert torch.equal(ids_a, ids_b) and torch.equal(img_a, img_b) and torch.equal(lab_a, lab_b)


def test_seeded_samples_repeat_with_any_workers_and_after_a_fast_forward():
    """With a run seed each sample's augmentation depends on (seed, rank, position) only: 0 or 2
    workers, or a loader restarted after 3 batches (as --resume does), give the very same batches."""
    ds = MosaicDetection(TinyDataset(), (64, 64), preproc=TrainTransform(max_labels=30), mixup_prob=0.5)
    main_process = _first_batches(_seeded_loader(ds, num_workers=0), 6)
    _assert_same_batches(_first_batches(_seeded_loader(ds, num_workers=2), 6), main_process)
    resumed = _seeded_loader(ds, num_workers=2)
    resumed.fast_forward(3)
    _assert_same_batches(_first_batches(resumed, 3), main_process[3:])
    # another rank or run seed augments differently (the images, not just the order)
    for other in (_seeded_loader(ds, num_workers=0, rank=1), _seeded_loader(ds, num_workers=0, run_seed=6)):
        assert not all(torch.equal(a[0], b[0]) for a, b in zip(_first_batches(other, 6), main_process))


def test_seeded_samples_leave_the_main_process_rngs_alone():
    """Without workers the samples are made in the trainer's process: its own draws (multiscale
    sizes) must come out as if no sample had been made."""
    ds = MosaicDetection(TinyDataset(), (64, 64), preproc=TrainTransform(max_labels=30))
    random.seed(3), np.random.seed(3), torch.manual_seed(3)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(3), np.random.seed(3), torch.manual_seed(3)
    _first_batches(_seeded_loader(ds, num_workers=0), 2)
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected


def test_close_mosaic_reaches_the_workers():
    ds = MosaicDetection(TinyDataset(), (64, 64), preproc=None, enable_mixup=False)
    loader = _train_loader(ds, seed=0, num_workers=1, batch_size=1, collate_fn=lambda b: b, prefetch_factor=1)
    it = iter(loader)
    assert next(it)[0][0].shape == (64, 64, 3)  # mosaic output: the input size
    loader.close_mosaic()
    later = [next(it)[0] for _ in range(5)][2:]  # the first two were requested before closing
    it._shutdown_workers()
    for img, _, info, img_id in later:  # plain items report their original size, mosaics the input size
        assert info == ds.dataset.items[img_id][0].shape[:2] != (64, 64)
        assert img.shape == ds.dataset.pull_item(img_id)[0].shape


def test_dataloader_without_batch_sampler_builds_a_yolo_one():
    ds = MosaicDetection(TinyDataset(), (64, 64), preproc=TrainTransform(max_labels=30))
    loader = DataLoader(ds, batch_size=2, shuffle=False)
    assert isinstance(loader.batch_sampler, YoloBatchSampler) and loader.batch_sampler.mosaic is True
    images, labels, _, ids = next(iter(loader))
    assert images.shape == (2, 3, 64, 64) and labels.shape == (2, 30, 5) and ids.tolist() == [0, 1]


def test_worker_seed_follows_the_torch_seed():
    draws = []
    for _ in range(2):
        torch.manual_seed(11)
        worker_init_reset_seed(0)
        draws.append((random.random(), np.random.rand()))
    assert draws[0] == draws[1]


def test_prefetcher_hands_batches_through_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    batches = [(torch.full((1, 3), float(k)), torch.full((1, 2), float(k)), None, None) for k in range(2)]
    prefetcher = DataPrefetcher(batches)
    first, second, end = prefetcher.next(), prefetcher.next(), prefetcher.next()
    assert first[0][0, 0] == 0 and second[1][0, 0] == 1 and end == (None, None)



def test_the_trainers_gpu_batch_stream_is_a_closable_generator_over_the_prefetcher(monkeypatch):
    """The stream the trainer iterates on CUDA, run through the prefetcher's CPU path."""
    from yolox.core.trainer import _prefetched

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    batches = [(torch.full((1, 3), float(k)), torch.full((1, 2), float(k)), None, None) for k in range(3)]
    stream = _prefetched(DataPrefetcher(batches))
    assert [int(images[0, 0]) for images, _ in [next(stream), next(stream)]] == [0, 1]
    stream.close()  # what Trainer.close_loader does
    assert next(stream, "closed") == "closed"
    assert [int(targets[0, 0]) for _, targets in _prefetched(DataPrefetcher(batches))] == [0, 1, 2]

def test_multiscale_sizes_are_multiples_of_32_in_range_with_the_aspect_kept():
    rng = random.Random(0)
    sizes = {random_input_size((640, 960), multiscale_range=5, rng=rng) for _ in range(200)}
    assert {h for h, _ in sizes} == {32 * f for f in range(15, 26)}
    assert all(w == 32 * int(h / 32 * 1.5) for h, w in sizes)
    assert multiscale_sizes((640, 640), 5, random_size=(10, 20)) == (10, 20)
    assert {random_input_size((640, 640), random_size=(14, 14), rng=rng)} == {(448, 448)}


def test_resize_batch_scales_images_and_labels():
    images = torch.zeros(2, 3, 64, 96)
    targets = torch.tensor([[[1, 32.0, 16.0, 8.0, 4.0]], [[0, 48.0, 32.0, 16.0, 16.0]]])
    out, labels = resize_batch(images, targets.clone(), (32, 192), (64, 96))
    assert out.shape == (2, 3, 32, 192)
    np.testing.assert_allclose(labels[0, 0].tolist(), [1, 64, 8, 16, 2])
    same, unchanged = resize_batch(images, targets.clone(), (64, 96), (64, 96))
    assert same is images and torch.equal(unchanged, targets)


@pytest.mark.cuda
def test_prefetcher_moves_batches_to_the_gpu():
    batches = [(torch.ones(2, 3), torch.zeros(2, 5), None, None)]
    inputs, targets = DataPrefetcher(batches).next()
    assert inputs.is_cuda and targets.is_cuda and inputs.sum().item() == 6


@pytest.mark.cuda
def test_prefetcher_copies_pinned_batches_to_its_own_device():
    device = torch.device("cuda", torch.cuda.device_count() - 1)  # the last GPU, whichever is current
    batches = [(torch.ones(2, 3).pin_memory(), torch.zeros(2, 5).pin_memory(), None, None)] * 2
    prefetcher = DataPrefetcher(batches, device=device)
    for _ in range(2):
        inputs, targets = prefetcher.next()
        assert inputs.device == targets.device == device and inputs.sum().item() == 6


def test_prefetcher_on_a_cpu_device_passes_batches_through():
    batches = [(torch.ones(2, 3), torch.zeros(2, 5), None, None)]
    inputs, _ = DataPrefetcher(batches, device="cpu").next()
    assert inputs is batches[0][0]


@pytest.mark.slow  # starts a loader worker
def test_workers_ignore_a_schedulers_sigterm_but_end_on_their_parents():
    """A scheduler signals every process of a job: the worker must survive that SIGTERM (the trainer
    is writing its checkpoint) and SIGUSR1, yet end on its parent's SIGTERM (the loader's own
    shutdown), or exits would hang."""
    import os
    import signal
    import subprocess
    import time

    ds = MosaicDetection(TinyDataset(), (64, 64), preproc=TrainTransform(max_labels=30))
    it = iter(_train_loader(ds, seed=0, num_workers=1))
    next(it)
    worker = it._workers[0]
    for name in ("TERM", "USR1"):  # from another process, as slurmstepd would send them
        subprocess.run(["kill", f"-{name}", str(worker.pid)], check=True)
    time.sleep(1.0)
    assert worker.is_alive()
    next(it)  # and still makes batches
    os.kill(worker.pid, signal.SIGTERM)  # from the parent, as multiprocessing's terminate() does
    worker.join(timeout=10)
    assert not worker.is_alive() and worker.exitcode == 0
    it._shutdown_workers()
