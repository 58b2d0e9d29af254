"""`DataLoader`: a dataset in batches of Tensors, torch.utils.data.DataLoader's arguments and checks.

    DataLoader(dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
               num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
               worker_init_fn=None, multiprocessing_context=None, generator=None, *,
               prefetch_factor=None, persistent_workers=False, pin_memory_device="",
               in_order=True, seed=None)

Which indices: `sampler` (default: RandomSampler(dataset, generator=generator) when shuffle,
else SequentialSampler), grouped by `BatchSampler(sampler, batch_size, drop_last)`, or a
`batch_sampler` of your own (then batch_size/shuffle/sampler/drop_last must stay unset, as in
PyTorch); batch_size=None turns batching off (each sample through `default_convert`). An
`IterableDataset` takes no sampler or shuffle: its items come from iterating it.

Shuffling draws one permutation per epoch (per `iter(loader)`):
- `seed=n` or `generator=n` (extensions): the loader owns `np.random.default_rng(n)`, advanced
  each epoch, so epoch k's order depends only on n and k; `state_dict()` / `load_state_dict()`
  capture it (checkpoints save it so a resumed run sees the same orders);
- `generator=np.random.Generator(...)`: that generator;
- neither: the framework's seeded generator (`tc.manual_seed`), read when iteration starts.

`num_workers > 0` builds batches in worker processes (see worker.py: order, seeds, errors,
shutdown); the workers' base seed is derived from the same generator without advancing it,
so the order with workers equals the num_workers=0 order for the same seed (as in PyTorch).
`pin_memory` / `pin_memory_device` are accepted and do nothing (there is only the CPU).

Batching: with the default collate_fn, a dataset with `__getitems__(indices)` (TensorDataset,
Subset, MNIST) builds a batch in one call with the batch's index array; otherwise items are
fetched one by one and combined by `default_collate`.
"""
from __future__ import annotations

import itertools
import multiprocessing
from typing import Any, Callable, Iterator

import numpy as np

from ..argcheck import check_callable, check_flag, check_int, check_str, describe
from ..errors import ArgumentError
from .collate import default_collate, default_convert, fetch
from .dataset import IterableDataset
from .generator import generator_state, owned_generator, set_generator_state
from .sampler import (BatchSampler, RandomSampler, SequentialSampler, _InfiniteConstantSampler)
from .worker import MultiProcessIterator

__all__ = ["DataLoader", "default_collate", "default_convert", "fetch", "generator_state",
           "set_generator_state"]

_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


def check_worker_args(num_workers: Any, timeout: Any, prefetch_factor: Any,
                      persistent_workers: bool) -> int | None:
    """PyTorch's checks of the worker options; returns the prefetch factor to use."""
    if not isinstance(num_workers, (int, np.integer)) or isinstance(num_workers, bool) or num_workers < 0:
        raise ArgumentError(f"num_workers option should be non-negative; use num_workers=0 to "
                            f"disable multiprocessing (got num_workers={num_workers!r})")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer, np.floating)) \
            or not timeout >= 0:
        raise ArgumentError(f"timeout option should be non-negative (got timeout={timeout!r})")
    persistent_workers = check_flag(persistent_workers, "persistent_workers", "DataLoader")
    if num_workers == 0 and prefetch_factor is not None:
        raise ArgumentError("prefetch_factor option could only be specified in multiprocessing. "
                            "let num_workers > 0 to enable multiprocessing, otherwise set "
                            "prefetch_factor to None.")
    if num_workers > 0 and prefetch_factor is None:
        prefetch_factor = 2
    elif prefetch_factor is not None and (not isinstance(prefetch_factor, int) or isinstance(prefetch_factor, bool)
                                          or prefetch_factor < 1):
        raise ArgumentError(f"prefetch_factor option should be a positive int (got "
                            f"prefetch_factor={prefetch_factor!r})")
    if persistent_workers and num_workers == 0:
        raise ArgumentError("persistent_workers option needs num_workers > 0")
    return prefetch_factor


def resolve_context(context: Any, num_workers: int) -> Any:
    """multiprocessing_context=: None, a start method name or a context object (PyTorch's checks)."""
    if context is None:
        return None
    if num_workers == 0:
        raise ArgumentError(f"multiprocessing_context can only be used with multi-process loading "
                            f"(num_workers > 0), but got num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ArgumentError(f"multiprocessing_context option should specify a valid start "
                                f"method in {methods!r}, but got multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a "
                        f"string specifying the start method, but got "
                        f"multiprocessing_context={context!r}")
    return context


