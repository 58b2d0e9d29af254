"""Data parallelism for the CNN ops: split the batch over a few threads.

Why: an im2col convolution is GEMMs plus copies (im2col, col2im, reorderings). BLAS threads
its GEMMs, NumPy never threads its copies, so on 2 cores half the work would use one core.
Worse, a multi-threaded BLAS call per small GEMM pays a thread hand-off each time, and when
the machine is busy the hand-offs stall (measured here: 64 per-image GEMMs took 1 s with 2
BLAS threads on a loaded 2-core VM, 28 ms with 1). So the conv cuts its batch into chunks
("items"); the threads, the calling one included, take the next item until none is left, and
each runs its item start to finish (copies and GEMMs) with its BLAS calls pinned to one thread.
NumPy releases the GIL in copies, ufunc loops and matmul, so the threads really run in
parallel; and a pool thread the OS does not schedule in time costs nothing, the caller takes
its items (a fixed split would make the caller wait for it: LeNet's convs then ran 2.5x
slower on the loaded VM).

The BLAS pinning uses OpenBLAS's thread-local `openblas_set_num_threads_local` (OpenBLAS >=
0.3.27, what NumPy's wheels ship). Without it (another BLAS) the ops run serially and leave
threading to the BLAS. Thread count: `tinygrad_cnn.ops.parallel.set_num_threads(n)`, or the
environment variable TINYGRAD_CNN_NUM_THREADS; default: the CPUs this process may run on.
Results do not depend on it (ops/conv.py sums grad_weight in fixed groups), except under a
workspace limit, where every thread's share of the limit sets the chunk size.
"""
from __future__ import annotations

import ctypes
import glob
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from ..errors import ArgumentError

__all__ = ["set_num_threads", "get_num_threads", "run_parallel", "partition", "Scratch", "get_blas_core"]

_state: dict = {"threads": None, "pool": None, "pool_size": 0}
_lock = threading.Lock()


def _forget_pool_in_child() -> None:
    """A forked child has none of the parent's threads: build a new pool when needed."""
    global _lock
    _lock = threading.Lock()
    _state.update(pool=None, pool_size=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def _default_threads() -> int:
    env = os.environ.get("TINYGRAD_CNN_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Use n threads in the CNN ops (1: run everything in the calling thread)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ArgumentError(f"set_num_threads: n must be a positive int, got {n!r}")
    _state["threads"] = int(n)


def get_num_threads() -> int:
    if _state["threads"] is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


def _openblas_libraries() -> list:
    """The OpenBLAS libraries this process can reach: NumPy's bundled one (its wheel's
    numpy.libs folder), then any other loaded into the process (/proc/self/maps)."""
    libs_dir = os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs")
    paths = sorted(glob.glob(os.path.join(libs_dir, "*openblas*")))
    try:
        with open("/proc/self/maps") as f:
            paths += sorted({line.split()[-1] for line in f if "openblas" in line.lower()
                             and line.split()[-1].startswith("/")})
    except OSError:
        pass
    libs = []
    for path in dict.fromkeys(paths):
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _blas_function(*names: str) -> Callable | None:
    for lib in _openblas_libraries():
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                return fn
    return None


def _find_local_setter() -> Callable[[int], int] | None:
    """OpenBLAS's thread-local openblas_set_num_threads_local, if the library has it."""
    fn = _blas_function("openblas_set_num_threads_local")
    if fn is not None:
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn


_BLAS_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                 "openblas_set_num_threads64_", "scipy_openblas_set_num_threads")
_BLAS_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
                 "openblas_get_num_threads64_", "scipy_openblas_get_num_threads")


