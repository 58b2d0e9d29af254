"""`torch.multiprocessing`'s counterpart: the standard library's multiprocessing names, plus
tensors whose memory is shared between processes (`Module.share_memory()`, Hogwild training).

    import tinygrad_cnn.multiprocessing as mp
    model.share_memory()                  # parameters and buffers now live in shared memory
    procs = [mp.Process(target=train, args=(rank, model)) for rank in range(4)]

Shared memory. `share_memory_(tensor)` copies the tensor's array into an anonymous shared
mapping (a memfd, or an unlinked temporary file where memfd_create is missing) and points the
tensor at it; in-place updates (every optimizer's `step`) then write where all processes see
them. A forked child inherits the mapping. For 'spawn' and 'forkserver' children, and for
tensors sent through this module's Queues, the array pickles (only in multiprocessing's own
pickler) as a duplicate of the file descriptor, and the receiver maps the same memory: no copy,
no name in /dev/shm, nothing to clean up (the memory goes when the last process lets go).
As with PyTorch's file-descriptor sharing, a process that sends a shared tensor through a
Queue must stay alive until the receiver has taken it (the descriptor is handed over by the
sender on request). Ordinary `pickle` / `tc.save` still copy the values. Gradients are per process (they are
allocated in each process by backward), as in PyTorch's mnist_hogwild.
"""
from __future__ import annotations

import math
import mmap
import os
import pickle
import tempfile
import traceback
import weakref
from multiprocessing import (Array, Barrier, BoundedSemaphore, Condition, Event, JoinableQueue,  # noqa: F401
                             Lock, Manager, Pipe, Pool, Process, Queue, RLock, Semaphore,
                             SimpleQueue, Value, active_children, cpu_count, current_process,
                             get_all_start_methods, get_context, get_start_method, parent_process,
                             set_executable, set_forkserver_preload, set_start_method)
from multiprocessing import AuthenticationError, BufferTooShort, ProcessError, TimeoutError  # noqa: F401
from multiprocessing.reduction import DupFd, ForkingPickler
from typing import Any, Callable

import numpy as np

from .argcheck import check_dtype, check_shape, check_tensor
from .errors import AllocationError, ArgumentError
from .tensor import Tensor

__all__ = ["Process", "Queue", "SimpleQueue", "JoinableQueue", "Pool", "Pipe", "Lock", "RLock",
           "Event", "Semaphore", "BoundedSemaphore", "Condition", "Barrier", "Value", "Array",
           "Manager", "active_children", "cpu_count", "current_process", "parent_process",
           "get_all_start_methods", "get_context", "get_start_method", "set_start_method",
           "set_executable", "set_forkserver_preload", "ProcessError", "TimeoutError",
           "AuthenticationError", "BufferTooShort", "share_memory_", "is_shared",
           "shared_array", "spawn", "ProcessRaisedException", "get_sharing_strategy",
           "set_sharing_strategy", "get_all_sharing_strategies"]

# id(array) -> (weakref to the array, file descriptor of its memory, size in bytes)
_shared: dict[int, tuple[weakref.ref, int, int]] = {}


