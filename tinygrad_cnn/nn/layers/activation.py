"""Activations: ReLU and friends, softmax, log-softmax."""
from __future__ import annotations

from ...argcheck import check_flag
from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "GELU", "ELU", "Softplus", "Hardtanh",
           "ReLU6", "Hardsigmoid", "Hardswish", "Softmax", "LogSoftmax"]


class ReLU(Module):
    """max(x, 0). `inplace` is accepted for porting and ignored (the result is a new tensor)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = check_flag(inplace, "inplace", type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x if x > 0 else negative_slope·x (`inplace` accepted and ignored)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = check_flag(inplace, "inplace", type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class _Pointwise(Module):
    """A module that applies one functional activation with fixed keyword arguments.
    `inplace` is accepted for porting and ignored (the result is a new tensor)."""
    _fn = ""
    _args: tuple[str, ...] = ()

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = check_flag(inplace, "inplace", type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, self._fn)(input, **{a: getattr(self, a) for a in self._args})

    def extra_repr(self) -> str:
        parts = [f"{a}={getattr(self, a)!r}" for a in self._args]
        return ", ".join(parts + (["inplace=True"] if getattr(self, "inplace", False) else []))


class SiLU(_Pointwise):
    _fn = "silu"


class GELU(_Pointwise):
    _fn, _args = "gelu", ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate


class ELU(_Pointwise):
    _fn, _args = "elu", ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha


class Softplus(_Pointwise):
    _fn, _args = "softplus", ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold


class Hardtanh(_Pointwise):
    _fn, _args = "hardtanh", ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.min_val, self.max_val = min_val, max_val


class ReLU6(_Pointwise):
    _fn = "relu6"


class Hardsigmoid(_Pointwise):
    _fn = "hardsigmoid"


class Hardswish(_Pointwise):
    _fn = "hardswish"


class Sigmoid(Module):
    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


def _softmax_dim(ndim: int) -> int:
    """PyTorch's implicit dim for Softmax(dim=None): 0 for 0-, 1- and 3-D inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim if self.dim is not None else _softmax_dim(input.ndim))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim if self.dim is not None else _softmax_dim(input.ndim))
