"""Losses: fused softmax cross-entropy, negative log-likelihood, mean squared error.

Inputs have the class dim at axis 1: (N, C) or (N, C, d1, ...); class-index targets have the
input's shape without axis 1. Per element i of the target, every loss here is

    loss_i = - Σ_c a_ic · logp_ic

for some non-negative "target weights" a_ic, then reduced: 'none' keeps loss_i, 'sum' adds
them, 'mean' divides the sum by Σ_i w[t_i] (class-index targets; ignored elements weigh 0) or
by the number of elements (class-probability targets), exactly as PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from .activation import _log_sum_exp_parts


def _class_view(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-class vector (C,) shaped to broadcast along axis 1 of an ndim-d input."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _reduce(loss: np.ndarray, reduction: str, denominator: float) -> tuple[np.ndarray, float]:
    """(reduced loss, scale r so that d reduced / d loss_i = r)."""
    if reduction == "none":
        return loss, 1.0
    total = loss.sum(dtype=np.float64)
    if reduction == "sum":
        return np.asarray(total, loss.dtype), 1.0
    with np.errstate(invalid="ignore", divide="ignore"):     # everything ignored: 0/0 = NaN, as PyTorch
        # nothing counted (all targets ignored): the loss is NaN but no element gets a gradient
        return np.asarray(total / denominator, loss.dtype), 1.0 / denominator if denominator else 0.0


def _one_hot(idx: np.ndarray, n_classes: int) -> np.ndarray:
    """[c = t_i] as a float mask of the input's shape, from idx = the targets with axis 1 kept
    (size 1). A constant: the rule multiplies by it instead of scattering in place, so it runs
    on Tensors too."""
    classes = np.arange(n_classes).reshape((1, -1) + (1,) * (idx.ndim - 2))
    return (classes == idx).astype(np.float64 if idx.dtype.kind != "f" else idx.dtype)


def _index_weights(target: np.ndarray, weight: np.ndarray | None, ignore_index: int,
                   dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(valid mask, safe target with ignored entries set to class 0, w[t_i] with 0 where ignored)."""
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    w_t = weight[safe].astype(dtype, copy=False) if weight is not None else np.ones(target.shape, dtype)
    return valid, safe, np.where(valid, w_t, 0).astype(dtype, copy=False)