def _anonymous_fd(nbytes: int) -> int:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("tinygrad_cnn-shared", os.MFD_CLOEXEC)
    else:                                   # an unlinked file: no name left behind either
        handle, path = tempfile.mkstemp(prefix="tinygrad_cnn-shared-",
                                        dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        os.unlink(path)
        fd = handle
    os.ftruncate(fd, nbytes)
    return fd


def _forget(key: int, fd: int) -> None:
    _shared.pop(key, None)
    os.close(fd)


def _map(fd: int, nbytes: int, shape: tuple, dtype: np.dtype) -> np.ndarray:
    buffer = mmap.mmap(fd, nbytes)          # MAP_SHARED: writes reach every mapping
    arr = np.ndarray(shape, dtype=dtype, buffer=buffer)
    _shared[id(arr)] = (weakref.ref(arr), fd, nbytes)
    weakref.finalize(arr, _forget, id(arr), fd)
    _register_reducer()
    return arr


def shared_array(shape: tuple, dtype: Any = np.float32) -> np.ndarray:
    """A zero-filled array in shared memory (seen by forked children and by processes it is
    sent to through multiprocessing)."""
    if isinstance(dtype, np.dtype) and dtype.hasobject:
        raise ArgumentError(f"shared_array: dtype {dtype} holds Python objects and cannot live in "
                            f"shared memory")
    dtype = check_dtype(dtype, "dtype", "shared_array", kinds="fiubc", allow_none=False)
    shape = check_shape(shape, "shape", "shared_array", dtype.itemsize)
    nbytes = max(1, math.prod(shape) * dtype.itemsize)
    try:
        fd = _anonymous_fd(nbytes)
    except OSError as exc:              # no room in /dev/shm, a size the file system refuses
        raise AllocationError(f"shared_array: cannot create {nbytes} bytes of shared memory for "
                              f"shape {shape}: {exc.strerror}") from None
    try:
        return _map(fd, nbytes, shape, dtype)
    except (OSError, MemoryError, OverflowError) as exc:   # mmap refused (address space)
        os.close(fd)
        raise AllocationError(f"shared_array: cannot map {nbytes} bytes of shared memory for "
                              f"shape {shape}: {exc}") from None


def _is_shared_array(arr: np.ndarray) -> bool:
    entry = _shared.get(id(arr))
    return entry is not None and entry[0]() is arr


def is_shared(tensor: Tensor) -> bool:
    """Whether the tensor's array is one of this module's shared arrays."""
    check_tensor(tensor, "tensor", "is_shared")
    return _is_shared_array(tensor.numpy())


def _replace_array(tensor: Tensor, arr: np.ndarray) -> None:
    try:
        tensor._data                        # the core's name for the array (Tensor.data a Tensor)
    except AttributeError:
        tensor.data = arr
    else:
        tensor._data = arr


def share_memory_(tensor: Tensor) -> Tensor:
    """Move the tensor's values into shared memory (in place, like Tensor.share_memory_ in
    PyTorch); a no-op when they are there already. Returns the tensor."""
    if not isinstance(tensor, Tensor):
        raise ArgumentError(f"share_memory_: expected a Tensor, got {type(tensor).__name__}")
    if not is_shared(tensor):
        src = tensor.numpy()
        arr = shared_array(src.shape, src.dtype)
        arr[...] = src
        _replace_array(tensor, arr)
    return tensor


# ---------------------------------------------------------------- crossing process boundaries
def _rebuild_shared(dupfd: Any, nbytes: int, shape: tuple, dtype: str) -> np.ndarray:
    return _map(dupfd.detach(), nbytes, shape, np.dtype(dtype))


def _reduce_array(arr: np.ndarray) -> Any:
    entry = _shared.get(id(arr))
    if entry is not None and entry[0]() is arr:
        return _rebuild_shared, (DupFd(entry[1]), entry[2], arr.shape, arr.dtype.str)
    return arr.__reduce_ex__(pickle.DEFAULT_PROTOCOL)    # any other array: as always


_reducer = {"registered": False}


def _register_reducer() -> None:
    """Teach multiprocessing's pickler (only it) to send shared arrays as file descriptors."""
    if not _reducer["registered"]:
        ForkingPickler.register(np.ndarray, _reduce_array)
        _reducer["registered"] = True


# ------------------------------------------------------------------- torch.multiprocessing extras
_STRATEGIES = ("file_descriptor", "file_system")
_strategy = {"current": "file_descriptor"}


def get_all_sharing_strategies() -> set[str]:
    return set(_STRATEGIES)


def get_sharing_strategy() -> str:
    return _strategy["current"]


def set_sharing_strategy(strategy: str) -> None:
    """Accepted for PyTorch scripts; memory is always shared through file descriptors here."""
    if not isinstance(strategy, str) or strategy not in _STRATEGIES:
        raise ArgumentError(f"set_sharing_strategy: unknown strategy {strategy!r}; expected one "
                            f"of {sorted(_STRATEGIES)}")
    _strategy["current"] = strategy


class ProcessRaisedException(Exception):
    """An exception raised in a process started by `spawn`; the message holds its traceback."""

    def __init__(self, msg: str, error_index: int, error_pid: int) -> None:
        super().__init__(msg)
        self.error_index = error_index
        self.pid = error_pid


class ProcessExitedException(ProcessRaisedException):
    """A process started by `spawn` exited with a non-zero code (killed, or os._exit)."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int) -> None:
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code


def _spawn_entry(fn: Callable, index: int, args: tuple, errors: Any) -> None:
    try:
        fn(index, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        errors.put((index, traceback.format_exc()))
        raise SystemExit(1)


class ProcessContext:
    """The processes started by `spawn(..., join=False)`; `join()` waits for them."""

    def __init__(self, processes: list, errors: Any) -> None:
        self.processes = processes
        self.error_queue = errors

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every process; the first failure terminates the rest and raises
        ProcessRaisedException (with the child's traceback) or ProcessExitedException."""
        for p in self.processes:
            p.join(timeout)
        failed = [(i, p) for i, p in enumerate(self.processes) if p.exitcode not in (None, 0)]
        if failed:
            for p in self.processes:
                if p.is_alive():
                    p.terminate()
                p.join()
            index, proc = failed[0]
            if not self.error_queue.empty():
                index, text = self.error_queue.get()
                raise ProcessRaisedException(f"\n\n-- Process {index} terminated with the "
                                             f"following error:\n{text}", index,
                                             self.processes[index].pid)
            raise ProcessExitedException(f"process {index} terminated with exit code "
                                         f"{proc.exitcode}", index, proc.pid, proc.exitcode)
        return all(p.exitcode is not None for p in self.processes)


def spawn(fn: Callable, args: tuple = (), nprocs: int = 1, join: bool = True,
          daemon: bool = False, start_method: str = "spawn") -> ProcessContext | None:
    """torch.multiprocessing.spawn: run fn(i, *args) in `nprocs` new processes, i = 0..nprocs-1;
    with join=True wait for them and raise the first error in the parent."""
    ctx = get_context(start_method)
    errors = ctx.SimpleQueue()
    processes = []
    for i in range(int(nprocs)):
        p = ctx.Process(target=_spawn_entry, args=(fn, i, tuple(args), errors), daemon=daemon)
        p.start()
        processes.append(p)
    context = ProcessContext(processes, errors)
    if not join:
        return context
    context.join()
    return None

