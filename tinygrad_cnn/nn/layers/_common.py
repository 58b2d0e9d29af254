"""Helpers shared by the layer files: argument tuples, input checks, dtypes."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...errors import ArgumentError, ShapeError
from ...tensor import Tensor
from ..module import Module


def _ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ArgumentError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _check_tensor(module: Module, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{module._label()} expects a tc.Tensor input, got "
                        f"{type(input).__name__}; wrap NumPy data with tc.tensor(...) or "
                        f"tc.from_numpy(...){module._where()}")


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if dtype.kind != "f":
        raise ArgumentError(f"layer parameters must have a floating point dtype, got {dtype}")
    return dtype


def _named_call(module: Module, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs), with a ShapeError or ArgumentError from it re-raised behind the
    layer's label and place in the model, so the message says which module failed."""
    try:
        return fn(*args, **kwargs)
    except (ShapeError, ArgumentError) as e:
        raise type(e)(f"{label}{module._where()}: {e}") from None
