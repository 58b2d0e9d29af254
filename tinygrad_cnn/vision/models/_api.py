"""What every model builder shares: the `weights=` check (nothing is ever downloaded) and
torchvision's `_make_divisible` channel rounding.

Framework-free on purpose: tests/torch_twin.py builds the model files with torch, and this module
serves both builds unchanged.
"""
from __future__ import annotations

from typing import Any

from ...errors import ArgumentError

__all__ = ["check_weights", "make_divisible"]


def check_weights(builder: str, weights: Any, kwargs: dict) -> None:
    """Refuse pretrained weights with a clear error: this framework ships no weight files and
    never downloads any. `weights=None` (and the deprecated `pretrained=False`) build a randomly
    initialised model, as torchvision does; anything else raises ArgumentError."""
    pretrained = kwargs.pop("pretrained", False)
    kwargs.pop("progress", None)                      # torchvision's download progress bar
    if weights is None and not pretrained:
        return
    given = f"weights={weights!r}" if weights is not None else f"pretrained={pretrained!r}"
    raise ArgumentError(
        f"{builder}: {given} asks for pretrained weights, but tinygrad_cnn.vision downloads and "
        f"ships none; build with weights=None (random initialisation, torchvision's scheme) and "
        f"load a state dict you have with model.load_state_dict(tc.load(path)) - a torchvision "
        f"state dict loads unchanged")


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of `divisor` (at least `min_value`, never
    more than 10 % below v), as torchvision's `_make_divisible` (MobileNet's width multiplier)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
