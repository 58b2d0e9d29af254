"""Samplers, torch.utils.data's names: which dataset indices an epoch visits, in which order.

A sampler is an iterable of indices (`__iter__`, and `__len__` when known); `BatchSampler`
groups one into lists. The built-in samplers also have `_index_array()`, the whole epoch's
indices as one int64 array, so the DataLoader can slice batches out of it instead of building
a Python list per batch (same indices, same order, as iterating them).

Randomness: `generator=` as everywhere in tc.data (None = the framework's generator read when
an epoch starts, an int seed, or a numpy Generator; see `generator.py`).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence, Sized

import numpy as np

from ..argcheck import check_array
from ..errors import ArgumentError
from .generator import owned_generator, resolve_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ArgumentError(f"{name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


class Sampler:
    """Base class: subclasses define `__iter__` (indices) and, when they can, `__len__`."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass                                  # PyTorch's deprecated argument, accepted and unused

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices each epoch; with `replacement=True`, `num_samples`
    independent uniform draws; without it and `num_samples` > len, whole permutations one
    after another and then part of one (as PyTorch)."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = None if num_samples is None else _positive_int(num_samples, "num_samples")
        self.generator = owned_generator(generator)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        gen = resolve_generator(self.generator)
        if self.replacement:
            if n == 0:
                raise ArgumentError("RandomSampler: cannot draw with replacement from an empty dataset")
            return gen.integers(0, n, size=k, dtype=np.int64)
        parts = [gen.permutation(n) for _ in range(k // n)] if n else []
        if n and k % n:
            parts.append(gen.permutation(n)[:k % n])
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = owned_generator(generator)

    def _index_array(self) -> np.ndarray:
        idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        return idx[resolve_generator(self.generator).permutation(idx.size)]

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probabilities proportional to `weights` (need not sum
    to 1), with replacement by default; without it, num_samples must not exceed the number of
    non-zero weights."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        self.num_samples = _positive_int(num_samples, "num_samples")
        if not isinstance(replacement, bool):
            raise ArgumentError(f"replacement should be a boolean value, but got replacement={replacement!r}")
        w = check_array(weights, "weights", "WeightedRandomSampler", dtype=np.float64)
        if w.ndim != 1:
            raise ArgumentError(f"weights should be a 1d sequence but given weights have shape {w.shape}")
        if w.size == 0 or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
            raise ArgumentError("WeightedRandomSampler: weights must be finite, non-negative and "
                                "not all zero")
        if not replacement and self.num_samples > np.count_nonzero(w):
            raise ArgumentError(f"WeightedRandomSampler: cannot draw num_samples={self.num_samples} "
                                f"without replacement from {np.count_nonzero(w)} non-zero weights")
        self.weights = w
        self.replacement = replacement
        self.generator = owned_generator(generator)

    def _index_array(self) -> np.ndarray:
        gen = resolve_generator(self.generator)
        return gen.choice(self.weights.size, size=self.num_samples, replace=self.replacement,
                          p=self.weights / self.weights.sum()).astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of `batch_size` indices from `sampler` (the last one shorter unless `drop_last`)."""

    def __init__(self, sampler: Iterable[Any], batch_size: int, drop_last: bool) -> None:
        self.batch_size = _positive_int(batch_size, "batch_size")
        if not isinstance(drop_last, bool):
            raise ArgumentError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def _index_batches(self) -> Iterator[Any]:
        """The batches, as int64 arrays when the sampler can give its epoch as one array."""
        index_array = getattr(self.sampler, "_index_array", None)
        if index_array is None:
            yield from iter(self)
            return
        order = index_array()
        n, b = order.size, self.batch_size
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            yield order[start:start + b]

    def __iter__(self) -> Iterator[list]:
        batch: list = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size


class _InfiniteConstantSampler(Sampler):
    """None forever: the index stream of an IterableDataset (its items come from iterating it)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None
