"""Argument checks shared by the public functions: one validator per kind of argument (an int,
a number, a flag, a choice, a dtype, an int tuple, a tensor, a callable, a path), each raising
a documented error (errors.py) whose message names the op, the argument and what it got.

They exist so that garbage (a string for a size, 2**63 for a stride, an array for a flag, a
module where a tensor belongs) stops at the door with a clear message instead of reaching NumPy
or Python deep inside an op as an IndexError, an OverflowError, a "truth value is ambiguous"
or a multi-GiB allocation. Core level: imports only NumPy and errors (the Tensor type is looked
up when needed).
"""
from __future__ import annotations

import contextlib
import enum
import math
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .errors import AllocationError, ArgumentError, DTypeError

__all__ = ["check_int", "check_number", "check_flag", "check_choice", "check_dtype", "check_int_tuple",
           "check_tensor", "check_callable", "check_str", "check_path", "check_shape", "check_sequence",
           "check_array", "check_acyclic", "check_instance", "allocate", "allocating", "describe", "CheckedEnumMeta"]

INT64_MAX = 2 ** 63 - 1


def describe(value: Any, limit: int = 60) -> str:
    """`type value` for a message, the repr cut to `limit` characters."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = "<unprintable>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


def is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _tensor_type():
    from .tensor import Tensor
    return Tensor


def _scalar_of_tensor(value: Any) -> Any:
    """A one-element numeric Tensor's Python value; anything else unchanged."""
    Tensor = _tensor_type()
    if isinstance(value, Tensor) and value.numpy().size == 1 and value.dtype.kind in "fiu":
        return value.numpy().reshape(()).item()
    return value


def _bounds(value: Any, name: str, op: str, minimum: Any, maximum: Any) -> None:
    if minimum is not None and not value >= minimum:            # `not >=` also refuses NaN
        raise ArgumentError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    if maximum is not None and not value <= maximum:
        raise ArgumentError(f"{op}: {name} must be <= {maximum}, got {value!r}")


def check_int(value: Any, name: str, op: str, *, minimum: int | None = None,
              maximum: int | None = INT64_MAX, allow_none: bool = False) -> int | None:
    """An int (Python or NumPy, not a bool) in [minimum, maximum] (int64 range by default)."""
    if value is None and allow_none:
        return None
    if not is_int(value):
        raise ArgumentError(f"{op}: {name} must be an int, got {describe(value)}")
    value = int(value)
    _bounds(value, name, op, -INT64_MAX - 1 if minimum is None else minimum, maximum)
    return value


def check_number(value: Any, name: str, op: str, *, minimum: float | None = None,
                 maximum: float | None = None, finite: bool = False, allow_none: bool = False,
                 allow_tensor: bool = True) -> Any:
    """A real number (int or float, Python or NumPy, or a one-element tensor's value; not a
    bool, a string or a complex), optionally finite and in [minimum, maximum]."""
    if value is None and allow_none:
        return None
    if allow_tensor:
        value = _scalar_of_tensor(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{op}: {name} must be a real number, got {describe(value)}")
    value = value.item() if isinstance(value, np.generic) else value
    if finite and isinstance(value, float) and not math.isfinite(value):     # ints are finite
        raise ArgumentError(f"{op}: {name} must be finite, got {value!r}")
    _bounds(value, name, op, minimum, maximum)
    return value


def check_flag(value: Any, name: str, op: str) -> bool:
    """A bool: True/False, a NumPy bool or the ints 0 and 1 (an array or a string is an error)."""
    if isinstance(value, (bool, np.bool_)) or is_int(value) and value in (0, 1):
        return bool(value)
    raise ArgumentError(f"{op}: {name} must be a bool, got {describe(value)}")


def check_choice(value: Any, name: str, op: str, options: Sequence[str], allow_none: bool = False) -> Any:
    """One of the strings in `options`."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or value not in options:
        raise ArgumentError(f"{op}: {name} must be one of {', '.join(map(repr, options))}, got {describe(value)}")
    return value


def check_str(value: Any, name: str, op: str, allow_none: bool = False) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ArgumentError(f"{op}: {name} must be a str, got {describe(value)}")
    return value


def check_dtype(value: Any, name: str, op: str, kinds: str = "fiub", allow_none: bool = True) -> np.dtype | None:
    """A dtype (tc.float32, np.float64, 'float64', ...) of one of `kinds` (NumPy kind letters:
    f float, i signed int, u unsigned int, b bool)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (np.ndarray, list, tuple, dict, set)) or is_int(value) \
            or isinstance(value, (float, bool, np.bool_)):
        raise DTypeError(f"{op}: {name} must be a dtype such as tc.float32, got {describe(value)}")
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError):
        raise DTypeError(f"{op}: {name} must be a dtype such as tc.float32, got {describe(value)}") from None
    if dtype.kind not in kinds:
        names = {"f": "floating point", "i": "integer", "u": "unsigned integer", "b": "bool", "c": "complex"}
        raise DTypeError(f"{op}: {name} must be a {' or '.join(names.get(k, k) for k in kinds)} dtype, "
                         f"got {dtype}")
    return dtype


