"""BatchNorm forward + backward (training, float32) on CNN shapes: ours vs PyTorch, or ours vs
an earlier commit's ops/norm.py in the same process (to measure what a change bought).

    .venv/bin/python benchmarks/bench_norm.py                      # ours vs torch, 2 threads
    .venv/bin/python benchmarks/bench_norm.py --against-commit c05c539

Times are the minimum over --repeat calls (the most load-robust statistic on a shared machine),
alternating the two peers for --rounds rounds.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import REPO_ROOT, Case, print_report, run_cases, summarize  # noqa: E402

SHAPES = {"bn_32x96x32x32": (32, 96, 32, 32), "bn_32x144x16x16": (32, 144, 16, 16),
          "bn_8x256x16x16": (8, 256, 16, 16), "bn_32x960x4x4": (32, 960, 4, 4)}
THREADS = 1   # set by the harness worker


def _step(lib, shape, repeat: int, batch_norm=None) -> dict:
    import numpy as np
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    w = lib.tensor(np.ones(shape[1], np.float32), requires_grad=True)
    b = lib.tensor(np.zeros(shape[1], np.float32), requires_grad=True)
    rm, rv = lib.tensor(np.zeros(shape[1], np.float32)), lib.tensor(np.ones(shape[1], np.float32))
    g = lib.tensor(rng.standard_normal(shape).astype(np.float32))
    bn = batch_norm or lib.nn.functional.batch_norm
    times = []
    for i in range(repeat + 2):
        t0 = time.perf_counter()
        bn(x, rm, rv, w, b, True).backward(g)
        if i >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
        x.grad = w.grad = b.grad = None
    return {"fwd+bwd": summarize(times)}


def ours(name: str, repeat: int) -> dict:
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional  # noqa: F401
    return _step(tc, SHAPES[name], repeat)


def torch_peer(name: str, repeat: int) -> dict:
    import torch
    torch.set_num_threads(THREADS)
    return _step(torch, SHAPES[name], repeat)


def against_commit(commit: str, repeat: int, rounds: int) -> None:
    """Time this checkout's BatchNorm and `commit`'s (its ops/norm.py loaded as a module)."""
    import types
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    from tinygrad_cnn.ops import norm as NM
    source = subprocess.run(["git", "show", f"{commit}:tinygrad_cnn/ops/norm.py"], cwd=REPO_ROOT,
                            check=True, capture_output=True, text=True).stdout
    old = types.ModuleType("old_norm")
    exec(compile(source.replace("from ..autograd import", "from tinygrad_cnn.autograd import"),
                 f"{commit}:ops/norm.py", "exec"), old.__dict__)
    current = NM.BatchNorm
    for name, shape in SHAPES.items():
        best = {}
        for r in range(rounds):
            for label, cls in (("before", old.BatchNorm), ("after", current))[::1 if r % 2 == 0 else -1]:
                NM.BatchNorm = cls
                t = _step(tc, shape, repeat, F.batch_norm)["fwd+bwd"]["min_ms"]
                best[label] = min(best.get(label, t), t)
        NM.BatchNorm = current
        print(f"{name:<18} {commit} {best['before']:8.2f} ms   this checkout {best['after']:8.2f} ms"
              f"   ({best['before'] / best['after']:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--against-commit", default=None)
    args = parser.parse_args()
    if args.against_commit:
        os.environ.setdefault("TINYGRAD_CNN_NUM_THREADS", str(args.threads))
        against_commit(args.against_commit, args.repeat, args.rounds)
        return
    rows = run_cases(__file__, [Case(n) for n in SHAPES], ours="ours", peer="torch_peer",
                     threads=args.threads, repeat=args.repeat, rounds=args.rounds)
    print_report("bench_norm", rows, threads=args.threads,
                 command=".venv/bin/python benchmarks/bench_norm.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
