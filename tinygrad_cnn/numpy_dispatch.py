"""NumPy's dispatch protocols for Tensor: `np.exp(t)`, `np.where(m, t, 0)`, `np.sum(t, axis=1)`,
`arr * t` and friends run the framework's ops, so they are recorded and differentiable.

This is what lets one backward rule serve both backward passes: a rule written with NumPy calls
and operators runs on arrays in an ordinary backward (NumPy itself, the fast path) and on
Tensors under `create_graph=True`, where every call lands here and records itself.

A NumPy function without a differentiable counterpart still works on tensors that do not
require grad (it runs on the arrays and its array results come back as tensors); on a tensor
that requires grad it raises TypeError naming the function, instead of silently dropping the
graph."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .argcheck import check_acyclic, check_flag, describe
from .errors import AllocationError, ArgumentError, NumpyArgumentError


def _tensor_type() -> type:
    from .tensor import Tensor
    return Tensor


def _as_tensor(x: Any) -> Any:
    Tensor = _tensor_type()
    return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))


def _unary(method: str) -> Callable:
    return lambda x: getattr(_as_tensor(x), method)()


def _binary(method: str) -> Callable:
    def fn(a: Any, b: Any) -> Any:
        Tensor = _tensor_type()
        if isinstance(a, Tensor):
            return getattr(a, f"__{method}__")(b)
        return getattr(b, f"__r{method}__")(a)
    return fn


def _compare(method: str) -> Callable:
    def fn(a: Any, b: Any) -> Any:
        Tensor = _tensor_type()
        if isinstance(a, Tensor):
            return getattr(a, f"__{method}__")(b)
        flipped = {"lt": "gt", "gt": "lt", "le": "ge", "ge": "le", "eq": "eq", "ne": "ne"}[method]
        return getattr(b, f"__{flipped}__")(a)
    return fn


def _matmul(a: Any, b: Any) -> Any:
    from .tensor import matmul
    return matmul(_as_tensor(a), b)


UFUNCS: dict[Any, Callable] = {
    np.add: _binary("add"), np.subtract: _binary("sub"), np.multiply: _binary("mul"),
    np.true_divide: _binary("truediv"), np.power: _binary("pow"), np.matmul: _matmul,
    np.negative: lambda x: -_as_tensor(x), np.positive: lambda x: _as_tensor(x),
    np.exp: _unary("exp"), np.log: _unary("log"), np.sqrt: _unary("sqrt"),
    np.absolute: _unary("abs"), np.tanh: _unary("tanh"), np.square: lambda x: _as_tensor(x) * _as_tensor(x),
    np.reciprocal: lambda x: 1.0 / _as_tensor(x),
    np.maximum: lambda a, b: _as_tensor(a).maximum(b), np.minimum: lambda a, b: _as_tensor(a).minimum(b),
    np.greater: _compare("gt"), np.less: _compare("lt"), np.greater_equal: _compare("ge"),
    np.less_equal: _compare("le"), np.equal: _compare("eq"), np.not_equal: _compare("ne"),
}
# optional differentiable ufuncs other layers may add (sin, cos, expm1, ...): name -> method
for _name in ("sin", "cos", "expm1", "log1p", "erf"):
    if hasattr(np, _name):
        UFUNCS.setdefault(getattr(np, _name), _unary(_name))


# piecewise-constant ufuncs: their derivative is 0 wherever it exists, so on tensors that
# require grad they give a constant tensor (exactly what differentiating them yields)
ZERO_GRADIENT = {np.sign, np.floor, np.ceil, np.rint, np.trunc, np.isnan, np.isinf, np.isfinite,
                 np.signbit, np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
                 np.floor_divide, np.remainder, np.bitwise_and, np.bitwise_or, np.invert}


UFUNC_METHODS = ("__call__", "reduce", "reduceat", "accumulate", "outer", "at")


def _given(value: Any, default: Any) -> bool:
    """Whether a ufunc keyword was given a non-default value (`out=(None,)` counts as not given,
    as NumPy normalises it); never asks an array for its truth value."""
    if value is None or value is default:
        return False
    return not (isinstance(value, tuple) and all(v is None for v in value))


def _check_protocol_call(where: str, inputs: tuple, kwargs: Any) -> None:
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"{where}: kwargs must be a dict of keyword arguments, got {describe(kwargs)}")
    check_acyclic(inputs, "the arguments", where)
    check_acyclic(list(kwargs.values()), "the keyword arguments", where)


def array_ufunc(t: Any, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """Tensor.__array_ufunc__: NumPy hands over `ufunc.method(*inputs, **kwargs)`."""
    Tensor = _tensor_type()
    if not isinstance(ufunc, np.ufunc):
        raise TypeError(f"Tensor.__array_ufunc__: ufunc must be a numpy.ufunc (np.add, np.exp, ...), "
                        f"got {describe(ufunc)}")
    if not isinstance(method, str) or method not in UFUNC_METHODS:
        raise TypeError(f"Tensor.__array_ufunc__: method must be one of {', '.join(UFUNC_METHODS)} "
                        f"(np.{ufunc.__name__}), got {describe(method)}")
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    _check_protocol_call(name, inputs, kwargs)
    has_out = _given(kwargs.get("out"), None)
    if method == "__call__" and ufunc in ZERO_GRADIENT and not has_out:
        return _rewrap(_call_numpy(name, ufunc, _unwrap(inputs), kwargs))
    if method == "at" and ufunc is np.add:
        if len(inputs) != 3:
            raise TypeError(f"np.add.at: expected (target, index, values), got {len(inputs)} arguments")
        target, index, values = inputs
        return _add_at(target, index, values)
    if method == "reduce" and ufunc is np.add and not has_out and len(inputs) == 1:
        axis = kwargs.get("axis", 0)
        keepdims = check_flag(kwargs.get("keepdims", False), "keepdims", name)
        return _as_tensor(inputs[0]).sum(axis=axis, keepdims=keepdims)
    if method == "__call__" and not has_out and ufunc in UFUNCS and not _given(kwargs.get("where"), True) \
            and kwargs.get("dtype") is None and len(inputs) == ufunc.nin:
        try:
            return UFUNCS[ufunc](*inputs)
        except AttributeError:            # an optional ufunc whose Tensor method does not exist
            pass
    return _constant_fallback(name,
                              lambda *a, **k: getattr(ufunc, method)(*a, **k), inputs, kwargs)


def _add_at(target: Any, index: Any, values: Any) -> None:
    """np.add.at(t, index, v) on a tensor: an in-place scatter-add (repeated indices accumulate),
    recorded as IndexAdd so its gradient is the gather of the incoming gradient."""
    Tensor = _tensor_type()
    from .ops.movement import IndexAdd
    if not isinstance(target, Tensor):
        raise TypeError("np.add.at(array, index, tensor): the target must be a Tensor to hold the "
                        "graph; create it with np.zeros_like(tensor, shape=...)")
    v = _as_tensor(values)
    index = index._data if isinstance(index, Tensor) else index
    target._inplace("np.add.at", lambda t: IndexAdd.apply(t, v.to(t.dtype), index), v)


def _unwrap(x: Any) -> Any:
    Tensor = _tensor_type()
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _needs_grad(x: Any) -> bool:
    Tensor = _tensor_type()
    if isinstance(x, Tensor):
        return x.requires_grad
    if isinstance(x, (list, tuple)):
        return any(_needs_grad(v) for v in x)
    return False


def _rewrap(x: Any) -> Any:
    Tensor = _tensor_type()
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    if isinstance(x, tuple):
        return tuple(_rewrap(v) for v in x)
    if isinstance(x, list):
        return [_rewrap(v) for v in x]
    return x


def _constant_fallback(name: str, fn: Callable, args: tuple, kwargs: dict) -> Any:
    from . import autograd
    if autograd.grad_mode.enabled and (_needs_grad(args) or _needs_grad(tuple(kwargs.values()))):
        raise TypeError(f"{name} has no differentiable counterpart in tinygrad_cnn, and one of its "
                        f"arguments is a Tensor that requires grad: the result would silently drop "
                        f"the graph. Use a Tensor op, or call it on t.detach() / t.numpy()")
    result = _call_numpy(name, fn, _unwrap(args), {k: _unwrap(v) for k, v in kwargs.items()})
    return _rewrap(result)


def _call_numpy(name: str, fn: Callable, args: Any, kwargs: dict) -> Any:
    """fn(*args, **kwargs) for a NumPy function running on the tensors' arrays: NumPy's refusal
    of its arguments comes back naming the function (NumpyArgumentError, or TypeError), with
    NumPy's reason; a failed allocation is an AllocationError."""
    try:
        return fn(*args, **kwargs)
    except MemoryError as exc:
        raise AllocationError(f"{name}: cannot allocate its result ({exc})") from None
    except TypeError as exc:
        raise TypeError(f"{name} (called on Tensors) refused its arguments: {exc}") from exc
    except (ValueError, IndexError, OverflowError) as exc:
        raise NumpyArgumentError(f"{name} (called on Tensors) refused its arguments: "
                                 f"{type(exc).__name__}: {exc}") from exc