def check_int_tuple(value: Any, n: int, name: str, op: str, minimum: int = 1,
                    maximum: int = INT64_MAX) -> tuple[int, ...]:
    """An int or a length-n sequence of ints (each in [minimum, maximum]) as an n-tuple."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) == 1 and n > 1:
        items = items * n
    if len(items) != n or not all(is_int(v) for v in items):
        raise ArgumentError(f"{op}: {name} must be an int or a tuple of {n} ints, got {describe(value)}")
    items = tuple(int(v) for v in items)
    if any(v < minimum or v > maximum for v in items):
        raise ArgumentError(f"{op}: {name} must be in [{minimum}, {maximum}] in every dim, got {value!r}")
    return items


def check_tensor(value: Any, name: str, op: str, allow_none: bool = False) -> Any:
    """A tc.Tensor."""
    if value is None and allow_none:
        return None
    if not isinstance(value, _tensor_type()):
        raise ArgumentError(f"{op}: {name} must be a tc.Tensor, got {describe(value)}; wrap "
                            f"NumPy data with tc.tensor(...)")
    return value


def check_callable(value: Any, name: str, op: str, allow_none: bool = False) -> Callable | None:
    if value is None and allow_none:
        return None
    if not callable(value) or isinstance(value, type) and not hasattr(value, "__call__"):
        raise ArgumentError(f"{op}: {name} must be a callable, got {describe(value)}")
    return value


def check_path(value: Any, name: str, op: str) -> str | os.PathLike:
    """A file-system path: a str or an os.PathLike (not bytes of a tensor, not an int fd)."""
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentError(f"{op}: {name} must be a path (str or os.PathLike), got {describe(value)}")
    return value


def check_shape(shape: Any, name: str, op: str, itemsize: int = 8) -> tuple[int, ...]:
    """A shape: a sequence of non-negative ints whose array NumPy can index (fewer than 2**63
    bytes; a bigger one is a typo, not a tensor)."""
    if is_int(shape):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(is_int(d) for d in shape):
        raise ArgumentError(f"{op}: {name} must be an int or a sequence of ints, got {describe(shape)}")
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ArgumentError(f"{op}: {name} must not have negative sizes, got {shape}")
    if len(shape) > 32:
        raise ArgumentError(f"{op}: {name} has {len(shape)} dims; at most 32 are supported")
    if math.prod(shape) * itemsize > INT64_MAX:
        raise ArgumentError(f"{op}: {name} {shape} would need {math.prod(shape) * itemsize:.3g} bytes")
    if math.prod(d for d in shape if d) * itemsize > INT64_MAX:     # NumPy refuses even an empty one
        raise ArgumentError(f"{op}: {name} {shape} is too big for NumPy to index (its non-zero "
                            f"sizes multiply past 2**63 bytes)")
    return shape


def allocate(shape: Any, dtype: Any, op: str, fill: Any = None) -> np.ndarray:
    """np.empty (or np.full with `fill`) of a checked shape; an allocation the machine cannot
    satisfy raises AllocationError naming the op, the shape and the bytes."""
    dtype = np.dtype(dtype)
    shape = check_shape(shape, "shape", op, dtype.itemsize)
    try:
        return np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
    except MemoryError:
        raise AllocationError(f"{op}: cannot allocate {math.prod(shape) * dtype.itemsize / 2 ** 30:.2f} GiB "
                              f"for an array of shape {shape} and dtype {dtype}") from None


def check_sequence(value: Any, name: str, op: str, what: str = "a sequence",
                   error: type = ArgumentError, exclude: tuple = ()) -> list:
    """list(value) for an iterable (a list, tuple, generator, 1-D array...); a str, bytes,
    dict, 0-d array or non-iterable is an error naming the argument (`error`: ArgumentError,
    or TypeError where PyTorch raises one). The result is a list: a generator is consumed."""
    if isinstance(value, (str, bytes, dict) + tuple(exclude)):
        raise error(f"{op}: {name} must be {what}, got {describe(value)}")
    try:
        return list(value)
    except TypeError:
        raise error(f"{op}: {name} must be {what}, got {describe(value)}") from None


def check_array(value: Any, name: str, op: str, kinds: str = "fiub", ndim: int | None = None,
                dtype: Any = None, allow_none: bool = False) -> np.ndarray | None:
    """A NumPy array of numbers from array-like data (a Tensor, an array, a number, a nested
    list/tuple of numbers), of one of `kinds` (NumPy kind letters) and, given `ndim`, that
    many dims; cast to `dtype` when given. A str, a dict, a ragged or self-containing list,
    objects, strings or complex numbers are an error naming the argument."""
    if value is None and allow_none:
        return None
    Tensor = _tensor_type()
    if isinstance(value, Tensor):
        value = value.numpy()
    what = f"numbers ({'/'.join(_KIND_NAMES[k] for k in kinds)})"
    if isinstance(value, (str, bytes, dict, set)):
        raise ArgumentError(f"{op}: {name} must be array-like of {what}, got {describe(value)}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError):   # ragged, self-containing, ...
        raise ArgumentError(f"{op}: {name} must be a (non-ragged) array-like of {what}, "
                            f"got {describe(value)}") from None
    if arr.dtype.kind not in kinds:
        raise ArgumentError(f"{op}: {name} must be array-like of {what}, got {describe(value)} "
                            f"(dtype {arr.dtype})")
    if ndim is not None and arr.ndim != ndim:
        raise ArgumentError(f"{op}: {name} must have {ndim} dim(s), got shape {arr.shape}")
    return arr if dtype is None else arr.astype(dtype)


_KIND_NAMES = {"f": "float", "i": "int", "u": "unsigned int", "b": "bool", "c": "complex"}


def check_acyclic(value: Any, name: str, op: str) -> Any:
    """`value` when no list, tuple or dict inside it contains itself (a self-containing list
    would send a recursive walk into RecursionError); an iterative check."""
    stack, on_path = [(value, False)], set()
    while stack:
        item, leaving = stack.pop()
        if leaving:
            on_path.discard(id(item))
            continue
        if not isinstance(item, (list, tuple, dict)):
            continue
        if id(item) in on_path:
            raise ArgumentError(f"{op}: {name} contains itself (a self-referencing "
                                f"{type(item).__name__})")
        on_path.add(id(item))
        stack.append((item, True))
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, False) for child in children if isinstance(child, (list, tuple, dict)))
    return value


def check_instance(value: Any, types: type | tuple, name: str, op: str, what: str,
                   allow_none: bool = False) -> Any:
    """An instance of `types` (e.g. nn.Module, passed in by the caller: argcheck sits below
    nn); `what` names it in the message ("an nn.Module")."""
    if value is None and allow_none:
        return None
    if not isinstance(value, types):
        raise ArgumentError(f"{op}: {name} must be {what}, got {describe(value)}")
    return value


@contextlib.contextmanager
def allocating(op: str, what: str) -> Iterator[None]:
    """Inside: a MemoryError from NumPy (an array the machine cannot hold) becomes an
    AllocationError naming the op and what it was allocating."""
    try:
        yield
    except AllocationError:
        raise
    except MemoryError as exc:
        raise AllocationError(f"{op}: cannot allocate {what} ({exc})") from None


class CheckedEnumMeta(enum.EnumMeta):
    """The metaclass of the framework's enums (InterpolationMode, the vision weight enums):
    `Mode(value)` looks a member up by its value and refuses anything else with an ArgumentError
    (a ValueError, as Enum's own) naming the enum and its values, instead of Enum's lookup
    comparing the value with every member (an array there is "truth value ... ambiguous").
    The functional API (`Base(name, members, module=...)`) works on a member-less base, with
    its arguments checked."""

    def __call__(cls, value: Any, names: Any = None, *, module: Any = None, qualname: Any = None,
                 type: Any = None, start: Any = 1, boundary: Any = None) -> Any:
        op = cls.__name__
        if names is None:                                   # a lookup, as Enum ignores the rest
            if isinstance(value, cls):
                return value
            members = list(cls.__members__.values())
            if not members:
                raise ArgumentError(f"{op} has no members: it is a base to create enums from "
                                    f"({op}(name, members)), got {describe(value)}")
            try:
                found = cls._value2member_map_.get(value) if isinstance(value, (str, int, float)) else None
            except TypeError:                               # an unhashable str/int subclass
                found = None
            if found is None:
                values = ", ".join(repr(m.value) for m in dict.fromkeys(members))
                raise ArgumentError(f"{op}: {describe(value)} is not a valid {op}; expected one of "
                                    f"{values} (or a member such as {op}.{members[0].name})")
            return found
        if cls.__members__:
            raise ArgumentError(f"{op}: an enum with members cannot be extended (got names="
                                f"{describe(names)}); call {op}(value) to look a member up")
        check_str(value, "value (the new enum's name)", op)
        if not value.isidentifier():
            raise ArgumentError(f"{op}: the new enum's name must be an identifier, got {value!r}")
        items = check_sequence(names, "names", op, "a sequence of (name, value) pairs")
        for i, item in enumerate(items):
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                    and item[0].isidentifier() and isinstance(item[1], (str, int, float))):
                raise ArgumentError(f"{op}: names[{i}] must be a (name, value) pair with an "
                                    f"identifier name and a str/number value, got {describe(item)}")
        check_str(module, "module", op, allow_none=True)
        check_str(qualname, "qualname", op, allow_none=True)
        if type is not None or boundary is not None:
            raise ArgumentError(f"{op}: type= and boundary= are not supported for the "
                                f"framework's enums")
        check_int(start, "start", op)
        return super().__call__(value, items, module=module, qualname=qualname, start=start)
