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
from . import parallel
from .parallel import partition, run_parallel

# OpenBLAS's thread-local thread count (None without it): the column sums below are BLAS
# matrix-vector products only when they can be pinned to one thread
_set_blas_local = parallel._set_local_blas_threads

_BLOCK_ELEMENTS = 1 << 19   # elements per block of a big tensor (tuned: docs/derivations.md, batch_norm)
_MAX_BLOCKS = 64            # each block costs ~10 us of Python (NumPy calls on small vectors)
# Σ_j a[..., j]·b[..., j] without a product temporary (np.vecdot: NumPy >= 2.0)
_row_dots = getattr(np, "vecdot", None) or (lambda a, b, out=None: np.einsum("...j,...j->...", a, b, out=out))


def _block_slices(n_units: int, size: int) -> list[slice]:
    """Contiguous slices of range(n_units), as many as the size warrants: a function of the
    shape only, never of the thread count (so results are the same on any number of threads)."""
    parts = min(n_units, _MAX_BLOCKS, max(1, size // _BLOCK_ELEMENTS))
    return [slice(r.start, r.stop) for r in partition(n_units, parts)]


def _run(fn: Callable[[int], Any], n_blocks: int) -> None:
    """fn(0), ..., fn(n_blocks - 1), shared by the threads, BLAS on one thread throughout: the
    statistics' matrix-vector sums then never wait for BLAS threads and never depend on how
    many there are."""
    previous = _set_blas_local(1) if _set_blas_local is not None else None
    try:
        if n_blocks == 1:
            fn(0)
        else:
            run_parallel(fn, n_blocks)
    finally:
        if previous is not None:
            _set_blas_local(previous)


class _Channels:
    """An (N, C, *S) C-contiguous array seen as (N, C, L), L = prod(S), cut into blocks of whole
    channels: each block is normalised start to finish (statistics, then outputs) while its
    arrays are in cache. Two layouts of a block, chosen by shape:

    columns (the usual case): block i is the (N, B·L) column range of the (N, C·L) view,
      reduced over N first (float32, in order), then over each channel's L columns in
      float64; a per-channel coefficient is expanded to a row of B·L values (np.repeat,
      small: one sample). Vectorises well for every L, also L = 1 (BatchNorm1d) and 4×4 maps.
      The plain sums are BLAS matrix-vector products, ones(N) @ block and then
      (B, L) @ ones(L) (2-4x faster than np.add.reduce, whose reduction over a short
      contiguous axis costs ~20 ns a row), when BLAS can be pinned to one thread (_run).
    rows (N < 4 and L > 256, e.g. one big image): the block as (N, B, L), reduced over the
      contiguous L axis (row sums, row dots), then over N in float64; coefficients broadcast
      as (B, 1), so no expanded row as large as the data is made.
    Statistics of one block go through `partial` / `dot` (partial sums in x's dtype, into the
    rows of a (k, ...) buffer) and one `finish` for all k of them (float64, per channel).
    """

    def __init__(self, shape: tuple) -> None:
        self.n, self.c = shape[0], shape[1]
        self.l = int(np.prod(shape[2:], dtype=np.int64))
        self.m = self.n * self.l                       # values per channel
        self.channels = _block_slices(self.c, self.n * self.c * self.l)
        self.columns = self.n >= 4 or self.l <= 256
        self.parts = ([slice(s.start * self.l, s.stop * self.l) for s in self.channels]
                      if self.columns else self.channels)
        self.blas = self.columns and _set_blas_local is not None
        self._ones_n: dict = {}                        # dtype -> ones(N)
        self._ones_l = np.ones(self.l)

    def layout(self, a: np.ndarray) -> np.ndarray:
        """The whole (C-contiguous) array in the block layout."""
        if self.columns:
            return a.reshape(self.n, self.c * self.l)   # (N, C, *S) -> (N, C·L)
        return a.reshape(self.n, self.c, self.l)        # (N, C, *S) -> (N, C, L)

    def expand(self, v: np.ndarray) -> np.ndarray:
        """Per-channel values (..., B) shaped to broadcast against the layout or a block."""
        if self.columns:
            return v if self.l == 1 else v.repeat(self.l, axis=-1)
        return v[..., None]

    def buffer(self, k: int, cs: slice, dtype: Any) -> np.ndarray:
        """Room for k partial statistics of the block of channels cs."""
        b = cs.stop - cs.start
        return np.empty((k, b * self.l) if self.columns else (k, self.n, b), dtype)

    def partial(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Σ of a block over its first reduction axis (N for columns, L for rows)."""
        if not self.columns:
            return np.add.reduce(a, axis=2, out=out)
        if not self.blas:
            return np.add.reduce(a, axis=0, out=out)
        ones = self._ones_n.get(a.dtype)
        if ones is None:
            ones = self._ones_n[a.dtype] = np.ones(self.n, a.dtype)
        return np.matmul(ones, a, out=out)                                  # (N,) @ (N, B·L)

    def dot(self, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Σ a·b of two blocks over the same axis, without a product temporary."""
        if self.columns:
            return np.einsum("nj,nj->j", a, b, out=out)
        return _row_dots(a, b, out=out)

    def finish(self, p: np.ndarray) -> np.ndarray:
        """(k, B) float64 per-channel sums from a (k, ...) buffer of partial sums."""
        if not self.columns:
            return np.add.reduce(p, axis=1, dtype=np.float64)
        k = p.shape[0]
        if self.l == 1:
            return p.astype(np.float64)
        if not self.blas:
            return np.add.reduce(p.reshape(k, -1, self.l), axis=2, dtype=np.float64)
        return (p.astype(np.float64).reshape(-1, self.l) @ self._ones_l).reshape(k, -1)  # (k·B, L) @ (L,)


_LAYOUTS: dict = {}


def _channels(shape: tuple) -> _Channels:
    """_Channels of a shape, cached (a model calls BatchNorm on the same few shapes each step)."""
    key = (shape, _BLOCK_ELEMENTS, _MAX_BLOCKS, _set_blas_local is not None)
    ch = _LAYOUTS.get(key)
    if ch is None:
        if len(_LAYOUTS) > 1024:
            _LAYOUTS.clear()
        ch = _LAYOUTS[key] = _Channels(shape)
    return ch


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
    in cache, no temporaries: forward Σx, y = x - μ0, Σy and Σy² (a dot), y *= γ/σ,
    y += β - dγ/σ (eval: y = x·(γ/σ) + (β - μγ/σ), 2 passes); backward dL/dx = x - μ, Σg and
    Σ g·(x - μ) (a dot), then dL/dx = a·(g + b'·(x - μ) + c') in place in 4 passes, with
    a = γ/σ, b' = -mean(g·(x - μ))/σ², c' = -mean(g) (eval: g·γ/σ, 1 pass). Saved: x and the
    per-channel μ and 1/σ only — no activation-sized copy.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, *, training, momentum, eps):
        xs = np.ascontiguousarray(x)
        dt = xs.dtype
        ch = _channels(xs.shape)
        y = np.empty(xs.shape, dt)
        xl, yl = ch.layout(xs), ch.layout(y)
        if training:
            mean, var = np.empty(ch.c, np.float64), np.empty(ch.c, np.float64)
            m = ch.m

            def block(i: int) -> None:
                cs, part = ch.channels[i], ch.parts[i]
                xb, yb = xl[:, part], yl[:, part]
                mu0 = (ch.finish(ch.partial(xb)[None])[0] / m).astype(dt)
                np.subtract(xb, ch.expand(mu0), out=yb)                       # y = x - μ0
                p = ch.buffer(2, cs, dt)
                ch.partial(yb, out=p[0])
                ch.dot(yb, yb, out=p[1])
                # corrected two-pass (Chan, Golub, LeVeque): μ = μ0 + d, σ² = mean((x - μ0)²) - d²,
                # d = mean(x - μ0) small, so nothing cancels; μ0's float32 rounding is undone
                d, sq = ch.finish(p) / m
                v = sq - d * d
                mean[cs], var[cs] = mu0 + d, v
                coef = np.empty((2, cs.stop - cs.start))
                k = coef[0]
                np.divide(1.0, np.sqrt(v + eps), out=k)
                if weight is not None:
                    k *= weight[cs]
                np.multiply(d, k, out=coef[1])                                # y = (x - μ0)·k + (β - d·k)
                np.negative(coef[1], out=coef[1])
                if bias is not None:
                    coef[1] += bias[cs]
                rows = ch.expand(coef.astype(dt))
                np.multiply(yb, rows[0], out=yb)
                np.add(yb, rows[1], out=yb)
            _run(block, len(ch.channels))
            inv_std = 1.0 / np.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * var * (m / (m - 1))).astype(running_var.dtype, copy=False)
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
    """BatchNorm.backward on arrays, one block of channels at a time: x - μ into dL/dx (in
    cache), Σg and Σ g·(x - μ) by a dot, then dL/dx = a·(g + b'·(x - μ) + c') in place — the
    coefficients of _batch_norm_coefficients with a factored out: b = a·b', c = a·c'."""
    mean, inv_std = ctx.stats
    training = ctx.training
    g = np.ascontiguousarray(g)
    dt = g.dtype
    ch = _channels(g.shape)
    m = ch.m
    need_gxc = need_w or (need_x and training)
    need_g = need_b or need_gxc                      # Σg corrects Σ g·(x - μ32) too
    k_stats = int(need_g) + int(need_gxc)
    sums = np.empty((2, ch.c)) if k_stats else None           # Σg, Σ g·(x - μ) per channel
    grad_x = np.empty(g.shape, dt) if need_x else None
    gl = ch.layout(g)
    xl = ch.layout(np.ascontiguousarray(x)) if need_gxc else None
    dxl = ch.layout(grad_x) if need_x else None
    mean32 = mean.astype(dt)
    err = mean - mean32                              # x - μ = (x - μ32) - err, err tiny (float64)
    mu = ch.expand(mean32) if need_gxc else None
    a = inv_std * weight if weight is not None else inv_std
    a_all = ch.expand(a.astype(dt)) if need_x else None

    def block(i: int) -> None:
        cs, part = ch.channels[i], ch.parts[i]
        gb = gl[:, part]
        if need_gxc:                                                       # x - μ32, in cache
            xc = dxl[:, part] if need_x else np.empty(gb.shape, dt)
            np.subtract(xl[:, part], mu[part], out=xc)
        if k_stats:
            p = ch.buffer(k_stats, cs, dt)
            if need_g:
                ch.partial(gb, out=p[0])
            if need_gxc:
                ch.dot(gb, xc, out=p[1])
            s = ch.finish(p)
            if need_g:
                sums[0, cs] = s[0]
            if need_gxc:
                sums[1, cs] = s[1] - err[cs] * s[0]
        if not need_x:
            return
        dxb = dxl[:, part]
        if not training:                                                   # dL/dx = g·γ/σ
            np.multiply(gb, a_all[part], out=dxb)
            return
        coef = np.empty((2, cs.stop - cs.start))
        b = coef[0]
        np.multiply(sums[1, cs], -(inv_std[cs] * inv_std[cs]) / m, out=b)  # b' = -mean(g(x-μ))/σ²
        np.multiply(b, err[cs], out=coef[1])                               # c' = -mean(g) - b'·err
        coef[1] += sums[0, cs] / m
        np.negative(coef[1], out=coef[1])
        rows = ch.expand(coef.astype(dt))
        np.multiply(dxb, rows[0], out=dxb)                                 # b'·(x - μ32)
        np.add(dxb, gb, out=dxb)                                           # + g
        np.add(dxb, rows[1], out=dxb)                                      # + c'
        np.multiply(dxb, a_all[part], out=dxb)                             # · a
    _run(block, len(ch.channels))
    grad_w = (sums[1] * inv_std).astype(dt) if need_w else None
    grad_b = sums[0].astype(dt) if need_b else None
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
