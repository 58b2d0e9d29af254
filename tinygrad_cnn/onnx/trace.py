"""Record the op graph of one forward pass, twice, and pair the two recordings.

`tc.onnx.export` needs more than one recording can tell. Which sizes follow the batch (so a
Reshape must say -1, not 4)? Which constant tensors were computed from the input outside the
recorded graph (a mask from `x > 0`, an `argmax`), and would be frozen into the file with the
example's values? So the forward runs twice in eval mode: once on the example input, and once
on a companion input with more elements along every dynamic axis and the values shuffled.
The two graphs must have the same ops in the same order; what differs between them is then
exactly what depends on the input: output sizes that differ are dynamic, a non-tensor argument
or a constant that differs is an error naming the op (unless its converter can express it).

Recording: an op is only recorded when some input requires grad, so the inputs are traced as
fresh leaves that require grad and every parameter is switched to requires_grad=True for the
duration (restored afterwards, with the module's train/eval mode).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..autograd import Context, enable_grad, topological_order
from ..errors import ArgumentError
from ..tensor import Tensor

__all__ = ["ExportError", "Recording", "Trace", "record", "companion_input", "describe_scope"]


class ExportError(ValueError):
    """A model (or an op in it) that cannot be written as ONNX; the message names the op and
    the module whose forward called it."""


@dataclass
class Recording:
    """One forward pass: its inputs (the traced leaves), outputs, and the contexts in
    topological order (every op after the ops it reads)."""
    inputs: list[Tensor]
    outputs: list[Tensor]
    order: list[Context]
    index: dict[int, int] = field(default_factory=dict)    # id(ctx) -> position in order

    def __post_init__(self) -> None:
        self.index = {id(c): i for i, c in enumerate(self.order)}

    def input_array(self, value: Any) -> int | None:
        """Which model input `value` is the very array of (an integer input that an op such as
        Embedding takes as an index array, not as a tensor), or None."""
        for k, t in enumerate(self.inputs):
            if value is t.numpy():
                return k
        return None


@dataclass
class Trace:
    """The example's recording `a`, the companion's recording `b` (same structure), and the
    model's named parameters and buffers by tensor identity."""
    a: Recording
    b: Recording
    names: dict[int, str]                 # id(parameter or buffer tensor) -> dotted name
    module_names: dict[int, str]          # id(module) -> dotted name ('' for the root)


def _flat_outputs(out: Any) -> list:
    items, stack = [], [out]
    while stack:
        o = stack.pop()
        if isinstance(o, (tuple, list)):
            stack.extend(reversed(o))
        else:
            items.append(o)
    return items


def record(model: Callable, inputs: Sequence[Tensor]) -> Recording:
    """Run model(*inputs) with recording on, the inputs as fresh leaves, float ones requiring
    grad (integer ones, e.g. token ids, reach ops as index arrays: see input_arrays)."""
    leaves = []
    for i, x in enumerate(inputs):
        arr = np.array(x.numpy(), copy=True)
        t = Tensor._wrap(arr)
        t.requires_grad = arr.dtype.kind == "f"
        leaves.append(t)
    with enable_grad():
        out = model(*leaves)
    outputs = _flat_outputs(out)
    for k, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            raise ExportError(f"export: the model's forward returned a {type(o).__name__} as output "
                              f"{k}; only Tensors (or tuples/lists of Tensors) can be exported")
    roots = [o.grad_fn for o in outputs if o.grad_fn is not None]
    return Recording(leaves, outputs, topological_order(roots))


def companion_input(x: np.ndarray, grow: dict[int, int], seed: int) -> np.ndarray:
    """The example with `grow[axis]` more elements along each dynamic axis (its first slices
    repeated) and its values shuffled: the same value range, so a model that needs x >= 0
    still gets it, but no mask computed from the input comes out the same. Each dim name
    grows by its own amount, so sizes along different dynamic axes never pair up alike."""
    for axis, extra in sorted(grow.items()):
        n = x.shape[axis]
        x = np.take(x, np.arange(n + extra) % max(n, 1), axis=axis)
    flat = x.reshape(-1).copy()
    np.random.default_rng(seed).shuffle(flat)
    return flat.reshape(x.shape)


def describe_scope(ctx: Context, module_names: dict[int, str]) -> str:
    """'module 'layer1.0.conv1' (Conv2d)' for the innermost module whose forward made the op."""
    for m in reversed(ctx.scope):
        if id(m) in module_names:
            name = module_names[id(m)]
            return f"module '{name}' ({type(m).__name__})" if name else f"the model's forward ({type(m).__name__})"
    return "the model's forward"


def check_inputs(args: Any, op: str = "export") -> list[Tensor]:
    """The example input(s) as a list of float (or integer index) Tensors."""
    items = list(args) if isinstance(args, (tuple, list)) else [args]
    if not items:
        raise ArgumentError(f"{op}: example_input is empty; pass a Tensor (or a tuple of Tensors)")
    out = []
    for k, x in enumerate(items):
        if isinstance(x, np.ndarray):
            x = Tensor._wrap(x)
        if not isinstance(x, Tensor):
            raise ArgumentError(f"{op}: example_input {k} must be a Tensor, got {type(x).__name__}")
        if x.dtype.kind not in "fiu":
            raise ArgumentError(f"{op}: example_input {k} has dtype {x.dtype}; exported models take "
                                f"floating point or integer inputs (shape {tuple(x.shape)})")
        out.append(x)
    return out
