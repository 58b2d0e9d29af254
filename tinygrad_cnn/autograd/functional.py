"""`tc.autograd.functional`: vjp, jvp, jacobian, hessian, hvp, vhp over functions of Tensors,
as in torch.autograd.functional. Everything is built on `tc.autograd.grad`; forward-mode
products (jvp, hvp) use the double-vjp trick: for u ↦ vᵀJ(x)·... the Jacobian-vector product
J·v is the gradient, with respect to a dummy cotangent u, of uᵀJ (which is linear in u)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import autograd
from ..errors import ArgumentError

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tensor_type() -> type:
    from ..tensor import Tensor
    return Tensor


def _as_tuple(x: Any, what: str, fn_name: str) -> tuple[tuple, bool]:
    Tensor = _tensor_type()
    if isinstance(x, Tensor):
        return (x,), True
    if isinstance(x, (tuple, list)) and all(isinstance(v, Tensor) for v in x):
        return tuple(x), False
    raise ArgumentError(f"{fn_name}: {what} must be a Tensor or a tuple of Tensors, got "
                        f"{type(x).__name__}")


def _prepare(inputs: Any, fn_name: str, create_graph: bool) -> tuple[tuple, bool]:
    """Inputs that require grad: copies cut from the caller's graph unless create_graph."""
    xs, single = _as_tuple(inputs, "inputs", fn_name)
    prepared = []
    for x in xs:
        if x.dtype.kind != "f":
            raise ArgumentError(f"{fn_name}: inputs must be floating point tensors, got {x.dtype}")
        t = x if (create_graph and x.requires_grad) else x.detach().requires_grad_()
        prepared.append(t)
    return tuple(prepared), single


def _grads(outputs: tuple, inputs: tuple, cotangents: tuple, create_graph: bool) -> tuple:
    """grad with zeros for inputs the outputs do not depend on (as torch.autograd.functional)."""
    Tensor = _tensor_type()
    pairs = [(o, v) for o, v in zip(outputs, cotangents) if o.requires_grad]
    if not pairs:
        return tuple(Tensor._wrap(np.zeros(x.shape, x.dtype)) for x in inputs)
    gs = autograd.grad([o for o, _ in pairs], list(inputs), [v for _, v in pairs],
                       retain_graph=True, create_graph=create_graph, allow_unused=True)
    return tuple(Tensor._wrap(np.zeros(x.shape, x.dtype)) if g is None else g
                 for g, x in zip(gs, inputs))


def _check_like(vs: tuple, refs: tuple, fn_name: str, what: str) -> None:
    if len(vs) != len(refs):
        raise ArgumentError(f"{fn_name}: {what} has {len(vs)} tensor(s), expected {len(refs)}")
    for i, (v, r) in enumerate(zip(vs, refs)):
        if tuple(v.shape) != tuple(r.shape):
            raise ArgumentError(f"{fn_name}: {what}[{i}] has shape {tuple(v.shape)}, expected "
                                f"{tuple(r.shape)}")


def _detach(ts: tuple, create_graph: bool) -> tuple:
    return ts if create_graph else tuple(t.detach() for t in ts)


