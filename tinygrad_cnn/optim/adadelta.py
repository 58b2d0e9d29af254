"""Adadelta (Zeiler, 2012), PyTorch's update rule.

Per parameter p with gradient g (ρ decay, λ weight decay, ε eps, lr a final scale):

    g ← -g                                 if maximize
    g ← g + λ·p                            if λ ≠ 0
    v ← ρ·v + (1-ρ)·g²                     (square_avg)
    Δ ← √(u + ε) / √(v + ε) · g
    u ← ρ·u + (1-ρ)·Δ²                     (acc_delta)
    p ← p - lr·Δ

State per parameter: step, square_avg, acc_delta.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..autograd import no_grad
from .optimizer import Optimizer, check_hyperparameters, directed_grad

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        check_hyperparameters("Adadelta", lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        if rho > 1:
            raise ValueError(f"Adadelta: invalid rho value {rho!r} (expected 0 <= rho <= 1)")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            fresh = lambda p: {"square_avg": np.zeros_like(p.numpy()),             # noqa: E731
                               "acc_delta": np.zeros_like(p.numpy())}
            for p, state, (a, b, c) in self._params_to_update(group, 3, fresh):
                d = directed_grad(p, group["maximize"], group["weight_decay"], a, b)
                v, u = state["square_avg"], state["acc_delta"]
                v *= rho
                np.multiply(d, 1 - rho, out=b)
                b *= d
                v += b                                              # v ← ρv + (1-ρ)g²
                np.add(v, eps, out=b)
                np.sqrt(b, out=b)                                   # √(v + ε)
                np.add(u, eps, out=c)
                np.sqrt(c, out=c)                                   # √(u + ε)
                c /= b
                c *= d                                              # Δ
                u *= rho
                np.multiply(c, 1 - rho, out=b)
                b *= c
                u += b                                              # u ← ρu + (1-ρ)Δ²
                c *= -lr
                p.numpy()[...] += c
                p._version += 1
        return loss
