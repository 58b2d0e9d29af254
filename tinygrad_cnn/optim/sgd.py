"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum.

PyTorch's update, per parameter p with gradient g (μ momentum, τ dampening, λ weight decay):

    g ← -g                        if maximize
    g ← g + λ·p                   if λ ≠ 0
    b ← g (first step);  b ← μ·b + (1-τ)·g (later steps)        if μ ≠ 0
    g ← g + μ·b  (nesterov)   or   g ← b                          if μ ≠ 0
    p ← p - lr·g

All arithmetic writes into the momentum buffer, the parameter, or two scratch arrays
(Optimizer._buffers: views of one pool per dtype shared by all parameters) allocated on the
first step, so later steps allocate nothing.
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
            hyper = (group["lr"], group["momentum"], group["dampening"], group["weight_decay"],
                     group["nesterov"], group["maximize"])
            momentum = hyper[1]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                param = p._data
                buf = None
                if momentum:
                    state = state_of.get(p)
                    if state is None:
                        state = state_of[p] = {}
                    buf = state.get("momentum_buffer")
                a, b = self._buffers(p, 2)[:2]
                if buf is None:
                    buf = _update(param, grad._data, None, a, b, *hyper)
                    if momentum:
                        state["momentum_buffer"] = buf
                else:
                    _update(param, grad._data, buf, a, b, *hyper)
                p._vc.value += 1                             # an in-place write (p._version)
        return loss


def _update(param: np.ndarray, g: np.ndarray, buf: np.ndarray | None, a: np.ndarray,
            b: np.ndarray, lr: float, momentum: float, dampening: float, wd: float,
            nesterov: bool, maximize: bool) -> np.ndarray | None:
    """The update of the module docstring on one parameter, in place; a and b are scratch
    arrays shaped like it. `buf` is the momentum buffer, None on the first step: it is then
    made as a copy of the directed gradient, and returned."""
    d = g
    if maximize:
        d = np.negative(d, out=a)
    if wd:
        np.multiply(param, wd, out=b)                # λ·p
        d = np.add(d, b, out=a)                      # g + λ·p
    if momentum:
        if buf is None:
            buf = np.array(d, copy=True)
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
    np.subtract(param, np.multiply(d, lr, out=b), out=param)
    return buf