def _unpack(ts: tuple, single: bool) -> Any:
    return ts[0] if single else ts


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), vᵀ·J): the vector-Jacobian product at `inputs`."""
    xs, single_in = _prepare(inputs, "vjp", create_graph)
    with autograd.enable_grad():
        outs, single_out = _as_tuple(func(*xs), "func's output", "vjp")
        if v is None:
            if any(o.numel() != 1 for o in outs):
                raise ArgumentError("vjp: v can be omitted only when func returns one-element tensors")
            v = tuple(_tensor_type()._wrap(np.ones(o.shape, o.dtype)) for o in outs)
        vs, _ = _as_tuple(v, "v", "vjp")
        _check_like(vs, outs, "vjp", "v")
        gs = _grads(outs, xs, vs, create_graph)
    return _unpack(_detach(outs, create_graph), single_out), _unpack(_detach(gs, create_graph), single_in)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), J·v): the Jacobian-vector product, by the double-vjp trick."""
    Tensor = _tensor_type()
    xs, single_in = _prepare(inputs, "jvp", create_graph)
    if v is None:
        if any(x.numel() != 1 for x in xs):
            raise ArgumentError("jvp: v can be omitted only when the inputs are one-element tensors")
        v = tuple(Tensor._wrap(np.ones(x.shape, x.dtype)) for x in xs)
    vs, _ = _as_tuple(v, "v", "jvp")
    _check_like(vs, xs, "jvp", "v")
    with autograd.enable_grad():
        outs, single_out = _as_tuple(func(*xs), "func's output", "jvp")
        us = tuple(Tensor._wrap(np.zeros(o.shape, o.dtype)).requires_grad_() for o in outs)
        gs = _grads(outs, xs, us, create_graph=True)               # uᵀJ, linear in u
        live = [(g, vv) for g, vv in zip(gs, vs) if g.requires_grad]
        if live:
            jv = autograd.grad([g for g, _ in live], list(us), [vv for _, vv in live],
                               retain_graph=True, create_graph=create_graph, allow_unused=True)
        else:
            jv = [None] * len(us)
        jv = tuple(Tensor._wrap(np.zeros(o.shape, o.dtype)) if g is None else g for g, o in zip(jv, outs))
    return _unpack(_detach(outs, create_graph), single_out), _unpack(_detach(jv, create_graph), single_out)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian d func(inputs) / d inputs: for one input and one output a Tensor of shape
    output.shape + input.shape; tuples of those for several (nested output-major, as torch)."""
    Tensor = _tensor_type()
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ArgumentError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    xs, single_in = _prepare(inputs, "jacobian", create_graph)
    with autograd.enable_grad():
        outs, single_out = _as_tuple(func(*xs), "func's output", "jacobian")
        rows = []
        for o in outs:
            per_input = [[] for _ in xs]
            for k in range(o.numel()):
                e = np.zeros(o.numel(), o.dtype)
                e[k] = 1.0                    # row k of the Jacobian: the vjp with a unit vector
                gs = _grads((o,), xs, (Tensor._wrap(e.reshape(o.shape)),), create_graph)
                for j, g in enumerate(gs):
                    per_input[j].append(g)
            blocks = []
            for j, x in enumerate(xs):
                from ..tensor import stack
                if per_input[j]:
                    block = stack(per_input[j]).reshape(tuple(o.shape) + tuple(x.shape))
                else:
                    block = Tensor._wrap(np.zeros(tuple(o.shape) + tuple(x.shape), x.dtype))
                blocks.append(block if create_graph else block.detach())
            rows.append(blocks[0] if single_in else tuple(blocks))
    return rows[0] if single_out else tuple(rows)


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar function: the Jacobian of its gradient; shape
    inputs.shape + inputs.shape for one input (nested tuples for several, as torch)."""
    xs, single_in = _prepare(inputs, "hessian", create_graph)

    def gradient(*ys: Any) -> Any:
        out = func(*ys)
        if not isinstance(out, _tensor_type()) or out.numel() != 1:
            raise ArgumentError("hessian: func must return a single one-element Tensor")
        gs = _grads((out,), ys, (_tensor_type()._wrap(np.ones(out.shape, out.dtype)),), True)
        return gs[0] if single_in else gs

    return jacobian(gradient, xs[0] if single_in else xs, create_graph=create_graph)


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), vᵀ·H): the vector-Hessian product of a scalar function."""
    xs, single_in = _prepare(inputs, "vhp", create_graph)
    vs, _ = _as_tuple(v, "v", "vhp") if v is not None else (None, None)
    with autograd.enable_grad():
        out = func(*xs)
        if not isinstance(out, _tensor_type()) or out.numel() != 1:
            raise ArgumentError("vhp: func must return a single one-element Tensor")
        if vs is None:
            raise ArgumentError("vhp: v must be given (a tensor shaped like each input)")
        _check_like(vs, xs, "vhp", "v")
        gs = _grads((out,), xs, (_tensor_type()._wrap(np.ones(out.shape, out.dtype)),), True)
        live = [(g, vv) for g, vv in zip(gs, vs) if g.requires_grad]
        Tensor = _tensor_type()
        if live:
            hv = _grads(tuple(g for g, _ in live), xs, tuple(vv for _, vv in live), create_graph)
        else:
            hv = tuple(Tensor._wrap(np.zeros(x.shape, x.dtype)) for x in xs)
    return (out if create_graph else out.detach()), _unpack(_detach(hv, create_graph), single_in)


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), H·v). The Hessian of a twice-differentiable function is symmetric, so
    H·v = (vᵀH)ᵀ: computed as vhp (two reverse passes)."""
    return vhp(func, inputs, v, create_graph=create_graph, strict=strict)