class CrossEntropy(Function):
    """Fused log-softmax + NLL:  logp = x - max - log Σ exp(x - max) along the class dim.

    Class-index targets t (with weight w, label smoothing ε over C classes, ignore_index):
        a_ic = (1-ε) w_{t_i} [c = t_i] + (ε/C) w_c          (0 for ignored i)
    Class-probability targets q:  a_ic = ((1-ε) q_ic + ε/C) w_c.
    loss_i = -Σ_c a_ic logp_ic;  with A_i = Σ_c a_ic and r_i = d(reduced)/d(loss_i):
        dL/dx_ic = r_i (softmax_ic A_i - a_ic)
    which for unweighted, unsmoothed class indices and reduction='mean' is
    (softmax - one_hot) / N: seed 004's `delta[i] = softmax[i] - label[i]`, `loss /= batchsize`.
    Probability targets also get a gradient: dL/dq_ic = -r_i (1-ε) w_c logp_ic.
    """

    @staticmethod
    def forward(ctx, x, target, weight=None, *, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        shifted, lse = _log_sum_exp_parts(x, 1)
        with np.errstate(invalid="ignore"):
            logp = shifted - lse
        n_classes, eps = x.shape[1], float(label_smoothing)
        wc = _class_view(weight.astype(x.dtype, copy=False), x.ndim) if weight is not None else None
        probs = target.dtype.kind == "f"
        if probs:
            q = target.astype(x.dtype, copy=False)
            if eps:
                q = q * (1 - eps) + eps / n_classes
            a = q * wc if wc is not None else q
            with np.errstate(invalid="ignore"):
                loss = -np.sum(a * logp, axis=1)
            denominator = loss.size
            ctx.index = None
        else:
            valid, safe, w_t = _index_weights(target, weight, ignore_index, x.dtype)
            idx = safe.reshape(safe.shape[:1] + (1,) + safe.shape[1:])   # (N, ...) -> (N, 1, ...)
            picked = (logp[np.arange(len(safe)), safe] if logp.ndim == 2     # logp[i, t_i]
                      else np.take_along_axis(logp, idx, axis=1).squeeze(1))
            with np.errstate(invalid="ignore"):
                loss = -(w_t * picked)
                if eps:
                    smooth = -np.sum(logp * wc if wc is not None else logp, axis=1)
                    loss = (1 - eps) * loss + (eps / n_classes) * np.where(valid, smooth, 0)
            denominator = float(w_t.sum(dtype=np.float64))
            ctx.index = (valid, idx, w_t)
            a = None
        out, ctx.scale = _reduce(loss.astype(x.dtype, copy=False), reduction, denominator)
        ctx.save_for_backward(x, target if probs else None, weight)
        ctx.logp, ctx.a = logp, a
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, target, weight = ctx.saved_tensors
        kw = ctx.kwargs
        eps = float(kw.get("label_smoothing", 0.0))
        need_x, need_t = (ctx.needs_input_grad + (False,))[:2]
        logp = ctx.cached("logp", lambda: x.log_softmax(1))
        ndim, n_classes, dtype = logp.ndim, logp.shape[1], logp.dtype
        # r_i as an array that broadcasts along the class dim
        r = (grad_output * ctx.scale).astype(dtype, copy=False)
        r = np.expand_dims(r, 1) if kw.get("reduction", "mean") == "none" else r
        wc = _class_view(weight.astype(dtype, copy=False), ndim) if weight is not None else None
        grad_x = grad_t = None
        if ctx.index is None:                                          # probability targets
            def targets_weights():
                q = target.astype(dtype) * (1 - eps) + eps / n_classes if eps else target.astype(dtype)
                return q * wc if wc is not None else q
            a = ctx.cached("a", targets_weights)
            if need_x:
                big_a = np.sum(a, axis=1, keepdims=True)
                grad_x = r * (np.exp(logp) * big_a - a)
            if need_t:
                with np.errstate(invalid="ignore"):
                    grad_t = -r * (1 - eps) * (logp * wc if wc is not None else logp)
            return grad_x, grad_t, None
        if not need_x:
            return None, None, None
        valid, idx, w_t = ctx.index
        w_t1 = np.expand_dims(w_t, 1)
        if eps:
            w_sum = wc.sum() if wc is not None else np.asarray(n_classes, dtype)
            big_a = (1 - eps) * w_t1 + (eps / n_classes) * w_sum * np.expand_dims(valid, 1)
        else:
            big_a = w_t1
        grad_x = np.exp(logp) * (r * big_a) - (r * (1 - eps) * w_t1) * _one_hot(idx, n_classes)
        if eps:
            spread = (eps / n_classes) * (wc if wc is not None else 1.0)
            grad_x -= r * spread * np.expand_dims(valid, 1)
        return grad_x.astype(dtype, copy=False), None, None


class NLLLoss(Function):
    """loss_i = -w_{t_i} x_{i, t_i} on log-probabilities x (0 for ignored i);
    dL/dx_ic = -r_i w_{t_i} [c = t_i]."""

    @staticmethod
    def forward(ctx, x, target, weight=None, *, ignore_index=-100, reduction="mean"):
        valid, safe, w_t = _index_weights(target, weight, ignore_index, x.dtype)
        idx = np.expand_dims(safe, 1)
        loss = -(w_t * np.take_along_axis(x, idx, axis=1).squeeze(1))
        out, ctx.scale = _reduce(loss, reduction, float(w_t.sum(dtype=np.float64)))
        ctx.index = (idx, w_t)
        ctx.shape = x.shape
        return out

    @staticmethod
    def backward(ctx, grad_output):
        idx, w_t = ctx.index
        r = grad_output * ctx.scale
        grad = np.expand_dims(-(r * w_t), 1) * _one_hot(idx, ctx.shape[1])
        return grad.astype(grad_output.dtype), None, None


class MSELoss(Function):
    """loss = reduce((x - y)²);  dL/dx = 2 (x - y) r,  dL/dy = -2 (x - y) r, r = 1/n for 'mean'."""

    @staticmethod
    def forward(ctx, x, y, *, reduction="mean"):
        diff = x - y
        sq = diff * diff
        out, ctx.scale = _reduce(sq, reduction, sq.size)
        ctx.save_for_backward(x, y)
        ctx.diff = diff
        return out

    @staticmethod
    def backward(ctx, grad_output):
        diff = _difference(ctx)
        need_x, need_y = ctx.needs_input_grad
        g = (2 * ctx.scale) * grad_output * diff
        return (g if need_x else None), (-g if need_y else None)


def _difference(ctx) -> np.ndarray:
    """d = x - y of a regression loss: forward's copy, or recomputed from the saved x and y
    under create_graph (so the second derivative sees it)."""
    x, y = ctx.saved_tensors
    return ctx.cached("diff", lambda: x - y)


# ------------------------------------------------------------ elementwise (regression, binary) losses
def _scaled(grad_output: np.ndarray, scale: float, dtype: np.dtype,
            weight: np.ndarray | None = None) -> np.ndarray:
    """r_i = d(reduced)/d(loss_i): the upstream gradient times the reduction's scale (and the
    element weights w_i, when the loss is weighted)."""
    r = (grad_output * scale).astype(dtype, copy=False)
    return r if weight is None else r * weight


def _weighted_reduce(ctx, loss: np.ndarray, weight: np.ndarray | None, reduction: str,
                     dtype: np.dtype) -> np.ndarray:
    """reduce(w·loss) over every element ('mean' divides by the element count); the
    reduction's scale goes to ctx.scale for backward."""
    if weight is not None:
        loss = loss * weight
    out, ctx.scale = _reduce(loss.astype(dtype, copy=False), reduction, loss.size)
    return out


class HuberLoss(Function):
    """Huber loss of d = x - y with threshold δ (SmoothL1Loss(β) is HuberLoss(δ=β) / β):
        loss_i = ½ d_i²             if |d_i| < δ
               = δ (|d_i| - ½ δ)    otherwise
    dL/dx_i = r_i · clip(d_i, -δ, δ) (= d_i inside, δ sign(d_i) outside);  dL/dy_i = -dL/dx_i.
    `scale` multiplies the whole loss (1/β for SmoothL1); 'mean' divides by the element count."""

    @staticmethod
    def forward(ctx, x, y, *, delta=1.0, scale=1.0, reduction="mean"):
        diff = x - y
        size = np.abs(diff)
        loss = np.where(size < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta)) * scale
        out = _weighted_reduce(ctx, loss, None, reduction, x.dtype)
        ctx.save_for_backward(x, y)
        ctx.diff = diff
        return out

    @staticmethod
    def backward(ctx, grad_output):
        diff = _difference(ctx)
        delta, scale = ctx.kwargs.get("delta", 1.0), ctx.kwargs.get("scale", 1.0)
        need_x, need_y = ctx.needs_input_grad
        g = _scaled(grad_output, ctx.scale * scale, diff.dtype) * np.clip(diff, -delta, delta)
        return (g if need_x else None), (-g if need_y else None)


