"""A small harness for "ours vs PyTorch" benchmarks: each peer runs in its own worker process.

Why processes: NumPy's BLAS and PyTorch each keep a thread pool; in one process they would fight
over the cores (and PyTorch would pay our import costs). Each peer gets a long-lived worker,
started with the same thread settings; the workers take turns (the idle one blocks on its pipe),
cases are interleaved so slow drifts of a shared machine hit both peers alike, and each
reported time is the median over all repeats.

Reuse it for any benchmark:

    # my_bench.py
    from benchmarks.harness import Case, run_cases, print_report

    def ours(name: str, repeat: int) -> dict:       # runs inside the "ours" worker
        ...build inputs...
        return {"fwd+bwd": measure(step, repeat=repeat)}

    def torch_peer(name: str, repeat: int) -> dict:  # runs inside the "torch" worker
        ...

    if __name__ == "__main__":
        rows = run_cases(__file__, [Case("lenet_step", target=2.5)], ours="ours", peer="torch_peer")
        print_report("my_bench", rows)

A peer function gets the case name and a repeat count and returns {metric: timing}, where a
timing is what `measure` returns; `run_cases` computes ours/peer ratios per metric.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- timing
def measure(fn: Callable[[], Any], repeat: int = 20, warmup: int = 3,
            setup: Callable[[], Any] | None = None) -> dict:
    """Time fn() `repeat` times after `warmup` calls; setup() (untimed) runs before each call.
    Returns {"median_ms", "min_ms", "p25_ms", "p75_ms", "times_ms"}."""
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return summarize(times)


def summarize(times_ms: list[float]) -> dict:
    s = sorted(times_ms)
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0]] * 3
    return {"median_ms": statistics.median(s), "min_ms": s[0], "p25_ms": q[0], "p75_ms": q[2],
            "times_ms": [round(t, 4) for t in times_ms]}


def merge(timings: list[dict]) -> dict:
    """One timing from several rounds: the median of all their repeats."""
    return summarize([t for d in timings for t in d["times_ms"]])


@contextlib.contextmanager
def op_timings(base: type, by_shape: bool = True, kind: Callable | None = None):
    """Wall time inside every op while the block runs: {(op, phase): [seconds, calls]}.

    Wraps forward and backward of every subclass of `base` (tinygrad_cnn's Function); the
    phase names the first array argument's shape when by_shape. Wall time, because the CNN
    ops run threads of their own that cProfile would not attribute. kind(op name, ctx) may
    return a label that splits an op by what its call was (e.g. a conv's kernel size)."""
    timings: dict = {}
    seen, stack = [], [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in seen:
                seen.append(sub)
                stack.append(sub)

    def wrap(cls: type, phase: str) -> Any:
        original = cls.__dict__[phase]                # staticmethod or classmethod
        is_class = isinstance(original, classmethod)
        fn = original.__func__ if isinstance(original, (staticmethod, classmethod)) else original

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                key = phase
                if by_shape:
                    a = args[1 + is_class] if len(args) > 1 + is_class else None
                    what = "input" if phase == "forward" else "grad_output"
                    key = f"{phase} ({what} {'x'.join(map(str, getattr(a, 'shape', ())))})"
                label = kind(cls.__name__, args[is_class]) if kind is not None else None
                name = cls.__name__ if not label else f"{cls.__name__}[{label}]"
                entry = timings.setdefault((name, key), [0.0, 0])
                entry[0] += time.perf_counter() - t
                entry[1] += 1
        setattr(cls, phase, (classmethod if is_class else staticmethod)(timed))
        return original

    originals = [(cls, phase, wrap(cls, phase)) for cls in seen
                 for phase in ("forward", "backward") if phase in cls.__dict__]
    try:
        yield timings
    finally:
        for cls, phase, original in originals:
            setattr(cls, phase, original)


# ----------------------------------------------------------------------------- workers
def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "TINYGRAD_CNN_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Worker:
    """A child process that imports one benchmark file and runs its functions on request
    (JSON lines over stdin/stdout)."""

    def __init__(self, script: str, threads: int, name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", os.path.abspath(script),
             "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=thread_env(threads), text=True,
            cwd=REPO_ROOT)

    def call(self, func: str, **kwargs: Any) -> Any:
        self.proc.stdin.write(json.dumps({"func": func, "kwargs": kwargs}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.name} died (exit code {self.proc.poll()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.name}.{func}({kwargs}) failed in the worker:\n{reply['error']}")
        return reply["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def _worker_main(script: str, threads: int) -> None:
    sys.path.insert(0, REPO_ROOT)
    spec = importlib.util.spec_from_file_location("_bench_module", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.THREADS = threads
    out = sys.stdout
    sys.stdout = sys.stderr             # stray prints must not corrupt the protocol
    for line in sys.stdin:
        request = json.loads(line)
        try:
            gc.collect()
            result = getattr(module, request["func"])(**request["kwargs"])
            out.write(json.dumps({"result": result}) + "\n")
        except Exception:               # report, keep serving
            out.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        out.flush()


# ------------------------------------------------------------------------------ cases
@dataclass
class Case:
    name: str
    target: float | None = None          # max allowed ours/peer ratio on `target_metric`
    target_metric: str = "fwd+bwd"
    note: str = ""
    kwargs: dict = field(default_factory=dict)


def run_cases(script: str, cases: list[Case], ours: str = "ours", peer: str = "peer",
              threads: int | None = None, repeat: int = 20, rounds: int = 3,
              pause: float = 0.2, log: Callable[[str], None] | None = None) -> list[dict]:
    """Run every case `rounds` times in each worker, alternating peers, and return one row per
    case: {"case", metrics: {metric: {"ours": timing, "peer": timing, "ratio": float}}, ...}."""
    threads = threads or os.cpu_count() or 1
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    workers = {"ours": Worker(script, threads, "ours"), "peer": Worker(script, threads, "peer")}
    funcs = {"ours": ours, "peer": peer}
    collected: dict[str, dict[str, dict[str, list]]] = {c.name: {} for c in cases}
    try:
        for r in range(rounds):
            for case in cases:
                order = ("ours", "peer") if r % 2 == 0 else ("peer", "ours")
                for who in order:
                    time.sleep(pause)     # let the other worker's spinning threads go to sleep
                    res = workers[who].call(funcs[who], name=case.name, repeat=repeat, **case.kwargs)
                    for metric, timing in res.items():
                        collected[case.name].setdefault(metric, {"ours": [], "peer": []})[who].append(timing)
                log(f"round {r + 1}/{rounds} {case.name}: " + ", ".join(
                    f"{m} {merge(v['ours'])['median_ms']:.2f} vs {merge(v['peer'])['median_ms']:.2f} ms"
                    for m, v in collected[case.name].items() if v["ours"] and v["peer"]))
    finally:
        for w in workers.values():
            w.close()
    rows = []
    for case in cases:
        metrics = {}
        for metric, v in collected[case.name].items():
            o, p = merge(v["ours"]), merge(v["peer"])
            for t in (o, p):
                t.pop("times_ms")
            metrics[metric] = {"ours": o, "peer": p, "ratio": o["median_ms"] / p["median_ms"]}
        row = {"case": case.name, "metrics": metrics, "note": case.note}
        if case.target is not None:
            ratio = metrics.get(case.target_metric, {}).get("ratio")
            row.update(target=case.target, target_metric=case.target_metric,
                       meets_target=None if ratio is None else ratio <= case.target)
        rows.append(row)
    return rows


def machine_info(threads: int | None = None) -> dict:
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "threads": threads or os.cpu_count()}
    try:
        import numpy
        info["numpy"] = numpy.__version__
        from tinygrad_cnn.ops.parallel import get_blas_core
        info["blas_core"] = get_blas_core()        # OpenBLAS's kernels (OPENBLAS_CORETYPE can force them)
    except ImportError:
        pass
    try:
        with open("/proc/loadavg") as f:
            info["loadavg_at_end"] = f.read().split()[:3]
    except OSError:
        pass
    return info


def format_table(rows: list[dict], peer_name: str = "torch") -> str:
    """A text table: one line per (case, metric) with both medians and the ratio."""
    header = f"{'case':<34} {'metric':<8} {'ours ms':>9} {peer_name + ' ms':>9} {'ratio':>6} {'target':>7}"
    lines = [header, "-" * len(header)]
    for row in rows:
        for metric, m in row["metrics"].items():
            target = ""
            if row.get("target") is not None and metric == row.get("target_metric"):
                target = f"<={row['target']:.1f}" + (" ok" if row["meets_target"] else " MISS")
            lines.append(f"{row['case']:<34} {metric:<8} {m['ours']['median_ms']:>9.2f} "
                         f"{m['peer']['median_ms']:>9.2f} {m['ratio']:>6.2f} {target:>7}")
    return "\n".join(lines)


def print_report(benchmark: str, rows: list[dict], threads: int | None = None,
                 command: str | None = None, peer_name: str = "torch") -> None:
    """The table on stdout, then one JSON line with everything (for docs/performance.md)."""
    print(format_table(rows, peer_name))
    record = {"benchmark": benchmark, "command": command or " ".join(sys.argv),
              "machine": machine_info(threads), "rows": rows}
    print(json.dumps(record))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", required=True, help="benchmark file whose functions to serve")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    _worker_main(args.worker, args.threads)
