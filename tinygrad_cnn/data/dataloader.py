"""`DataLoader`: iterate a dataset in (shuffled) batches of Tensors, like torch.utils.data.DataLoader.

Shuffling draws one permutation per epoch (per `iter(loader)`) from a NumPy Generator:
- `seed=n` (or `generator=n`): the loader owns `np.random.default_rng(n)`, advanced each epoch,
  so epoch k's order depends only on n and k; `state_dict()` / `load_state_dict()` capture it
  (checkpoints save it so a resumed run sees the same orders);
- `generator=np.random.Generator(...)`: that generator;
- neither: the framework's seeded generator (`tc.manual_seed`), read when iteration starts.

Batching: when the dataset has `__getitems__(indices)` (TensorDataset, Subset, MNIST) a batch
is one call with the batch's index array (one fancy index per field, no per-item loop);
otherwise items are fetched one by one and stacked by `default_collate`.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable, Iterator

import numpy as np

from .. import rng
from ..errors import ArgumentError
from ..tensor import Tensor

__all__ = ["DataLoader", "default_collate", "fetch", "generator_state", "set_generator_state"]


def _resolve_generator(generator: Any) -> np.random.Generator:
    if generator is None:
        return rng.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool) and generator >= 0:
        return np.random.default_rng(int(generator))
    raise ArgumentError(f"generator must be None, a non-negative int seed or a "
                        f"numpy.random.Generator, got {generator!r}")


def generator_state(gen: np.random.Generator) -> str:
    """A generator's full state as a JSON string (128-bit PCG64 integers do not fit in int64,
    and a string array saves in .npz without pickle)."""
    return json.dumps(gen.bit_generator.state)


def set_generator_state(gen: np.random.Generator, state: Any) -> None:
    """Restore a state produced by `generator_state` (a str, a 0-d str array, or a dict)."""
    if isinstance(state, np.ndarray):
        state = state.item()
    if isinstance(state, (str, bytes)):
        state = json.loads(state)
    gen.bit_generator.state = state


def default_collate(items: list) -> Any:
    """Stack a list of samples into a batch: Tensors/arrays -> Tensor with a new first dim,
    numbers -> 1-d Tensor (ints int64, floats float32), tuples/lists/dicts field by field."""
    first = items[0]
    if isinstance(first, Tensor):
        return Tensor._wrap(np.stack([t._data for t in items]))
    if isinstance(first, np.ndarray):
        return Tensor._wrap(np.stack(items))
    if isinstance(first, (bool, np.bool_)):
        return Tensor._wrap(np.asarray(items, dtype=np.bool_))
    if isinstance(first, (int, np.integer)):
        return Tensor._wrap(np.asarray(items, dtype=np.int64))
    if isinstance(first, (float, np.floating)):
        dtype = first.dtype if isinstance(first, np.floating) else np.float32
        return Tensor._wrap(np.asarray(items, dtype=dtype))
    if isinstance(first, dict):
        return {k: default_collate([d[k] for d in items]) for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(it) != len(first) for it in items):
            raise ArgumentError("default_collate: samples in a batch have different lengths")
        fields = [default_collate(list(f)) for f in zip(*items)]
        return tuple(fields) if isinstance(first, tuple) else fields
    if isinstance(first, (str, bytes)):
        return list(items)
    raise ArgumentError(f"default_collate: cannot batch samples of type {type(first).__name__}; "
                        f"pass collate_fn=...")


def fetch(dataset: Any, indices: np.ndarray, collate_fn: Callable | None = None) -> Any:
    """The batch of `dataset` at `indices`: one `__getitems__` call when the dataset has it
    (and no custom collate_fn is given), else item by item through the collate function."""
    if collate_fn is None:
        getitems = getattr(dataset, "__getitems__", None)
        if getitems is not None:
            return getitems(indices)
        collate_fn = default_collate
    return collate_fn([dataset[int(i)] for i in indices])


class DataLoader:
    """Iterate `dataset` in batches of `batch_size`; see the module docstring for shuffling."""

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, generator: Any = None, seed: int | None = None,
                 collate_fn: Callable | None = None, num_workers: int = 0) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ArgumentError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if num_workers != 0:
            raise ArgumentError(f"DataLoader: num_workers={num_workers} is not supported; batches "
                                f"are built in the main process (num_workers=0)")
        if generator is not None and seed is not None:
            raise ArgumentError("DataLoader: pass either generator= or seed=, not both")
        try:
            len(dataset)
        except TypeError:
            raise ArgumentError(f"DataLoader: the dataset ({type(dataset).__name__}) must define "
                                f"__len__") from None
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.num_workers = 0
        if seed is not None:
            generator = int(seed)
        # None: the global generator, looked up at each iter() (tc.manual_seed replaces it)
        self.generator = None if generator is None else _resolve_generator(generator)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return _resolve_generator(self.generator).permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        n = order.size
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            yield fetch(self.dataset, order[start:start + self.batch_size], self.collate_fn)

    # -- checkpointing: the shuffling state, so a resumed run sees the same batch orders
    def state_dict(self) -> dict:
        """The state of the loader's own generator (empty when it uses the global one, which
        checkpoints save separately)."""
        if self.generator is None:
            return {}
        return {"generator": generator_state(self.generator)}

    def load_state_dict(self, state: dict) -> None:
        if "generator" not in state:
            return
        if self.generator is None:
            self.generator = np.random.default_rng()
        set_generator_state(self.generator, state["generator"])

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})")
