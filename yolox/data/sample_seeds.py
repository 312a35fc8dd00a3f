"""One seed per training sample, from where the sample sits in the run's stream.

Augmentations draw from ``random`` and ``np.random``. Seeded once per loader worker, each
worker's draws depend on how many samples that worker made before: a resumed run (new workers,
the first batch going to worker 0) or another ``data_num_workers`` augments differently. Seeding
each sample from (run seed, rank, position of the sample in the rank's index stream) makes its
augmentation a function of those three alone: the same whether made by worker 0, worker 3 or the
main process, before or after a ``--resume``. The position counts over the whole run, so it also
tells epochs apart.
"""
import contextlib
import random
from typing import Iterator

import numpy as np
import torch

__all__ = ["sample_seed", "seeded_rngs"]


def sample_seed(*, run_seed: int, rank: int, position: int) -> int:
    """A 32-bit seed for the sample at ``position`` of ``rank``'s stream (SeedSequence mixes the
    three, so neighbouring positions give unrelated seeds)."""
    return int(np.random.SeedSequence([int(run_seed) % 2 ** 63, int(rank), int(position)]).generate_state(1)[0])


@contextlib.contextmanager
def seeded_rngs(seed: int) -> Iterator[None]:
    """``random``, ``np.random`` and torch's CPU RNG seeded with ``seed`` inside the block, and put
    back as they were after it: in the main process (no workers) the trainer's own draws, such as
    the multiscale sizes, must not depend on how many samples were made."""
    python_state, numpy_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.random.default_generator.manual_seed(seed)  # the CPU generator only: CUDA's is the trainer's
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
