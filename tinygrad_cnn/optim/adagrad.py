"""Adagrad (Duchi, Hazan & Singer, 2011), PyTorch's update rule (dense gradients).

Per parameter p with gradient g at step t (η lr, δ lr_decay, λ weight decay, ε eps):

    g ← -g                                 if maximize
    g ← g + λ·p                            if λ ≠ 0
    η_t ← η / (1 + (t - 1)·δ)
    s ← s + g²                             (sum, starting at initial_accumulator_value)
    p ← p - η_t·g / (√s + ε)

State per parameter: step, sum.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..autograd import no_grad
from .optimizer import Optimizer, check_hyperparameters, directed_grad

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        check_hyperparameters("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                              initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            start = group["initial_accumulator_value"]
            for p, state, (a, b) in self._params_to_update(
                    group, 2, lambda p: {"sum": np.full_like(p.numpy(), start)}):
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                d = directed_grad(p, group["maximize"], group["weight_decay"], a, b)
                total = state["sum"]
                np.multiply(d, d, out=b)
                total += b                                          # s ← s + g²
                np.sqrt(total, out=b)
                b += eps
                np.multiply(d, -clr, out=a)
                a /= b
                p.numpy()[...] += a
                p._version += 1
        return loss
