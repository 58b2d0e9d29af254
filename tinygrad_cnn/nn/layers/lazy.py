"""LazyLinear and LazyConv2d: layers whose input size is read from the first input.

Until the first forward their weight and bias are `UninitializedParameter`s (empty). The first
forward sets in_features / in_channels from the input, gives the parameters their shapes IN
PLACE (the same Parameter objects, so an optimizer built before the dry run keeps working),
initialises them as the eager layer does, and turns the module into a plain Linear / Conv2d
(as PyTorch's `cls_to_become`). `load_state_dict` before the first forward gives them the
checkpoint's shapes instead (and the first forward then keeps the loaded values)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...argcheck import allocate, check_flag, check_int
from ...errors import ArgumentError, ShapeError
from ...tensor import Tensor
from ..module import Module, Parameter
from ._common import _check_tensor, _float_dtype
from .conv import Conv2d, _ConvNd
from .linear import Linear

__all__ = ["UninitializedParameter", "LazyLinear", "LazyConv2d"]


class UninitializedParameter(Parameter):
    """A parameter without a shape yet (an empty array); a lazy layer's first forward
    materialises it."""

    __slots__ = ()

    def __init__(self, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(np.empty(0, _float_dtype(dtype)), requires_grad)

    def materialize(self, shape: tuple) -> None:
        """Give the parameter its shape (uninitialised values) and make it a plain Parameter."""
        self.data = allocate(shape, self.dtype, "UninitializedParameter.materialize")
        self.__class__ = Parameter

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class _LazyMixin:
    """The first call materialises the parameters from the input, then behaves as cls_to_become."""
    cls_to_become: type

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            _check_tensor(self, args[0])
            if self.has_uninitialized_params():
                self.initialize_parameters(args[0])
                self.reset_parameters()
            else:                                   # materialised by load_state_dict
                self.adopt_loaded_shapes()
            self.__class__ = self.cls_to_become
        return Module.__call__(self, *args, **kwargs)


class LazyLinear(_LazyMixin, Linear):
    """Linear(in_features inferred from the input's last dim, out_features)."""
    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        Module.__init__(self)
        out_features = check_int(out_features, "out_features", "LazyLinear", minimum=0)
        bias = check_flag(bias, "bias", "LazyLinear")
        if out_features < 0:
            raise ArgumentError(f"LazyLinear: out_features must be non-negative, got {out_features}")
        self.in_features, self.out_features = 0, int(out_features)
        self.weight = UninitializedParameter(dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)
        else:
            self.register_parameter("bias", None)

    def initialize_parameters(self, input: Tensor) -> None:
        if input.ndim == 0:
            raise ShapeError(f"LazyLinear got a 0-d input; it needs (*, in_features){self._where()}")
        self.in_features = int(input.shape[-1])
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))

    def adopt_loaded_shapes(self) -> None:
        self.in_features = int(self.weight.shape[1])

    def _label(self) -> str:
        return f"LazyLinear(?→{self.out_features})"


class LazyConv2d(_LazyMixin, Conv2d):
    """Conv2d(in_channels inferred from the input's channel dim, out_channels, kernel_size, ...)."""
    cls_to_become = Conv2d

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        # build as a conv with `groups` input channels (so the checks run), then forget them
        _ConvNd.__init__(self, groups, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)
        self.in_channels = 0
        self.weight = UninitializedParameter(dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def initialize_parameters(self, input: Tensor) -> None:
        if input.ndim not in (3, 4):
            raise ShapeError(f"LazyConv2d expects a 4-D input (N, C, H, W) or a 3-D (C, H, W), got "
                             f"shape {tuple(input.shape)}{self._where()}")
        c = int(input.shape[-3])
        if c % self.groups:
            raise ShapeError(f"LazyConv2d: the input's {c} channels are not divisible by groups="
                             f"{self.groups} (input shape {tuple(input.shape)}){self._where()}")
        self.in_channels = c
        self.weight.materialize((self.out_channels, c // self.groups) + self.kernel_size)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))

    def adopt_loaded_shapes(self) -> None:
        self.in_channels = int(self.weight.shape[1]) * self.groups

    def _label(self) -> str:
        k = "×".join(str(v) for v in self.kernel_size)
        return f"LazyConv2d(?→{self.out_channels}, kernel {k})"
