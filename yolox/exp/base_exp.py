"""BaseExp: the abstract experiment and its command-line override mechanism (``merge``)."""
import ast
import difflib
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, Sequence

from tabulate import tabulate

__all__ = ["BaseExp", "cast_override"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def cast_override(key: str, value: Any, current: Any) -> Any:
    """Convert a command-line ``value`` (usually a str) to the type of the attribute's ``current`` value.

    bool accepts true/false/1/0/yes/no/on/off; tuple and list accept Python literals such as
    ``640,640`` or ``(640, 640)``; an attribute that is ``None`` takes a Python literal if the
    text is one, else the text itself.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if current is None:
        return _literal_or_text(text)
    if text == "None" and isinstance(current, (tuple, list)):
        return None  # e.g. random_size None: back to multiscale_range

    if isinstance(current, bool):
        lowered = text.lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ValueError(f"override {key}={value!r}: expected a boolean (true/false), the attribute is {current!r}")
    if isinstance(current, (int, float, str)):
        try:
            return type(current)(text)
        except ValueError:
            raise ValueError(
                f"override {key}={value!r}: expected {type(current).__name__} like the current value {current!r}"
            ) from None
    if isinstance(current, (tuple, list)):
        parsed = _literal_or_text(text if text[:1] in "([" else f"({text},)")
        if not isinstance(parsed, (tuple, list)):
            raise ValueError(f"override {key}={value!r}: expected a sequence like {current!r}")
        return type(current)(parsed)
    return _literal_or_text(text)


def _literal_or_text(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


class BaseExp(metaclass=ABCMeta):
    """An experiment: plain attributes that configure, methods that build. No training logic."""

    def __init__(self):
        self.seed = None
        self.output_dir = "./YOLOX_outputs"
        self.print_interval = 100
        self.eval_interval = 10
        self.dataset = None

    @abstractmethod
    def get_model(self):
        ...

    def merge(self, cfg_list: Sequence[Any]) -> None:
        """Apply ``KEY VALUE KEY VALUE ...`` overrides; unknown keys and uncastable values raise
        (``wandb-<key>`` pairs, the W&B logger's options, are left to it)."""
        if len(cfg_list) % 2 != 0:
            raise ValueError(f"overrides come in KEY VALUE pairs, got an odd number of items: {list(cfg_list)}")
        updates: Dict[str, Any] = {}
        for key, value in zip(cfg_list[0::2], cfg_list[1::2]):
            if isinstance(key, str) and key.startswith("wandb-"):
                # Megvii's tools/train.py hands its W&B options (-l wandb) to merge with the rest; they
                # are the logger's (TrainOptions.wandb_options), not attributes.
                continue
            if not isinstance(key, str) or key.startswith("_") or not hasattr(self, key):
                close = difflib.get_close_matches(str(key), self._public_attributes(), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise KeyError(f"unknown experiment attribute {key!r} in overrides{hint}")
            updates[key] = cast_override(key, value, getattr(self, key))
        self.check_overrides(updates)
        for key, value in updates.items():
            setattr(self, key, value)

    def check_overrides(self, updates: Dict[str, Any]) -> None:
        """Hook for ``merge``: raise ValueError when the cast ``updates`` ({attribute: value}) hold a
        value this experiment cannot take; nothing has been applied yet. Accepts all by default."""
        return None

    def _public_attributes(self) -> list:
        return [k for k, v in vars(self).items() if not k.startswith("_") and not callable(v)]

    def __repr__(self) -> str:
        rows = [(k, repr(v)) for k, v in vars(self).items() if not k.startswith("_") and k != "model"]
        return tabulate(rows, headers=["key", "value"], tablefmt="fancy_grid")
