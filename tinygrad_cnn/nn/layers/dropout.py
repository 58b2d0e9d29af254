"""Dropout and Dropout2d."""
from __future__ import annotations

from ...argcheck import check_flag, check_number
from ...errors import ArgumentError
from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["Dropout", "Dropout2d"]


class Dropout(Module):
    """Zero each element with probability p during training and scale the rest by 1/(1-p);
    the identity in eval mode. Draws from the framework's seeded generator."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        p = check_number(p, "p", type(self).__name__)
        inplace = check_flag(inplace, "inplace", type(self).__name__)
        if not 0 <= p <= 1:
            raise ArgumentError(f"{type(self).__name__}: probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels (every H×W map) with probability p during training, scale the rest
    by 1/(1-p); input (N, C, H, W) or (C, H, W)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)
