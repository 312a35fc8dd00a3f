"""DataPrefetcher: copies the next batch to the GPU on a side CUDA stream while the current one trains."""
from typing import Iterable, Optional, Tuple, Union

import torch
from loguru import logger

__all__ = ["DataPrefetcher"]


class DataPrefetcher:
    """``next()`` -> (inputs, targets) already on the GPU; (None, None) when the loader is exhausted.

    Without CUDA (or with ``device`` a CPU) it hands the CPU tensors through unchanged, so code
    written against it also runs on a CPU (where the trainer can simply iterate the loader instead).
    ``device``: the GPU to copy to, the trainer's own (default: the current GPU). The side stream,
    the copies and the main stream it syncs with are all that device's, whichever GPU is current.
    """

    def __init__(self, loader: Iterable, device: Union[str, torch.device, None] = None):
        self.loader = iter(loader)
        if device is None:
            device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.use_cuda = self.device.type == "cuda"
        self.stream = torch.cuda.Stream(device=self.device) if self.use_cuda else None
        self._said_unpinned = False
        self.next_input: Optional[torch.Tensor] = None
        self.next_target: Optional[torch.Tensor] = None
        self.preload()

    def preload(self) -> None:
        try:
            self.next_input, self.next_target, _, _ = next(self.loader)
        except StopIteration:
            self.next_input, self.next_target = None, None
            return
        if not self.use_cuda:
            return
        if not self._said_unpinned and not self.next_input.is_pinned():
            # A copy from pageable memory waits for the host: no overlap with the training step.
            logger.info("the loader's batches are not in pinned memory (pin_memory=True): host-to-GPU copies "
                        "will not overlap with training")
            self._said_unpinned = True
        with torch.cuda.stream(self.stream):
            self.next_input = self.next_input.to(self.device, non_blocking=True)
            self.next_target = self.next_target.to(self.device, non_blocking=True)

    def next(self) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        main = torch.cuda.current_stream(self.device) if self.use_cuda else None
        if main is not None:
            main.wait_stream(self.stream)
        inputs, targets = self.next_input, self.next_target
        if main is not None and inputs is not None:
            # Tell the caching allocator these tensors are used on the main stream now.
            inputs.record_stream(main)
            targets.record_stream(main)
        self.preload()
        return inputs, targets
