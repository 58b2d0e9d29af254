"""Training steps of real CNNs, ours vs PyTorch CPU (issue 13): time per step, ratios, peak RSS.

    .venv/bin/python benchmarks/bench_models.py                       # all models, 2 threads, 3 rounds
    .venv/bin/python benchmarks/bench_models.py --models resnet18_cifar --rounds 5
    .venv/bin/python benchmarks/bench_models.py --check               # same loss in float64?
    .venv/bin/python benchmarks/bench_models.py --profile --models mobilenet_v2_cifar

A step is forward, cross-entropy, backward and SGD (momentum 0.9), float32, on a fixed random
batch, `loss.item()` included. The models come from `tinygrad_cnn.vision.models`; PyTorch's
peer is the same model file built with torch (tests/torch_twin.py), so both run the same
architecture and initialisation scheme. CIFAR variants are made the same way in both peers
(`_cifar`): ResNet-18 with a 3x3 stride-1 stem and no max-pool, MobileNetV2 with a stride-1
first conv.

Each model gets a fresh pair of worker processes (benchmarks/harness.py: same thread settings,
each peer alone in its process, taking turns), so the peak RSS reported for a model is the peak
of the process that ran that model's loop (imports included: torch's alone is ~300 MB).
Per round each worker runs `--warmup` untimed steps and `--repeat` timed ones; the rounds
alternate which peer goes first. Printed: min / median / max step time of each peer over all
timed steps, the ratio of the medians, the issue's target, peak RSS of both.

--check builds both peers in one process in float64, copies torch's initial weights into ours
(load_state_dict of the torch state dict's arrays), and compares the loss of one step, the loss
after that SGD step, and the largest gradient difference.
--profile times every op's forward and backward inside our step (by op type and phase), and
splits the rest ("elsewhere": engine, modules, optimizer, Python) by phase of the step.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import (REPO_ROOT, Worker, machine_info, op_timings,  # noqa: E402
                                summarize)

THREADS = 1   # set by the harness worker
# name: (builder, module file, input channels, size, default batch, classes, target ratio)
MODELS = {
    "lenet5": ("lenet5", "lenet", 1, 28, 64, 10, 1.1),
    "resnet18_cifar": ("resnet18", "resnet", 3, 32, 32, 10, 1.1),
    "mobilenet_v2_cifar": ("mobilenet_v2", "mobilenetv2", 3, 32, 32, 10, 1.5),
    "densenet121": ("densenet121", "densenet", 3, 64, 8, 10, 1.5),
    "resnet50": ("resnet50", "resnet", 3, 64, 8, 10, 1.6),
}


# ----------------------------------------------------------------------------- models
def _cifar(name: str, model, nn):
    """The CIFAR variants, the same surgery in both peers (nn: torch.nn or tinygrad_cnn.nn)."""
    if name == "resnet18_cifar":
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif name == "mobilenet_v2_cifar":
        model.features[0][0] = nn.Conv2d(3, 32, kernel_size=3, stride=1, padding=1, bias=False)
    return model


def build(name: str, peer: str):
    """(model, lib, nn.functional) for peer 'ours' or 'torch'."""
    builder, module, _, _, _, classes, _ = MODELS[name]
    if name == "lenet5":                     # the CLI's LeNet-5 and bench_train's torch twin of it
        if peer == "torch":
            import torch
            from benchmarks.bench_train import _torch_lenet
            return _torch_lenet(classic=False), torch, torch.nn.functional
        import tinygrad_cnn as tc
        import tinygrad_cnn.nn.functional as F
        from tinygrad_cnn.models import get_model
        return get_model("lenet5"), tc, F
    if peer == "torch":
        import torch
        sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))
        from torch_twin import twin_module
        model = getattr(twin_module(f"tinygrad_cnn.vision.models.{module}"), builder)(num_classes=classes)
        return _cifar(name, model, torch.nn), torch, torch.nn.functional
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    from tinygrad_cnn.vision import models
    model = getattr(models, builder)(num_classes=classes)
    return _cifar(name, model, tc.nn), tc, F


def _batch(name: str, batch: int, dtype: str = "float32"):
    import numpy as np
    _, _, c, size, _, classes, _ = MODELS[name]
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, c, size, size)).astype(dtype),
            rng.integers(0, classes, batch))


def _set_algorithm(tc) -> None:
    name = os.environ.get("TINYGRAD_CNN_CONV_ALGORITHM")
    if name:
        tc.backends.conv_algorithm = name
    if os.environ.get("TINYGRAD_CNN_CUDNN_BENCHMARK") == "1":
        tc.backends.cudnn.benchmark = True   # time the algorithms per shape (in the warm-up steps)


def _step(F, model, opt, x, y) -> float:
    """One training step, written once for both peers (their APIs agree)."""
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


# ----------------------------------------------------------------------------- workers
def run_loop(name: str, peer: str, batch: int, warmup: int, repeat: int) -> dict:
    """Inside a worker: build (once per process), warm up, time `repeat` steps; peak RSS."""
    state = _STATE.get((name, peer, batch))
    if state is None:
        if peer == "torch":
            import torch
            torch.set_num_threads(THREADS)
            torch.manual_seed(0)
        else:
            os.environ.setdefault("TINYGRAD_CNN_NUM_THREADS", str(THREADS))
            import tinygrad_cnn as tc
            tc.manual_seed(0)
            tc.set_blas_threads(1)           # as the CLI: BLAS outside the conv ops single-threaded
            _set_algorithm(tc)
        model, lib, F = build(name, peer)
        model.train()
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = _batch(name, batch)
        state = _STATE[(name, peer, batch)] = (model, opt, F, lib.tensor(x), lib.tensor(y))
    model, opt, F, x, y = state
    for _ in range(warmup):
        _step(F, model, opt, x, y)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _step(F, model, opt, x, y)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"times_ms": times, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


_STATE: dict = {}


def bench_model(name: str, batch: int, threads: int, rounds: int, warmup: int, repeat: int,
                log) -> dict:
    workers = {p: Worker(__file__, threads, p) for p in ("ours", "torch")}
    times = {"ours": [], "torch": []}
    rss = {}
    try:
        for r in range(rounds):
            for peer in (("ours", "torch") if r % 2 == 0 else ("torch", "ours")):
                time.sleep(0.2)
                res = workers[peer].call("run_loop", name=name, peer=peer, batch=batch,
                                         warmup=warmup, repeat=repeat)
                times[peer] += res["times_ms"]
                rss[peer] = res["peak_rss_mb"]
            log(f"round {r + 1}/{rounds} {name} b{batch}: ours {summarize(times['ours'])['median_ms']:.1f}"
                f" ms, torch {summarize(times['torch'])['median_ms']:.1f} ms")
    finally:
        for w in workers.values():
            w.close()
    row = {"model": name, "batch": batch}
    for peer in ("ours", "torch"):
        s = summarize(times[peer])
        row[peer] = {"min_ms": s["min_ms"], "median_ms": s["median_ms"], "max_ms": max(times[peer]),
                     "steps": len(times[peer]), "peak_rss_mb": round(rss[peer], 1)}
    row["ratio"] = row["ours"]["median_ms"] / row["torch"]["median_ms"]
    row["target"] = MODELS[name][6]
    return row


def format_rows(rows: list[dict]) -> str:
    head = (f"{'model':<20} {'batch':>5}  {'ours ms min/med/max':>22}  {'torch ms min/med/max':>22}"
            f"  {'ratio':>5} {'target':>8}  {'RSS ours/torch MB':>18}")
    lines = [head, "-" * len(head)]
    for r in rows:
        o, t = r["ours"], r["torch"]
        ok = "ok" if r["ratio"] <= r["target"] else "MISS"
        lines.append(f"{r['model']:<20} {r['batch']:>5}  "
                     f"{o['min_ms']:>6.1f}/{o['median_ms']:>6.1f}/{o['max_ms']:>7.1f}  "
                     f"{t['min_ms']:>6.1f}/{t['median_ms']:>6.1f}/{t['max_ms']:>7.1f}  "
                     f"{r['ratio']:>5.2f} {'<=' + str(r['target']) + ' ' + ok:>8}  "
                     f"{o['peak_rss_mb']:>8.1f}/{t['peak_rss_mb']:<8.1f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- check
def check(name: str, batch: int) -> dict:
    """Both peers in float64 from torch's initial weights: loss, loss after one SGD step, and
    the largest gradient difference."""
    import numpy as np
    import torch
    import tinygrad_cnn as tc
    torch.manual_seed(0)
    theirs, _, tF = build(name, "torch")
    ours, _, oF = build(name, "ours")
    for model in (theirs, ours):
        model.double().train()
        for m in model.modules():            # dropout draws differ between the peers: off
            if type(m).__name__.startswith("Dropout"):
                m.eval()
    names = list(ours.state_dict())          # same order; LeNet's torch twin is a Sequential
    ours.load_state_dict({n: v.detach().numpy().copy() for n, v in zip(names, theirs.state_dict().values())})
    x, y = _batch(name, batch, "float64")
    results = {}
    for peer, model, lib, F in (("torch", theirs, torch, tF), ("ours", ours, tc, oF)):
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        X, Y = lib.tensor(x), lib.tensor(y)
        loss0 = _step(F, model, opt, X, Y)
        grads = [(n, p.grad.numpy().copy()) for n, p in model.named_parameters() if p.grad is not None]
        with lib.no_grad():
            loss1 = F.cross_entropy(model(X), Y).item()
        results[peer] = (loss0, loss1, grads)
    (t0, t1, tg), (o0, o1, og) = results["torch"], results["ours"]
    assert [g.shape for _, g in tg] == [g.shape for _, g in og], "parameters differ"
    # relative to the parameter's gradient, or to 1e-6 of the largest gradient when it is ~0
    # (a BN-cancelled bias: the next BN removes any per-channel shift, its true gradient is 0)
    scale = max(float(np.abs(t).max()) for _, t in tg)
    rels = [float(np.abs(t - o).max() / max(np.abs(t).max(), 1e-6 * scale)) for (_, t), (_, o) in zip(tg, og)]
    rel = max(rels)
    worst = og[rels.index(rel)][0]
    return {"model": name, "batch": batch, "loss_torch": t0, "loss_ours": o0,
            "loss_after_step_torch": t1, "loss_after_step_ours": o1,
            "max_rel_grad_diff": rel, "worst_param": worst,
            "ok": abs(t0 - o0) <= 1e-9 * abs(t0) and abs(t1 - o1) <= 1e-8 * abs(t1) and rel < 1e-7}


# ----------------------------------------------------------------------------- profile
def _conv_kind(op: str, ctx) -> str | None:
    """'3x3', '1x1', '3x3 dw' (depthwise), ... plus the algorithm, for ConvNd calls."""
    if op != "ConvNd" or not hasattr(ctx, "inputs"):
        return None
    x, w = ctx.inputs[0], ctx.inputs[1]
    k = "x".join(map(str, w.shape[2:]))
    dw = " dw" if ctx.kwargs.get("groups", 1) == x.shape[1] > 1 else ""
    algo = ctx.__dict__.get("algorithm")
    return f"{k}{dw} {algo[0].name if algo else 'im2col'}"


def _phased_step(F, model, opt, x, y, timings: dict, phases: dict) -> float:
    """_step, adding to phases[name] each phase's wall time and the op time (from timings)
    inside it: forward (with the loss), zero_grad, backward, step (with loss.item())."""
    def mark(phase: str, since: tuple) -> tuple:
        now = (time.perf_counter(), sum(v[0] for v in timings.values()))
        phases[phase][0] += now[0] - since[0]
        phases[phase][1] += now[1] - since[1]
        return now
    t = (time.perf_counter(), sum(v[0] for v in timings.values()))
    loss = F.cross_entropy(model(x), y)
    t = mark("forward", t)
    opt.zero_grad()
    t = mark("zero_grad", t)
    loss.backward()
    t = mark("backward", t)
    opt.step()
    value = loss.item()
    mark("step", t)
    return value


def profile(name: str, batch: int, steps: int) -> None:
    """Our step's time by op type and phase (forward/backward), wall time inside each op."""
    import tinygrad_cnn as tc
    from tinygrad_cnn.autograd import Function
    tc.manual_seed(0)
    tc.set_blas_threads(1)
    _set_algorithm(tc)
    model, lib, F = build(name, "ours")
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _batch(name, batch)
    X, Y = tc.tensor(x), tc.tensor(y)
    for _ in range(3):
        _step(F, model, opt, X, Y)
    t0 = time.perf_counter()
    for _ in range(steps):
        _step(F, model, opt, X, Y)
    plain = (time.perf_counter() - t0) / steps * 1e3
    phases = {p: [0.0, 0.0] for p in ("forward", "zero_grad", "backward", "step")}
    with op_timings(Function, by_shape=False, kind=_conv_kind) as timings:
        t0 = time.perf_counter()
        for _ in range(steps):
            _phased_step(F, model, opt, X, Y, timings, phases)
        timed = (time.perf_counter() - t0) / steps * 1e3
    per = {k: (v[0] / steps * 1e3, v[1] / steps) for k, v in timings.items()}
    inside = sum(ms for ms, _ in per.values())
    print(f"{name} b{batch}: {plain:.1f} ms per step ({timed:.1f} ms instrumented), "
          f"{inside:.1f} ms inside op forward/backward, {timed - inside:.1f} ms elsewhere "
          f"(engine, modules, optimizer, Python)")
    print("  elsewhere by phase: " + ", ".join(
        f"{p} {(total - ops) / steps * 1e3:.1f} ms" for p, (total, ops) in phases.items()))
    print(f"  {'ms/step':>8} {'share':>6} {'calls':>6}  op.phase")
    for (op, phase), (ms, calls) in sorted(per.items(), key=lambda kv: -kv[1][0]):
        if ms >= 0.05:
            print(f"  {ms:>8.2f} {ms / timed:>6.1%} {calls:>6.0f}  {op}.{phase}")


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: per model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed steps per round (default: ~2 s of PyTorch steps per model)")
    parser.add_argument("--conv-algorithm", default=None,
                        help="ours: tc.backends.conv_algorithm (default: the library's, 'auto')")
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="ours: tc.backends.cudnn.benchmark = True (the conv algorithms timed once "
                             "per shape during the warm-up; PyTorch's CPU convs have no such switch)")
    parser.add_argument("--check", action="store_true", help="compare one step's loss in float64")
    parser.add_argument("--profile", action="store_true", help="time by op type, ours only")
    args = parser.parse_args()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    if args.conv_algorithm:                  # inherited by the workers
        os.environ["TINYGRAD_CNN_CONV_ALGORITHM"] = args.conv_algorithm
    if args.cudnn_benchmark:
        os.environ["TINYGRAD_CNN_CUDNN_BENCHMARK"] = "1"
    if args.check:
        rows = [check(m, args.batch or min(4, MODELS[m][4])) for m in args.models]
        for r in rows:
            print(f"{r['model']:<20} loss torch {r['loss_torch']:.15g} ours {r['loss_ours']:.15g}; "
                  f"after the step {r['loss_after_step_torch']:.15g} / {r['loss_after_step_ours']:.15g}; "
                  f"max rel grad diff {r['max_rel_grad_diff']:.1e} ({r['worst_param']}) "
                  f"{'ok' if r['ok'] else 'DIFFERENT'}")
        print(json.dumps({"benchmark": "bench_models --check", "rows": rows}))
        sys.exit(0 if all(r["ok"] for r in rows) else 1)
    if args.profile:
        os.environ.setdefault("TINYGRAD_CNN_NUM_THREADS", str(args.threads))
        for m in args.models:
            profile(m, args.batch or MODELS[m][4], args.repeat or 5)
            print()
        return
    default_repeat = {"lenet5": 50, "resnet18_cifar": 8, "mobilenet_v2_cifar": 8, "densenet121": 5,
                      "resnet50": 6}
    rows = [bench_model(m, args.batch or MODELS[m][4], args.threads, args.rounds, args.warmup,
                        args.repeat or default_repeat[m], log) for m in args.models]
    print(format_rows(rows))
    print(json.dumps({"benchmark": "bench_models",
                      "command": ".venv/bin/python benchmarks/bench_models.py " + " ".join(sys.argv[1:]),
                      "machine": machine_info(args.threads), "rows": rows}))


if __name__ == "__main__":
    main()
