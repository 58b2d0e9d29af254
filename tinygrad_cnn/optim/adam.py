"""Adam and AdamW (Kingma & Ba, 2015; Loshchilov & Hutter, 2019), PyTorch's update rules.

Per parameter p with gradient g, at step t (β₁, β₂ betas, λ weight decay, ε eps):

    g ← -g                                     if maximize
    p ← p·(1 - lr·λ)                           AdamW (decoupled weight decay)
    g ← g + λ·p                                Adam with λ ≠ 0 (L2 penalty in the gradient)
    m ← m + (1-β₁)·(g - m)                     (torch's lerp: β₁·m + (1-β₁)·g)
    v ← β₂·v + (1-β₂)·g²
    v̂ ← max(v̂, v) and use v̂ below             if amsgrad
    denom ← √v / √(1-β₂ᵗ) + ε
    p ← p - (lr / (1-β₁ᵗ)) · m / denom

State per parameter: step (int), exp_avg (m), exp_avg_sq (v), max_exp_avg_sq (amsgrad).
Everything is computed in place into the state arrays and two scratch arrays.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from ..autograd import no_grad
from ..argcheck import check_flag
from .optimizer import Optimizer, check_betas, check_hyperparameters, lerp_
from ..errors import ArgumentError

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        name = type(self).__name__
        check_hyperparameters(name, lr=lr, eps=eps, weight_decay=weight_decay)
        betas = check_betas(name, betas)
        amsgrad, maximize = check_flag(amsgrad, "amsgrad", name), check_flag(maximize, "maximize", name)
        decoupled_weight_decay = check_flag(decoupled_weight_decay, "decoupled_weight_decay", name)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            amsgrad, maximize = group["amsgrad"], group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            w1 = 1 - beta1                  # lerp weight

            def fresh(p):
                zeros = ("exp_avg", "exp_avg_sq") + ("max_exp_avg_sq",) * amsgrad
                return {k: np.zeros_like(p.numpy()) for k in zeros}

            for p, state, (a, b) in self._params_to_update(group, 2, fresh):
                m, v = state["exp_avg"], state["exp_avg_sq"]
                t = state["step"]
                d = p.grad._data
                if maximize:
                    d = np.negative(d, out=a)
                if wd:
                    if decoupled:
                        p._data *= 1 - lr * wd
                    else:
                        d = np.add(d, np.multiply(p._data, wd, out=b), out=a)   # g + λ·p
                lerp_(m, d, w1, b)                                            # m.lerp_(g, 1-β₁)
                v *= beta2
                np.multiply(d, 1 - beta2, out=b)
                b *= d
                v += b                                                        # v ← β₂v + (1-β₂)g²
                if amsgrad:
                    vmax = state.setdefault("max_exp_avg_sq", np.zeros_like(p._data))
                    np.maximum(vmax, v, out=vmax)
                    v_used = vmax
                else:
                    v_used = v
                bias_correction1 = 1 - beta1 ** t
                bias_correction2_sqrt = math.sqrt(1 - beta2 ** t)
                step_size = lr / bias_correction1
                np.sqrt(v_used, out=b)
                b /= bias_correction2_sqrt
                b += eps                                                      # denom
                np.multiply(m, -step_size, out=a)
                a /= b
                p._data += a
                p._version += 1
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (p ← p·(1 - lr·λ) before the Adam step), default λ = 1e-2."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
