"""PixelShuffle and PixelUnshuffle: channels to space and back (sub-pixel convolution)."""
from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ._common import _check_tensor, _named_call

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """(*, C·r², H, W) -> (*, C, H·r, W·r) (Shi et al., 2016), as F.pixel_shuffle."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        return _named_call(self, self._label(), F.pixel_shuffle, input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) -> (*, C·r², H, W), as F.pixel_unshuffle."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        return _named_call(self, self._label(), F.pixel_unshuffle, input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
