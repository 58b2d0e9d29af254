"""`Tensor`: a NumPy array plus what autograd needs. Every method is a one-line call of an op
(a `Function` in ops/); argument checking and broadcasting happen here, arithmetic in ops/."""
from __future__ import annotations

import functools
import math
from collections import namedtuple
from typing import Any, Callable, Sequence

import numpy as np

from . import autograd
from . import devices as _device
from . import numpy_dispatch as _np_dispatch
from .argcheck import (allocating, check_choice, check_dtype, check_flag, check_int, check_number,
                       check_shape, check_tensor, describe, is_int)
from .errors import AllocationError, ArgumentError, DTypeError, ShapeError
from .ops import activation as A
from .ops import elementwise as E
from .ops import linalg as L
from .ops import movement as M
from .ops import reduce as R
from .ops import trig as TR
from .rng import generator
from . import rng as _rng

__all__ = ["Tensor", "tensor", "from_numpy", "zeros", "ones", "full", "empty", "randn", "rand",
           "randint", "randperm", "arange", "eye", "zeros_like", "ones_like", "full_like",
           "randn_like", "rand_like", "cat", "stack", "where", "maximum", "minimum", "matmul",
           "float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool_",
           "get_default_dtype", "linspace", "logspace", "meshgrid", "normal"]

# dtype names, as in PyTorch (tc.float32 == np.float32, so NumPy dtypes work too)
float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
# PyTorch's short names (tc.long, tc.float, ...); tinygrad_cnn/__init__.py exports them, here
# they would shadow the builtins
DTYPE_ALIASES = {"long": int64, "int": int32, "short": int16, "float": float32, "double": float64,
                 "half": float16, "bool": bool_}

# PyTorch's legacy type names, what `x.type()` returns ("torch.FloatTensor") and accepts
LEGACY_TYPE_NAMES = {float32: "torch.FloatTensor", float64: "torch.DoubleTensor",
                     float16: "torch.HalfTensor", int64: "torch.LongTensor", int32: "torch.IntTensor",
                     int16: "torch.ShortTensor", int8: "torch.CharTensor", uint8: "torch.ByteTensor",
                     bool_: "torch.BoolTensor"}
_LEGACY_TYPES = {name: dt for dt, name in LEGACY_TYPE_NAMES.items()}


def legacy_dtype(dtype: Any) -> Any:
    """A legacy type name ('torch.DoubleTensor') as its dtype; anything else unchanged."""
    return _LEGACY_TYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype


MaxMin = namedtuple("MaxMin", ["values", "indices"])     # what x.max(dim) returns, like torch


def get_default_dtype() -> np.dtype:
    return float32


def _to_array(data: Any, dtype: Any = None, copy: bool = True) -> np.ndarray:
    """Tensor data from Python/NumPy data: Python floats become float32 (the default), Python
    ints int64, NumPy arrays keep their dtype (float64 stays float64)."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        dtype = check_dtype(dtype, "dtype", "tensor()")
        try:
            return np.array(data, dtype=dtype, copy=copy or None)
        except (ValueError, TypeError, OverflowError) as e:
            raise DTypeError(f"tensor(): cannot build a {dtype} tensor from {type(data).__name__} "
                             f"data ({e})") from None
    from_numpy = isinstance(data, (np.ndarray, np.generic))
    try:
        arr = np.array(data, copy=copy or None)
    except (ValueError, TypeError, OverflowError) as e:
        raise DTypeError(f"tensor(): cannot build a tensor from {type(data).__name__} data ({e})") from None
    if arr.dtype.kind == "f" and not from_numpy and arr.dtype != float32:
        arr = arr.astype(float32)
    elif arr.dtype.kind not in "fiub":
        raise DTypeError(f"tensor(): data of dtype {arr.dtype} is not numeric; expected floats, "
                         f"ints or bools (got {type(data).__name__})")
    return arr


def _operand(value: Any, op: str) -> Any:
    """The other operand of a comparison: a number, or array data (a DTypeError names what
    else it got: a string, a dtype, a module, a generator...)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -2 ** 63 <= value < 2 ** 63:
        raise ArgumentError(f"{op}: the integer {value} does not fit in int64")
    if isinstance(value, (bool, int, float, np.generic)) and np.asarray(value).dtype.kind in "fiub":
        return value
    return _to_array(value, copy=False)


def _check_grad_dtype(arr: np.ndarray, where: str = "requires_grad") -> None:
    if arr.dtype.kind != "f":
        raise DTypeError(f"{where}: only floating point tensors can require gradients, but this "
                         f"tensor has dtype {arr.dtype}; convert it first (x.float()).")


def _shape_arg(size: tuple, op: str) -> tuple[int, ...]:
    """Accept f(2, 3), f((2, 3)) and f([2, 3]) like PyTorch."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size):
        raise ArgumentError(f"{op}: size must be ints, got {size!r}")   # int(2.5) would give 2
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise ArgumentError(f"{op}: negative dimension in size {shape}")
    return check_shape(shape, "size", op)          # a shape NumPy can index (bytes < 2**63)


def _flag(value: Any, name: str) -> bool:
    """A bool argument (keepdim): bools, NumPy bools and the ints 0/1; anything else is an error."""
    if isinstance(value, (bool, np.bool_)) or is_int(value) and value in (0, 1):
        return bool(value)
    raise ArgumentError(f"{name} must be a bool, got {describe(value)}")


def _number(value: Any, name: str, op: str, allow_none: bool = False) -> Any:
    """A Python or NumPy real number (a one-element tensor gives its value)."""
    if value is None and allow_none:
        return None
    if isinstance(value, Tensor) and value._data.size == 1 and value.dtype.kind in "fiub":
        return value._data.item()
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    raise ArgumentError(f"{op}: {name} must be a number, got {describe(value)}")


def _normalize_dim(dim: int, ndim: int, op: str) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise ArgumentError(f"{op}: dim must be an int, got {dim!r}")
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not lo <= dim <= hi:
        raise ArgumentError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dims "
                            f"(expected a value in [{lo}, {hi}])")
    return int(dim) % max(ndim, 1)


def _numpy_axis(op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> tuple[Any, Any]:
    """NumPy's spellings (axis=, keepdims=), which PyTorch also accepts for reductions."""
    if axis is not None:
        if dim is not None:
            raise ArgumentError(f"{op}: give dim or axis, not both")
        dim = tuple(axis) if isinstance(axis, list) else axis
    return dim, keepdim if keepdims is None else keepdims


def _normalize_axes(dim: Any, ndim: int, op: str) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(_normalize_dim(d, ndim, op) for d in dims)
    if len(set(axes)) != len(axes):
        raise ArgumentError(f"{op}: dim {dim} names the same axis twice")
    return axes if ndim else ()


