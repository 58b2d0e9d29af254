"""Conv algorithms chosen by timing them, once per shape: `tc.backends.cudnn.benchmark = True`.

PyTorch's `cudnn.benchmark` makes cuDNN time its algorithms on the first call of each conv
configuration and keep the fastest. Here it does the same for this library's algorithms
(ops/conv_algorithms.py): with conv_algorithm 'auto' and benchmark on, the first conv of a
configuration runs every algorithm that applies (im2col always, plus pointwise, depthwise or
Winograd where exact) forward and, when the call needs gradients, backward on the call's own
input, keeps the fastest, and later calls of the same configuration use it without timing.

Why: 'auto''s rule was measured on one machine, and the balance it weighs (BLAS speed against
memory bandwidth: Winograd trades 2.25x fewer multiplies for transforms that stream memory)
differs between CPUs. Measured with benchmarks/bench_conv_algorithms.py (one thread, CPU time):
Winograd's forward + backward on ResNet-18's 64-channel 32x32 conv (batch 32) took 0.76x
im2col's time on an AMD Zen 5 VM and 1.23x on an Intel Xeon VM whose streaming passes are
slower (docs/performance.md, "Two machines").

The cost: each configuration's first call runs all its candidates ROUNDS times. The price, as
in PyTorch: which algorithm wins may differ from run to run on a busy machine, and the
algorithms round float32 differently (docs/derivations.md bounds Winograd's error), so results
are no longer bit-identical across runs; leave benchmark off for reproducible runs.

A configuration is the conv's geometry, dtype, which gradients the call needs, the CNN ops'
thread count and the workspace limit. `clear()` forgets the timings.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from ..errors import ArgumentError
from .conv_algorithms import Geometry, candidates
from .parallel import get_num_threads
from .workspace import get_workspace_limit

__all__ = ["set_benchmark", "get_benchmark", "tuned_choice", "tuned", "clear"]

# Each candidate runs this many times, alternating with the others; its fastest run counts
# (one run, as cuDNN does, was too often misled by a single pause on a shared 2-core VM).
ROUNDS = 2

_state = {"benchmark": False}
_tuned: dict[tuple, Any] = {}         # configuration -> the winning algorithm (None: im2col)
_lock = threading.Lock()


def set_benchmark(flag: bool) -> None:
    """Time the conv algorithms once per configuration and use the fastest (True), or use the
    'auto' rule (False, the default)."""
    if not isinstance(flag, bool):
        raise ArgumentError(f"cudnn.benchmark must be True or False, got {flag!r}")
    _state["benchmark"] = flag


def get_benchmark() -> bool:
    return _state["benchmark"]


def clear() -> None:
    """Forget every timing (the next call of each configuration times its candidates again)."""
    with _lock:
        _tuned.clear()


def tuned() -> dict[tuple, str]:
    """The choices made so far: configuration -> algorithm name ('im2col' for the reference
    path), for inspection."""
    with _lock:
        return {key: "im2col" if algo is None else algo.name for key, algo in _tuned.items()}


def tuned_choice(g: Geometry, dtype: Any, needs: tuple[bool, bool],
                 run: Callable[[Any], None]) -> Any:
    """The fastest algorithm for this configuration (None: im2col), timing the candidates with
    `run(algorithm)` (the conv forward and, where `needs` says so, its backward) the first
    time the configuration is seen."""
    options = candidates(g, dtype.itemsize)
    if len(options) == 1:
        return options[0]
    key = (g, str(dtype), needs, get_num_threads(), get_workspace_limit())
    with _lock:
        if key in _tuned:
            return _tuned[key]
    best = {id(a): float("inf") for a in options}
    for _ in range(ROUNDS):
        for algo in options:
            start = time.perf_counter()
            run(algo)
            best[id(algo)] = min(best[id(algo)], time.perf_counter() - start)
    winner = min(options, key=lambda a: best[id(a)])
    with _lock:
        return _tuned.setdefault(key, winner)   # a thread that tuned it first wins