def set_blas_threads(n: int) -> bool:
    """Set how many threads NumPy's OpenBLAS uses for matrix products made outside the CNN ops'
    pool (e.g. Linear layers), at run time, as OPENBLAS_NUM_THREADS does at start-up. Small
    products (LeNet's) run faster on one thread: waking and synchronising threads costs more
    than the multiply (measured in docs/performance.md). Returns False without OpenBLAS."""
    fn = _blas_function(*_BLAS_SETTERS)
    if fn is None:
        return False
    fn(int(n))
    return True


def get_blas_threads() -> int | None:
    fn = _blas_function(*_BLAS_GETTERS)
    return None if fn is None else int(fn())


def get_blas_core() -> str | None:
    """The kernel set OpenBLAS chose when it loaded ('SkylakeX', 'Haswell', ...; None without
    OpenBLAS). OpenBLAS picks it from the CPU when it loads, unless the environment variable
    OPENBLAS_CORETYPE names one (docs/performance.md, "BLAS kernels": on an AVX-512 CPU
    forcing 'Haswell' halves float32 GEMM speed)."""
    fn = _blas_function("openblas_get_corename", "scipy_openblas_get_corename64_",
                        "openblas_get_corename64_", "scipy_openblas_get_corename")
    if fn is None:
        return None
    fn.argtypes, fn.restype = [], ctypes.c_char_p
    return fn().decode("ascii", "replace")


_set_local_blas_threads = _find_local_setter()


def parallel_available() -> bool:
    return _set_local_blas_threads is not None and get_num_threads() > 1


def _pool(size: int) -> ThreadPoolExecutor:
    with _lock:
        if _state["pool"] is None or _state["pool_size"] < size:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(size, thread_name_prefix="tinygrad_cnn")
            _state["pool_size"] = size
        return _state["pool"]


def _pinned(fn: Callable[[Any], Any], item: Any) -> Any:
    previous = _set_local_blas_threads(1)
    try:
        return fn(item)
    finally:
        _set_local_blas_threads(previous)


def partition(n_items: int, parts: int) -> list[range]:
    """Split range(n_items) into `parts` contiguous, nearly equal, non-empty ranges."""
    parts = max(1, min(parts, n_items))
    bounds = [round(i * n_items / parts) for i in range(parts + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(parts)]


def run_parallel(fn: Callable[[int], Any], n_items: int, threads: int | None = None) -> list:
    """[fn(0), ..., fn(n_items - 1)], the items shared by up to `threads` threads (default
    get_num_threads()), BLAS pinned to one thread inside.

    Scheduling is dynamic: every thread, the calling one included, takes the next unclaimed
    item until none is left, and pool tasks that have not started by then are cancelled. So a
    worker the OS does not schedule (a busy machine) costs nothing: the caller does its items.
    Which thread computes an item never changes its result. Serial (in order, BLAS threads
    untouched) when threading is unavailable, threads <= 1 or there is one item."""
    threads = min(threads or get_num_threads(), n_items) if parallel_available() else 1
    if threads <= 1:
        return [fn(i) for i in range(n_items)]
    results: list = [None] * n_items
    claim = itertools.count()                    # next() is atomic under the GIL

    def drain(_: Any) -> None:
        for i in iter(claim.__next__, None):
            if i >= n_items:
                return
            results[i] = fn(i)

    pool = _pool(threads - 1)
    futures = [pool.submit(_pinned, drain, None) for _ in range(threads - 1)]
    try:
        _pinned(drain, None)
    finally:
        for f in futures:
            if not f.cancel():
                f.result()                        # started: it is finishing its last item
    return results


class Scratch:
    """Per-thread scratch arrays for one op call: get(name, size, dtype) returns a flat array of
    `size` elements, the start of a buffer reused by later items of the same thread. zero=True
    zero-fills the buffer when it is made (not when reused): for callers that write the same
    elements every time and need the others to stay zero."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, name: str, size: int, dtype: Any, zero: bool = False) -> np.ndarray:
        store = self._local.__dict__
        buf = store.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = store[name] = (np.zeros if zero else np.empty)(max(size, 1), dtype)
        return buf[:size]
