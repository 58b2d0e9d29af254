"""Padding layers: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad, CircularPad (1-D, 2-D)."""
from __future__ import annotations

from typing import Any

from ...argcheck import check_number
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ._common import _ntuple, _check_tensor, _named_call

__all__ = ["ConstantPad1d", "ConstantPad2d", "ZeroPad1d", "ZeroPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d"]


class _PadNd(Module):
    """F.pad as a layer over the last `_dims` dims; padding an int (all sides) or the 2·dims
    tuple (left, right[, top, bottom])."""
    _dims, _mode = 2, "constant"

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims, "padding", type(self).__name__, minimum=0)
        self.value = check_number(value, "value", type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        return _named_call(self, type(self).__name__, F.pad, input, self.padding, self._mode, self.value)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pads the last dim with `value`."""
    _dims = 1

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    """Pads the last two dims with `value`."""
    _dims = 2


class ZeroPad1d(_PadNd):
    """Pads the last dim with zeros."""
    _dims = 1

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)


class ZeroPad2d(ZeroPad1d):
    """Pads the last two dims with zeros."""
    _dims = 2


class ReflectionPad1d(ZeroPad1d):
    """Pads the last dim with its mirror image, the edge not repeated."""
    _mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """Pads the last two dims with their mirror image, the edge not repeated."""
    _dims = 2


class ReplicationPad1d(ZeroPad1d):
    """Pads the last dim by repeating its edge values."""
    _mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """Pads the last two dims by repeating their edge values."""
    _dims = 2


class CircularPad1d(ZeroPad1d):
    """Pads the last dim by wrapping around (periodic)."""
    _mode = "circular"


class CircularPad2d(CircularPad1d):
    """Pads the last two dims by wrapping around (periodic)."""
    _dims = 2
