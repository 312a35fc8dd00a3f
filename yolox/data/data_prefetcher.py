"""DataPrefetcher: copies the next batch to the GPU on a side CUDA stream while the current one trains."""
from typing import Iterable, Optional, Tuple

import torch

__all__ = ["DataPrefetcher"]


class DataPrefetcher:
    """``next()`` -> (inputs, targets) already on the GPU; (None, None) when the loader is exhausted.

    Without CUDA it hands the CPU tensors through unchanged, so code written against it also runs
    on a CPU (where the trainer can simply iterate the loader instead).
    """

    def __init__(self, loader: Iterable):
        self.loader = iter(loader)
        self.use_cuda = torch.cuda.is_available()
        self.stream = torch.cuda.Stream() if self.use_cuda else None
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
        with torch.cuda.stream(self.stream):
            self.next_input = self.next_input.cuda(non_blocking=True)
            self.next_target = self.next_target.cuda(non_blocking=True)

    def next(self) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        if self.use_cuda:
            torch.cuda.current_stream().wait_stream(self.stream)
        inputs, targets = self.next_input, self.next_target
        if self.use_cuda and inputs is not None:
            # Tell the caching allocator these tensors are used on the main stream now.
            inputs.record_stream(torch.cuda.current_stream())
            targets.record_stream(torch.cuda.current_stream())
        self.preload()
        return inputs, targets
