"""Identity, Linear and Flatten."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...argcheck import allocate, check_flag, check_int
from ...errors import ArgumentError, ShapeError
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module, Parameter
from ._common import _check_tensor, _float_dtype

__all__ = ["Identity", "Linear", "Flatten"]


class Identity(Module):
    """Returns its input; any constructor arguments are ignored (as in PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


# ------------------------------------------------------------------------------------ Linear
class Linear(Module):
    """y = x Wᵀ + b, W of shape (out_features, in_features). Input (*, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        in_features = check_int(in_features, "in_features", "Linear", minimum=0)
        out_features = check_int(out_features, "out_features", "Linear", minimum=0)
        bias = check_flag(bias, "bias", "Linear")
        dtype = _float_dtype(dtype, "Linear")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(allocate((out_features, in_features), dtype, "Linear"))
        if bias:
            self.bias = Parameter(allocate(out_features, dtype, "Linear"))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: W ~ kaiming_uniform_(a=√5) = U(±1/√in), b ~ U(±1/√in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _label(self) -> str:
        return f"Linear({self.in_features}→{self.out_features})"

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            got = input.shape[-1] if input.ndim else "no"
            raise ShapeError(f"{self._label()} got input with {got} features (input shape "
                             f"{tuple(input.shape)}), expected {self.in_features} in the last "
                             f"dim{self._where()}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flatten dims start_dim..end_dim (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
