"""Run a detector over an evaluation loader: forward, post-process, time both.

Shared by the COCO and VOC evaluators. The loader yields ``(images, targets, img_infos, img_ids)``
batches (the eval dataset's items collated): images [B, 3, H, W] letterboxed, ``img_infos`` the
original (height, width) of each image, ``img_ids`` the dataset's image ids.
"""
import time
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn
from tqdm import tqdm

from yolox.utils.boxes import postprocess
from yolox.utils.precision import Precision

__all__ = ["ImagePrediction", "InferenceTiming", "predict_loader", "split_image_infos"]


@dataclass
class ImagePrediction:
    """The detections of one image, still in letterboxed input pixels.

    detections: [N, 7] x1, y1, x2, y2, objectness, class confidence, contiguous class index
    (float32, CPU), or None when nothing passed the score threshold.
    """

    image_id: int
    orig_size: Tuple[int, int]  # (height, width) of the original image
    detections: Optional[torch.Tensor]


@dataclass
class InferenceTiming:
    """Wall time spent in the forward pass and in post-processing (score filter + NMS)."""

    images: int = 0
    forward_s: float = 0.0
    nms_s: float = 0.0

    @property
    def forward_ms_per_image(self) -> float:
        return 1000.0 * self.forward_s / max(self.images, 1)

    @property
    def nms_ms_per_image(self) -> float:
        return 1000.0 * self.nms_s / max(self.images, 1)

    def summary_line(self) -> str:
        return (f"Average forward time: {self.forward_ms_per_image:.2f} ms, "
                f"Average NMS time: {self.nms_ms_per_image:.2f} ms, "
                f"Average inference time: {self.forward_ms_per_image + self.nms_ms_per_image:.2f} ms "
                f"(per image, {self.images} images)")


def split_image_infos(img_infos, batch_size: int) -> List[Tuple[int, int]]:
    """The original (height, width) of each image of a batch.

    Accepts what PyTorch's default collate makes of per-item ``(h, w)`` tuples (two tensors of
    length B: heights, widths), a [B, 2] tensor, or a plain list of B ``(h, w)`` pairs.
    """
    if isinstance(img_infos, torch.Tensor) and img_infos.dim() == 2 and img_infos.shape == (batch_size, 2):
        return [(int(h), int(w)) for h, w in img_infos.tolist()]
    if len(img_infos) == 2 and all(isinstance(v, torch.Tensor) and v.dim() == 1 for v in img_infos):
        heights, widths = img_infos
        if len(heights) == batch_size:
            return [(int(h), int(w)) for h, w in zip(heights.tolist(), widths.tolist())]
    if len(img_infos) == batch_size:
        return [(int(info[0]), int(info[1])) for info in img_infos]
    raise ValueError(f"eval loader: cannot read the original (height, width) of {batch_size} images from "
                     f"img_infos of type {type(img_infos).__name__}; expected two length-{batch_size} tensors "
                     f"(heights, widths) or {batch_size} (h, w) pairs")


def _progress(loader: Iterable, enabled: bool) -> Iterable:
    """A tqdm bar over ``loader`` when ``enabled``; the plain loader otherwise."""
    if not enabled:
        return loader
    return tqdm(loader, desc="evaluating", unit="batch", dynamic_ncols=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device, half: Union[bool, str, None]):
    """The autocast of ``half`` (True: fp16 on CUDA, bf16 on a CPU; or "fp16" / "bf16" by name:
    ``Precision.resolve``). The model itself is never cast: it may be the EMA copy that training
    keeps updating in float32."""
    return Precision.resolve(half, device).autocast()


@torch.no_grad()
def predict_loader(model: Union[nn.Module, Callable], dataloader: Iterable, *, num_classes: int, confthre: float,
                   nmsthre: float, half: Union[bool, str, None] = False,
                   progress: bool = True) -> Tuple[List[ImagePrediction], InferenceTiming]:
    """Predict every image of ``dataloader`` with ``model`` (put in eval mode, restored afterwards).

    model: an nn.Module, or any callable from images [B, 3, h, w] to decoded outputs [B, A, 5 + C]
    (a Detector backend's adapter: without parameters, it runs on its ``device``, else the CPU).
    Returns one ImagePrediction per image, in loader order, and the timing of the whole pass.
    """
    device = _device_of(model)
    is_module = isinstance(model, nn.Module)
    was_training = model.training if is_module else False
    if is_module:
        model.eval()
    timing = InferenceTiming()
    predictions: List[ImagePrediction] = []
    try:
        for images, _targets, img_infos, img_ids in _progress(dataloader, progress):
            images = images.to(device=device, dtype=torch.float32)
            _sync(device)
            start = time.perf_counter()
            with _autocast(device, half):
                outputs = model(images)  # [B, A, 5 + C]
            _sync(device)
            mid = time.perf_counter()
            detections = postprocess(outputs.float(), num_classes, confthre, nmsthre)
            _sync(device)
            timing.forward_s += mid - start
            timing.nms_s += time.perf_counter() - mid
            timing.images += images.shape[0]
            predictions.extend(_per_image(detections, img_infos, img_ids))
    finally:
        if is_module:
            model.train(was_training)
    return predictions, timing


def _device_of(model) -> torch.device:
    """Where ``model`` runs: its first parameter's device, else its ``device`` attribute, else the CPU."""
    parameters = model.parameters() if isinstance(model, nn.Module) else iter(())
    first = next(parameters, None)
    return first.device if first is not None else torch.device(getattr(model, "device", "cpu"))


def _per_image(detections: Sequence[Optional[torch.Tensor]], img_infos, img_ids) -> List[ImagePrediction]:
    sizes = split_image_infos(img_infos, len(detections))
    ids = img_ids.tolist() if isinstance(img_ids, torch.Tensor) else list(img_ids)
    return [
        ImagePrediction(image_id=int(image_id), orig_size=size, detections=None if det is None else det.cpu())
        for det, size, image_id in zip(detections, sizes, ids)
    ]
