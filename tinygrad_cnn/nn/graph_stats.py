"""What a recorded forward pass ran, module call by module call, and what each op keeps and
costs: the arrays it saved for backward, and its MACs.

Used by `nn.utils.summary` (per-module totals from the recorded graph) and by the graph viewers
(`tc.viz.draw_graph(..., show_saved=True)`, `tc.viz.draw_model`), so all report the same numbers.

Module calls. `record_calls(model, inputs)` runs the model once with gradients recorded and a
pre/post forward hook on every module, so each call of each module (a module called twice gives
two calls) knows its parent call, its inputs and its outputs. The ops a call made are those
reachable backwards from its outputs through ops whose recorded scope contains the module,
stopping at the tensors the call was given (`call_ops`).

Saved arrays are everything a Function's context holds between forward and backward:
`ctx.save_for_backward(...)` values and attributes set in forward (`ctx.index = ...`),
including arrays inside tuples, lists and dicts (conv keeps its im2col columns as a list of
per-chunk matrices). Bytes count each distinct memory block once: a view counts as its base.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

__all__ = ["saved_arrays", "saved_nbytes", "op_macs", "base_array", "Call", "record_calls",
           "call_ops", "assign_ops", "tensors_in"]

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


# ---------------------------------------------------------------------------- module calls
class Call:
    """One call of one module during a recorded forward: `module`, dotted `name` ('' for the
    model), `depth` (0 for the model), `parent` call, `inputs`/`output` as passed/returned, and
    `ops` once `assign_ops` has run."""
    __slots__ = ("module", "name", "depth", "parent", "inputs", "input_edges", "output",
                 "output_edges", "ops", "index")

    def __init__(self, module: Any, name: str, depth: int, parent: "Call | None", args: tuple,
                 index: int) -> None:
        self.module, self.name, self.depth, self.parent, self.index = module, name, depth, parent, index
        self.inputs = tensors_in(args)
        self.input_edges = {(id(t.grad_fn), t._output_nr) for t in self.inputs if t.grad_fn is not None}
        self.output: Any = None
        self.output_edges: list = []     # (producer, nr) of each output when the call returned
        self.ops: list = []

    def finish(self, output: Any) -> None:
        """Keep the output and its producers now: an in-place op after the call (ResNet's
        `out += identity` on a batch norm's output) gives the same Tensor a new producer."""
        self.output = output
        self.output_edges = [(t.grad_fn, t._output_nr) for t in tensors_in(output)
                             if t.grad_fn is not None]

    def __repr__(self) -> str:
        return f"<Call {self.name or type(self.module).__name__} depth {self.depth}>"


def tensors_in(obj: Any) -> list:
    """The Tensors in a nest of tuples, lists and dicts, in order."""
    from ..tensor import Tensor
    out, stack = [], [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            out.append(o)
        elif isinstance(o, (tuple, list)):
            stack.extend(reversed(o))
        elif isinstance(o, dict):
            stack.extend(reversed(list(o.values())))
    return out


def record_calls(model: Any, inputs: list, mode: str = "eval") -> list[Call]:
    """Run `model(*inputs)` once with gradients recorded; the calls in the order they started.
    The model's training flags, hooks, buffers (mode="train" updates running stats) and the
    random generator are restored afterwards."""
    from ..autograd import enable_grad
    from .. import rng
    from .module import Module

    if not isinstance(model, Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    names = {id(m): n for n, m in model.named_modules()}
    calls: list[Call] = []
    open_calls: list[Call] = []
    handles = []

    def pre_hook(mod: Any, args: tuple) -> None:
        parent = open_calls[-1] if open_calls else None
        call = Call(mod, names.get(id(mod), ""), len(open_calls), parent, args, len(calls))
        calls.append(call)
        open_calls.append(call)

    def post_hook(mod: Any, args: tuple, output: Any) -> None:
        if open_calls and open_calls[-1].module is mod:
            open_calls.pop().finish(output)

    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre_hook))
        handles.append(m.register_forward_hook(post_hook))
    modes = {id(m): m.training for m in model.modules()}
    buffers = [(b, b.numpy().copy()) for b in model.buffers()] if mode == "train" else []
    rng_state = rng.generator().bit_generator.state
    try:
        model.train(mode == "train")
        with enable_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            m.training = modes[id(m)]
        for b, saved in buffers:
            np.copyto(b.numpy(), saved)
        rng.generator().bit_generator.state = rng_state
    return calls


def call_ops(call: Call) -> list:
    """The recorded ops `call` made (see the module docstring)."""
    m = call.module
    order, seen = [], set()
    stack = [producer for producer, _ in call.output_edges]
    while stack:
        c = stack.pop()
        if id(c) in seen or not any(s is m for s in (getattr(c, "scope", ()) or ())):
            continue
        seen.add(id(c))
        order.append(c)
        for edge in getattr(c, "edges", ()) or ():
            if edge is not None and (id(edge[0]), edge[1]) not in call.input_edges:
                stack.append(edge[0])
    return order


def assign_ops(calls: list[Call]) -> dict[int, Call]:
    """Give every op to the deepest of `calls` that made it (fills each call's `.ops`);
    returns {id(op): call}."""
    owner: dict[int, Call] = {}
    ops: dict[int, Any] = {}
    for c in sorted(calls, key=lambda c: c.depth):      # deeper calls take their ops over
        c.ops = []
        for op in call_ops(c):
            owner[id(op)] = c
            ops[id(op)] = op
    for key, op in ops.items():
        owner[key].ops.append(op)
    return owner