class _VersionCounter:
    """How many in-place writes a tensor's memory has had. One counter is shared by a tensor,
    its views (reshape, permute, slicing, ...), `detach()` and `.data`, so a write through any
    alias is seen by every op that saved that memory for backward."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Tensor:
    """An n-dimensional array that can record the ops applied to it and backpropagate.

    `.numpy()` is the NumPy array (shared); `.data` is a detached Tensor sharing it, as in
    PyTorch; `grad` is a Tensor (or None) after backward; `grad_fn` is the Context of the op that
    produced it (None for leaves). Views (`_base` set) remember how to re-derive themselves from
    their base, so an in-place write through a view re-routes the base's gradient too.
    """

    __slots__ = ("_data", "requires_grad", "grad", "grad_fn", "_output_nr", "_vc", "_hooks",
                 "name", "_base", "_view_replay", "_view_version", "__weakref__")
    __array_priority__ = 1000        # ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _to_array(data, dtype)
        requires_grad = check_flag(requires_grad, "requires_grad", "Tensor")
        if requires_grad:
            _check_grad_dtype(arr)
        self._data = arr
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self.grad_fn = None
        self._output_nr = 0
        self._vc = _VersionCounter()
        self._hooks: list | None = None
        self.name: str | None = None
        self._base: Tensor | None = None
        self._view_replay: tuple | None = None
        self._view_version = 0

    @classmethod
    def _wrap(cls, arr: np.ndarray) -> "Tensor":
        """A Tensor around an existing array, no copy, no checks (for ops)."""
        t = object.__new__(cls)
        t._data = arr
        t.requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._vc = _VersionCounter()
        t._hooks = None
        t.name = None
        t._base = None
        t._view_replay = None
        t._view_version = 0
        return t

    @property
    def _version(self) -> int:
        """In-place writes so far to this tensor's memory (through any alias)."""
        return self._vc.value

    @_version.setter
    def _version(self, value: int) -> None:
        self._vc.value = value

    @property
    def data(self) -> "Tensor":
        """This tensor's values as a tensor cut from the graph, sharing memory (PyTorch's
        `.data`). Unlike PyTorch's, it shares the version counter too: an in-place write through
        `.data` still invalidates ops that saved this memory, instead of giving a silently wrong
        gradient. Assigning `t.data = other` replaces the values (any shape and dtype)."""
        t = Tensor._wrap(self._data)
        t._vc = self._vc
        return t

    @data.setter
    def data(self, value: Any) -> None:
        arr = value._data if isinstance(value, Tensor) else _to_array(value, copy=False)
        if self.requires_grad:
            _check_grad_dtype(arr, "data =")
        self._data = arr

    def _refresh_view(self) -> None:
        """Re-derive this view's grad_fn from its base after the memory changed in place (the
        base, or another view of it, was written): replay the view ops on the base, so the
        gradient flows through the base's current history."""
        base = self._base
        if self._view_replay is None:
            if base.requires_grad:
                raise autograd.BackwardError(
                    f"a tensor of shape {self.shape} that is a view (made by a custom Function "
                    f"that returned part of its input) is used after its memory was modified in "
                    f"place, and its gradient cannot be re-derived; clone() the view's result "
                    f"inside the Function, or clone() before the in-place op")
            self._view_version = self._vc.value
            return
        t = base
        for fn, args in self._view_replay:
            t = fn.apply(t, *args)
        self.grad_fn, self._output_nr = t.grad_fn, t._output_nr
        self.requires_grad = t.requires_grad
        self._view_version = self._vc.value

    # ------------------------------------------------------------------ properties & conversion
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> "Tensor":
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[_normalize_dim(dim, self.ndim, "size")]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied), as `tensor.detach().numpy()` in PyTorch."""
        return self._data

    def item(self) -> Any:
        if self._data.size != 1:
            raise ShapeError(f"item(): only one-element tensors can be converted to a Python "
                             f"scalar, but this tensor has shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(check_dtype(dtype, "dtype", "__array__"))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ShapeError(f"the truth value of a tensor with {self._data.size} elements "
                             f"(shape {self.shape}) is ambiguous; use .any() or .all()")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    __hash__ = object.__hash__

    # NumPy calls on tensors run the framework's ops (recorded, differentiable): see numpy_dispatch
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _np_dispatch.array_ufunc(self, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        return _np_dispatch.array_function(func, args, kwargs)

    def astype(self, dtype: Any, copy: bool = True) -> "Tensor":
        """NumPy's name for `to(dtype)` (differentiable between float dtypes), so array code
        runs on tensors too."""
        return self.to(dtype=dtype, copy=copy)

    def copy(self) -> "Tensor":
        """NumPy's name for `clone()`: a new tensor, recorded (gradient flows back)."""
        return self.clone()

    def __repr__(self) -> str:
        kw = dict(separator=", ", prefix="tensor(", threshold=1000, edgeitems=3)
        if self.dtype.kind == "f":
            finite = self._data[np.isfinite(self._data)]
            if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
                kw.update(formatter={"float_kind": lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)})
            else:
                kw.update(precision=4, floatmode="fixed", suppress_small=False)
        body = np.array2string(self._data, **kw) if self._data.size else "[]"
        extras = []
        if self.dtype not in (float32, int64, bool_):
            extras.append(f"dtype=tc.{self.dtype}")
        if self._data.size == 0 and self.ndim != 1:
            extras.append(f"size={self.shape}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ---------------------------------------------------------------------------- autograd
    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (only into `inputs` when given);
        `create_graph=True` makes those gradients differentiable (see docs/autograd.md)."""
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        requires_grad = check_flag(requires_grad, "requires_grad", "requires_grad_")
        if requires_grad:
            _check_grad_dtype(self._data, "requires_grad_()")
        if not self.is_leaf and not requires_grad:
            raise autograd.BackwardError("requires_grad_(False) is only allowed on leaf tensors; "
                                         "use .detach() to cut a non-leaf tensor from the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory and the version counter, like PyTorch)."""
        t = Tensor._wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self) -> "Tensor":
        self.grad_fn, self.requires_grad = None, False
        return self

    def register_hook(self, hook: Callable[["Tensor"], "Tensor | None"]) -> "_HookHandle":
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise autograd.BackwardError("register_hook: this tensor does not require grad, so no "
                                         "gradient will ever reach the hook")
        if self.grad_fn is None:
            self._hooks = self._hooks or []
            return _HookHandle(self._hooks, hook)
        node = self.grad_fn
        node.pre_hooks = node.pre_hooks or {}
        return _HookHandle(node.pre_hooks.setdefault(self._output_nr, []), hook)

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self.grad_fn is None:
            return
        import weakref
        node = self.grad_fn
        node.retained = node.retained or {}
        node.retained[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return bool(self.grad_fn is not None and self.grad_fn.retained
                    and self._output_nr in self.grad_fn.retained)

    # ------------------------------------------------------------------------- arithmetic
    def _binary(self, fn: type, other: Any, reverse: bool = False) -> "Tensor":
        """Apply a binary op, broadcasting with `Expand` and promoting dtypes first."""
        a = self
        if isinstance(other, Tensor):
            b = other
        elif isinstance(other, (bool, int, float)) or isinstance(other, np.generic) and other.ndim == 0:
            other = other.item() if isinstance(other, np.generic) else other
            if type(other) is int and not -2 ** 63 <= other < 2 ** 63:      # torch refuses it too
                raise ArgumentError(f"{fn.__name__.lower()}: the integer {describe(other, 40)} does not fit in int64; "
                                    f"pass it as a float ({float(other) if abs(other) < 2 ** 1024 else 'inf'})")
            if a.dtype.kind != "f" and isinstance(other, float):
                a = a.to(float32)          # int tensor (op) float scalar -> float32, as in torch
            elif a.dtype == bool_ and not isinstance(other, bool):
                a = a.to(int64)
            try:
                return fn.apply(other, a) if reverse else fn.apply(a, other)
            except OverflowError:
                raise DTypeError(f"{fn.__name__.lower()}: the number {other!r} does not fit the tensor's "
                                 f"dtype {a.dtype}; convert the tensor first (x.long(), x.float())") from None
        else:
            b = Tensor._wrap(_to_array(other, copy=False))
        if a.dtype != b.dtype:
            a, b = _promote(a, b)
        if fn is E.Sub and a.dtype == bool_:
            raise DTypeError("subtraction (-) of two bool tensors is not supported; use ^ or logical_xor")
        if a.shape != b.shape:
            shape = _broadcast_shape(fn.__name__.lower(), a.shape, b.shape)
            a = a.expand(*shape) if a.shape != shape else a
            b = b.expand(*shape) if b.shape != shape else b
        return fn.apply(b, a) if reverse else fn.apply(a, b)

    def __add__(self, other: Any) -> "Tensor": return self._binary(E.Add, other)
    def __radd__(self, other: Any) -> "Tensor": return self._binary(E.Add, other, reverse=True)
    def __sub__(self, other: Any) -> "Tensor": return self._binary(E.Sub, other)
    def __rsub__(self, other: Any) -> "Tensor": return self._binary(E.Sub, other, reverse=True)
    def __mul__(self, other: Any) -> "Tensor": return self._binary(E.Mul, other)
    def __rmul__(self, other: Any) -> "Tensor": return self._binary(E.Mul, other, reverse=True)
    def __truediv__(self, other: Any) -> "Tensor": return self._to_float()._binary(E.Div, other)
    def __rtruediv__(self, other: Any) -> "Tensor": return self._to_float()._binary(E.Div, other, reverse=True)
    def __pow__(self, other: Any) -> "Tensor":
        if self.dtype.kind in "iub" and isinstance(other, (int, np.integer)) and other < 0:
            raise ArgumentError(f"pow: an integer tensor ({self.dtype}) cannot be raised to the "
                                f"negative integer power {other}; convert it first (x.float())")
        return self._binary(E.Pow, other)
    def __rpow__(self, other: Any) -> "Tensor": return self._binary(E.Pow, other, reverse=True)
    def __matmul__(self, other: Any) -> "Tensor": return matmul(self, other)
    def __rmatmul__(self, other: Any) -> "Tensor": return matmul(Tensor._wrap(_to_array(other)), self)
    def __neg__(self) -> "Tensor":
        if self.dtype == bool_:
            raise DTypeError("-x (negation) of a bool tensor is not defined; use ~x or x.logical_not()")
        return E.Neg.apply(self)
    def __pos__(self) -> "Tensor": return self
    def __abs__(self) -> "Tensor": return self.abs()

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    pow = __pow__
    neg = __neg__

    def _to_float(self) -> "Tensor":
        return self if self.dtype.kind == "f" else self.to(float32)

    # comparisons: bool tensors, never part of the graph
    def _compare(self, other: Any, ufunc: Callable) -> "Tensor":
        b = other._data if isinstance(other, Tensor) else _operand(other, ufunc.__name__)
        try:
            return Tensor._wrap(np.asarray(ufunc(self._data, b)))
        except ValueError:
            raise ShapeError(f"comparison: shapes {self.shape} and {np.shape(b)} are not "
                             f"broadcastable") from None

    def __lt__(self, other: Any) -> "Tensor": return self._compare(other, np.less)
    def __le__(self, other: Any) -> "Tensor": return self._compare(other, np.less_equal)
    def __gt__(self, other: Any) -> "Tensor": return self._compare(other, np.greater)
    def __ge__(self, other: Any) -> "Tensor": return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return False if other is None else self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return True if other is None else self._compare(other, np.not_equal)

    def __invert__(self) -> "Tensor":
        if self.dtype.kind not in "biu":
            raise DTypeError(f"~ (bitwise not) needs a bool or integer tensor, got dtype {self.dtype}")
        return Tensor._wrap(~self._data)

    def __and__(self, other: Any) -> "Tensor": return self._compare(other, np.logical_and)
    def __or__(self, other: Any) -> "Tensor": return self._compare(other, np.logical_or)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def any(self) -> "Tensor": return Tensor._wrap(np.asarray(self._data.any()))
    def all(self) -> "Tensor": return Tensor._wrap(np.asarray(self._data.all()))
    def isnan(self) -> "Tensor": return Tensor._wrap(np.isnan(self._data))
    def isfinite(self) -> "Tensor": return Tensor._wrap(np.isfinite(self._data))

    # ---------------------------------------------------------------------- unary ops
    def exp(self) -> "Tensor": return E.Exp.apply(self._to_float())
    def log(self) -> "Tensor": return E.Log.apply(self._to_float())
    def sqrt(self) -> "Tensor": return E.Sqrt.apply(self._to_float())
    def abs(self) -> "Tensor": return E.Abs.apply(self)
    def tanh(self) -> "Tensor": return E.Tanh.apply(self._to_float())
    def sigmoid(self) -> "Tensor": return E.Sigmoid.apply(self._to_float())
    def relu(self) -> "Tensor": return E.ReLU.apply(self)
    def square(self) -> "Tensor": return self * self
    def sin(self) -> "Tensor": return TR.Sin.apply(self._to_float())
    def cos(self) -> "Tensor": return TR.Cos.apply(self._to_float())

    def clamp(self, min: float | None = None, max: float | None = None) -> "Tensor":
        if min is None and max is None:
            raise ArgumentError("clamp: at least one of min and max must be given")
        min, max = _number(min, "min", "clamp", True), _number(max, "max", "clamp", True)
        for name, v in (("min", min), ("max", max)):
            if is_int(v) and not -2 ** 63 <= v < 2 ** 63:
                raise ArgumentError(f"clamp: {name}={describe(v, 40)} does not fit in int64")
        if self.dtype.kind in "ui":
            info = np.iinfo(self.dtype)
            for name, v in (("min", min), ("max", max)):
                if is_int(v) and not info.min <= v <= info.max:
                    raise ArgumentError(f"clamp: {name}={v} cannot be converted to the tensor's dtype "
                                        f"{self.dtype} without overflow")
        return E.Clamp.apply(self, min=min, max=max)

    clip = clamp

    def maximum(self, other: Any) -> "Tensor": return self._binary(E.Maximum, other)
    def minimum(self, other: Any) -> "Tensor": return self._binary(E.Minimum, other)

    def where(self, condition: Any, other: Any) -> "Tensor":
        return where(condition, self, other)

    def to(self, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False,
           copy: bool = False, memory_format: Any = None) -> "Tensor":
        """PyTorch's forms: `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other_tensor)`,
        `to(dtype=..., device=...)`. Casts between float dtypes are differentiable; the only
        device is the CPU (another raises DeviceError); `copy=True` always returns a new tensor."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype if dtype is None else dtype
            elif _device.is_device_like(a) or (isinstance(a, int) and not isinstance(a, bool)):
                device = a
            elif dtype is None:
                dtype = a
            else:
                raise ArgumentError(f"to(): unexpected argument {a!r} after dtype {dtype!r}")
        _device.check_device(device, "to()")
        copy = _flag(copy, "copy")
        if dtype is None:
            return self.clone() if copy else self
        try:
            dtype = np.dtype(dtype)
        except (TypeError, ValueError):
            raise DTypeError(f"to(): {dtype!r} is neither a dtype nor a device") from None
        if dtype.kind not in "fiub":
            raise DTypeError(f"to(): tensors hold numbers or bools, not dtype {dtype}")
        if dtype == self.dtype:
            return self.clone() if copy else self
        if dtype.kind == "f" and self.dtype.kind == "f":
            return E.Cast.apply(self, dtype)
        return Tensor._wrap(self._data.astype(dtype))

    @property
    def device(self) -> "_device.device":
        return _device.CPU

    is_cuda = False
    is_mps = False
    is_sparse = False
    is_quantized = False

    def cuda(self, device: Any = None, non_blocking: bool = False) -> "Tensor":
        _device.check_device(_device.device("cuda") if device is None else
                             device if not isinstance(device, int) else _device.device("cuda", device),
                             "cuda()")
        return self

    def pin_memory(self) -> "Tensor":
        """Accepted for DataLoader-style code; there is no device memory to pin for."""
        return self

    def is_pinned(self) -> bool:
        return False

    def float(self) -> "Tensor": return self.to(float32)
    def double(self) -> "Tensor": return self.to(float64)
    def long(self) -> "Tensor": return self.to(int64)
    def int(self) -> "Tensor": return self.to(int32)
    def bool(self) -> "Tensor": return self.to(bool_)

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """PyTorch's: with no dtype the legacy type name ('torch.FloatTensor' for float32, as
        torch prints it, so `x.type() == 'torch.FloatTensor'` checks port unchanged); with a
        dtype or such a name, `to(dtype)`."""
        if dtype is None:
            return LEGACY_TYPE_NAMES[self.dtype]
        return self.to(legacy_dtype(dtype))

    def cpu(self) -> "Tensor": return self
    def contiguous(self) -> "Tensor": return self
    def clone(self) -> "Tensor": return E.Clone.apply(self)

    # --------------------------------------------------------------------- reductions
    def sum(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
            keepdims: bool | None = None, dtype: Any = None) -> "Tensor":
        dim, keepdim = _numpy_axis("sum", dim, keepdim, axis, keepdims)
        x = self if dtype is None else self.to(dtype=dtype)
        return R.Sum.apply(x, _normalize_axes(dim, x.ndim, "sum"), keepdims=_flag(keepdim, "keepdim"))

    def mean(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None, dtype: Any = None) -> "Tensor":
        dim, keepdim = _numpy_axis("mean", dim, keepdim, axis, keepdims)
        x = self._to_float() if dtype is None else self.to(dtype=dtype)
        return R.Mean.apply(x, _normalize_axes(dim, x.ndim, "mean"), keepdims=_flag(keepdim, "keepdim"))

    def var(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: int | None = None) -> "Tensor":
        unbiased = _flag(unbiased, "unbiased")
        correction = (1 if unbiased else 0) if correction is None else _number(correction, "correction", "var")
        return R.Var.apply(self._to_float(), _normalize_axes(dim, self.ndim, "var"),
                           correction=correction, keepdims=_flag(keepdim, "keepdim"))

    def std(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: int | None = None) -> "Tensor":
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> "Tensor":
        """The vector p-norm over `dim` (all elements by default), as torch.norm: p = 2 / 'fro'
        (√Σx²), 1 (Σ|x|), inf / -inf (max / min |x|), or any other number ((Σ|x|^p)^(1/p))."""
        if p is None or isinstance(p, str):          # None: the 2-norm, as torch
            p = check_choice("fro" if p is None else p, "p", "norm", ("fro",))
        else:
            p = _number(p, "p", "norm")
        x = self._to_float() if dtype is None else self.to(dtype=check_dtype(dtype, "dtype", "norm", kinds="f"))
        if p in ("fro", 2, 2.0):
            return (x * x).sum(dim, keepdim).sqrt()
        if p == float("inf"):
            return x.abs().amax(dim, keepdim)
        if p == float("-inf"):
            return x.abs().amin(dim, keepdim)
        if p == 1:
            return x.abs().sum(dim, keepdim)
        if p == 0:
            return (x != 0).to(x.dtype).sum(dim, keepdim)
        return (x.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def _extreme(self, dim: Any, keepdim: bool, largest: bool) -> Any:
        op = "max" if largest else "min"
        keepdim = _flag(keepdim, "keepdim")
        if self._data.size == 0:
            raise ShapeError(f"{op}(): cannot reduce an empty tensor of shape {self.shape}")
        if isinstance(dim, (int, np.integer)) and not isinstance(dim, bool):
            axis = _normalize_dim(dim, self.ndim, op)
            if self.ndim == 0:            # torch allows dim 0 / -1 on a 0-d tensor
                values, indices = R.MaxDim.apply(self.reshape(1), 0, keepdims=False, largest=largest)
                return MaxMin(values, indices)
            values, indices = R.MaxDim.apply(self, axis, keepdims=keepdim, largest=largest)
            return MaxMin(values, indices)
        fn = R.Amax if largest else R.Amin
        return fn.apply(self, _normalize_axes(dim, self.ndim, op), keepdims=_flag(keepdim, "keepdim"))

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """max() -> scalar; max(dim: int) -> (values, indices) like torch; max(dim: tuple) -> values."""
        return self._extreme(dim, keepdim, True)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        return self._extreme(dim, keepdim, False)

    def amax(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None) -> "Tensor":
        dim, keepdim = _numpy_axis("amax", dim, keepdim, axis, keepdims)
        self._check_reducible("amax", dim)
        return R.Amax.apply(self, _normalize_axes(dim, self.ndim, "amax"), keepdims=_flag(keepdim, "keepdim"))

    def amin(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
             keepdims: bool | None = None) -> "Tensor":
        dim, keepdim = _numpy_axis("amin", dim, keepdim, axis, keepdims)
        self._check_reducible("amin", dim)
        return R.Amin.apply(self, _normalize_axes(dim, self.ndim, "amin"), keepdims=_flag(keepdim, "keepdim"))

    def _check_reducible(self, op: str, dim: Any) -> None:
        """max/argmax-like reductions have no identity: an empty input (over the reduced dims)
        is an error, as in PyTorch."""
        axes = _normalize_axes(dim, self.ndim, op)
        if self._data.size == 0 and (dim is None or any(self.shape[a] == 0 for a in axes) or not axes):
            where = "" if dim is None else f" over dim {dim}"
            raise ShapeError(f"{op}(): cannot reduce an empty tensor of shape {self.shape}{where} "
                             f"(the reduction has no identity); pass a dim of non-zero size")

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        self._check_reducible("argmax", dim)
        if dim is None:
            return Tensor._wrap(np.asarray(np.argmax(self._data), dtype=np.int64))
        axis = _normalize_dim(dim, self.ndim, "argmax")
        if self.ndim == 0:                # torch allows dim 0 / -1 on a 0-d tensor
            return Tensor._wrap(np.zeros((), np.int64))
        return Tensor._wrap(np.argmax(self._data, axis=axis, keepdims=_flag(keepdim, "keepdim")).astype(np.int64))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        self._check_reducible("argmin", dim)
        if dim is None:
            return Tensor._wrap(np.asarray(np.argmin(self._data), dtype=np.int64))
        axis = _normalize_dim(dim, self.ndim, "argmin")
        if self.ndim == 0:                # torch allows dim 0 / -1 on a 0-d tensor
            return Tensor._wrap(np.zeros((), np.int64))
        return Tensor._wrap(np.argmin(self._data, axis=axis, keepdims=_flag(keepdim, "keepdim")).astype(np.int64))

    # ------------------------------------------------------------------- movement
    def reshape(self, *shape: Any) -> "Tensor":
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
            # int(3.5) would silently view as 3
            raise ArgumentError(f"reshape: sizes must be ints, got {tuple(shape)!r}")
        target = _infer_shape(tuple(int(s) for s in shape), self.shape)
        return self if target == self.shape else M.Reshape.apply(self, target)

    view = reshape

    def view_as(self, other: "Tensor") -> "Tensor":
        return self.reshape(check_tensor(other, "other", "view_as").shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        if self.ndim == 0:
            return self.reshape(1)
        s = _normalize_dim(start_dim, self.ndim, "flatten")
        e = _normalize_dim(end_dim, self.ndim, "flatten")
        if s > e:
            raise ArgumentError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def unsqueeze(self, dim: int) -> "Tensor":
        d = _normalize_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim: Any = None) -> "Tensor":
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = _normalize_axes(dim, self.ndim, "squeeze")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    def permute(self, *dims: Any) -> "Tensor":
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        axes = tuple(_normalize_dim(d, self.ndim, "permute") for d in dims)
        if sorted(axes) != list(range(self.ndim)):
            raise ArgumentError(f"permute: dims {dims} are not a permutation of the "
                                f"{self.ndim} dims of a tensor of shape {self.shape}")
        return self if axes == tuple(range(self.ndim)) else M.Permute.apply(self, axes)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        order = list(range(self.ndim))
        a, b = _normalize_dim(dim0, self.ndim, "transpose"), _normalize_dim(dim1, self.ndim, "transpose")
        order[a], order[b] = order[b], order[a]
        return self.permute(*order)

    def t(self) -> "Tensor":
        if self.ndim > 2:
            raise ShapeError(f"t() expects a tensor with <= 2 dims, got shape {self.shape}")
        return self.T

    def expand(self, *sizes: Any) -> "Tensor":
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self.ndim:
            raise ShapeError(f"expand: the target size {sizes} has fewer dims than the tensor's "
                             f"shape {self.shape}")
        lead = len(sizes) - self.ndim
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
            raise ArgumentError(f"expand: sizes must be ints, got {sizes!r}")
        if any(s < -1 for s in sizes) or -1 in sizes[:lead]:
            raise ShapeError(f"expand: invalid target size {sizes} for shape {self.shape}: sizes "
                             f"must be >= 0, or -1 to keep an existing dim (not a new leading one)")
        shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else int(s)
                      for i, s in enumerate(sizes))
        for i, n in enumerate(self.shape):
            if n != 1 and n != shape[lead + i]:
                raise ShapeError(f"expand: cannot expand shape {self.shape} to {shape}: dim {i} "
                                 f"has size {n}, which is neither 1 nor {shape[lead + i]}")
        return self if shape == self.shape else M.Expand.apply(self, shape)

    def expand_as(self, other: "Tensor") -> "Tensor":
        return self.expand(*check_tensor(other, "other", "expand_as").shape)

    def __getitem__(self, index: Any) -> "Tensor":
        index = _convert_index(index)
        try:
            return M.Index.apply(self, index)
        except (IndexError, OverflowError) as e:
            raise IndexError(f"indexing a tensor of shape {self.shape} with {_describe_index(index)}: {e}") from None
        except ValueError as e:                        # a slice step of 0
            raise ArgumentError(f"indexing a tensor of shape {self.shape} with {_describe_index(index)}: {e}") from None

    # ---------------------------------------------------------------------- in-place ops
    # Every in-place op writes into this tensor's memory (so NumPy views and tensor views of it
    # see the change) and bumps the version counter that all aliases share; an op that saved
    # that memory for backward then refuses to run (see Context.saved_tensors). When the graph
    # is being recorded, the new value is computed by the ordinary out-of-place op on a copy of
    # the old value and `self` takes over the new grad_fn: gradients stay exact and earlier
    # consumers keep their old edges. A write through a view also re-routes the base: the base
    # takes a CopySlices node (its old history outside the view, the new value inside), as in
    # PyTorch, and other views of the base re-derive their grad_fn when next used.
    def _inplace(self, op: str, compute: Callable[["Tensor"], "Tensor"], *operands: Any) -> "Tensor":
        mode = autograd.grad_mode
        base = self._base
        if base is not None and mode.enabled and self._view_version != self._vc.value:
            self._refresh_view()
        recording = mode.enabled and (
            self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands)
            or (base is not None and base.requires_grad))
        if recording:
            self._check_inplace_allowed(op)
        if not self._data.flags.writeable:
            raise autograd.BackwardError(f"{op}: this tensor's memory is read-only (a broadcast "
                                         f"view or a read-only array); clone() it first")
        if recording:
            old = Tensor._wrap(self._data.copy())
            old.requires_grad, old.grad_fn, old._output_nr = self.requires_grad, self.grad_fn, self._output_nr
            result = compute(old)
        else:
            with autograd.no_grad():
                result = compute(self)
        if result.shape != self.shape:
            raise ShapeError(f"{op}: the result has shape {result.shape}, but an in-place op must "
                             f"keep the tensor's shape {self.shape} (the other operand may only "
                             f"broadcast to it)")
        np.copyto(self._data, result._data, casting="unsafe")
        self._vc.value += 1
        if recording:
            if base is None:
                self.grad_fn, self._output_nr, self.requires_grad = result.grad_fn, result._output_nr, True
            else:
                old_base = Tensor._wrap(base._data)
                old_base.requires_grad, old_base.grad_fn, old_base._output_nr = \
                    base.requires_grad, base.grad_fn, base._output_nr
                new = M.CopySlices.apply(old_base, result.to(self.dtype), self._view_replay)
                base.grad_fn, base._output_nr, base.requires_grad = new.grad_fn, new._output_nr, True
                self._refresh_view()
        elif base is not None:
            self._view_version = self._vc.value     # the graph is unchanged: still valid
        return self

    def _check_inplace_allowed(self, op: str) -> None:
        """The in-place writes PyTorch refuses while recording, for the same reasons."""
        if self.requires_grad and self.grad_fn is None:
            raise autograd.BackwardError(
                f"{op}: a leaf tensor that requires grad (shape {self.shape}) cannot be modified in "
                f"place while gradients are recorded; do it inside `with tc.no_grad():` (as "
                f"optimizers do) or use the out-of-place form")
        base = self._base
        if base is None:
            return
        if base.requires_grad and base.grad_fn is None:
            raise autograd.BackwardError(
                f"{op}: this tensor (shape {self.shape}) is a view of a leaf tensor that requires "
                f"grad (shape {base.shape}), and a view of a leaf cannot be modified in place "
                f"while gradients are recorded; do it inside `with tc.no_grad():` or clone() first")
        if self._view_replay is None:
            raise autograd.BackwardError(
                f"{op}: this tensor (shape {self.shape}) is a view returned by a custom Function or "
                f"a multi-output op, so autograd cannot re-route its base's gradient after an "
                f"in-place write; clone() it first")
        if base.requires_grad and not self.requires_grad:
            raise autograd.BackwardError(
                f"{op}: this tensor (shape {self.shape}) is a view made under no_grad() of a "
                f"tensor that requires grad; modifying it in place with grad mode on would leave "
                f"the base's gradient wrong. Make the view with grad mode on, or clone() it")

    def add_(self, other: Any, alpha: float = 1) -> "Tensor":
        alpha = check_number(alpha, "alpha", "add_")
        other = other if isinstance(other, Tensor) else _operand(other, "add_")
        other = other.item() if isinstance(other, np.generic) else other    # np.uint8(3) * -1 overflows
        return self._inplace("add_", lambda t: t + (other if alpha == 1 else other * alpha), other)

    def sub_(self, other: Any, alpha: float = 1) -> "Tensor":
        alpha = check_number(alpha, "alpha", "sub_")
        other = other if isinstance(other, Tensor) else _operand(other, "sub_")
        other = other.item() if isinstance(other, np.generic) else other    # np.uint8(3) * -1 overflows
        return self._inplace("sub_", lambda t: t - (other if alpha == 1 else other * alpha), other)

    def mul_(self, other: Any) -> "Tensor":
        return self._inplace("mul_", lambda t: t * other, other)

    def div_(self, other: Any) -> "Tensor":
        return self._inplace("div_", lambda t: t / other, other)

    def clamp_(self, min: float | None = None, max: float | None = None) -> "Tensor":
        return self._inplace("clamp_", lambda t: t.clamp(min, max))

    def relu_(self) -> "Tensor":
        return self._inplace("relu_", lambda t: t.relu())

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    def fill_(self, value: float) -> "Tensor":
        value = _number(value, "value", "fill_")
        return self._inplace("fill_", lambda t: t * 0 + value if t.requires_grad
                             else Tensor._wrap(_fill("fill_", t.shape, t.dtype, value)))

    def copy_(self, src: Any) -> "Tensor":
        src = src if isinstance(src, Tensor) else Tensor._wrap(_to_array(src, copy=False))
        return self._inplace("copy_", lambda t: t * 0 + src.to(t.dtype) if autograd.grad_mode.enabled
                             and (t.requires_grad or src.requires_grad) else src.expand(*t.shape), src)

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> "Tensor":
        a = check_number(a, "a", "uniform_", finite=True)
        b = check_number(b, "b", "uniform_", finite=True, minimum=a)
        return self._inplace("uniform_", lambda t: Tensor._wrap(
            generator().uniform(a, b, t.shape).astype(t.dtype)))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> "Tensor":
        mean = check_number(mean, "mean", "normal_", finite=True)
        std = check_number(std, "std", "normal_", finite=True, minimum=0)
        return self._inplace("normal_", lambda t: Tensor._wrap(
            (generator().standard_normal(t.shape) * std + mean).astype(t.dtype)))

    def __iadd__(self, other: Any) -> "Tensor": return self.add_(other)
    def __isub__(self, other: Any) -> "Tensor": return self.sub_(other)
    def __imul__(self, other: Any) -> "Tensor": return self.mul_(other)
    def __itruediv__(self, other: Any) -> "Tensor": return self.div_(other)

    def __setitem__(self, index: Any, value: Any) -> None:
        index = _convert_index(index)

        def compute(t: Tensor) -> Tensor:
            v = value if isinstance(value, Tensor) else Tensor._wrap(_to_array(value, copy=False))
            try:
                target = np.empty(t.shape, dtype=bool)[index].shape
            except (IndexError, OverflowError) as e:
                raise IndexError(f"setting {_describe_index(index)} of a tensor of shape "
                                 f"{t.shape}: {e}") from None
            except ValueError as e:                    # a slice step of 0
                raise ArgumentError(f"setting {_describe_index(index)} of a tensor of shape "
                                    f"{t.shape}: {e}") from None
            extra = v.ndim - len(target)
            if extra > 0 and all(n == 1 for n in v.shape[:extra]):
                v = v.reshape(v.shape[extra:])         # leading size-1 dims go, as in torch
            if v.shape != target:
                if v.ndim <= len(target):
                    v = v.expand(*_broadcast_shape("__setitem__", v.shape, target))
                if v.shape != target:
                    raise ShapeError(f"__setitem__: cannot assign a value of shape {v.shape} to "
                                     f"{_describe_index(index)} of shape {target}")
            return M.IndexPut.apply(t, v.to(t.dtype), index)

        self._inplace("__setitem__", compute, value)

    # ------------------------------------------------------------ CNN-facing helpers
    def softmax(self, dim: int | None = None, dtype: Any = None) -> "Tensor":
        """exp(x - max) / Σ exp(x - max) along dim (stable for any finite logits)."""
        return self._along_dim("softmax", A.Softmax, dim, dtype)

    def log_softmax(self, dim: int | None = None, dtype: Any = None) -> "Tensor":
        """x - max - log Σ exp(x - max) along dim (stable: no inf/nan for logits of ±1000)."""
        return self._along_dim("log_softmax", A.LogSoftmax, dim, dtype)

    def _along_dim(self, op: str, function: type, dim: Any, dtype: Any) -> "Tensor":
        """softmax/log_softmax: the input cast to `dtype` (else made float), dim checked; a 0-d
        input is a 1-element vector."""
        x = self.to(dtype=dtype) if dtype is not None else self._to_float()
        if x.dtype.kind != "f":
            raise DTypeError(f"{op}: input (as dtype={dtype}) must be a floating point tensor, "
                             f"got dtype {x.dtype} (shape {x.shape}); convert it with .float()")
        if dim is None:
            raise ArgumentError(f"{op}: dim must be given (e.g. dim=1 for (N, C) scores); input "
                                f"shape {x.shape}")
        nd = max(x.ndim, 1)
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or not -nd <= dim < nd:
            raise ArgumentError(f"{op}: dim {dim!r} is out of range for an input of shape {x.shape}")
        if x.ndim == 0:
            return function.apply(x.reshape(1), dim=0).reshape(())
        return function.apply(x, dim=int(dim) % nd)


class _HookHandle:
    """Returned by register_hook; `.remove()` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self.hooks, self.hook = hooks, hook
        hooks.append(hook)

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


