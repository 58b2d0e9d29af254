"""A/B of a model's training step between two source trees, by op type, in CPU time at 1 thread.

    .venv/bin/python benchmarks/bench_models_ab.py --before /tmp/main_tree --after . \
        --models mobilenet_v2_cifar densenet121 resnet50 --rounds 4

The step is bench_models.py's (forward, cross-entropy, zero_grad, backward, SGD with momentum
0.9, `loss.item()`, the model's default batch, float32). Each round runs every model once in a
fresh process per tree, the order of the trees alternating, with TINYGRAD_CNN_NUM_THREADS=1
and OpenBLAS at 1 thread, so that everything runs in the calling thread and CPU time
(time.process_time for the step, time.thread_time inside each op) measures the work and not
the other jobs of a shared machine. Printed per model: the median step CPU time of each tree
and the per-op-type medians (forward and backward) of the ops that changed the most.
benchmarks/bench_step_ab.py is the same A/B split by phase of the step (forward, zero_grad,
backward, optimizer) instead of by op, with a wall-clock option.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = r"""
import json, sys, time
tree, bench, name, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, tree)            # tinygrad_cnn of the tree under test, imported first ...
import tinygrad_cnn as tc
from tinygrad_cnn.autograd import Function
sys.path.append(bench)              # ... then benchmarks/ of this checkout (the model builders)
from benchmarks import bench_models as bm
assert tc.__file__.startswith(tree), tc.__file__
tc.manual_seed(0)
tc.set_blas_threads(1)
model, lib, F = bm.build(name, "ours")
model.train()
opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = bm._batch(name, bm.MODELS[name][4])
X, Y = tc.tensor(x), tc.tensor(y)
timings = {}

def wrap(cls, phase):
    fn = cls.__dict__[phase].__func__
    def timed(*args, **kwargs):
        t = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            e = timings.setdefault(cls.__name__ + "." + phase, [0.0, 0])
            e[0] += time.thread_time() - t
            e[1] += 1
    setattr(cls, phase, staticmethod(timed))

seen, stack = [], [Function]
while stack:
    for sub in stack.pop().__subclasses__():
        if sub not in seen:
            seen.append(sub); stack.append(sub)
for cls in seen:
    for phase in ("forward", "backward"):
        if isinstance(cls.__dict__.get(phase), staticmethod):
            wrap(cls, phase)
for _ in range(3):
    bm._step(F, model, opt, X, Y)
timings.clear()
step_ms = []
for _ in range(steps):
    t0 = time.process_time()
    bm._step(F, model, opt, X, Y)
    step_ms.append((time.process_time() - t0) * 1e3)
print(json.dumps({"step_ms": step_ms,
                  "ops": {k: [v[0] / steps * 1e3, v[1] / steps] for k, v in timings.items()}}))
"""


def run(tree: str, name: str, steps: int) -> dict:
    env = dict(os.environ, TINYGRAD_CNN_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", WORKER, os.path.abspath(tree), HERE, name, str(steps)],
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"worker for {tree} ({name}) failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="source tree A (e.g. a checkout of main)")
    parser.add_argument("--after", required=True, help="source tree B")
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2_cifar", "densenet121", "resnet50"])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--top", type=int, default=12, help="op rows to print per model")
    args = parser.parse_args()
    results = {}
    for name in args.models:
        runs: dict = {"before": [], "after": []}
        for r in range(args.rounds):
            for side in (("before", "after") if r % 2 == 0 else ("after", "before")):
                runs[side].append(run(getattr(args, side), name, args.steps))
        summary = {}
        for side, rs in runs.items():
            ops: dict = {}
            for res in rs:
                for op, (ms, calls) in res["ops"].items():
                    ops.setdefault(op, []).append((ms, calls))
            summary[side] = {"step_ms": statistics.median([t for res in rs for t in res["step_ms"]]),
                             "ops": {op: (statistics.median(m for m, _ in v), v[0][1]) for op, v in ops.items()}}
        b, a = summary["before"], summary["after"]
        print(f"\n{name}: step CPU time (median) before {b['step_ms']:.1f} ms, after {a['step_ms']:.1f} ms "
              f"({a['step_ms'] / b['step_ms'] - 1:+.1%})")
        ops = sorted(set(b["ops"]) | set(a["ops"]),
                     key=lambda op: -abs(b["ops"].get(op, (0, 0))[0] - a["ops"].get(op, (0, 0))[0]))
        print(f"  {'op.phase':32} {'calls':>6} {'before ms':>10} {'after ms':>10} {'change':>8}")
        for op in ops[:args.top]:
            bm_, am_ = b["ops"].get(op, (0.0, 0))[0], a["ops"].get(op, (0.0, 0))[0]
            calls = (b["ops"].get(op) or a["ops"].get(op))[1]
            ch = f"{am_ / bm_ - 1:+.0%}" if bm_ else "new"
            print(f"  {op:32} {calls:>6.0f} {bm_:>10.2f} {am_:>10.2f} {ch:>8}")
        results[name] = summary
    print(json.dumps({"bench": "models_ab", "results": {
        k: {side: {"step_ms": v[side]["step_ms"]} for side in v} for k, v in results.items()}}))


if __name__ == "__main__":
    main()
