"""Helpers shared by the layer files: argument tuples, input checks, dtypes."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...argcheck import check_dtype, check_int_tuple
from ...errors import ArgumentError, ShapeError
from ...tensor import Tensor
from ..module import Module


def _ntuple(value: Any, n: int, name: str, op: str = "layer", minimum: int = 1) -> tuple[int, ...]:
    """An int or an n-tuple of ints (each >= minimum), as an n-tuple."""
    if isinstance(value, (tuple, list)) and len(value) != n:
        raise ArgumentError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return check_int_tuple(value, n, name, op, minimum=minimum)


def _check_tensor(module: Module, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{module._label()} expects a tc.Tensor input, got "
                        f"{type(input).__name__}; wrap NumPy data with tc.tensor(...) or "
                        f"tc.from_numpy(...){module._where()}")


def _float_dtype(dtype: Any, op: str = "layer") -> np.dtype:
    """A layer's parameter dtype: floating point, float32 by default."""
    return check_dtype(np.float32 if dtype is None else dtype, "dtype", op, kinds="f")


def _named_call(module: Module, label: str | Callable[[], str], fn: Callable[..., Any], *args: Any,
                **kwargs: Any) -> Any:
    """fn(*args, **kwargs), with a ShapeError or ArgumentError from it re-raised behind the
    layer's label and place in the model, so the message says which module failed. `label`
    may be a function (the module's `_label`): it is then only built for an error."""
    try:
        return fn(*args, **kwargs)
    except (ShapeError, ArgumentError) as e:
        raise type(e)(f"{label() if callable(label) else label}{module._where()}: {e}") from None