autograd._register_tensor_type(Tensor)


# ------------------------------------------------------------------------- helpers
def zero_grads(tensors: Any, set_to_none: bool = True) -> None:
    """Drop (set_to_none) or zero the `.grad` of each tensor: Module.zero_grad and
    Optimizer.zero_grad."""
    for t in tensors:
        if t.grad is None:
            continue
        if set_to_none:
            t.grad = None
        else:
            t.grad._data[...] = 0


def _broadcast_shape(op: str, *shapes: tuple) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be "
                         f"broadcast together (trailing dims must be equal or 1)") from None


def _promote(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    dtype = np.result_type(a.dtype, b.dtype)
    if a.dtype.kind != "f" and b.dtype.kind == "f":
        dtype = b.dtype                  # int/bool tensor with a float tensor -> the float's dtype
    elif b.dtype.kind != "f" and a.dtype.kind == "f":
        dtype = a.dtype
    return a.to(dtype), b.to(dtype)


def _infer_shape(shape: tuple[int, ...], current: tuple[int, ...]) -> tuple[int, ...]:
    size = math.prod(current)
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape: only one dimension can be -1, got {shape}")
    if any(s < -1 for s in shape):
        raise ShapeError(f"reshape: invalid size {min(shape)} in {shape} for a tensor of shape "
                         f"{current}; sizes must be >= 0 (or -1 for one inferred dim)")
    known = math.prod(s for s in shape if s != -1)           # Python ints: 10**30 cannot wrap
    if -1 in shape:
        if known == 0 or size % known:
            raise ShapeError(f"reshape: cannot view a tensor of shape {current} ({size} elements) "
                             f"as {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    elif known != size:
        raise ShapeError(f"reshape: cannot view a tensor of shape {current} ({size} elements) as "
                         f"{shape} ({known} elements)")
    return shape


def _convert_index(index: Any) -> Any:
    """Tensors and lists inside an index become NumPy arrays; everything else passes through."""
    def conv(i: Any) -> Any:
        if isinstance(i, Tensor):
            return i._data
        if isinstance(i, list):
            try:
                return np.asarray(i)
            except (ValueError, TypeError, OverflowError):
                raise IndexError(f"a list index must hold ints or bools, got {describe(i)}") from None
        return i
    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


def _describe_index(index: Any) -> str:
    items = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(f"array{i.shape}" if isinstance(i, np.ndarray) else repr(i) for i in items) + "]"


# ------------------------------------------------------------------- module functions
def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (list, scalar, ndarray or Tensor)."""
    _device.check_device(device, "tensor")
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise DTypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def _factory_dtype(dtype: Any, default: Any, op: str) -> np.dtype:
    """A factory's dtype argument (None: `default`), checked."""
    return check_dtype(default if dtype is None else dtype, "dtype", op, allow_none=False)


def _fill(op: str, shape: tuple, dtype: Any, value: Any = None) -> np.ndarray:
    """np.zeros/ones/empty/full for a factory: the fill value a number, a failed allocation an
    AllocationError naming the op and the size."""
    dtype = np.dtype(dtype)
    try:
        if value is None:
            return np.empty(shape, dtype)
        return np.full(shape, value, dtype)
    except MemoryError:
        raise AllocationError(f"{op}: cannot allocate {math.prod(shape) * dtype.itemsize / 2 ** 30:.2f} GiB "
                              f"for a tensor of shape {shape} and dtype {dtype}") from None
    except (OverflowError, ValueError, TypeError) as e:
        raise ArgumentError(f"{op}: fill value {describe(value)} does not fit dtype {dtype} ({e})") from None


def _like(t: Any, op: str) -> Tensor:
    return check_tensor(t, "input", op)


def _factory(arr: np.ndarray, requires_grad: bool) -> Tensor:
    requires_grad = check_flag(requires_grad, "requires_grad", "tensor factory")
    t = Tensor._wrap(arr)
    if requires_grad:
        _check_grad_dtype(arr)
        t.requires_grad = True
    return t


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "zeros")
    return _factory(_fill("zeros", _shape_arg(size, "zeros"), _factory_dtype(dtype, float32, "zeros"), 0), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "ones")
    return _factory(_fill("ones", _shape_arg(size, "ones"), _factory_dtype(dtype, float32, "ones"), 1), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "empty")
    return _factory(_fill("empty", _shape_arg(size, "empty"), _factory_dtype(dtype, float32, "empty")), requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "full")
    shape = _shape_arg((size,) if not isinstance(size, (tuple, list)) else (tuple(size),), "full")
    fill_value = _number(fill_value, "fill_value", "full")
    if dtype is None:
        dtype = float32 if isinstance(fill_value, float) else (bool_ if isinstance(fill_value, bool) else int64)
    return _factory(_fill("full", shape, _factory_dtype(dtype, float32, "full"), fill_value), requires_grad)


def randn(*size: Any, generator: Any = None, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    """Standard normal samples from the framework's seeded generator (or `generator`)."""
    _device.check_device(device, "randn")
    dtype = _factory_dtype(dtype, float32, "randn")
    if dtype not in (float32, float64):
        raise DTypeError(f"randn: dtype must be float32 or float64, got {dtype}")
    shape = _shape_arg(size, "randn")
    _fill("randn", shape, dtype)                  # the memory check (a lazy allocation, freed at once)
    return _factory(_rng.resolve(generator, "randn").standard_normal(shape, dtype=dtype), requires_grad)


def rand(*size: Any, generator: Any = None, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the framework's seeded generator (or `generator`)."""
    _device.check_device(device, "rand")
    dtype = _factory_dtype(dtype, float32, "rand")
    if dtype not in (float32, float64):
        raise DTypeError(f"rand: dtype must be float32 or float64, got {dtype}")
    shape = _shape_arg(size, "rand")
    _fill("rand", shape, dtype)
    return _factory(_rng.resolve(generator, "rand").random(shape, dtype=dtype), requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), *, generator: Any = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    _device.check_device(device, "randint")
    if high is None:
        low, high = 0, low
    low, high = check_int(low, "low", "randint"), check_int(high, "high", "randint")
    if low >= high:
        raise ArgumentError(f"randint: low must be < high, got low={low}, high={high}")
    dtype = _factory_dtype(dtype, int64, "randint")
    shape = _shape_arg((tuple(size),) if isinstance(size, (tuple, list)) else (size,), "randint")
    with allocating("randint", f"{math.prod(shape)} integers of shape {shape}"):
        return _factory(_rng.resolve(generator, "randint").integers(low, high, shape).astype(dtype),
                        requires_grad)


def randperm(n: int, *, generator: Any = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    _device.check_device(device, "randperm")
    n = check_int(n, "n", "randperm", minimum=0)
    check_shape((n,), "n", "randperm")
    dtype = _factory_dtype(dtype, int64, "randperm")
    with allocating("randperm", f"a permutation of {n} indices"):
        return _factory(_rng.resolve(generator, "randperm").permutation(n).astype(dtype), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "arange")
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        check_number(v, name, "arange", finite=True)
        if is_int(v) and not -2 ** 63 <= v < 2 ** 63:
            raise ArgumentError(f"arange: {name}={v} does not fit in int64")
    if step == 0:
        raise ArgumentError("arange: step must be nonzero")
    if dtype is None:
        dtype = int64 if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) else float32
    dtype = _factory_dtype(dtype, float32, "arange")
    if dtype == bool_:
        raise DTypeError("arange: dtype bool is not supported (a range of numbers is not a mask)")
    try:
        arr = np.arange(start, end, step, dtype=dtype)
    except (ValueError, TypeError, MemoryError) as e:
        raise ArgumentError(f"arange({start}, {end}, {step}): {e}") from None
    return _factory(arr, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "eye")
    shape = _shape_arg(((n,) if m is None else (n, m),), "eye")
    dtype = _factory_dtype(dtype, float32, "eye")
    _fill("eye", shape, dtype)                    # the size and memory checks, then the identity
    return _factory(np.eye(*shape, dtype=dtype), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "zeros_like")
    t = _like(t, "zeros_like")
    return _factory(_fill("zeros_like", t.shape, _factory_dtype(dtype, t.dtype, "zeros_like"), 0), requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "ones_like")
    t = _like(t, "ones_like")
    return _factory(_fill("ones_like", t.shape, _factory_dtype(dtype, t.dtype, "ones_like"), 1), requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "full_like")
    t = _like(t, "full_like")
    fill_value = _number(fill_value, "fill_value", "full_like")
    return _factory(_fill("full_like", t.shape, _factory_dtype(dtype, t.dtype, "full_like"), fill_value), requires_grad)


def randn_like(t: Tensor, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "randn_like")
    t = _like(t, "randn_like")
    return randn(*t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def rand_like(t: Tensor, dtype: Any = None, requires_grad: bool = False,
           device: Any = None, pin_memory: bool = False) -> Tensor:
    _device.check_device(device, "rand_like")
    t = _like(t, "rand_like")
    return rand(*t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


# ------------------------------------------------- factories real PyTorch scripts use (issue 12)
def _float_dtype_arg(dtype: Any, op: str) -> np.dtype:
    return check_dtype(float32 if dtype is None else dtype, "dtype", op, kinds="f")


def _steps_arg(steps: Any, op: str) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ArgumentError(f"{op}: steps must be a non-negative int, got {steps!r}")
    return check_shape((int(steps),), "steps", op, itemsize=16)[0]   # long double work arrays


def _linspace_array(start: Any, end: Any, steps: int, op: str) -> np.ndarray:
    """PyTorch's values (float64): start + i·step for the first half, end - (steps-1-i)·step
    for the second, so both ends are exact and the grid is symmetric."""
    start = float(_number(start, "start", op))
    end = float(_number(end, "end", op))
    for name, v in (("start", start), ("end", end)):
        if not np.isfinite(v):
            raise ArgumentError(f"{op}: {name} must be finite, got {v!r}")
    if steps <= 1:
        return np.full(steps, start)
    step = (end - start) / (steps - 1)
    # extended precision for step·i + start: PyTorch's kernel rounds it once (a fused
    # multiply-add), which float64 arithmetic would round twice
    i = np.arange(steps, dtype=np.longdouble)
    half = steps // 2
    step_ = np.longdouble(step)
    values = np.where(i < half, np.longdouble(start) + step_ * i, np.longdouble(end) - step_ * (steps - 1 - i))
    return values.astype(np.float64)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    """`steps` evenly spaced values from start to end, both included (float32 by default)."""
    _device.check_device(device, "linspace")
    steps = _steps_arg(steps, "linspace")
    dtype = _float_dtype_arg(dtype, "linspace")
    with allocating("linspace", f"{steps} values"):
        return _factory(_linspace_array(start, end, steps, "linspace").astype(dtype), requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    """base ** linspace(start, end, steps)."""
    _device.check_device(device, "logspace")
    steps = _steps_arg(steps, "logspace")
    dtype = _float_dtype_arg(dtype, "logspace")
    base = float(_number(base, "base", "logspace"))
    with allocating("logspace", f"{steps} values"):
        exponents = _linspace_array(start, end, steps, "logspace")
        return _factory(np.power(base, exponents).astype(dtype), requires_grad)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors: with indexing='ij' output k varies along dim k;
    'xy' swaps the first two dims (NumPy/Matlab's Cartesian convention). Each output is the
    input reshaped and expanded, so gradients flow back (summed over the broadcast dims)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    check_choice(indexing, "indexing", "meshgrid", ("ij", "xy"))
    ts = _as_tensors(list(tensors), "meshgrid")
    for i, t in enumerate(ts):
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: expects 0-D or 1-D tensors, but tensor {i} has shape {t.shape}")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    order = [1, 0] + list(range(2, len(ts))) if swap else list(range(len(ts)))
    shape = tuple(ts[k].shape[0] for k in order)
    out = []
    for i, t in enumerate(ts):
        axis = order.index(i)
        view = [1] * len(ts)
        view[axis] = t.shape[0]
        out.append(t.reshape(*view).expand(*shape))   # (n,) -> (1, .., n, .., 1) -> grid
    return tuple(out)


def normal(mean: Any, std: Any = 1.0, size: Any = None, generator: Any = None,
           device: Any = None) -> Tensor:
    """Samples of N(mean, std²) from the seeded generator: mean and std are tensors
    (broadcast together) or numbers; with two numbers, `size` gives the shape. The result
    does not require grad (as torch.normal)."""
    op = "normal"
    _device.check_device(device, op)
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if tensors:
        if size is not None:
            raise ArgumentError(f"{op}: size is only for number mean and std; the tensor's shape "
                                f"gives the output shape")
        m = mean.numpy() if isinstance(mean, Tensor) else float(_number(mean, "mean", op))
        s = std.numpy() if isinstance(std, Tensor) else float(_number(std, "std", op))
        shape = _broadcast_shape(op, np.shape(m), np.shape(s))
        dtype = np.result_type(*[t.dtype for t in tensors])
        dtype = dtype if dtype.kind == "f" else float32
    else:
        if size is None:
            raise ArgumentError(f"{op}: with number mean and std, give size=(...) for the shape")
        m, s = float(_number(mean, "mean", op)), float(_number(std, "std", op))
        shape = _shape_arg((tuple(size),) if isinstance(size, (tuple, list)) else (size,), op)
        dtype = float32
    if np.any(np.asarray(s) < 0):
        raise ArgumentError(f"{op}: std must be non-negative, got a value {float(np.min(s))}")
    rng = _rng.resolve(generator, "normal")
    with allocating(op, f"{math.prod(shape)} samples of shape {shape}"):
        sample = m + s * rng.standard_normal(shape)
        return Tensor._wrap(np.asarray(sample, dtype=dtype))


def _as_tensors(tensors: Sequence[Any], op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise ArgumentError(f"{op}: expected a non-empty list or tuple of tensors")
    dtype = getattr(tensors[0], "dtype", None)
    if all(isinstance(t, Tensor) and t._data.dtype == dtype for t in tensors):
        return list(tensors)                  # the common case: tensors of one dtype, no casts
    ts = [t if isinstance(t, Tensor) else Tensor._wrap(_to_array(t)) for t in tensors]
    # the same rule as binary ops (_promote): a float tensor wins over int/bool ones, so
    # cat([float32, int64]) is float32 as in torch (np.result_type would give float64)
    floats = [t.dtype for t in ts if t.dtype.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.result_type(*[t.dtype for t in ts])
    return [t.to(dtype) for t in ts]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along an existing dim."""
    ts = _as_tensors(tensors, "cat")
    ref = ts[0].shape
    if not ref or any(not t._data.ndim for t in ts):
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use tc.stack")
    axis = _normalize_dim(dim, len(ref), "cat")
    before, after = ref[:axis], ref[axis + 1:]
    for i, t in enumerate(ts):
        shape = t._data.shape
        if len(shape) != len(ref) or shape[:axis] != before or shape[axis + 1:] != after:
            raise ShapeError(f"cat: tensors must have the same shape except in dim {dim}, but "
                             f"tensor 0 has shape {ref} and tensor {i} has shape {t.shape}")
    return M.Cat.apply(*ts, axis=axis)


concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack along a new dim."""
    ts = _as_tensors(tensors, "stack")
    axis = _normalize_dim(dim, ts[0].ndim + 1, "stack")
    for i, t in enumerate(ts[1:], 1):
        if t.shape != ts[0].shape:
            raise ShapeError(f"stack: all tensors must have the same shape, but tensor 0 has "
                             f"shape {ts[0].shape} and tensor {i} has shape {t.shape}")
    return M.Stack.apply(*ts, axis=axis)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """Elements of `input` where condition holds, else of `other` (all three broadcast)."""
    cond = condition if isinstance(condition, Tensor) else Tensor._wrap(_to_array(condition))
    if cond.dtype != bool_:
        cond = Tensor._wrap(cond._data.astype(bool))
    a = input if isinstance(input, Tensor) else Tensor._wrap(_to_array(input))
    b = other if isinstance(other, Tensor) else Tensor._wrap(_to_array(other))
    if a.dtype != b.dtype:
        a, b = _promote(a, b)
    shape = _broadcast_shape("where", cond.shape, a.shape, b.shape)
    return E.Where.apply(cond.expand(*shape), a.expand(*shape), b.expand(*shape))


def maximum(input: Tensor, other: Any) -> Tensor:
    return check_tensor(input, "input", "maximum").maximum(other)


def minimum(input: Tensor, other: Any) -> Tensor:
    return check_tensor(input, "input", "minimum").minimum(other)


def matmul(a: Tensor, b: Any) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics: 1-D operands are promoted and the added dim
    removed; batch dims broadcast (through `Expand`, so MatMul's backward never sums)."""
    check_tensor(a, "a", "matmul")
    if not isinstance(b, Tensor):
        b = Tensor._wrap(_to_array(b))
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        a, b = _promote(a, b)
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({a2.shape[-1]} != {b2.shape[-2]} in the contracted dim)")
    if a2.ndim > 2 or b2.ndim > 2:               # batch dims: broadcast them
        try:
            batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
        except ValueError:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: their "
                             f"batch dims {a2.shape[:-2]} and {b2.shape[:-2]} cannot be broadcast "
                             f"together") from None
        a2 = a2.expand(*batch, *a2.shape[-2:])
        b2 = b2.expand(*batch, *b2.shape[-2:])
    out = L.MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = out.squeeze(-2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    return out


# --------------------------------------------- PyTorch's keyword spellings (issue 12, item 5)
def _size_keyword(fn: Callable) -> Callable:
    """f(2, 3), f((2, 3)) and, as PyTorch also accepts, f(size=(2, 3))."""
    @functools.wraps(fn)
    def factory(*sizes: Any, size: Any = None, **kwargs: Any) -> Tensor:
        if size is not None:
            if sizes:
                raise ArgumentError(f"{fn.__name__}: give the size either positionally or as "
                                    f"size=, not both (got {sizes!r} and size={size!r})")
            sizes = (tuple(size),) if isinstance(size, (tuple, list)) else (size,)
        return fn(*sizes, **kwargs)
    return factory


zeros, ones, empty, rand, randn = (_size_keyword(f) for f in (zeros, ones, empty, rand, randn))


def _numpy_names(fn: Callable) -> Callable:
    """The NumPy spellings PyTorch accepts too: axis= for dim=, keepdims= for keepdim=."""
    @functools.wraps(fn)
    def method(*args: Any, **kwargs: Any) -> Any:
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise ArgumentError(f"{fn.__name__}: got both dim and axis (axis is NumPy's name "
                                    f"for dim; give one)")
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            if "keepdim" in kwargs:
                raise ArgumentError(f"{fn.__name__}: got both keepdim and keepdims; give one")
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)
    return method


for _name in ("sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
              "softmax", "log_softmax", "unsqueeze", "squeeze"):
    setattr(Tensor, _name, _numpy_names(getattr(Tensor, _name)))
cat, stack = _numpy_names(cat), _numpy_names(stack)
concatenate = cat