class BinaryCrossEntropy(Function):
    """On probabilities x ∈ [0, 1] with targets y and element weights w (PyTorch clamps each
    log at -100 so x = 0 or 1 gives a finite loss):
        loss_i = -w_i (y_i log x_i + (1 - y_i) log(1 - x_i))
    dL/dx_i = r_i w_i (x_i - y_i) / max(x_i (1 - x_i), 1e-12)   (PyTorch's guarded form)
    dL/dy_i = r_i w_i (log(1 - x_i) - log x_i)                   (both logs clamped)."""

    @staticmethod
    def forward(ctx, x, y, weight=None, *, reduction="mean"):
        with np.errstate(divide="ignore"):
            log_x, log_1mx = np.maximum(np.log(x), -100), np.maximum(np.log1p(-x), -100)
        out = _weighted_reduce(ctx, -(y * log_x + (1 - y) * log_1mx), weight, reduction, x.dtype)
        ctx.save_for_backward(x, y, weight)
        ctx.logs = log_x, log_1mx
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, y, weight = ctx.saved_tensors
        log_x, log_1mx = ctx.cached("logs", lambda: (np.maximum(np.log(x), -100),
                                                     np.maximum(np.log(1 - x), -100)))
        need_x, need_y = ctx.needs_input_grad[:2]
        r = _scaled(grad_output, ctx.scale, x.dtype, weight)
        grad_x = r * (x - y) / np.maximum(x * (1 - x), 1e-12) if need_x else None
        grad_y = r * (log_1mx - log_x) if need_y else None
        return grad_x, grad_y, None


