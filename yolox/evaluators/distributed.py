"""Collecting per-rank predictions on rank 0 and sharing its scores with every rank."""
from typing import Any, List, Sequence

import torch.distributed as dist

from yolox.utils.dist import gather

__all__ = ["is_distributed", "gather_predictions", "broadcast_from_main"]


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_predictions(predictions: Sequence[Any]) -> List[Any]:
    """All ranks' ``predictions`` (objects with an ``image_id``) concatenated on rank 0, each image
    once: a distributed sampler pads the last rounds with repeated images. Other ranks get []."""
    if not is_distributed():
        return list(predictions)
    gathered = gather(list(predictions), dst=0)  # [] on other ranks
    seen, unique = set(), []
    for rank_predictions in gathered:
        for prediction in rank_predictions:
            if prediction.image_id not in seen:
                seen.add(prediction.image_id)
                unique.append(prediction)
    return unique


def broadcast_from_main(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (so all ranks agree on AP for best-checkpoint decisions)."""
    if not is_distributed():
        return obj
    box = [obj if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]
