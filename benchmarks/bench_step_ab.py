"""A/B of our training step between two source trees, ours only (no PyTorch peer).

    .venv/bin/python benchmarks/bench_step_ab.py --before /tmp/main_checkout --after . --rounds 6
    .venv/bin/python benchmarks/bench_step_ab.py --before A --after B --batch 1   # fixed per-step cost
    .venv/bin/python benchmarks/bench_step_ab.py --before A --after B --model densenet121 --steps 8

Each round runs the step once in a fresh process per tree (`--before` first, then `--after`),
with that tree first on sys.path. A step is the one bench_models.py times: forward,
cross-entropy, zero_grad, backward, SGD (momentum 0.9) and `loss.item()`, float32, on the
model `--model` builds (a bench_models.py name, LeNet-5 by default; batch: its default there
unless `--batch`), OpenBLAS at 1 thread (`tc.set_blas_threads(1)`) and the conv ops at
TINYGRAD_CNN_NUM_THREADS=1 unless the environment sets it, 10 untimed steps (3 for the big
models) then `--steps` timed ones. Each step is timed with `time.process_time()` (CPU time of
the process: at one thread, the step's own work, whatever the machine's other jobs do;
`--clock wall` for perf_counter), and split into its phases (forward + loss, zero_grad,
backward, optimizer step + item).
Printed per tree: the min and the median over all timed steps of all rounds, the median of
the per-round minima, the median of each phase, and the load average seen.
benchmarks/bench_models_ab.py is the same A/B split by op type (CPU time inside each op's
forward and backward) instead of by phase.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

WORKER = r"""
import json, os, sys, time
name, batch, steps, warmup, clock = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
now = time.process_time if clock == "process" else time.perf_counter
import tinygrad_cnn as tc
from benchmarks.bench_models import MODELS, build, _batch
tc.manual_seed(0)
tc.set_blas_threads(1)
model, lib, F = build(name, "ours")
model.train()
opt = tc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = _batch(name, batch or MODELS[name][4])
x, y = tc.tensor(x), tc.tensor(y)

def step(phases):
    t0 = now()
    loss = F.cross_entropy(model(x), y)
    t1 = now()
    opt.zero_grad()
    t2 = now()
    loss.backward()
    t3 = now()
    opt.step()
    value = loss.item()
    t4 = now()
    phases.append([t1 - t0, t2 - t1, t3 - t2, t4 - t3])
    return value

for _ in range(warmup):
    step([])
phases = []
for _ in range(steps):
    step(phases)
print(json.dumps({"times_ms": [sum(p) * 1e3 for p in phases],
                  "phases_ms": [[v * 1e3 for v in p] for p in phases], "loss": step([])}))
"""
PHASES = ("forward", "zero_grad", "backward", "step")


def run_once(tree: str, model: str, batch: int, steps: int, warmup: int, clock: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    env.setdefault("TINYGRAD_CNN_NUM_THREADS", "1")
    out = subprocess.run([sys.executable, "-c", WORKER, model, str(batch), str(steps), str(warmup), clock],
                         env=env, cwd=os.path.abspath(tree), capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the worker failed in {tree}:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(values: list) -> float:
    s = sorted(values)
    return s[len(s) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="source tree A (a checkout of the base)")
    parser.add_argument("--after", required=True, help="source tree B")
    parser.add_argument("--model", default="lenet5", help="a model name of benchmarks/bench_models.py")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (default 10, 3 for big models)")
    parser.add_argument("--batch", type=int, default=0, help="batch size (default: the model's in bench_models)")
    parser.add_argument("--clock", choices=("process", "wall"), default="process")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else 10 if args.model == "lenet5" else 3
    trees = {"before": args.before, "after": args.after}
    times: dict = {k: [] for k in trees}
    phases: dict = {k: [] for k in trees}
    minima: dict = {k: [] for k in trees}
    loads = []
    for r in range(args.rounds):
        for name, tree in trees.items():
            res = run_once(tree, args.model, args.batch, args.steps, warmup, args.clock)
            times[name] += res["times_ms"]
            phases[name] += res["phases_ms"]
            minima[name].append(min(res["times_ms"]))
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1}/{args.rounds} {name}: min {min(res['times_ms']):.3f} ms, "
                  f"loss {res['loss']:.6f}, load {loads[-1]:.2f}", flush=True)
    summary = {}
    for name in trees:
        t = sorted(times[name])
        summary[name] = {"min_ms": round(t[0], 3), "median_ms": round(_median(t), 3),
                         "median_of_round_minima_ms": round(_median(minima[name]), 3),
                         "phase_medians_ms": {p: round(_median([s[i] for s in phases[name]]), 3)
                                              for i, p in enumerate(PHASES)}}
        split = ", ".join(f"{p} {v:.3f}" for p, v in summary[name]["phase_medians_ms"].items())
        print(f"{name:6s} min {t[0]:.3f} ms  median {_median(t):.3f} ms  "
              f"median of round minima {_median(minima[name]):.3f} ms  (medians: {split})")
    b, a = summary["before"], summary["after"]
    print(f"after/before: min {a['min_ms'] / b['min_ms']:.3f}, median {a['median_ms'] / b['median_ms']:.3f}")
    print(json.dumps({"benchmark": "bench_step_ab", "model": args.model, "batch": args.batch or None,
                      "clock": args.clock, "rounds": args.rounds, "steps": args.steps,
                      "load_min_max": [min(loads), max(loads)], **summary}))


if __name__ == "__main__":
    main()
