"""Datasets, PyTorch's `torch.utils.data` names: map-style (`__len__` and `__getitem__`) and
iterable (`IterableDataset`, `__iter__`).

A map-style dataset may also define `__getitems__(indices)` (as in PyTorch >= 2.0): given an
int64 array of indices it returns either a list of samples (PyTorch's convention; they are
then collated) or, the fast path of this package, a tuple that is already the collated batch
(one fancy index per field instead of a Python loop over items). `TensorDataset`, `Subset`
(passing its inner dataset's form through) and `MNIST` take the fast path.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..argcheck import check_int, check_sequence, describe, is_int
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "IterableDataset",
           "ChainDataset"]


class Dataset:
    """Base class: subclasses define `__getitem__(index)` and `__len__()`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        # TypeError (not NotImplementedError), so list(loader) and len() hints treat it as
        # "no length", as for a PyTorch Dataset that defines none
        raise TypeError(f"{type(self).__name__} does not define __len__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError, OverflowError) as e:
        raise ArgumentError(f"TensorDataset: cannot make an array of {describe(x)} ({e})") from None
    if arr.dtype.kind not in "fiub":
        raise ArgumentError(f"TensorDataset: the data must be numeric, got dtype {arr.dtype}")
    return arr


def _sized(dataset: Any, who: str, name: str = "dataset") -> int:
    """len(dataset), or an error naming the argument when it has no length."""
    try:
        return len(dataset)
    except TypeError:
        raise ArgumentError(f"{who}: {name} must be a dataset with __len__, got {describe(dataset)}") from None


def _check_index(i: Any, n: int, who: str) -> int:
    if isinstance(i, Tensor) and i.numpy().size == 1 and i.dtype.kind in "iu":
        i = i.numpy().reshape(()).item()
    i = check_int(i, "index", who)
    if not -n <= i < n:
        raise IndexError(f"{who}: index {i} is out of range for a dataset of {n} items")
    return i % n


class TensorDataset(Dataset):
    """Wraps tensors (or arrays) that share their first dimension: item i is
    `(t0[i], t1[i], ...)`. Batches are gathered with one fancy index per tensor."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ArgumentError("TensorDataset: expected at least one tensor")
        arrays = [_as_array(t) for t in tensors]
        for k, a in enumerate(arrays):
            if a.ndim == 0:
                raise ShapeError(f"TensorDataset: tensor {k} is 0-d; every tensor needs a first "
                                 f"(item) dimension")
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ShapeError(f"TensorDataset: all tensors must have the same size in dim 0, "
                             f"got shapes {shapes}")
        self.arrays = arrays

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(Tensor._wrap(a) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(Tensor._wrap(a[i]) for a in self.arrays)

    def __getitems__(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        return tuple(Tensor._wrap(a[indices]) for a in self.arrays)


class Subset(Dataset):
    """The items of `dataset` at `indices` (e.g. a validation split)."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        n = _sized(dataset, "Subset")
        if isinstance(indices, Tensor):
            indices = indices.numpy()
        indices = check_sequence(indices, "indices", "Subset", "a sequence of ints")
        if not all(is_int(i) for i in indices):
            raise ArgumentError(f"Subset: indices must be a sequence of ints, got {describe(indices)}")
        idx = np.asarray([int(i) for i in indices], dtype=object)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} "
                             f"items, got min {idx.min()}, max {idx.max()}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} "
                             f"items, got min {idx.min()}, max {idx.max()}")
        self.dataset = dataset
        self.indices = idx % n if n else idx

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[_check_index(index, len(self), "Subset")])]

    def __getitems__(self, indices: np.ndarray) -> Any:
        # the inner dataset's batch (same convention), else a list of samples (PyTorch's)
        inner = self.indices[np.asarray(indices, dtype=np.int64)]
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            return getitems(inner)
        return [self.dataset[int(i)] for i in inner]


class ConcatDataset(Dataset):
    """Datasets one after another."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = check_sequence(datasets, "datasets", "ConcatDataset", "a sequence of datasets")
        if not self.datasets:
            raise ArgumentError("ConcatDataset: expected at least one dataset")
        self.cumulative_sizes = np.cumsum([_sized(d, "ConcatDataset", "each of datasets") for d in self.datasets])

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        i = _check_index(index, len(self), "ConcatDataset")
        k = int(np.searchsorted(self.cumulative_sizes, i, side="right"))
        start = int(self.cumulative_sizes[k - 1]) if k else 0
        return self.datasets[k][i - start]


def random_split(dataset: Any, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Split into non-overlapping Subsets of the given lengths: ints summing to len(dataset), or
    fractions summing to 1 (floor(n * f) each, the remainder handed out one by one from the
    first split, as PyTorch). Shuffled with `generator` (None: the framework's generator, an
    int seed, or a numpy Generator)."""
    from .generator import resolve_generator
    n = _sized(dataset, "random_split")
    lengths = check_sequence(lengths, "lengths", "random_split", "a sequence of ints or fractions")
    if not all(is_int(x) or isinstance(x, (float, np.floating)) and math.isfinite(x) for x in lengths):
        raise ArgumentError(f"random_split: lengths must be ints or finite fractions, got {describe(lengths)}")
    total = sum(lengths)
    if lengths and math.isclose(total, 1) and total <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ArgumentError(f"random_split: fraction at index {i} ({frac}) is not between 0 and 1")
            counts.append(int(math.floor(n * frac)))
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this might "
                              f"result in an empty dataset", stacklevel=2)
        lengths = counts
    if any(not float(x).is_integer() or x < 0 for x in lengths) or sum(lengths) != n:
        raise ArgumentError(f"random_split: lengths {lengths} must be non-negative ints that "
                            f"sum to the dataset size {n} (or fractions summing to 1)")
    perm = resolve_generator(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + int(length)]))
        start += int(length)
    return out


class IterableDataset(Dataset):
    """A stream of samples: subclasses define `__iter__`. With DataLoader(num_workers=k) each
    worker iterates its own copy, so split the work in `__iter__` with `get_worker_info()`
    (else every worker yields the whole stream, as in PyTorch)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate it, it has no "
                        f"__getitem__")

    def __add__(self, other: Any) -> "ChainDataset":
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Iterable datasets one after another."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = check_sequence(datasets, "datasets", "ChainDataset", "an iterable of datasets",
                                       error=TypeError)

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)
