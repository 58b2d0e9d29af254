"""`Call`: one recorded op as its converter sees it (ops.py): the Function, its arguments, the
ONNX names of its tensor inputs, the shapes in both traces, and where it came from."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Context
from .builder import GraphBuilder
from .trace import ExportError

__all__ = ["Call"]


class Call:
    """What a converter gets. `inputs[i]` is the ONNX name of positional input i (None for a
    non-tensor argument or an absent optional tensor); the converter returns the names of the
    outputs it made (ops.py). `other` is the same op in the companion trace (trace.py): its
    sizes differ from `ctx`'s exactly along the dynamic axes."""

    def __init__(self, g: GraphBuilder, ctx: Context, other: Context | None,
                 inputs: list[str | None], where: str, elide: bool = False) -> None:
        self.g, self.ctx, self.other = g, ctx, other
        self.fn = ctx.fn
        self.kwargs = ctx.kwargs
        self.inputs, self.where = inputs, where
        self.elide = elide          # Expand only: every consumer broadcasts by itself

    @property
    def name(self) -> str:
        return self.fn.__name__

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        """An argument given positionally (at `index`) or by keyword (`name`)."""
        if index < len(self.ctx.inputs):
            return self.ctx.inputs[index]
        return self.kwargs.get(name, default)

    def arg_b(self, index: int, name: str, default: Any = None) -> Any:
        ctx = self.other or self.ctx
        if index < len(ctx.inputs):
            return ctx.inputs[index]
        return ctx.kwargs.get(name, default)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.ctx.outputs_meta[0][1])

    def in_shape(self, i: int = 0) -> tuple[int, ...]:
        return tuple(self.ctx.inputs[i].shape)

    def in_shape_b(self, i: int = 0) -> tuple[int, ...]:
        return tuple((self.other or self.ctx).inputs[i].shape)

    def out_shape(self, nr: int = 0) -> tuple[int, ...]:
        return tuple(self.ctx.outputs_meta[nr][0])

    def out_shape_b(self, nr: int = 0) -> tuple[int, ...]:
        return tuple((self.other or self.ctx).outputs_meta[nr][0])

    def operand(self, i: int) -> str:
        """Input i as an ONNX name: a tensor's value, or a Python number as a constant of the
        output's dtype (x + 1, 2 * x)."""
        if self.inputs[i] is not None:
            return self.inputs[i]
        value = self.ctx.inputs[i]
        if isinstance(value, (bool, int, float, np.number)):
            return self.g.const(value, self.dtype)
        raise self.fail(f"input {i} is a {type(value).__name__}, not a tensor or a number")

    def has_tensor(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] is not None

    def fail(self, why: str) -> ExportError:
        return ExportError(f"cannot export {self.name} (called in {self.where}): {why}")
