"""BatchNorm (and the activations and layer/group norm around it) forward + backward on CNN
shapes, float32: ours vs PyTorch, or this checkout vs an earlier commit in alternating fresh
processes (to measure what a change bought).

    .venv/bin/python benchmarks/bench_norm.py                          # ours vs torch, 2 threads
    .venv/bin/python benchmarks/bench_norm.py --against-commit 80d7afe --rounds 6

--against-commit extracts the commit's package (git archive) to a temporary folder and runs
each side in a fresh process per round (the order alternating), so both see the same machine;
it reports the minimum over all repeats of all rounds (the most load-robust statistic on a
shared machine) and the median. Cases: --cases (names below, or prefixes such as "bn_").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import REPO_ROOT, Case, print_report, run_cases, summarize  # noqa: E402

SHAPES = {"bn_32x96x32x32": (32, 96, 32, 32), "bn_32x64x32x32": (32, 64, 32, 32),
          "bn_32x144x16x16": (32, 144, 16, 16), "bn_8x128x16x16": (8, 128, 16, 16),
          "bn_8x256x16x16": (8, 256, 16, 16), "bn_32x384x4x4": (32, 384, 4, 4),
          "bn_32x960x4x4": (32, 960, 4, 4), "bn_256x512": (256, 512)}
# other cases of the A/B mode: (kind, shape)
EXTRA = {"bn_eval_32x96x32x32": ("bn_eval", (32, 96, 32, 32)),
         "relu_32x64x32x32": ("relu", (32, 64, 32, 32)),
         "relu6_32x96x32x32": ("relu6", (32, 96, 32, 32)),
         "leaky_relu_32x64x32x32": ("leaky_relu", (32, 64, 32, 32)),
         "group_norm_32x64x32x32": ("group_norm", (32, 64, 32, 32)),
         "layer_norm_64x196x384": ("layer_norm", (64, 196, 384))}
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


# ------------------------------------------------------------------ A/B against a commit
def _case_fn(kind: str, shape: tuple):
    """(forward(), the tensors whose grads to clear) for one case, in the imported package."""
    import numpy as np
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    rng = np.random.default_rng(0)
    x = tc.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    c = shape[1] if kind != "layer_norm" else shape[-1]
    w = tc.tensor(rng.standard_normal(c).astype(np.float32), requires_grad=True)
    b = tc.tensor(rng.standard_normal(c).astype(np.float32), requires_grad=True)
    rm, rv = tc.zeros(c), tc.ones(c)
    forward = {
        "bn": lambda: F.batch_norm(x, rm, rv, w, b, True),
        "bn_eval": lambda: F.batch_norm(x, rm, rv, w, b, False),
        "relu": lambda: F.relu(x),
        "relu6": lambda: F.relu6(x * 3),
        "leaky_relu": lambda: F.leaky_relu(x, 0.1),
        "group_norm": lambda: F.group_norm(x, 8, w, b),
        "layer_norm": lambda: F.layer_norm(x, (c,), w, b),
    }[kind]
    g = tc.tensor(rng.standard_normal(shape).astype(np.float32))
    return forward, g, (x, w, b)


def ab_worker(names: list, repeat: int) -> dict:
    """Runs in a fresh process with one side's package first on sys.path: {case: {fwd, bwd}}
    in ms (every repeat)."""
    out = {}
    for name in names:
        kind, shape = ("bn", SHAPES[name]) if name in SHAPES else EXTRA[name]
        forward, g, leaves = _case_fn(kind, shape)
        fwd, bwd = [], []
        for i in range(repeat + 2):
            t0 = time.perf_counter()
            y = forward()
            t1 = time.perf_counter()
            y.backward(g)
            t2 = time.perf_counter()
            if i >= 2:
                fwd.append((t1 - t0) * 1e3)
                bwd.append((t2 - t1) * 1e3)
            for t in leaves:
                t.grad = None
            del y
        out[name] = {"fwd": fwd, "bwd": bwd}
    return out


def _run_side(root: str, names: list, repeat: int, threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=root, TINYGRAD_CNN_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS="1")
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
            "import benchmarks.bench_norm as B;"
            "print(json.dumps(B.ab_worker(json.loads(sys.argv[3]), int(sys.argv[4]))))")
    # the benchmark module from this checkout (argv[1]), the package from `root` (argv[2], first)
    proc = subprocess.run([sys.executable, "-c", code, REPO_ROOT, root, json.dumps(names), str(repeat)],
                          env=env, cwd=tempfile.gettempdir(), check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def against_commit(commit: str, names: list, repeat: int, rounds: int, threads: int) -> None:
    with tempfile.TemporaryDirectory() as old_root:
        archive = subprocess.run(["git", "archive", commit, "tinygrad_cnn"], cwd=REPO_ROOT,
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", old_root], input=archive, check=True)
        times: dict = {}
        for r in range(rounds):
            sides = [("before", old_root), ("after", REPO_ROOT)]
            for label, root in sides[::1 if r % 2 == 0 else -1]:
                for name, phases in _run_side(root, names, repeat, threads).items():
                    for phase, ts in phases.items():
                        times.setdefault((name, phase, label), []).extend(ts)
    print(f"{'case':<26} {'phase':<5} {commit + ' min (median)':>22} {'this checkout min (median)':>28}  min ratio")
    rows = []
    for name in names:
        for phase in ("fwd", "bwd", "fwd+bwd"):
            def stats(label):
                if phase == "fwd+bwd":
                    ts = [a + b for a, b in zip(times[(name, "fwd", label)], times[(name, "bwd", label)])]
                else:
                    ts = times[(name, phase, label)]
                return min(ts), statistics.median(ts)
            (b_min, b_med), (a_min, a_med) = stats("before"), stats("after")
            rows.append({"case": name, "phase": phase, "before_min_ms": b_min, "before_median_ms": b_med,
                         "after_min_ms": a_min, "after_median_ms": a_med})
            print(f"{name:<26} {phase:<5} {b_min:10.3f} ({b_med:8.3f}) ms {a_min:14.3f} ({a_med:8.3f}) ms"
                  f"  {b_min / a_min:5.2f}x")
    print(json.dumps({"bench": "bench_norm_ab", "commit": commit, "threads": threads, "rounds": rounds,
                      "repeat": repeat, "rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--against-commit", default=None)
    parser.add_argument("--cases", nargs="*", default=None,
                        help="A/B mode: case names or prefixes (default: all)")
    args = parser.parse_args()
    if args.against_commit:
        every = list(SHAPES) + list(EXTRA)
        names = every if not args.cases else [n for n in every if any(n.startswith(p) for p in args.cases)]
        against_commit(args.against_commit, names, args.repeat, args.rounds, args.threads)
        return
    rows = run_cases(__file__, [Case(n) for n in SHAPES], ours="ours", peer="torch_peer",
                     threads=args.threads, repeat=args.repeat, rounds=args.rounds)
    print_report("bench_norm", rows, threads=args.threads,
                 command=".venv/bin/python benchmarks/bench_norm.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