class DataLoader:
    """Iterate `dataset` in batches; see the module docstring for every argument."""

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context: Any = None,
                 generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True, seed: int | None = None) -> None:
        op = "DataLoader"
        prefetch_factor = check_worker_args(num_workers, timeout, prefetch_factor, persistent_workers)
        if shuffle is not None:
            shuffle = check_flag(shuffle, "shuffle", op)
        drop_last = check_flag(drop_last, "drop_last", op)
        pin_memory = check_flag(pin_memory, "pin_memory", op)
        in_order = check_flag(in_order, "in_order", op)
        persistent_workers = check_flag(persistent_workers, "persistent_workers", op)
        pin_memory_device = check_str(pin_memory_device, "pin_memory_device", op)
        seed = check_int(seed, "seed", op, minimum=0, allow_none=True)
        check_callable(collate_fn, "collate_fn", op, allow_none=True)
        check_callable(worker_init_fn, "worker_init_fn", op, allow_none=True)
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and not hasattr(value, "__iter__"):
                raise ArgumentError(f"DataLoader: {name} must be an iterable of indices (a Sampler), "
                                    f"got {describe(value)}")
        if not in_order:
            raise ArgumentError("DataLoader: in_order=False is not supported; batches always "
                                "come back in sampler order")
        if generator is not None and seed is not None:
            raise ArgumentError("DataLoader: pass either generator= or seed=, not both")
        generator = owned_generator(int(seed) if seed is not None else generator,
                                    "DataLoader: generator")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (False, None):
                raise ArgumentError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                    f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ArgumentError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                    f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ArgumentError(f"DataLoader with IterableDataset: expected unspecified "
                                    f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ArgumentError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ArgumentError("batch_sampler option is mutually exclusive with batch_size, "
                                    "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ArgumentError("batch_size=None option disables auto-batching and is mutually "
                                "exclusive with drop_last")
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = resolve_context(multiprocessing_context, self.num_workers)
        self.persistent_workers = bool(persistent_workers)
        self.pin_memory = bool(pin_memory)              # accepted; nothing to pin on the CPU
        self.pin_memory_device = pin_memory_device
        self.in_order = True
        self._iterable = iterable
        self._auto_collation = batch_sampler is not None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator: MultiProcessIterator | None = None
        self._worker_epochs = 0         # iterators that started workers (salts their seeds)
        self.__dict__["_initialized"] = True

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_initialized") and name in _FROZEN:
            raise ArgumentError(f"{name} attribute should not be set after "
                                f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)           # TypeError when the stream has no length, as PyTorch
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        sampler = self.batch_sampler if self._auto_collation else self.sampler
        return len(sampler)

    # -- iteration
    def _index_batches(self) -> Iterator[Any]:
        """One epoch of what each batch is made from: index arrays/lists (map-style, batched),
        single indices (batch_size=None), or placeholders whose count is the batch size
        (IterableDataset)."""
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler._index_batches()
        return iter(self.batch_sampler if self._auto_collation else self.sampler)

    def _single_process(self) -> Iterator[Any]:
        if self._iterable:
            it = iter(self.dataset)
            if not self._auto_collation:
                for item in it:
                    yield self.collate_fn(item)
                return
            while True:
                items = list(itertools.islice(it, self.batch_size))
                if not items or (self.drop_last and len(items) < self.batch_size):
                    return
                yield self.collate_fn(items)
        for index in self._index_batches():
            if self._auto_collation:
                yield fetch(self.dataset, index, self.collate_fn)
            else:
                yield self.collate_fn(self.dataset[index])

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return self._single_process()
        if not self.persistent_workers:
            return MultiProcessIterator(self)
        if self._iterator is None or self._iterator._shutdown:
            self._iterator = MultiProcessIterator(self)
        else:
            self._iterator.reset()
        return self._iterator

    # -- checkpointing: the shuffling state, so a resumed run sees the same batch orders
    def state_dict(self) -> dict:
        """The state of the loader's own generator (none when it uses the global one, which
        checkpoints save separately) and, once workers ran, the count of worker epochs."""
        state: dict = {} if self.generator is None else {"generator": generator_state(self.generator)}
        if self._worker_epochs:
            state["worker_epochs"] = self._worker_epochs     # so resumed workers seed the same
        return state

    def load_state_dict(self, state: dict) -> None:
        if "worker_epochs" in state:
            self._worker_epochs = int(np.asarray(state["worker_epochs"]))
        if "generator" not in state:
            return
        if self.generator is None:
            self.generator = np.random.default_rng()
            if isinstance(self.sampler, RandomSampler) and self.sampler.generator is None:
                self.sampler.generator = self.generator
        set_generator_state(self.generator, state["generator"])

    def __repr__(self) -> str:
        try:
            size = len(self.dataset)
        except TypeError:
            size = "?"
        workers = f", num_workers={self.num_workers}" if self.num_workers else ""
        return (f"DataLoader({type(self.dataset).__name__} of {size}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}{workers})")
