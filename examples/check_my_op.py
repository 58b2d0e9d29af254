"""Gradient-check your own op: a custom Function, tc.gradcheck, the report of a wrong backward,
and the registry that puts it into `tinygrad-cnn gradcheck --all`.

    .venv/bin/python examples/check_my_op.py
    tinygrad-cnn gradcheck --all --import examples.check_my_op     # (from the repository root)
"""
from __future__ import annotations

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.gradcheck_suite as suite
from tinygrad_cnn.gradcheck import check_gradients


class Swish(tc.autograd.Function):
    """y = x·σ(βx);  dy/dx = σ(βx) + βx·σ(βx)(1 − σ(βx))."""

    @staticmethod
    def forward(ctx, x, beta=1.0):
        s = 1.0 / (1.0 + np.exp(-beta * x))
        ctx.save_for_backward(x, s)
        ctx.beta = beta
        return x * s

    @staticmethod
    def backward(ctx, grad_output):
        x, s = ctx.saved_tensors
        b = ctx.beta
        return grad_output * (s + b * x * s * (1 - s)), None     # no gradient for beta


class SwishForgotTheChainRule(Swish):
    """The classic mistake: backward returns dy/dx instead of grad_output · dy/dx."""

    @staticmethod
    def backward(ctx, grad_output):
        x, s = ctx.saved_tensors
        return s + ctx.beta * x * s * (1 - s), None


@suite.register("swish", defaults={"shape": (3, 4), "beta": 1.0},
                grid=[{}, {"beta": 2.5}, {"shape": (2, 3, 2)}])
def build_swish(cfg, rng):
    """Swish(x, beta), a custom Function from examples/check_my_op.py"""
    beta = cfg["beta"]
    return (lambda x: Swish.apply(x, beta)), [suite.randn(rng, cfg["shape"])]


def main() -> int:
    tc.manual_seed(0)
    x = tc.randn(3, 4, dtype=tc.float64, requires_grad=True)

    # 1. the check itself: True, or a GradcheckError explaining the mismatch
    print("Swish passes:", tc.gradcheck(lambda t: Swish.apply(t, 1.5), (x,)))

    # 2. what a failure looks like (check_gradients returns the measurements, never raises)
    result = check_gradients(lambda t: SwishForgotTheChainRule.apply(t, 1.5) * 3.0, (x[:1, :3].detach().requires_grad_(),))
    print("\nthe wrong backward:\n" + result.report())

    # 3. the registered op, through the same code path as `tinygrad-cnn gradcheck --all`
    print()
    print(suite.format_header())
    bad = 0
    for row in suite.check_all(["swish"]):
        print(suite.format_row(row))
        bad += not row.passed
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