class BinaryCrossEntropyWithLogits(Function):
    """Sigmoid + binary cross-entropy on logits x, fused and stable. With the positive-class
    weight p (broadcast along the last dim) and l_i = 1 + (p - 1) y_i:
        loss_i = w_i ((1 - y_i) x_i + l_i softplus(-x_i)),
        softplus(-x) = log(1 + e^{-|x|}) + max(-x, 0)        (no overflow for any x)
    dL/dx_i = r_i w_i (l_i σ(x_i) - p y_i)                   (σ(x) - y without p)
    dL/dy_i = r_i w_i ((p - 1) softplus(-x_i) - x_i)."""

    @staticmethod
    def forward(ctx, x, y, weight=None, pos_weight=None, *, reduction="mean"):
        softplus_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)
        log_weight = 1 + (pos_weight - 1) * y if pos_weight is not None else None
        loss = (1 - y) * x + (softplus_neg * log_weight if log_weight is not None else softplus_neg)
        out = _weighted_reduce(ctx, loss, weight, reduction, x.dtype)
        ctx.save_for_backward(x, y, weight, pos_weight)
        ctx.softplus_neg = softplus_neg
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, y, weight, pos_weight = ctx.saved_tensors
        softplus_neg = ctx.cached("softplus_neg", lambda: np.log(1 + np.exp(-np.abs(x))) + np.maximum(-x, 0))
        need_x, need_y = ctx.needs_input_grad[:2]
        r = _scaled(grad_output, ctx.scale, x.dtype, weight)
        grad_x = grad_y = None
        if need_x:
            sig = np.exp(-softplus_neg)                       # σ(x) = e^{-softplus(-x)}
            grad_x = r * (sig - y) if pos_weight is None else \
                r * ((1 + (pos_weight - 1) * y) * sig - pos_weight * y)
        if need_y:
            grad_y = r * (-x if pos_weight is None else (pos_weight - 1) * softplus_neg - x)
        return grad_x, grad_y, None, None


class KLDivergence(Function):
    """Kullback-Leibler divergence with log-probability inputs x and targets y:
        log_target=False:  loss_i = y_i (log y_i - x_i)   (0 where y_i = 0, PyTorch's xlogy)
            dL/dx_i = -r_i y_i,          dL/dy_i = r_i (log y_i + 1 - x_i)
        log_target=True:   loss_i = e^{y_i} (y_i - x_i)
            dL/dx_i = -r_i e^{y_i},      dL/dy_i = r_i e^{y_i} (y_i - x_i + 1)
    'batchmean' divides the sum by the batch size x.shape[0] (the true KL divergence per sample);
    'mean' divides by the element count."""

    @staticmethod
    def forward(ctx, x, y, *, reduction="mean", log_target=False):
        if log_target:
            prob = np.exp(y)
            loss = prob * (y - x)
        else:
            prob = y
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = np.where(y == 0, 0, y * np.log(np.where(y == 0, 1, y))) - y * x
        denominator = (x.shape[0] if x.ndim else 1) if reduction == "batchmean" else loss.size
        out, ctx.scale = _reduce(loss.astype(x.dtype, copy=False),
                                 "mean" if reduction == "batchmean" else reduction, denominator)
        ctx.save_for_backward(x, y)
        ctx.prob = prob
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        prob = ctx.cached("prob", lambda: np.exp(y) if ctx.kwargs.get("log_target", False) else y)
        need_x, need_y = ctx.needs_input_grad
        r = _scaled(grad_output, ctx.scale, x.dtype)
        grad_x = -r * prob if need_x else None
        grad_y = None
        if need_y:
            if ctx.kwargs.get("log_target", False):
                grad_y = r * prob * (y - x + 1)
            else:
                with np.errstate(divide="ignore"):
                    grad_y = r * (np.log(y) + 1 - x)
        return grad_x, grad_y
