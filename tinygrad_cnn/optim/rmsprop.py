"""RMSprop (Hinton's lecture 6e; centered form from Graves, 2013), PyTorch's update rule.

Per parameter p with gradient g (α smoothing constant, μ momentum, λ weight decay, ε eps):

    g ← -g                                 if maximize
    g ← g + λ·p                            if λ ≠ 0
    v ← α·v + (1-α)·g²                     (square_avg)
    m ← m + (1-α)·(g - m)                  if centered (grad_avg, torch's lerp)
    s ← √(v - m²) + ε  if centered,  else √v + ε
    b ← μ·b + g/s,  p ← p - lr·b           if μ > 0 (momentum_buffer)
    p ← p - lr·g/s                         otherwise

State per parameter: step, square_avg, momentum_buffer (μ > 0), grad_avg (centered).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..autograd import no_grad
from .optimizer import Optimizer, check_hyperparameters, directed_grad, lerp_

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        check_hyperparameters("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                              momentum=momentum)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            momentum, centered = group["momentum"], group["centered"]

            def fresh(p):
                zeros = ("square_avg",) + ("momentum_buffer",) * (momentum > 0) + ("grad_avg",) * centered
                return {k: np.zeros_like(p.numpy()) for k in zeros}

            for p, state, (a, b, c) in self._params_to_update(group, 3, fresh):
                d = directed_grad(p, group["maximize"], group["weight_decay"], a, b)
                v = state["square_avg"]
                v *= alpha
                np.multiply(d, 1 - alpha, out=b)
                b *= d
                v += b                                              # v ← αv + (1-α)g²
                if centered:
                    m = state.setdefault("grad_avg", np.zeros_like(p.numpy()))
                    lerp_(m, d, 1 - alpha, b)
                    np.multiply(m, -1, out=c)
                    c *= m
                    c += v
                    np.sqrt(c, out=c)                               # √(v - m²)
                else:
                    np.sqrt(v, out=c)
                c += eps
                if momentum > 0:
                    buf = state.setdefault("momentum_buffer", np.zeros_like(p.numpy()))
                    buf *= momentum
                    buf += np.divide(d, c, out=b)                   # b ← μb + g/s
                    np.multiply(buf, -lr, out=b)
                else:
                    np.multiply(d, -lr, out=b)
                    b /= c                                          # -lr·g/s
                p.numpy()[...] += b
                p._version += 1
        return loss
