"""Stateless neural-network ops, PyTorch's `torch.nn.functional` names and semantics."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError
from ..ops import movement as M
from ..tensor import Tensor

__all__ = ["pad"]


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with a constant; `pad` lists (left, right) pairs starting from the LAST dim, as in
    torch.nn.functional.pad: pad=(1, 1) pads the last dim, (1, 1, 2, 2) the last two."""
    if mode != "constant":
        raise ArgumentError(f"pad: only mode='constant' is supported, got mode={mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ArgumentError(f"pad: expected an even number of pad sizes covering at most "
                            f"{input.ndim} dims (shape {input.shape}), got pad={tuple(pad)}")
    if any(int(p) < 0 for p in pad):
        raise ArgumentError(f"pad: negative padding is not supported, got pad={tuple(pad)}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
    width = [(0, 0)] * (input.ndim - len(pairs)) + pairs[::-1]
    return M.Pad.apply(input, tuple(width), value=value)
