"""CNN ops, float32, ours vs PyTorch CPU: forward, and forward + backward.

    .venv/bin/python benchmarks/bench_ops.py                 # all cases, 2 threads, 3 rounds
    .venv/bin/python benchmarks/bench_ops.py --cases conv_lenet2 --rounds 5 --repeat 30

Each case builds its inputs once, then times (median of repeats over interleaved rounds):
  fwd      the op under no_grad
  fwd+bwd  the op with autograd, then backward(grad) with a fixed upstream gradient; leaf grads
           are reset (untimed) before every call, so no accumulation is measured.
The input requires grad (so grad_input is computed) except for LeNet's first conv, whose input
is data; `conv_lenet1_gin` times that conv with grad_input too. Targets are from issue 3;
`convT_*` (conv_transpose2d, a stride-2 upsampling) has none.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.harness import Case, measure, print_report, run_cases  # noqa: E402

# name: (op, x shape, weight shape or pool kernel, kwargs, input requires grad)
CASES = {
    "conv_64x32to64_28_k3p1": ("conv", (64, 32, 28, 28), (64, 32, 3, 3), dict(padding=1), True),
    "conv_32x64to128_32_k3s2p1": ("conv", (32, 64, 32, 32), (128, 64, 3, 3), dict(stride=2, padding=1), True),
    "conv_lenet1_64x1to6_28_k5": ("conv", (64, 1, 28, 28), (6, 1, 5, 5), {}, False),
    "conv_lenet2_64x6to16_12_k5": ("conv", (64, 6, 12, 12), (16, 6, 5, 5), {}, True),
    "maxpool_64x32x28_2x2": ("maxpool", (64, 32, 28, 28), 2, {}, True),
    "conv_lenet1_gin": ("conv", (64, 1, 28, 28), (6, 1, 5, 5), {}, True),
    "avgpool_64x32x28_2x2": ("avgpool", (64, 32, 28, 28), 2, {}, True),
    "cross_entropy_64x10": ("ce", (64, 10), None, {}, True),
    "convT_64x32to16_14_k4s2p1": ("convT", (64, 32, 14, 14), (32, 16, 4, 4), dict(stride=2, padding=1), True),
}
TARGETS = {"conv_64x32to64_28_k3p1": 2.0, "conv_32x64to128_32_k3s2p1": 2.0,
           "conv_lenet1_64x1to6_28_k5": 2.5, "conv_lenet2_64x6to16_12_k5": 2.5,
           "maxpool_64x32x28_2x2": 2.0}
THREADS = 1   # set by the harness worker


def _arrays(name: str):
    import numpy as np
    rng = np.random.default_rng(0)
    op, xs, ws, kw, x_grad = CASES[name]
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32) * 0.1 if op in ("conv", "convT") else None
    c_out = ws[1] if op == "convT" else ws[0] if op == "conv" else 0   # convT weight: (C_in, C_out, K, K)
    b = rng.standard_normal(c_out).astype(np.float32) if w is not None else None
    t = rng.integers(0, xs[1], xs[0]) if op == "ce" else None
    return op, x, w, b, t, kw, x_grad


def _run(F, name: str, X, params: list, target):
    """The case's op, written once for both peers (F: tinygrad_cnn's or torch's functional)."""
    op, _, ws, kw, _ = CASES[name]
    if op == "conv":
        return F.conv2d(X, params[0], params[1], **kw)
    if op == "convT":
        return F.conv_transpose2d(X, params[0], params[1], **kw)
    if op == "maxpool":
        return F.max_pool2d(X, ws)
    if op == "avgpool":
        return F.avg_pool2d(X, ws)
    return F.cross_entropy(X, target)


def _measure(lib, name: str, repeat: int) -> dict:
    """Time one case with `lib` (tinygrad_cnn or torch: the same calls for both)."""
    F = lib.nn.functional
    op, x, w, b, t, kw, x_grad = _arrays(name)
    X = lib.tensor(x, requires_grad=x_grad)
    params = [lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)] if w is not None else []
    target = lib.tensor(t) if t is not None else None

    def run():
        return _run(F, name, X, params, target)

    with lib.no_grad():
        g = lib.ones_like(run())

    def reset():
        for p in [X] + params:
            p.grad = None

    def step():
        run().backward(g)

    def fwd():
        with lib.no_grad():
            run()
    return {"fwd": measure(fwd, repeat=repeat), "fwd+bwd": measure(step, repeat=repeat, setup=reset)}


def ours(name: str, repeat: int) -> dict:
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional  # noqa: F401 - tc.nn.functional
    return _measure(tc, name, repeat)


def torch_peer(name: str, repeat: int) -> dict:
    import torch
    torch.set_num_threads(THREADS)
    return _measure(torch, name, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = [Case(n, target=TARGETS.get(n)) for n in args.cases]
    rows = run_cases(__file__, cases, ours="ours", peer="torch_peer", threads=args.threads,
                     repeat=args.repeat, rounds=args.rounds)
    print_report("bench_ops", rows, threads=args.threads,
                 command=".venv/bin/python benchmarks/bench_ops.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
