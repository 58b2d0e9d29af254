"""DataLoader worker processes (`num_workers > 0`), built the way torch.utils.data builds them.

The main process owns the sampler. It sends `(task index, batch indices)` to the workers
round-robin, each worker on its own index queue, keeping `prefetch_factor * num_workers` tasks
in flight; the workers build batches (`__getitem__`, transforms, collate) and put
`(task index, batch)` on one shared result queue; the main process hands batches out in task
order, holding back any that arrive early.

Crossing processes. A batch is pickled in the worker (so a batch that cannot be pickled is a
clear error there, not a lost message and a hang) with its Tensors turned into bare NumPy
arrays, and the main process wraps those arrays in Tensors again; nothing of the autograd
state travels.

Threads. Each worker runs the framework's ops and BLAS on one thread (PyTorch's workers do the
same), so k workers do not start k pools of threads on the same cores.

Seeds. Each iterator (each epoch, or once with persistent workers) takes a base seed from the
loader's generator (its own, or the framework's when it has none) without advancing it
(`generator.side_seed`: a jumped copy of its state once the epoch's order is drawn), so the
shuffle order is the same with and without workers, as in PyTorch, and reseeding repeats the
seeds; when the epoch draws nothing (no shuffling) the loader's count of worker epochs is
mixed in, so each epoch still gets new seeds. Worker k seeds the
framework's generator (`tc.manual_seed`) and Python's `random` with base_seed + k, and the
legacy `np.random` with a state derived from (k, base_seed), then calls `worker_init_fn(k)`:
random transforms differ between workers and are reproducible under `tc.manual_seed`.

Failures. An exception in a worker comes back as `_ExceptionWrapper` and is raised again in
the main process, same type where possible, with "in DataLoader worker process k" and the
worker's traceback in the message. A worker that dies (killed, segfault) is noticed by polling
while waiting, and raises RuntimeError naming its pid. `timeout > 0` bounds each wait.

Shutdown. Workers stop when told (None on their queue), when their parent is gone (they poll
`os.getppid()`), or on KeyboardInterrupt (Ctrl-C reaches the whole process group; the main
process raises it). The main process shuts its workers down at the end of an epoch (unless
persistent), on any error or interrupt inside `next()`, and when the iterator is garbage
collected (abandoned mid-epoch): it asks them to stop, joins them, terminates those that do
not stop within a few seconds and joins again, so no process is left behind or unreaped.
"""
from __future__ import annotations

import itertools
import os
import queue
import random
import sys
import time
import traceback
import weakref
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable

import numpy as np

from .. import rng
from ..tensor import Tensor
from .collate import fetch

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_SECONDS = 1.0          # how often a waiting side checks that the other is still alive
_JOIN_SECONDS = 5.0          # how long shutdown waits for the workers before terminating them
_ERROR_GRACE_SECONDS = 0.2   # the same after an error (a worker may be stuck in a slow item)


# ------------------------------------------------------------------------------- worker info
@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: its id, the number of workers, its
    seed and its copy of the dataset."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process, its WorkerInfo; in the main process, None. Use it in an
    IterableDataset's `__iter__` (or a worker_init_fn) to give each worker its share."""
    return _worker_info


# ------------------------------------------------------------------------ messages between sides
class _ExceptionWrapper:
    """An exception caught in a worker, carried as its type and formatted traceback."""

    def __init__(self, where: str) -> None:
        exc_type, exc, tb = sys.exc_info()
        self.exc_type = exc_type
        self.where = where
        self.text = "".join(traceback.format_exception(exc_type, exc, tb))

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:           # KeyError would repr() the whole message
            raise KeyError(_KeyErrorMessage(msg))
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    def __repr__(self) -> str:
        return str(self)


