"""Turning samples into batches, as torch.utils.data's `default_collate` / `default_convert`.

default_collate(list of samples), by the type of the first sample:
  Tensor                 -> Tensor, stacked along a new first dim
  numpy array            -> Tensor, stacked (string/object arrays: TypeError)
  numpy scalar           -> 1-d Tensor of its dtype
  float                  -> 1-d float64 Tensor (as PyTorch; ints -> int64, bools -> bool)
  str / bytes            -> the list unchanged
  Mapping                -> the same mapping type, collated key by key
  namedtuple             -> the same namedtuple, collated field by field
  tuple / other Sequence -> a list (a tuple becomes a list, as in PyTorch), collated position by
                            position; every sample must have the same length
default_convert(sample) (the DataLoader's collate_fn when batch_size=None): numpy arrays and
scalars -> Tensors, recursively through mappings and sequences; everything else unchanged.
"""
from __future__ import annotations

import collections.abc
import copy
from typing import Any, Callable, Sequence

import numpy as np

from ..argcheck import INT64_MAX, check_acyclic, check_sequence, describe, is_int
from ..errors import ShapeError
from ..tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_text_array(a: np.ndarray) -> bool:
    return a.dtype.kind in "OSUV"


def _stack(arrays: Sequence[np.ndarray], what: str) -> Tensor:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ShapeError(f"default_collate: stack expects each {what} to be equal size, but the "
                         f"batch has shapes {sorted(shapes)}")
    return Tensor._wrap(np.stack(arrays))


def _rebuild(sample: Any, values: list) -> Any:
    """A sequence like `sample` holding `values` (mutable ones are copied and filled in)."""
    if isinstance(sample, collections.abc.MutableSequence):
        try:
            clone = copy.copy(sample)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        except TypeError:
            return values
    try:
        return type(sample)(values)
    except TypeError:
        return values


def default_collate(batch: Sequence[Any]) -> Any:
    """A list of samples -> one batch; see the module docstring for the rules."""
    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)):
        batch = check_sequence(batch, "batch", "default_collate", "a sequence of samples", error=TypeError)
    return _collate(check_acyclic(batch, "batch", "default_collate"))


def _scalars(batch: Sequence[Any], dtype: Any) -> Tensor:
    """A 1-d tensor of Python numbers (ints must fit in int64)."""
    for v in batch:
        if not isinstance(v, (int, float, np.integer, np.floating, np.bool_)) \
                or is_int(v) and not -INT64_MAX - 1 <= v <= INT64_MAX:
            raise TypeError(f"default_collate: a batch whose first sample is a number must hold "
                            f"only numbers (ints in the int64 range); found {describe(v)}")
    return Tensor._wrap(np.asarray(batch, dtype=dtype))


def _collate(batch: Sequence[Any]) -> Any:
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([t.numpy() for t in batch], "tensor")
    if isinstance(elem, np.ndarray):
        if _is_text_array(elem):
            raise TypeError(_ERR.format(elem.dtype))
        return _stack([np.asarray(a) for a in batch], "array")
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return Tensor._wrap(np.asarray(batch))
    if isinstance(elem, bool):
        return _scalars(batch, np.bool_)
    if isinstance(elem, int):
        return _scalars(batch, np.int64)
    if isinstance(elem, float):
        return _scalars(batch, np.float64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        out = {key: _collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            try:
                clone = copy.copy(elem)
                clone.update(out)
                return clone
            except TypeError:
                return out
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):           # namedtuple
        return type(elem)(*(_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(s) != size for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size "
                               f"(got lengths {sorted({len(s) for s in batch})})")
        columns = [_collate(list(s)) for s in zip(*batch)]
        return columns if isinstance(elem, tuple) else _rebuild(elem, columns)
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data: Any) -> Any:
    """One sample with numpy arrays turned into Tensors (used when batch_size=None)."""
    return _convert(check_acyclic(data, "data", "default_convert"))


def _convert(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _is_text_array(data) else Tensor._wrap(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        out = {key: _convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(out)
            return clone
        try:
            return type(data)(out)
        except TypeError:
            return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_convert(d) for d in data))
    if isinstance(data, tuple):
        return [_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild(data, [_convert(d) for d in data])
    return data


def fetch(dataset: Any, indices: Any, collate_fn: Callable | None = None) -> Any:
    """The batch of a map-style `dataset` at `indices` (an int64 array or a list).

    With the default collate, a dataset with `__getitems__(indices)` gives the batch in one
    call: a tuple return is a batch already collated field by field (TensorDataset, Subset and
    MNIST build it with one fancy index per field) and is handed out as a list, as collation
    would; a list return is PyTorch's convention, a list of samples, and is collated. Otherwise
    (and with a custom collate_fn) items are fetched one by one."""
    if collate_fn is None or collate_fn is default_collate:
        getitems = getattr(dataset, "__getitems__", None)
        if getitems is not None:
            out = getitems(np.asarray(indices, dtype=np.int64))
            if isinstance(out, list):
                return default_collate(out)
            return list(out) if type(out) is tuple else out
        collate_fn = default_collate
    return collate_fn([dataset[int(i)] for i in indices])
