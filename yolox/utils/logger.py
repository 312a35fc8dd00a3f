"""Training logs: loguru to the console and ``<output>/train_log.txt`` (rank 0 only)."""
import sys
from pathlib import Path
from typing import List, Union

from loguru import logger

__all__ = ["setup_logger", "remove_logger"]

_FORMAT = "<green>{time:YYYY-MM-DD HH:mm:ss}</green> | <level>{level: <8}</level> | {message}"


def setup_logger(save_dir: Union[str, Path], distributed_rank: int = 0, filename: str = "train_log.txt",
                 mode: str = "a") -> List[int]:
    """Log to ``save_dir/filename`` (appending on resume when ``mode="a"``). Ranks other than 0
    log warnings and errors only, to the console, so one run prints one stream.
    Returns the loguru handler ids, for ``remove_logger`` when training ends."""
    if distributed_rank != 0:
        logger.remove()
        return [logger.add(sys.stderr, level="WARNING", format=f"rank {distributed_rank} | " + _FORMAT)]
    path = Path(save_dir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "o" and path.exists():
        path.unlink()
    return [logger.add(str(path), level="INFO", format=_FORMAT, colorize=False, enqueue=False)]


def remove_logger(handler_ids: List[int]) -> None:
    for handler_id in handler_ids:
        try:
            logger.remove(handler_id)
        except ValueError:  # already removed (logger.remove() elsewhere)
            pass
