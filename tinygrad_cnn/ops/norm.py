"""Normalisation: batch norm over the channel dim (axis 1) of (N, C), (N, C, L), (N, C, H, W), ...,
and the standardisation over given axes that layer norm and group norm are built on.

Both are memory-bound: a float32 CNN activation is megabytes and every NumPy call is one pass
over it. The array paths are therefore written as few passes as the formulas allow (counted in
docs/derivations.md): statistics by contiguous reductions and dot products (no squared or
product temporaries), outputs written once into preallocated arrays, the gradient as one
per-channel affine combination dL/dx = a·g + b·(x - μ) + c. Big tensors are cut into blocks of
whole channels (rows for Standardize) fixed by the shape alone, shared by the threads of
ops/parallel.py (NumPy releases the GIL inside its loops), so the result never depends on the
thread count. Under create_graph the same coefficients are computed from Tensors with ordinary
differentiable NumPy calls (ctx.cached recomputes the statistics from x)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..autograd import Function
from .generic import is_graph
from .parallel import partition, run_parallel

_BLOCK_ELEMENTS = 1 << 17   # elements per block of a big tensor: a block's 3-4 arrays (512 KiB each) stay in L2
_MAX_BLOCKS = 32            # each block costs ~15 us of Python (NumPy calls on small vectors)
# Σ_j a[..., j]·b[..., j] without a product temporary (np.vecdot: NumPy >= 2.0)
_row_dots = getattr(np, "vecdot", None) or (lambda a, b: np.einsum("...j,...j->...", a, b))


def _block_slices(n_units: int, size: int) -> list[slice]:
    """Contiguous slices of range(n_units), as many as the size warrants: a function of the
    shape only, never of the thread count (so results are the same on any number of threads)."""
    parts = min(n_units, _MAX_BLOCKS, max(1, size // _BLOCK_ELEMENTS))
    return [slice(r.start, r.stop) for r in partition(n_units, parts)]


def _run(fn: Callable[[int], Any], n_blocks: int) -> None:
    if n_blocks == 1:
        fn(0)
    else:
        run_parallel(fn, n_blocks)


class _Channels:
    """An (N, C, *S) C-contiguous array seen as (N, C, L), L = prod(S), cut into blocks of whole
    channels: each block is normalised start to finish (statistics, then outputs) while its
    arrays are in cache. Two layouts of a block, chosen by shape:

    columns (the usual case): block i is the (N, B·L) column range of the (N, C·L) view,
      reduced over N first (np.add.reduce along axis 0, float32 in order), then over each
      channel's L columns pairwise in float64; a per-channel coefficient is expanded to a row
      of C·L values (np.repeat, small: one sample). Vectorises well for every L, also L = 1
      (BatchNorm1d) and 4×4 maps.
    rows (N < 4 and L > 256, e.g. one big image): the block as (N, B, L), reduced over the
      contiguous L axis pairwise (or by row dots), then over N in float64; coefficients
      broadcast as (C, 1), so no expanded row as large as the data is made.
    """

    def __init__(self, shape: tuple) -> None:
        self.n, self.c = shape[0], shape[1]
        self.l = int(np.prod(shape[2:], dtype=np.int64))
        self.m = self.n * self.l                       # values per channel
        self.channels = _block_slices(self.c, self.n * self.c * self.l)
        self.columns = self.n >= 4 or self.l <= 256
        self.parts = ([slice(s.start * self.l, s.stop * self.l) for s in self.channels]
                      if self.columns else self.channels)

    def layout(self, a: np.ndarray) -> np.ndarray:
        """The whole (C-contiguous) array in the block layout."""
        if self.columns:
            return a.reshape(self.n, self.c * self.l)   # (N, C, *S) -> (N, C·L)
        return a.reshape(self.n, self.c, self.l)        # (N, C, *S) -> (N, C, L)

    def expand(self, v: np.ndarray) -> np.ndarray:
        """A per-channel vector (C,) or (B,) shaped to broadcast against the layout or a block."""
        return np.repeat(v, self.l) if self.columns else v[:, None]

    def sums(self, a: np.ndarray) -> np.ndarray:
        """Σ per channel of a block, float64 (B,)."""
        if self.columns:
            return np.add.reduce(a, axis=0).reshape(-1, self.l).sum(axis=1, dtype=np.float64)
        return np.add.reduce(a, axis=2).sum(axis=0, dtype=np.float64)

    def dots(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Σ a·b per channel of two blocks without a product temporary, float64 (B,)."""
        if self.columns:
            return np.einsum("nj,nj->j", a, b).reshape(-1, self.l).sum(axis=1, dtype=np.float64)
        return _row_dots(a, b).sum(axis=0, dtype=np.float64)


