"""A/B of our LeNet-5 training step between two source trees, ours only (no PyTorch peer).

    .venv/bin/python benchmarks/bench_step_ab.py --before /tmp/main_checkout --after . --rounds 6
    .venv/bin/python benchmarks/bench_step_ab.py --before A --after B --batch 1   # fixed per-step cost

Each round runs the step once in a fresh process per tree (`--before` first, then `--after`),
with that tree first on sys.path. A step is the one bench_models.py times: forward,
cross-entropy, zero_grad, backward, SGD (momentum 0.9) and `loss.item()`, batch 64, float32,
OpenBLAS at 1 thread (`tc.set_blas_threads(1)`), 10 untimed steps then `--steps` timed ones.
Printed per tree: the min and the median over all timed steps of all rounds, the median of
the per-round minima, and the load average seen. On a shared machine the min is the figure
that compares; medians carry the other jobs' load.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

WORKER = r"""
import json, os, sys, time
import numpy as np
batch, steps = int(sys.argv[1]), int(sys.argv[2])
import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.models import get_model
tc.manual_seed(0)
tc.set_blas_threads(1)
model = get_model("lenet5")
model.train()
opt = tc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
rng = np.random.default_rng(0)
x = tc.tensor(rng.standard_normal((batch, 1, 28, 28)).astype("float32"))
y = tc.tensor(rng.integers(0, 10, batch))

def step():
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()

for _ in range(10):
    step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"times_ms": times, "loss": step()}))
"""


def run_once(tree: str, batch: int, steps: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, "-c", WORKER, str(batch), str(steps)], env=env,
                         cwd=os.path.abspath(tree), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="source tree A (a checkout of the base)")
    parser.add_argument("--after", required=True, help="source tree B")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    trees = {"before": args.before, "after": args.after}
    times: dict = {k: [] for k in trees}
    minima: dict = {k: [] for k in trees}
    loads = []
    for r in range(args.rounds):
        for name, tree in trees.items():
            res = run_once(tree, args.batch, args.steps)
            times[name] += res["times_ms"]
            minima[name].append(min(res["times_ms"]))
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1}/{args.rounds} {name}: min {min(res['times_ms']):.3f} ms, "
                  f"loss {res['loss']:.6f}, load {loads[-1]:.2f}", flush=True)
    summary = {}
    for name in trees:
        t = sorted(times[name])
        m = sorted(minima[name])
        summary[name] = {"min_ms": round(t[0], 3), "median_ms": round(t[len(t) // 2], 3),
                         "median_of_round_minima_ms": round(m[len(m) // 2], 3)}
        print(f"{name:6s} min {t[0]:.3f} ms  median {t[len(t) // 2]:.3f} ms  "
              f"median of round minima {m[len(m) // 2]:.3f} ms")
    b, a = summary["before"], summary["after"]
    print(f"after/before: min {a['min_ms'] / b['min_ms']:.3f}, median {a['median_ms'] / b['median_ms']:.3f}")
    print(json.dumps({"benchmark": "bench_step_ab", "batch": args.batch, "rounds": args.rounds,
                      "steps": args.steps, "load_min_max": [min(loads), max(loads)], **summary}))


if __name__ == "__main__":
    main()
