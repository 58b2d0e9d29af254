"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum.

PyTorch's update, per parameter p with gradient g (μ momentum, τ dampening, λ weight decay):

    g ← -g                        if maximize
    g ← g + λ·p                   if λ ≠ 0
    b ← g (first step);  b ← μ·b + (1-τ)·g (later steps)        if μ ≠ 0
    g ← g + μ·b  (nesterov)   or   g ← b                          if μ ≠ 0
    p ← p - lr·g

All arithmetic writes into the momentum buffer, the parameter, or two scratch arrays
allocated on the first step, so later steps allocate nothing.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..autograd import no_grad
from ..argcheck import check_flag, check_number
from .optimizer import Optimizer, check_hyperparameters
from ..errors import ArgumentError

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        check_hyperparameters("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        dampening = check_number(dampening, "dampening", "SGD", finite=True, allow_tensor=False)
        nesterov, maximize = check_flag(nesterov, "nesterov", "SGD"), check_flag(maximize, "maximize", "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ArgumentError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = self._evaluate(closure)
        state_of = self._state                      # the bare arrays (Optimizer.state is a view)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            needs_a = bool(maximize or wd or nesterov)
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad._data
                if needs_a:
                    a, b = self._buffers(p, 2)[:2]
                else:
                    a, b = None, self._buffers(p, 1)[0]
                if maximize:
                    d = np.negative(d, out=a)
                if wd:
                    np.multiply(p._data, wd, out=b)          # λ·p
                    d = np.add(d, b, out=a)                 # g + λ·p
                if momentum:
                    state = state_of.get(p)
                    if state is None:
                        state = state_of[p] = {}
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = np.array(d, copy=True)
                    else:
                        buf *= momentum
                        if dampening:
                            buf += np.multiply(d, 1 - dampening, out=b)
                        else:
                            buf += d
                    if nesterov:
                        d = np.add(d, np.multiply(buf, momentum, out=b), out=a)
                    else:
                        d = buf
                np.subtract(p._data, np.multiply(d, lr, out=b), out=p._data)
                p._vc.value += 1                             # an in-place write (p._version)
        return loss