def _batch_norm_coefficients(training: bool, inv_std: Any, weight: Any, mean_g: Any, mean_gxc: Any) -> tuple:
    """dL/dx = a·g + b·(x - μ) + c per channel, the training formula
    (γ/σ)(g - mean(g) - x̂·mean(g x̂)) with x̂ = (x - μ)/σ:  a = γ/σ,  b = -(γ/σ)·mean(g·(x - μ))/σ²,
    c = -(γ/σ)·mean(g);  eval (fixed μ, σ): a = γ/σ, b = c = 0. Arrays or Tensors alike."""
    k = inv_std * weight if weight is not None else inv_std
    if not training:
        return k, None, None
    return k, -k * (inv_std * inv_std) * mean_gxc, -k * mean_g


class BatchNorm(Function):
    """y = γ x̂ + β with x̂ = (x - μ) / sqrt(σ² + eps), per channel c over the M = N*H*W values.

    training: μ, σ² are the batch mean and biased variance; running stats are updated in place,
      running = (1 - momentum) * running + momentum * batch (the variance unbiased, M/(M-1)).
      dL/dx = (γ / sqrt(σ² + eps)) (g - mean(g) - x̂ mean(g x̂))   (means over the M values)
    eval: μ, σ² are the running stats, a fixed affine map;  dL/dx = g γ / sqrt(σ² + eps).
    Both: dL/dγ = Σ g x̂,  dL/dβ = Σ g.

    Arrays (passes counted in docs/derivations.md), one block of channels at a time while it is
    in cache: forward Σx, x - μ (a block temporary), Σ(x - μ)² by dots, y = (x - μ)·(γ/σ), y += β
    (eval: y = x·(γ/σ) + (β - μγ/σ), 2 passes); backward x - μ again, Σg and Σ g·(x - μ) by dots,
    then dL/dx = a·g + b·(x - μ) + c (_batch_norm_coefficients) in 4 passes (eval: 1). Saved: x
    and the per-channel μ and 1/σ only — no activation-sized copy.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, *, training, momentum, eps):
        xs = np.ascontiguousarray(x)
        dt = xs.dtype
        ch = _Channels(xs.shape)
        y = np.empty(xs.shape, dt)
        xl, yl = ch.layout(xs), ch.layout(y)
        if training:
            mean, var = np.empty(ch.c, np.float64), np.empty(ch.c, np.float64)

            def block(i: int) -> None:
                cs, part = ch.channels[i], ch.parts[i]
                xb = xl[:, part]
                mu0 = (ch.sums(xb) / ch.m).astype(dt)
                xcb = xb - ch.expand(mu0)                                      # x - μ0, in cache
                # corrected two-pass (Chan, Golub, LeVeque): μ = μ0 + d, σ² = mean((x - μ0)²) - d²,
                # d = mean(x - μ0) small, so nothing cancels; μ0's float32 rounding is undone
                d = ch.sums(xcb) / ch.m
                v = ch.dots(xcb, xcb) / ch.m - d * d
                mean[cs], var[cs] = mu0 + d, v
                k = 1.0 / np.sqrt(v + eps)
                if weight is not None:
                    k *= weight[cs]
                shift = (bias[cs] if bias is not None else 0.0) - d * k       # y = (x - μ0)·k + (β - d·k)
                yb = yl[:, part]
                np.multiply(xcb, ch.expand(k.astype(dt)), out=yb)
                yb += ch.expand(shift.astype(dt))
            _run(block, len(ch.channels))
            inv_std = 1.0 / np.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * var * (ch.m / (ch.m - 1))).astype(running_var.dtype, copy=False)
        else:
            mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
            inv_std = 1.0 / np.sqrt(var + eps)
            k = inv_std * weight if weight is not None else inv_std
            shift = (bias if bias is not None else 0.0) - mean * k            # y = x·k + (β - μ k)
            k, shift = ch.expand(k.astype(dt)), ch.expand(shift.astype(dt))

            def block(i: int) -> None:
                part = ch.parts[i]
                yb = yl[:, part]
                np.multiply(xl[:, part], k[part], out=yb)
                yb += shift[part]
            _run(block, len(ch.channels))
            # copies in x's dtype (the running stats change in place after this step)
            ctx.eval_stats = mean.astype(dt), var.astype(dt)
        ctx.stats = mean, inv_std         # float64, per channel
        ctx.training = training
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = (ctx.needs_input_grad + (False,) * 3)[:3]
        g = grad_output
        if not is_graph(g):
            return _batch_norm_backward_arrays(ctx, x, weight, g, need_x, need_w, need_b) + (None, None)
        axes = (0,) + tuple(range(2, g.ndim))
        shape = (1, g.shape[1]) + (1,) * (g.ndim - 2)
        # create_graph: x - μ and 1/σ from x itself, differentiably, then the same coefficients
        if ctx.training:
            xc = x - np.mean(x, axis=axes, keepdims=True)
            var = np.mean(xc * xc, axis=axes, keepdims=True)
        else:
            mean, var = (v.reshape(shape) for v in ctx.eval_stats)
            xc = x - mean
        inv_std = (1.0 / np.sqrt(var + ctx.kwargs["eps"])).reshape(-1)
        m = int(np.prod(g.shape)) // g.shape[1]
        sum_g = np.sum(g, axis=axes)
        sum_gxc = np.sum(g * xc, axis=axes) if need_w or (need_x and ctx.training) else None
        grad_x = None
        if need_x:
            a, b, c = _batch_norm_coefficients(ctx.training, inv_std, weight, sum_g / m,
                                               None if sum_gxc is None else sum_gxc / m)
            grad_x = g * a.reshape(shape)
            if b is not None:
                grad_x = grad_x + xc * b.reshape(shape) + c.reshape(shape)
        grad_w = sum_gxc * inv_std if need_w else None
        return grad_x, grad_w, (sum_g if need_b else None), None, None


def _batch_norm_backward_arrays(ctx, x: np.ndarray, weight: np.ndarray | None, g: np.ndarray,
                                need_x: bool, need_w: bool, need_b: bool) -> tuple:
    """BatchNorm.backward on arrays, one block of channels at a time: x - μ (in cache), Σg and
    Σ g·(x - μ) by dots, then dL/dx = a·g + b·(x - μ) + c into a preallocated array."""
    mean, inv_std = ctx.stats
    training = ctx.training
    g = np.ascontiguousarray(g)
    dt = g.dtype
    ch = _Channels(g.shape)
    need_gxc = need_w or (need_x and training)
    need_g = need_b or need_gxc
    sum_g = np.empty(ch.c, np.float64) if need_g else None
    sum_gxc = np.empty(ch.c, np.float64) if need_gxc else None
    grad_x = np.empty(g.shape, dt) if need_x else None
    gl = ch.layout(g)
    xl = ch.layout(np.ascontiguousarray(x)) if need_gxc else None
    dxl = ch.layout(grad_x) if need_x else None
    mean32 = mean.astype(dt)
    err = mean - mean32                              # x - μ = (x - μ32) - err, err tiny (float64)
    mu = ch.expand(mean32) if need_gxc else None
    k = inv_std * weight if weight is not None else inv_std
    k_all = ch.expand(k.astype(dt))

    def block(i: int) -> None:
        cs, part = ch.channels[i], ch.parts[i]
        gb = gl[:, part]
        xcb = xl[:, part] - mu[part] if need_gxc else None                  # x - μ32, in cache
        if need_g:
            sum_g[cs] = sg = ch.sums(gb)
        if need_gxc:
            sum_gxc[cs] = sgx = ch.dots(gb, xcb) - err[cs] * sg
        if not need_x:
            return
        dxb = dxl[:, part]
        if not training:                                                   # dL/dx = g·γ/σ
            np.multiply(gb, k_all[part], out=dxb)
            return
        _, b, c = _batch_norm_coefficients(True, inv_std[cs], None if weight is None else weight[cs],
                                           sg / ch.m, sgx / ch.m)
        np.multiply(xcb, ch.expand(b.astype(dt)), out=xcb)                 # b·(x - μ) + c, in place
        xcb += ch.expand((c - b * err[cs]).astype(dt))
        np.multiply(gb, k_all[part], out=dxb)                              # + a·g
        dxb += xcb
    _run(block, len(ch.channels))
    grad_w = (sum_gxc * inv_std).astype(dt) if need_w else None
    grad_b = sum_g.astype(dt) if need_b else None
    return grad_x, grad_w, grad_b


def _through_statistics(dxhat: np.ndarray, xhat: np.ndarray, axes: tuple) -> np.ndarray:
    """σ·dL/dx for x̂ = (x - μ)/σ with μ and σ² the mean and biased variance over `axes`:
    dL/dx̂ - mean(dL/dx̂) - x̂·mean(dL/dx̂ ⊙ x̂) (the batch statistics' own dependence on x)."""
    return (dxhat - np.mean(dxhat, axis=axes, keepdims=True)
            - xhat * np.mean(dxhat * xhat, axis=axes, keepdims=True))


def _trailing(shape: tuple, axes: tuple) -> int | None:
    """The number of trailing dims `axes` names (layer/group/instance norm), None otherwise."""
    k = len(axes)
    return k if k and tuple(sorted(a % len(shape) for a in axes)) == tuple(range(len(shape) - k, len(shape))) else None


class Standardize(Function):
    """x̂ = (x - μ) / sqrt(σ² + eps), μ and σ² the mean and biased variance over `axes`
    (layer norm: the last dims; group norm: each group's channels and positions).
    dL/dx = (g - mean(g) - x̂ mean(g x̂)) / sqrt(σ² + eps), means over the same axes.

    Arrays, trailing axes (every caller): rows of L values; forward Σx, x - μ, Σ(x - μ)² by row
    dots, x̂ = (x - μ)/σ in place (4 passes); backward Σg and Σ g x̂ by row dots, then
    dL/dx = a·g + b·x̂ + c with a = 1/σ, b = -mean(g x̂)/σ, c = -mean(g)/σ (4 passes)."""

    @staticmethod
    def forward(ctx, x, *, axes, eps):
        k = _trailing(x.shape, axes)
        keep = x.shape[:x.ndim - k] + (1,) * k if k else None
        if k is None or x.size == 0:   # any other axes (or nothing to normalise): the plain formulas
            mean = x.mean(axis=axes, keepdims=True)
            xc = x - mean
            inv_std = (1.0 / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + eps)).astype(x.dtype, copy=False)
            xhat = xc * inv_std
        else:
            rows = int(np.prod(keep, dtype=np.int64))
            length = x.size // rows if rows else 0
            x2 = np.ascontiguousarray(x).reshape(rows, length)    # (leading..., trailing...) -> (R, L)
            xhat = np.empty(x.shape, x.dtype)
            xh2 = xhat.reshape(rows, length)
            inv = np.empty(rows, x.dtype)
            blocks = _block_slices(rows, x.size)

            def block(i: int) -> None:
                s = blocks[i]
                mu0 = np.add.reduce(x2[s], axis=1) / x.dtype.type(length)    # pairwise
                xh = xh2[s]
                np.subtract(x2[s], mu0[:, None], out=xh)                       # x - μ0
                d = np.add.reduce(xh, axis=1).astype(np.float64) / length     # corrected two-pass
                var = _row_dots(xh, xh) / length - d * d
                r = 1.0 / np.sqrt(var + eps)
                inv[s] = r
                xh *= r.astype(x.dtype)[:, None]
                xh -= (d * r).astype(x.dtype)[:, None]                         # x̂ = (x - μ0 - d)/σ
            _run(block, len(blocks))
            inv_std = inv.reshape(keep)
        ctx.save_for_backward(x, xhat)
        ctx.inv_std = inv_std
        return xhat

    @staticmethod
    def backward(ctx, grad_output):
        x, xhat = ctx.saved_tensors
        axes = ctx.kwargs["axes"]
        k = _trailing(grad_output.shape, axes)

        def inv_std():                # 1/σ from x itself, differentiably (create_graph)
            xc = x - np.mean(x, axis=axes, keepdims=True)
            return 1.0 / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + ctx.kwargs["eps"])
        if is_graph(grad_output) or k is None or grad_output.size == 0:
            return _through_statistics(grad_output, xhat, axes) * ctx.cached("inv_std", inv_std)
        g = np.ascontiguousarray(grad_output)
        rows = int(np.prod(g.shape[:g.ndim - k], dtype=np.int64))
        length = g.size // rows if rows else 0
        g2, xh2 = g.reshape(rows, length), np.ascontiguousarray(xhat).reshape(rows, length)  # (R, L)
        inv = ctx.inv_std.reshape(rows)
        grad = np.empty(g.shape, g.dtype)
        gr2 = grad.reshape(rows, length)
        scale = g.dtype.type(1.0 / length)

        blocks = _block_slices(rows, g.size)

        def block(i: int) -> None:
            s = blocks[i]
            a = inv[s]
            b = -a * (_row_dots(g2[s], xh2[s]) * scale)
            c = -a * (np.add.reduce(g2[s], axis=1) * scale)
            out = gr2[s]
            np.multiply(xh2[s], b[:, None], out=out)      # dL/dx = b·x̂ + c + a·g
            out += c[:, None]
            out += g2[s] * a[:, None]
        _run(block, len(blocks))
        return grad
