"""Pooling (max, average, adaptive; 1-D and 2-D) and resampling (Upsample)."""
from __future__ import annotations

from typing import Any

from ...argcheck import check_number
from ...errors import ShapeError
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from ._common import _check_tensor, _named_call

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "MaxUnpool2d",
           "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Upsample"]


class _Pool2d(Module):
    # the functional op by dimensionality, and the accepted input layouts
    _ops = {2: ("max_pool2d", "avg_pool2d"), 1: ("max_pool1d", "avg_pool1d"), 3: ("max_pool3d", "avg_pool3d")}
    _dims = 2

    def _label(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"

    _layouts = {3: ("5-D input (N, C, D, H, W) or 4-D (C, D, H, W)", (4, 5)),
                2: ("4-D input (N, C, H, W) or 3-D (C, H, W)", (3, 4)),
                1: ("3-D input (N, C, L) or 2-D (C, L)", (2, 3))}

    def _check(self, input: Any) -> None:
        _check_tensor(self, input)
        layouts = self._layouts[self._dims]
        if input.ndim not in layouts[1]:
            raise ShapeError(f"{self._label()} expects a {layouts[0]}, got shape "
                             f"{tuple(input.shape)}{self._where()}")

    def _run(self, kind: int, input: Tensor, **kwargs: Any) -> Any:
        """kind 0: max pooling, 1: average pooling, in this module's dimensionality."""
        self._check(input)
        fn = getattr(F, self._ops[self._dims][kind])
        return _named_call(self, self._label, fn, input, self.kernel_size, self.stride, self.padding,
                           **kwargs)


class MaxPool2d(_Pool2d):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        return self._run(0, input, dilation=self.dilation, ceil_mode=self.ceil_mode,
                         return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(_Pool2d):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        extra = {} if self.divisor_override is None else {"divisor_override": self.divisor_override}
        return self._run(1, input, ceil_mode=self.ceil_mode,
                         count_include_pad=self.count_include_pad, **extra)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(MaxPool2d):
    """Max over windows of length kernel_size along L: input (N, C, L) or (C, L)."""
    _dims = 1


class AvgPool1d(AvgPool2d):
    """Mean over windows of length kernel_size along L: input (N, C, L) or (C, L)."""
    _dims = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        one = lambda v: v if v is None or isinstance(v, tuple) else (v,)   # PyTorch keeps 1-tuples here
        super().__init__(one(kernel_size), one(stride), one(padding), ceil_mode, count_include_pad)


class _AdaptivePool2d(Module):
    _dims = 2

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def _run(self, fn: Any, input: Tensor, **kwargs: Any) -> Any:
        _check_tensor(self, input)
        if self._dims == 1:                                  # the 1-D functional op of fn
            fn = getattr(F, fn.__name__.replace("2d", "1d"))
        return _named_call(self, f"{type(self).__name__}(output_size={self.output_size!r})", fn, input,
                           self.output_size, **kwargs)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size!r}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """Mean over windows that split the input into output_size (e.g. (1, 1): global average)."""

    def forward(self, input: Tensor) -> Tensor:
        return self._run(F.adaptive_avg_pool2d, input)


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """Max over windows that split the input into output_size."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return self._run(F.adaptive_max_pool2d, input, return_indices=self.return_indices)


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Mean over windows that split L into output_size: input (N, C, L) or (C, L)."""
    _dims = 1


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max over windows that split L into output_size: input (N, C, L) or (C, L)."""
    _dims = 1


class Upsample(Module):
    """F.interpolate as a layer: nearest or bilinear resampling to `size` or by `scale_factor`."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        if isinstance(scale_factor, (tuple, list)):
            scale_factor = tuple(float(check_number(f, "scale_factor", "Upsample")) for f in scale_factor)
        elif scale_factor is not None:
            scale_factor = float(check_number(scale_factor, "scale_factor", "Upsample"))
        self.scale_factor = scale_factor   # F.interpolate checks the values on the first forward

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        return _named_call(self, type(self).__name__, F.interpolate, input, self.size,
                           self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size!r}" if self.size is not None else f"scale_factor={self.scale_factor!r}"
        return f"{what}, mode={self.mode!r}"


class MaxPool3d(MaxPool2d):
    """Max over KD×KH×KW windows of (N, C, D, H, W), as F.max_pool3d."""
    _dims = 3


class AvgPool3d(AvgPool2d):
    """Mean over KD×KH×KW windows of (N, C, D, H, W), as F.avg_pool3d."""
    _dims = 3


class MaxUnpool2d(Module):
    """Undo MaxPool2d(return_indices=True): `unpool(values, indices, output_size=None)` puts each
    value back where it came from, zeros elsewhere (F.max_unpool2d)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def _label(self) -> str:
        return f"MaxUnpool2d(kernel_size={self.kernel_size}, stride={self.stride})"

    def forward(self, input: Tensor, indices: Any, output_size: Any = None) -> Tensor:
        _check_tensor(self, input)
        return _named_call(self, self._label(), F.max_unpool2d, input, indices, self.kernel_size,
                           self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
