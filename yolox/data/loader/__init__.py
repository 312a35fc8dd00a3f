"""The project's data loaders: torch DataLoaders with reused batch slots, a watch on stalled
workers, malloc tuning and an OpenCV guard for forked workers.

This package is the one place in yolox that depends on torch's private loader API, all of it
behind ``torch_private.py``; ``YOLOX_FAST_LOADER=0`` turns every part that needs it off
(``switches.py``). Datasets and augmentations do not import it; ``yolox.data`` re-exports its
public names.

Modules: ``base_loader`` (BatchSlotLoader, what each loader uses), ``training_loader``
(DataLoader), ``worker_init`` (worker seeding and signals), ``slots``, ``watchdog``,
``malloc_tuning``, ``opencv_fork``, ``switches``, ``torch_private``.
"""
from .base_loader import BatchSlotLoader
from .switches import fast_loader_enabled
from .training_loader import DataLoader
from .worker_init import shield_worker_from_preemption, worker_init_reset_seed

__all__ = ["BatchSlotLoader", "DataLoader", "fast_loader_enabled", "shield_worker_from_preemption",
           "worker_init_reset_seed"]