class _IterationEnd:
    """A worker's IterableDataset copy is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


class _Resume:
    """Start a new epoch (persistent workers): reset the iterable fetcher and acknowledge."""


class _Array:
    """A Tensor on its way between processes: only its array travels."""
    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


def _map_structure(obj: Any, leaf: Callable[[Any], Any]) -> Any:
    """`leaf` applied inside lists, tuples, namedtuples and dicts (other objects unchanged)."""
    if isinstance(obj, (Tensor, _Array)):
        return leaf(obj)
    if isinstance(obj, list):
        return [_map_structure(o, leaf) for o in obj]
    if isinstance(obj, tuple):
        items = [_map_structure(o, leaf) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, dict):
        out = {k: _map_structure(v, leaf) for k, v in obj.items()}
        if type(obj) is not dict:
            try:
                return type(obj)(out)
            except TypeError:
                return out
        return out
    return obj


def _pack(obj: Any) -> Any:
    return _map_structure(obj, lambda t: _Array(t.numpy()) if isinstance(t, Tensor) else t)


def _unpack(obj: Any) -> Any:
    return _map_structure(obj, lambda a: Tensor._wrap(a.array) if isinstance(a, _Array) else a)


# ---------------------------------------------------------------------------------- the worker
def _make_fetcher(dataset: Any, iterable: bool, auto_collation: bool, collate_fn: Callable,
                  drop_last: bool) -> Callable[[Any], Any]:
    if not iterable:
        if auto_collation:
            return lambda indices: fetch(dataset, indices, collate_fn)
        return lambda index: collate_fn(dataset[index])
    it = iter(dataset)
    if not auto_collation:
        return lambda _: collate_fn(next(it))

    def next_batch(indices: Any) -> Any:
        items = list(itertools.islice(it, len(indices)))
        if not items or (drop_last and len(items) < len(indices)):
            raise StopIteration
        return collate_fn(items)
    return next_batch


def _one_thread() -> None:
    """A worker computes on one thread, as PyTorch's do (torch.set_num_threads(1)): k workers
    each with a pool of threads per core would oversubscribe the machine."""
    from ..ops.parallel import set_blas_threads, set_num_threads
    set_num_threads(1)
    set_blas_threads(1)


def _seed_worker(base_seed: int, worker_id: int) -> int:
    seed = base_seed + worker_id
    random.seed(seed)
    rng.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def _worker_loop(dataset: Any, iterable: bool, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool, index_queue: Any, result_queue: Any, done_event: Any,
                 base_seed: int, init_fn: Callable | None, worker_id: int, num_workers: int,
                 parent_pid: int) -> None:
    global _worker_info
    where = f"in DataLoader worker process {worker_id}"
    try:
        _one_thread()
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = _make_fetcher(dataset, iterable, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = _ExceptionWrapper(where)
        ended = False
        while True:
            try:
                task = index_queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if os.getppid() != parent_pid:      # the main process is gone: stop
                    break
                continue
            if task is None:
                break
            if isinstance(task, _Resume):
                ended = False
                if init_error is None:
                    try:
                        fetcher = _make_fetcher(dataset, iterable, auto_collation, collate_fn, drop_last)
                    except Exception:
                        init_error = _ExceptionWrapper(where)
                result_queue.put((None, worker_id))
                continue
            if done_event.is_set() or ended:
                continue
            task_idx, indices = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = _pack(fetcher(indices))
                except StopIteration:
                    if not iterable:
                        data = _ExceptionWrapper(where)
                    else:
                        data, ended = _IterationEnd(worker_id), True
                except Exception:
                    data = _ExceptionWrapper(where)
            try:
                payload = bytes(ForkingPickler.dumps(data))
            except Exception:
                payload = bytes(ForkingPickler.dumps(_ExceptionWrapper(
                    f"{where} while pickling the batch to send it to the main process")))
            result_queue.put((task_idx, payload))
            del data, payload
    except KeyboardInterrupt:
        pass                                        # the main process raises it
    # Results nobody will read must not keep this process alive flushing them into the pipe.
    result_queue.cancel_join_thread()
    result_queue.close()


def _widen_pipe(q: Any, nbytes: int = 1 << 20) -> None:
    """Let a whole batch (200 KB for 64 MNIST images) sit in the result pipe: with Linux's
    default 64 KB the worker and the main process hand over each batch in several turns."""
    try:
        import fcntl
        fcntl.fcntl(q._writer.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), nbytes)
    except (ImportError, AttributeError, OSError):
        pass                                    # not Linux, or above the system's limit


# ------------------------------------------------------------------- the main process's side
class MultiProcessIterator:
    """One pass over a DataLoader with worker processes (reused across epochs when the loader
    has persistent_workers=True; then `reset()` starts the next epoch)."""

    def __init__(self, loader: Any) -> None:
        import multiprocessing
        from .generator import resolve_generator, side_seed
        self._shutdown = True                       # until the workers exist
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = float(loader.timeout)
        self._persistent = loader.persistent_workers
        self._iterable = loader._iterable
        self._loader = weakref.ref(loader)          # no cycle: an abandoned loader is freed at once
        # The base seed never advances the shuffling generator, so the order with workers is
        # the order without. It comes from the generator's state after this epoch's order is
        # drawn (the first batch pulled), so reseeding the generator repeats the seeds; when
        # nothing was drawn (no shuffling) the loader's count of worker epochs still makes
        # each epoch's seeds new.
        gen = resolve_generator(loader.generator)
        before = gen.bit_generator.state
        batches = loader._index_batches()
        self._first_batches = itertools.chain(list(itertools.islice(batches, 1)), batches)
        loader._worker_epochs += 1
        drew = gen.bit_generator.state != before
        base_seed = side_seed(gen, 0 if drew else loader._worker_epochs)
        self._result_queue = ctx.Queue()
        _widen_pipe(self._result_queue)
        self._done_event = ctx.Event()
        self._index_queues, self._workers = [], []
        self._shutdown = False
        try:
            for worker_id in range(self._num_workers):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()    # never block exit on tasks a dead worker left
                w = ctx.Process(target=_worker_loop, daemon=True, name=f"DataLoaderWorker-{worker_id}",
                                args=(loader.dataset, loader._iterable, loader._auto_collation,
                                      loader.collate_fn, loader.drop_last, index_queue,
                                      self._result_queue, self._done_event, base_seed,
                                      loader.worker_init_fn, worker_id, self._num_workers,
                                      os.getpid()))
                w.start()
                self._index_queues.append(index_queue)
                self._workers.append(w)
            self.reset(first=True)
        except BaseException:
            self._shutdown_workers()
            raise

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    def reset(self, first: bool = False) -> None:
        """Start an epoch: a fresh pass of the sampler, and the first tasks sent."""
        self._batches = self._first_batches if first else self._loader()._index_batches()
        self._send_idx = self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}      # task index -> (worker,) or (worker, data)
        self._outstanding = 0
        self._active = [True] * self._num_workers   # False: its iterable copy is exhausted
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        self._exhausted = False
        if not first:                               # persistent workers: drop the last epoch
            for q in self._index_queues:
                q.put(_Resume())
            waiting = self._num_workers
            while waiting:
                task_idx, _ = self._get()
                if task_idx is None:
                    waiting -= 1
        for _ in range(self._prefetch):
            self._send_task()

    def _send_task(self) -> None:
        if self._outstanding >= self._prefetch or self._exhausted:
            return
        for _ in range(self._num_workers):          # the next worker still producing
            worker = next(self._worker_cycle)
            if self._active[worker]:
                break
        else:
            return
        try:
            indices = next(self._batches)
        except StopIteration:
            self._exhausted = True
            return
        self._index_queues[worker].put((self._send_idx, indices))
        self._task_info[self._send_idx] = (worker,)
        self._outstanding += 1
        self._send_idx += 1

    def _get(self) -> tuple[Any, Any]:
        """The next message from any worker, watching for dead workers and the timeout."""
        waited = 0.0
        while True:
            wait = _POLL_SECONDS if self._timeout <= 0 else min(_POLL_SECONDS, self._timeout - waited)
            try:
                return self._result_queue.get(timeout=wait)
            except queue.Empty:
                waited += wait
            dead = [w for w in self._workers if not w.is_alive()]
            if dead:
                codes = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
                raise RuntimeError(f"DataLoader worker ({codes}) exited unexpectedly")
            if 0 < self._timeout <= waited + 1e-9:
                raise RuntimeError(f"DataLoader timed out after {self._timeout:g} seconds "
                                   f"waiting for a batch from its {self._num_workers} workers")

    def __iter__(self) -> "MultiProcessIterator":
        return self

    def __next__(self) -> Any:
        if self._shutdown:
            raise StopIteration
        try:
            return self._next()
        except StopIteration:
            if not self._persistent:
                self._shutdown_workers()
            raise
        except BaseException:                       # worker error, timeout, Ctrl-C: stop them all,
            self._shutdown_workers(grace=_ERROR_GRACE_SECONDS)   # not waiting for a stuck item
            loader = self._loader()
            if loader is not None and loader._iterator is self:
                loader._iterator = None             # the next epoch starts new workers
            raise

    def _next(self) -> Any:
        while True:
            while self._rcvd_idx < self._send_idx:  # skip tasks of workers that have ended
                info = self._task_info.get(self._rcvd_idx)
                if info is None:                    # answered "ended" itself
                    self._rcvd_idx += 1
                    continue
                if len(info) == 2 or self._active[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                self._outstanding -= 1              # the ended worker never answers it
                self._send_task()
            else:
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:                      # arrived earlier, out of order
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._deliver(info[1])
            task_idx, payload = self._get()
            if task_idx is None:                    # a late resume acknowledgement
                continue
            self._outstanding -= 1
            data = ForkingPickler.loads(payload)
            if isinstance(data, _IterationEnd):
                self._active[data.worker_id] = False
                del self._task_info[task_idx]
                self._send_task()
                continue
            if task_idx != self._rcvd_idx:
                self._task_info[task_idx] += (data,)
                continue
            del self._task_info[task_idx]
            self._rcvd_idx += 1
            return self._deliver(data)

    def _deliver(self, data: Any) -> Any:
        self._send_task()
        if isinstance(data, _ExceptionWrapper):
            data.reraise()
        return _unpack(data)

    def _shutdown_workers(self, grace: float = _JOIN_SECONDS) -> None:
        """Ask every worker to stop, give them `grace` seconds, then terminate the rest; all
        are joined (reaped) before this returns."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
            deadline = time.monotonic() + grace
            for w in self._workers:
                w.join(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join()
            for q in self._index_queues:
                q.close()
            self._result_queue.cancel_join_thread()
            self._result_queue.close()

    def __del__(self) -> None:
        if not getattr(self, "_shutdown", True):
            try:
                self._shutdown_workers()
            except Exception:               # interpreter teardown: multiprocessing's own
                pass                        # exit handler terminates daemonic workers
