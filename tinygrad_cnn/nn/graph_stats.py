"""What a recorded op keeps and costs: the arrays it saved for backward, and its MACs.

Used by `nn.utils.summary` (per-module totals from the recorded graph) and by the graph viewer
(`tc.viz.draw_graph(..., show_saved=True)`), so both report the same numbers.

Saved arrays are everything a Function's context holds between forward and backward:
`ctx.save_for_backward(...)` values and attributes set in forward (`ctx.index = ...`),
including arrays inside tuples, lists and dicts (conv keeps its im2col columns as a list of
per-chunk matrices). Bytes count each distinct memory block once: a view counts as its base.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

__all__ = ["saved_arrays", "saved_nbytes", "op_macs", "base_array"]

_MAX_NESTING = 6          # containers inside containers inside a ctx: enough for every op here


def saved_arrays(ctx: Any) -> list[tuple[str, np.ndarray]]:
    """(name, array) for every NumPy array `ctx` keeps for backward, e.g. ("saved[2][0]", cols)."""
    out: list[tuple[str, np.ndarray]] = []
    stack: list[tuple[str, Any, int]] = []
    roots = [(f"saved[{i}]", a) for i, a in enumerate(getattr(ctx, "saved", ()) or ())]
    attrs = getattr(ctx, "__dict__", {})
    roots += [(f"ctx.{k}", v) for k, v in sorted(attrs.items()) if not k.startswith("_")]
    stack.extend((name, v, 0) for name, v in reversed(roots))
    while stack:                         # iterative, in order: names follow the nesting
        name, v, depth = stack.pop()
        if isinstance(v, np.ndarray):
            out.append((name, v))
        elif depth < _MAX_NESTING and isinstance(v, (tuple, list)):
            stack.extend((f"{name}[{i}]", x, depth + 1) for i, x in reversed(list(enumerate(v))))
        elif depth < _MAX_NESTING and isinstance(v, dict):
            stack.extend((f"{name}[{k!r}]", x, depth + 1) for k, x in reversed(list(v.items())))
    return out


def base_array(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def saved_nbytes(ctxs: Iterable[Any], seen: set[int] | None = None) -> int:
    """Bytes the contexts hold for backward, each memory block once (views count as their
    base). Pass the same `seen` set to several calls to count blocks shared between them once."""
    seen = set() if seen is None else seen
    total = 0
    for c in ctxs:
        if getattr(c, "freed", False):
            continue
        for _, a in saved_arrays(c):
            b = base_array(a)
            if id(b) not in seen:
                seen.add(id(b))
                total += int(b.nbytes)
    return total


def _tensor_shape(v: Any) -> tuple | None:
    shape = getattr(v, "shape", None)
    return tuple(shape) if shape is not None and not isinstance(v, (int, float)) else None


def op_macs(ctx: Any) -> int:
    """Multiply-accumulates of one recorded op (0 for ops that are O(outputs): elementwise,
    pooling, normalisation). Conv: out.size · C_in/groups · prod(kernel); transposed conv:
    in.size · C_out/groups · prod(kernel); Linear: out.size · in_features; MatMul: out.size · K."""
    name = ctx.fn.__name__
    meta = getattr(ctx, "outputs_meta", ()) or ()
    if not meta:
        return 0
    out_size = math.prod(meta[0][0])
    shapes = [_tensor_shape(v) for v in ctx.inputs]
    if name == "ConvNd" and len(shapes) > 1 and shapes[1] is not None:
        w = shapes[1]                              # (C_out, C_in/groups, *kernel)
        return out_size * w[1] * math.prod(w[2:])
    if name == "ConvTransposeNd" and len(shapes) > 1 and shapes[0] is not None and shapes[1] is not None:
        w = shapes[1]                              # (C_in, C_out/groups, *kernel)
        return math.prod(shapes[0]) * w[1] * math.prod(w[2:])
    if name == "Linear" and len(shapes) > 1 and shapes[1] is not None:
        return out_size * shapes[1][1]             # weight (out_features, in_features)
    if name == "MatMul" and shapes and shapes[0] is not None:
        return out_size * shapes[0][-1]
    return 0
