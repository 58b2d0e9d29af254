"""Python dispatch cost per op: each op on a 1-element (or tiny) input, so the time is the
framework's own per-call overhead (argument checks, Function.apply, graph recording), ours vs
PyTorch; with and without autograd.

    .venv/bin/python benchmarks/bench_dispatch.py
    .venv/bin/python benchmarks/bench_dispatch.py --threads 1 --repeat 2000

Each case is the median time of one call over --repeat calls (µs), interleaved rounds, each
peer in its own process (benchmarks/harness.py).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import Case, print_report, run_cases, summarize  # noqa: E402

THREADS = 1   # set by the harness worker
CASES = ["add", "mul_scalar", "relu", "sum", "reshape", "matmul_1x1", "linear_1x1",
         "conv2d_1x1x3x3", "max_pool2d_2x2", "batch_norm_1x2x2x2", "cross_entropy_1x2"]


def _ops(lib):
    F = lib.nn.functional
    import numpy as np
    a = lib.tensor(np.ones((1,), np.float32), requires_grad=True)
    m = lib.tensor(np.ones((1, 1), np.float32), requires_grad=True)
    img = lib.tensor(np.ones((1, 1, 3, 3), np.float32), requires_grad=True)
    k = lib.tensor(np.ones((1, 1, 3, 3), np.float32), requires_grad=True)
    bn = lib.tensor(np.ones((1, 2, 2, 2), np.float32), requires_grad=True)
    logits = lib.tensor(np.ones((1, 2), np.float32), requires_grad=True)
    target = lib.tensor(np.zeros((1,), np.int64))
    rm, rv = lib.tensor(np.zeros(2, np.float32)), lib.tensor(np.ones(2, np.float32))
    return {
        "add": lambda: a + a, "mul_scalar": lambda: a * 2.0, "relu": lambda: F.relu(a),
        "sum": lambda: a.sum(), "reshape": lambda: m.reshape(1), "matmul_1x1": lambda: m @ m,
        "linear_1x1": lambda: F.linear(m, m, a), "conv2d_1x1x3x3": lambda: F.conv2d(img, k),
        "max_pool2d_2x2": lambda: F.max_pool2d(img, 2),
        "batch_norm_1x2x2x2": lambda: F.batch_norm(bn, rm, rv, None, None, True),
        "cross_entropy_1x2": lambda: F.cross_entropy(logits, target),
    }


def _time(fn, repeat: int) -> dict:
    for _ in range(50):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return summarize(times)


def _measure(lib, name: str, repeat: int) -> dict:
    fn = _ops(lib)[name]
    with_grad = _time(fn, repeat)
    with lib.no_grad():
        no_grad = _time(fn, repeat)
    return {"grad_us": with_grad, "nograd_us": no_grad}


def ours(name: str, repeat: int) -> dict:
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional  # noqa: F401
    return _measure(tc, name, repeat)


def torch_peer(name: str, repeat: int) -> dict:
    import torch
    torch.set_num_threads(THREADS)
    return _measure(torch, name, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=CASES, choices=CASES)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows = run_cases(__file__, [Case(n) for n in args.cases], ours="ours", peer="torch_peer",
                     threads=args.threads, repeat=args.repeat, rounds=args.rounds)
    for row in rows:                          # report microseconds
        for m in row["metrics"].values():
            for peer in ("ours", "peer"):
                m[peer] = {k: v * 1e3 for k, v in m[peer].items()}
    print_report("bench_dispatch (times in µs)", rows, threads=args.threads,
                 command=".venv/bin/python benchmarks/bench_dispatch.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
