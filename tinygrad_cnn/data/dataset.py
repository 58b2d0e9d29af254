"""Datasets: anything with `__len__` and `__getitem__`, PyTorch's `torch.utils.data` names.

A dataset may also define `__getitems__(indices)` (as in PyTorch >= 2.0): given an integer
array of indices it returns the whole batch at once, already collated (a tuple of Tensors).
`DataLoader` uses it when present, so an array-backed dataset builds a batch with one fancy
index per field instead of a Python loop over items. `TensorDataset`, `Subset` (over such a
dataset) and `MNIST` all have it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """Base class: subclasses define `__getitem__(index)` and `__len__()`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x._data
    return np.asarray(x)


def _check_index(i: Any, n: int, who: str) -> int:
    try:
        i = int(i)
    except TypeError:
        raise ArgumentError(f"{who}: index must be an int, got {type(i).__name__}") from None
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
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
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
        from .dataloader import fetch
        return fetch(self.dataset, self.indices[indices])


class ConcatDataset(Dataset):
    """Datasets one after another."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ArgumentError("ConcatDataset: expected at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        i = _check_index(index, len(self), "ConcatDataset")
        k = int(np.searchsorted(self.cumulative_sizes, i, side="right"))
        start = int(self.cumulative_sizes[k - 1]) if k else 0
        return self.datasets[k][i - start]


def random_split(dataset: Any, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Split into non-overlapping Subsets of the given lengths (ints, or fractions summing to 1),
    shuffled with `generator` (a NumPy Generator or an int seed; default: the framework's)."""
    from .dataloader import _resolve_generator
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
        counts = [int(np.floor(n * f)) for f in lengths]
        for k in range(n - sum(counts)):      # hand out the remainder round-robin, like PyTorch
            counts[k % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n or any(x < 0 for x in lengths):
        raise ArgumentError(f"random_split: lengths {lengths} must be non-negative and sum to "
                            f"the dataset size {n} (or be fractions summing to 1)")
    perm = _resolve_generator(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + int(length)]))
        start += int(length)
    return out