# ------------------------------------------------------------------------- array functions
def _axis_kwargs(axis: Any = None, keepdims: bool = False) -> dict:
    return {"dim": axis if not isinstance(axis, list) else tuple(axis), "keepdim": bool(keepdims)}


def _where(condition: Any, x: Any = None, y: Any = None) -> Any:
    from .tensor import where
    if x is None and y is None:
        return _constant_fallback("np.where", np.where, (condition,), {})
    return where(condition, x, y)


def _broadcast_to(x: Any, shape: Any) -> Any:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _as_tensor(x).expand(*shape)


def _transpose(x: Any, axes: Any = None) -> Any:
    t = _as_tensor(x)
    return t.permute(*(reversed(range(t.ndim)) if axes is None else axes))


def _swapaxes(x: Any, a: int, b: int) -> Any:
    return _as_tensor(x).transpose(a, b)


def _moveaxis(x: Any, source: Any, destination: Any) -> Any:
    t = _as_tensor(x)
    perm = list(range(t.ndim))
    source = [source] if isinstance(source, int) else list(source)
    destination = [destination] if isinstance(destination, int) else list(destination)
    source = [s % t.ndim for s in source]
    destination = [d % t.ndim for d in destination]
    rest = [i for i in perm if i not in source]
    out = [None] * t.ndim
    for s, d in zip(source, destination):
        out[d] = s
    it = iter(rest)
    perm = [o if o is not None else next(it) for o in out]
    return t.permute(*perm)


def _like(fill: Any) -> Callable:
    def fn(x: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None,
           fill_value: Any = None, **kwargs: Any) -> Any:
        Tensor = _tensor_type()
        t = _as_tensor(x)
        shp = t.shape if shape is None else ((shape,) if isinstance(shape, (int, np.integer)) else tuple(shape))
        value = fill if fill is not None else fill_value
        return Tensor._wrap(np.full(shp, value, dtype or t.dtype))
    return fn


def _full_like(x: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Any:
    return _like(None)(x, dtype=dtype, fill_value=fill_value, **kwargs)


def _concatenate(arrays: Any, axis: int = 0, **kwargs: Any) -> Any:
    from .tensor import cat
    return cat([_as_tensor(a) for a in arrays], dim=axis)


def _stack(arrays: Any, axis: int = 0, **kwargs: Any) -> Any:
    from .tensor import stack
    return stack([_as_tensor(a) for a in arrays], dim=axis)


def _split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    t = _as_tensor(x)
    n = t.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % int(indices_or_sections):
            raise ArgumentError(f"np.split: {n} is not divisible into {indices_or_sections} sections")
        step = n // int(indices_or_sections)
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    index = [slice(None)] * t.ndim
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        index[axis] = slice(lo, hi)
        out.append(t[tuple(index)])
    return out


def _reduction(method: str) -> Callable:
    def fn(x: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
           **kwargs: Any) -> Any:
        if out is not None:
            raise TypeError(f"np.{method}(..., out=) cannot write a Tensor's graph into an array")
        t = _as_tensor(x)
        if dtype is not None:
            t = t.to(dtype)
        return getattr(t, method)(**_axis_kwargs(axis, keepdims))
    return fn


def _clip(x: Any, a_min: Any = None, a_max: Any = None, **kwargs: Any) -> Any:
    return _as_tensor(x).clamp(a_min, a_max)


def _expand_dims(x: Any, axis: Any) -> Any:
    t = _as_tensor(x)
    for a in sorted((axis,) if isinstance(axis, int) else axis):
        t = t.unsqueeze(a)
    return t


def _squeeze(x: Any, axis: Any = None) -> Any:
    return _as_tensor(x).squeeze(axis)


def _reshape(x: Any, newshape: Any = None, order: str = "C", shape: Any = None) -> Any:
    target = shape if shape is not None else newshape
    return _as_tensor(x).reshape(target)


def _dot(a: Any, b: Any, out: Any = None) -> Any:
    return _matmul(a, b)


def _ascontiguousarray(x: Any, dtype: Any = None, **kwargs: Any) -> Any:
    t = _as_tensor(x)
    return t if dtype is None else t.to(dtype)


FUNCTIONS: dict[Any, Callable] = {
    np.where: _where, np.broadcast_to: _broadcast_to, np.transpose: _transpose,
    np.swapaxes: _swapaxes, np.moveaxis: _moveaxis, np.reshape: _reshape,
    np.zeros_like: _like(0), np.ones_like: _like(1), np.full_like: _full_like,
    np.empty_like: _like(0), np.concatenate: _concatenate, np.stack: _stack, np.split: _split,
    np.sum: _reduction("sum"), np.mean: _reduction("mean"), np.amax: _reduction("amax"),
    np.amin: _reduction("amin"), np.max: _reduction("amax"), np.min: _reduction("amin"),
    np.clip: _clip, np.expand_dims: _expand_dims, np.squeeze: _squeeze, np.dot: _dot,
    np.ascontiguousarray: _ascontiguousarray,
}


def array_function(func: Any, args: tuple, kwargs: dict) -> Any:
    """Tensor.__array_function__: NumPy hands over `func(*args, **kwargs)`."""
    if not callable(func):
        raise TypeError(f"Tensor.__array_function__: func must be a NumPy function, got {describe(func)}")
    name = f"np.{getattr(func, '__name__', 'function')}"
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"{name} (Tensor.__array_function__): args must be a tuple of arguments, "
                        f"got {describe(args)}")
    _check_protocol_call(name, tuple(args), kwargs)
    try:
        handler = FUNCTIONS.get(func)
    except TypeError:                                    # an unhashable callable: no handler
        handler = None
    if handler is not None:
        return handler(*args, **kwargs)
    return _constant_fallback(name, func, args, kwargs)
