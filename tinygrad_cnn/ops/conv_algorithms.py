"""Convolution algorithms besides im2col, chosen per shape: array-in/array-out kernels.

Each algorithm is three kernels on NumPy arrays — forward(x, weight, bias), grad_input
(grad_output, weight), grad_weight(grad_output, x) — for the geometries where `applies` says
it is exact. ops/conv.py's ConvNd calls them at its kernel dispatch point; im2col (ops/conv.py)
stays the reference path, used for everything else. Names as in ops/conv.py (N, C, CO, G, H,
W, KH, KW, S, P, D, OH, OW, L = OH*OW). Derivations: docs/derivations.md, "Conv algorithms".

    pointwise  1×1 kernels, no padding, any stride and groups: one GEMM on the NCHW view,
               Y[n] = W2 · X[n] (stride: X subsampled first), no columns at all
    depthwise  groups == C == CO: KH·KW shifted multiply-adds over strided views of the
               padded input, a few images at a time so the output stays in cache
    winograd   3×3, stride 1, dilation 1, groups 1: F(2×2, 3×3) — 16 GEMMs of (CO, C)·(C, tiles)
               in the transformed domain instead of one (CO, 9C)·(9C, 4·tiles); grad_input and
               grad_weight are the exact adjoints of the same transforms

Selection (tc.backends.conv_algorithm): 'auto' uses the measured rule in `choose`;
'im2col' forces the reference path; naming an algorithm uses it wherever it applies (im2col
elsewhere). The kernels split the batch over the CNN ops' threads (ops/parallel.py) and sum
grad_weight in fixed groups of images, so results do not depend on the thread count.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import ArgumentError
from .parallel import get_num_threads, partition, run_parallel
from .workspace import get_workspace_limit, strided_ufuncs

__all__ = ["Geometry", "ALGORITHMS", "choose", "set_conv_algorithm", "get_conv_algorithm",
           "winograd_2x2_3x3_matrices"]

# Work (multiply-adds) below which a kernel runs in the calling thread.
MIN_PARALLEL_MACS = 8_000_000
# Images per chunk: about this many bytes of output per chunk (cache-sized pieces).
CHUNK_OUTPUT_BYTES = 256 << 10
# grad_weight partial sums: this many fixed groups of chunks, added in order.
WEIGHT_GRAD_GROUPS = 8


class Geometry(NamedTuple):
    """One conv call's shapes and arguments (2-D: padding as ((lo, hi), (lo, hi)))."""
    x_shape: tuple
    w_shape: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    out: tuple

    @property
    def macs(self) -> int:
        n, c = self.x_shape[:2]
        return n * self.w_shape[0] * (c // self.groups) * math.prod(self.w_shape[2:]) * math.prod(self.out)


def _chunks(g: Geometry, itemsize: int) -> tuple[list[tuple[int, int]], int]:
    """(n0, n1) image ranges of about CHUNK_OUTPUT_BYTES of output, and the thread count."""
    n = g.x_shape[0]
    per_image = g.w_shape[0] * math.prod(g.out) * itemsize
    threads = get_num_threads() if g.macs >= MIN_PARALLEL_MACS else 1
    step = max(1, min(CHUNK_OUTPUT_BYTES // max(1, per_image), -(-n // threads)))
    return [(n0, min(n, n0 + step)) for n0 in range(0, n, step)], threads


def _summed_in_groups(fn: Callable[[int, int], np.ndarray], chunks: list, threads: int) -> np.ndarray:
    """Σ over chunks of fn(n0, n1), summed per fixed group of chunks then over the groups in
    order: the same rounding whatever the thread count."""
    groups = partition(len(chunks), WEIGHT_GRAD_GROUPS)

    def group(i: int) -> np.ndarray:
        total = None
        for j in groups[i]:
            part = fn(*chunks[j])
            total = part if total is None else total + part
        return total

    partials = run_parallel(group, len(groups), threads)
    total = partials[0]
    for p in partials[1:]:
        total = total + p
    return total


def _add_bias(y: np.ndarray, bias: np.ndarray | None) -> None:
    if bias is not None:
        y += bias.reshape((1, -1) + (1,) * (y.ndim - 2))


# ----------------------------------------------------------------------------- pointwise
# Below this many positions per image, one GEMM per image is too small for BLAS: the images
# are gathered into one (G, K, n·L) matrix first.
PER_IMAGE_GEMM_MIN_POSITIONS = 256


def _gemm_nchw(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """a (G, M, K) times every image of x (n, G, K, L) -> (n, G, M, L): one GEMM per image on
    the NCHW view when L is large; else x gathered to (G, K, n·L), one GEMM, scattered back."""
    n, groups, k, positions = x.shape
    if positions >= PER_IMAGE_GEMM_MIN_POSITIONS or n == 1:
        return np.matmul(a, x)
    xg = np.ascontiguousarray(x.transpose(1, 2, 0, 3)).reshape(groups, k, n * positions)   # (n, G, K, L) -> (G, K, n·L)
    y = np.matmul(a, xg).reshape(groups, a.shape[1], n, positions)
    return y.transpose(2, 0, 1, 3)                                      # (G, M, n, L) -> (n, G, M, L)


class Pointwise:
    """1×1 conv: Y[n] = W2 · X_s[n] with W2 = weight as (G, COg, Cg) and X_s[n] the input
    subsampled by the stride, as (G, Cg, L) — NCHW already is that layout, no columns.
    grad_input[n] = W2ᵀ · G[n] (scattered back to the strided positions, zeros elsewhere);
    grad_weight = Σ_n G[n] · X_s[n]ᵀ."""

    name = "pointwise"

    @staticmethod
    def applies(g: Geometry) -> bool:
        return (len(g.w_shape) == 4 and g.w_shape[2:] == (1, 1)
                and all(lo == 0 and hi == 0 for lo, hi in g.padding))

    @staticmethod
    def _subsampled(x: np.ndarray, g: Geometry) -> np.ndarray:
        """(n, C, H, W) -> (n, G, Cg, L), the positions the 1×1 windows read."""
        if g.stride != (1, 1):
            x = np.ascontiguousarray(x[:, :, ::g.stride[0], ::g.stride[1]])
        n = x.shape[0]
        return x.reshape(n, g.groups, -1, math.prod(g.out))

    @staticmethod
    def forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry) -> np.ndarray:
        n, co = x.shape[0], weight.shape[0]
        w3 = weight.reshape(g.groups, co // g.groups, -1)                 # (CO, Cg, 1, 1) -> (G, COg, Cg)
        y = np.empty((n, co) + g.out, x.dtype)
        chunks, threads = _chunks(g, x.itemsize)

        def chunk(i: int) -> None:
            n0, n1 = chunks[i]
            out = y[n0:n1].reshape(n1 - n0, g.groups, co // g.groups, -1)    # (n, CO, OH, OW) -> (n, G, COg, L)
            np.copyto(out, _gemm_nchw(w3, Pointwise._subsampled(x[n0:n1], g)))
            _add_bias(y[n0:n1], bias)

        run_parallel(chunk, len(chunks), threads)
        return y

    @staticmethod
    def grad_input(grad_output: np.ndarray, weight: np.ndarray, g: Geometry) -> np.ndarray:
        n, co = grad_output.shape[:2]
        w3t = weight.reshape(g.groups, co // g.groups, -1).swapaxes(1, 2)   # -> (G, Cg, COg)
        strided = g.stride != (1, 1)
        gx = (np.zeros if strided else np.empty)(g.x_shape, grad_output.dtype)
        chunks, threads = _chunks(g, grad_output.itemsize)

        def chunk(i: int) -> None:
            n0, n1 = chunks[i]
            go = grad_output[n0:n1].reshape(n1 - n0, g.groups, co // g.groups, -1)   # -> (n, G, COg, L)
            gxs = _gemm_nchw(w3t, go)                                            # (n, G, Cg, L)
            if strided:
                dst = gx[n0:n1, :, ::g.stride[0], ::g.stride[1]]
                dst[...] = gxs.reshape(dst.shape)                                # -> (n, C, OH, OW)
            else:
                np.copyto(gx[n0:n1].reshape(gxs.shape), gxs)

        run_parallel(chunk, len(chunks), threads)
        return gx

    @staticmethod
    def grad_weight(grad_output: np.ndarray, x: np.ndarray, g: Geometry) -> np.ndarray:
        n, co = grad_output.shape[:2]
        cog = co // g.groups
        chunks, threads = _chunks(g, grad_output.itemsize)

        def part(n0: int, n1: int) -> np.ndarray:
            positions = math.prod(g.out)
            m = (n1 - n0) * positions
            go = grad_output[n0:n1].reshape(n1 - n0, g.groups, cog, -1)          # (n, G, COg, L)
            xs = Pointwise._subsampled(x[n0:n1], g)                              # (n, G, Cg, L)
            if positions >= PER_IMAGE_GEMM_MIN_POSITIONS:                        # per image, no copies
                total = np.matmul(go[0], xs[0].swapaxes(1, 2))                   # (G, COg, L)·(G, L, Cg)
                for i in range(1, n1 - n0):
                    total += np.matmul(go[i], xs[i].swapaxes(1, 2))
                return total
            # one GEMM over all the chunk's positions: (G, COg, n·L) · (G, n·L, Cg)
            go2 = np.ascontiguousarray(go.transpose(1, 2, 0, 3)).reshape(g.groups, cog, m)
            xs2 = np.ascontiguousarray(xs.transpose(1, 0, 3, 2)).reshape(g.groups, m, -1)
            return np.matmul(go2, xs2)                                           # (G, COg, Cg)

        return _summed_in_groups(part, chunks, threads).reshape(g.w_shape)


# ----------------------------------------------------------------------------- depthwise
def _padded_planes(x: np.ndarray, pad: tuple, extra: int) -> tuple[np.ndarray, np.ndarray]:
    """x (n, C, H, W) zero-padded into one flat buffer of n·C planes of H'·W' values plus `extra`
    trailing zeros; returns (buffer, its (n, C, H', W') view)."""
    (t, b), (l, r) = pad
    n, c, h, w = x.shape
    hp, wp = h + t + b, w + l + r
    buf = np.empty(n * c * hp * wp + extra, x.dtype)
    xp = buf[:n * c * hp * wp].reshape(n, c, hp, wp)
    if t or b or l or r:
        xp[:, :, :t], xp[:, :, t + h:], xp[:, :, :, :l], xp[:, :, :, l + w:] = 0, 0, 0, 0
    buf[n * c * hp * wp:] = 0
    xp[:, :, t:t + h, l:l + w] = x
    return buf, xp


def _shifted(buf: np.ndarray, shape: tuple, shift: int, q: int) -> np.ndarray:
    """The (n, C, q) view of the planes (n, C, H'·W') in buf starting `shift` values in:
    plane p's entries shift .. shift + q - 1 (running into the next plane's first values when
    shift + q > H'·W' — those land only in the discarded columns, see Depthwise)."""
    n, c, plane = shape
    step = buf.itemsize
    return as_strided(buf[shift:], (n, c, q), (c * plane * step, plane * step, step), writeable=False)


class Depthwise:
    """groups == C == CO (one filter per channel):
    y[n, c, oh, ow] = b[c] + Σ_{kh, kw} w[c, kh, kw] · xpad[n, c, kh·DH + oh·SH, kw·DW + ow·SW]
    — KH·KW multiply-adds of shifted views, no columns and no per-channel GEMM loop.

    Stride 1: in each zero-padded plane (H'·W' values, row-major), output (oh, ow) at offset
    (kh, kw) reads flat position (oh + kh·DH)·W' + ow + kw·DW = p + shift_k with p = oh·W' + ow
    and shift_k = kh·DH·W' + kw·DW. So computing the output for every p < OH·W' (all W'
    columns of each output row, the last W' - OW of them discarded) makes every offset one
    contiguous shifted view of the plane: KH·KW multiply-adds whose inner loops run along
    OH·W' values instead of OW. The discarded columns may read past a plane's end (into the
    next plane or DW·(KW-1) trailing zeros): harmless, they are never kept.
    grad_input (stride 1) is the full correlation of grad_output with the 180°-rotated kernel
    (seed 004), i.e. this same forward with padding D(K-1) - P; grad_weight[c, k] =
    Σ_{n, p} grad_output[n, c, p] · shifted_k[n, c, p] with grad_output laid out on the same
    W'-wide rows (zeros in the discarded columns).
    Strided convs use strided views of the padded NCHW input per offset instead.
    A few images at a time (cache-sized chunks), shared by the threads."""

    name = "depthwise"

    @staticmethod
    def applies(g: Geometry) -> bool:
        c = g.x_shape[1]
        return len(g.w_shape) == 4 and g.groups == c == g.w_shape[0] and c > 1

    @staticmethod
    def _multiply_adds(views, weights: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
        """out = Σ_k views(k) · weights[:, k] (per channel), with one temporary."""
        for k in range(weights.shape[1]):
            wk = weights[:, k].reshape((1, -1) + (1,) * (out.ndim - 2))
            if k == 0:
                np.multiply(views(k), wk, out=out)
            else:
                np.multiply(views(k), wk, out=tmp)
                out += tmp

    @staticmethod
    def _forward_stride1(x: np.ndarray, wk: np.ndarray, pad: tuple, dil: tuple, out_hw: tuple,
                         bias: np.ndarray | None, y: np.ndarray) -> None:
        """y (n, C, OH, OW) = the stride-1 depthwise conv of x with wk (C, KH, KW) (class doc)."""
        n, c = x.shape[:2]
        kh_, kw_ = wk.shape[1:]
        (dh, dw), (oh, ow) = dil, out_hw
        extra = dw * (kw_ - 1)
        buf, xp = _padded_planes(x, pad, extra)
        hp, wp = xp.shape[2:]
        q = oh * wp
        yq = np.empty((n, c, q), x.dtype)
        shifts = [kh * dh * wp + kw * dw for kh in range(kh_) for kw in range(kw_)]
        Depthwise._multiply_adds(lambda k: _shifted(buf, (n, c, hp * wp), shifts[k], q),
                                 wk.reshape(c, -1), yq, np.empty_like(yq))
        if bias is not None:
            yq += bias.reshape(1, c, 1)
        y[...] = yq.reshape(n, c, oh, wp)[:, :, :, :ow]

    @staticmethod
    def _forward_strided(x: np.ndarray, wk: np.ndarray, g: Geometry, bias: np.ndarray | None,
                         y: np.ndarray) -> None:
        kh_, kw_ = wk.shape[1:]
        (sh, sw), (dh, dw), (oh, ow) = g.stride, g.dilation, g.out
        _, xp = _padded_planes(x, g.padding, 0)

        def view(k: int) -> np.ndarray:
            r, s = (k // kw_) * dh, (k % kw_) * dw
            return xp[:, :, r:r + (oh - 1) * sh + 1:sh, s:s + (ow - 1) * sw + 1:sw]

        with strided_ufuncs():
            Depthwise._multiply_adds(view, wk.reshape(wk.shape[0], -1), y, np.empty_like(y))
        _add_bias(y, bias)

    @staticmethod
    def forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry) -> np.ndarray:
        wk = weight.reshape(weight.shape[0], *weight.shape[2:])              # (C, 1, KH, KW) -> (C, KH, KW)
        y = np.empty((x.shape[0], x.shape[1]) + g.out, x.dtype)
        chunks, threads = _chunks(g, x.itemsize)

        def chunk(i: int) -> None:
            n0, n1 = chunks[i]
            if g.stride == (1, 1):
                Depthwise._forward_stride1(x[n0:n1], wk, g.padding, g.dilation, g.out, bias, y[n0:n1])
            else:
                Depthwise._forward_strided(x[n0:n1], wk, g, bias, y[n0:n1])

        run_parallel(chunk, len(chunks), threads)
        return y

    @staticmethod
    def grad_input(grad_output: np.ndarray, weight: np.ndarray, g: Geometry) -> np.ndarray:
        kh_, kw_ = g.w_shape[2:]
        (t, _), (l, _) = g.padding
        h, w = g.x_shape[2:]
        reach = ((g.dilation[0] * (kh_ - 1)), (g.dilation[1] * (kw_ - 1)))
        full = tuple((r - lo, r - hi) for r, (lo, hi) in zip(reach, g.padding))
        wk = weight.reshape(weight.shape[0], kh_, kw_)
        gx = np.empty(g.x_shape, grad_output.dtype)
        chunks, threads = _chunks(g, grad_output.itemsize)
        rotated = g.stride == (1, 1) and all(lo >= 0 and hi >= 0 for lo, hi in full)
        if rotated:
            wr = np.ascontiguousarray(wk[:, ::-1, ::-1])

        def chunk(i: int) -> None:
            n0, n1 = chunks[i]
            go = grad_output[n0:n1]
            if rotated:                            # the full correlation with the rotated kernel
                Depthwise._forward_stride1(go, wr, full, g.dilation, (h, w), None, gx[n0:n1])
                return
            gxp = np.zeros(go.shape[:2] + (h + sum(g.padding[0]), w + sum(g.padding[1])), go.dtype)
            tmp = np.empty_like(go)
            (sh, sw), (dh, dw), (oh, ow) = g.stride, g.dilation, g.out
            with strided_ufuncs():
                for k in range(kh_ * kw_):
                    r, s = (k // kw_) * dh, (k % kw_) * dw
                    np.multiply(go, wk[:, k // kw_, k % kw_].reshape(1, -1, 1, 1), out=tmp)
                    gxp[:, :, r:r + (oh - 1) * sh + 1:sh, s:s + (ow - 1) * sw + 1:sw] += tmp
            gx[n0:n1] = gxp[:, :, t:t + h, l:l + w]

        run_parallel(chunk, len(chunks), threads)
        return gx

    @staticmethod
    def grad_weight(grad_output: np.ndarray, x: np.ndarray, g: Geometry) -> np.ndarray:
        kh_, kw_ = g.w_shape[2:]
        c = x.shape[1]
        (sh, sw), (dh, dw), (oh, ow) = g.stride, g.dilation, g.out
        chunks, threads = _chunks(g, grad_output.itemsize)

        def part(n0: int, n1: int) -> np.ndarray:
            n = n1 - n0
            gw = np.empty((c, kh_ * kw_), grad_output.dtype)
            if g.stride == (1, 1):
                buf, xp = _padded_planes(x[n0:n1], g.padding, dw * (kw_ - 1))
                hp, wp = xp.shape[2:]
                gq = np.zeros((n, c, oh, wp), grad_output.dtype)
                gq[:, :, :, :ow] = grad_output[n0:n1]
                gq = gq.reshape(n, c, oh * wp)
                for k in range(kh_ * kw_):
                    view = _shifted(buf, (n, c, hp * wp), (k // kw_) * dh * wp + (k % kw_) * dw, oh * wp)
                    gw[:, k] = np.einsum("ncq,ncq->c", gq, view)
            else:
                _, xp = _padded_planes(x[n0:n1], g.padding, 0)
                go = grad_output[n0:n1]
                for k in range(kh_ * kw_):
                    r, s = (k // kw_) * dh, (k % kw_) * dw
                    view = xp[:, :, r:r + (oh - 1) * sh + 1:sh, s:s + (ow - 1) * sw + 1:sw]
                    gw[:, k] = np.einsum("nchw,nchw->c", go, view)
            return gw

        return _summed_in_groups(part, chunks, threads).reshape(g.w_shape)


# ----------------------------------------------------------------------------- winograd
def winograd_2x2_3x3_matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lavin & Gray's F(2×2, 3×3) transforms (Bᵀ 4×4, G 4×3, Aᵀ 2×4): for a 4×4 input tile d
    and a 3×3 kernel k, the 2×2 correlation output is Aᵀ [(G k Gᵀ) ⊙ (Bᵀ d B)] A."""
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
    gm = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
    at = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
    return bt, gm, at


_BT, _G, _AT = winograd_2x2_3x3_matrices()


class Winograd:
    """F(2×2, 3×3) for 3×3, stride-1, undilated, ungrouped convs (docs/derivations.md).

    The padded input (N, C, H', W') is cut into overlapping 4×4 tiles at stride 2 (T = TH·TW
    per image; the bottom/right edge padded with zeros up to whole tiles);
      V = Bᵀ d B        per tile and channel               (16, C, N·T)
      U = G k Gᵀ        per output and input channel        (16, CO, C)
      M[ξν] = U[ξν] · V[ξν]                                 16 GEMMs (CO, C)·(C, N·T)
      y tile = Aᵀ M A                                       (2×2 outputs per tile)
    Backward, the adjoint of each linear step in reverse: dM = A dY Aᵀ per tile,
      grad_weight = Gᵀ (Σ_tiles dM[ξν] · V[ξν]ᵀ) G,  dV[ξν] = U[ξν]ᵀ · dM[ξν],
      grad_input = the overlapping sum of the tiles B dV Bᵀ (cropped to the input).
    """

    name = "winograd"

    @staticmethod
    def applies(g: Geometry) -> bool:
        return (len(g.w_shape) == 4 and g.w_shape[2:] == (3, 3) and g.stride == (1, 1)
                and g.dilation == (1, 1) and g.groups == 1)

    @staticmethod
    def _tiles(g: Geometry) -> tuple[int, int]:
        return -(-g.out[0] // 2), -(-g.out[1] // 2)

    @staticmethod
    def workspace_bytes(g: Geometry, itemsize: int) -> int:
        """V and M: 16 values per tile per input and output channel."""
        th, tw = Winograd._tiles(g)
        return 16 * g.x_shape[0] * th * tw * (g.x_shape[1] + g.w_shape[0]) * itemsize

    @staticmethod
    def _input_tiles(x: np.ndarray, g: Geometry) -> np.ndarray:
        """V = Bᵀ d B for every tile: (n, C, H, W) -> (4, 4, C, n, TH, TW)."""
        th, tw = Winograd._tiles(g)
        (t, _), (l, _) = g.padding
        n, c, h, w = x.shape
        xp = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), x.dtype)   # padded to whole tiles
        hh, ww = min(h, 2 * th + 2 - t), min(w, 2 * tw + 2 - l)
        xp[:, :, t:t + hh, l:l + ww] = x[:, :, :hh, :ww]
        d = [[xp[:, :, i:i + 2 * th:2, j:j + 2 * tw:2] for j in range(4)] for i in range(4)]   # d[i][j]: (n, C, TH, TW)
        # Bᵀ d (rows), then (·) B (columns): Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]
        r = [[d[0][j] - d[2][j], d[1][j] + d[2][j], d[2][j] - d[1][j], d[1][j] - d[3][j]] for j in range(4)]
        v = np.empty((4, 4, c, n, th, tw), x.dtype)
        for i in range(4):
            row = [r[j][i] for j in range(4)]                   # (Bᵀ d)[i][j]
            for j, val in enumerate((row[0] - row[2], row[1] + row[2], row[2] - row[1], row[1] - row[3])):
                v[i, j] = val.transpose(1, 0, 2, 3)             # (n, C, TH, TW) -> (C, n, TH, TW)
        return v

    @staticmethod
    def _kernel(weight: np.ndarray) -> np.ndarray:
        """U = G k Gᵀ: (CO, C, 3, 3) -> (4, 4, CO, C), computed in float64 then cast."""
        u = np.einsum("ik,ockl,jl->ijoc", _G, weight.astype(np.float64), _G)
        return u.astype(weight.dtype)

    @staticmethod
    def forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry) -> np.ndarray:
        n, co = x.shape[0], weight.shape[0]
        th, tw = Winograd._tiles(g)
        u = Winograd._kernel(weight).reshape(16, co, -1)
        y = np.empty((n, co) + g.out, x.dtype)
        chunks, threads = _chunks(g, x.itemsize)

        def chunk(i: int) -> None:
            n0, n1 = chunks[i]
            m = n1 - n0
            v = Winograd._input_tiles(x[n0:n1], g).reshape(16, x.shape[1], m * th * tw)
            mm = np.matmul(u, v).reshape(4, 4, co, m, th, tw)          # M[ξν] = U[ξν] · V[ξν]
            # Aᵀ M A: Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]
            s = [mm[0] + mm[1] + mm[2], mm[1] - mm[2] - mm[3]]         # rows: (4, CO, m, TH, TW)
            out = np.empty((co, m, th, 2, tw, 2), x.dtype)
            for a in range(2):
                out[:, :, :, a, :, 0] = s[a][0] + s[a][1] + s[a][2]
                out[:, :, :, a, :, 1] = s[a][1] - s[a][2] - s[a][3]
            full = out.reshape(co, m, 2 * th, 2 * tw)[:, :, :g.out[0], :g.out[1]]
            y[n0:n1] = full.transpose(1, 0, 2, 3)                      # (CO, m, OH, OW) -> (m, CO, OH, OW)
            _add_bias(y[n0:n1], bias)

        run_parallel(chunk, len(chunks), threads)
        return y

    @staticmethod
    def _output_adjoint(grad_output: np.ndarray, g: Geometry) -> np.ndarray:
        """dM = A dY Aᵀ per tile: (n, CO, OH, OW) -> (16, CO, n·T), the adjoint of y = Aᵀ M A."""
        n, co = grad_output.shape[:2]
        th, tw = Winograd._tiles(g)
        gy = np.zeros((co, n, th, 2, tw, 2), grad_output.dtype)
        gy.reshape(co, n, 2 * th, 2 * tw)[:, :, :g.out[0], :g.out[1]] = grad_output.transpose(1, 0, 2, 3)
        # rows: dS[a] = gy[.., a, .., 0] * A_row0 + gy[.., a, .., 1] * A_row1 over the 4 columns
        ds = [[None] * 4 for _ in range(2)]
        for a in range(2):
            g0, g1 = gy[:, :, :, a, :, 0], gy[:, :, :, a, :, 1]
            ds[a] = [g0, g0 + g1, g0 - g1, -g1]
        dm = np.empty((4, 4, co, n, th, tw), grad_output.dtype)
        for j in range(4):
            d0, d1 = ds[0][j], ds[1][j]
            dm[0, j], dm[1, j], dm[2, j], dm[3, j] = d0, d0 + d1, d0 - d1, -d1
        return dm.reshape(16, co, n * th * tw)

    @staticmethod
    def grad_input(grad_output: np.ndarray, weight: np.ndarray, g: Geometry) -> np.ndarray:
        n, co = grad_output.shape[:2]
        c = weight.shape[1]
        th, tw = Winograd._tiles(g)
        ut = np.ascontiguousarray(Winograd._kernel(weight).reshape(16, co, c).swapaxes(1, 2))   # U[ξν]ᵀ
        (t, _), (l, _) = g.padding
        h, w = g.x_shape[2:]
        gx = np.empty(g.x_shape, grad_output.dtype)
        chunks, threads = _chunks(g, grad_output.itemsize)

        def chunk(i: int) -> None:
            n0, n1 = chunks[i]
            m = n1 - n0
            dm = Winograd._output_adjoint(grad_output[n0:n1], g)
            dv = np.matmul(ut, dm).reshape(4, 4, c, m, th, tw)         # dV[ξν] = U[ξν]ᵀ dM[ξν]
            # d = B dV Bᵀ (the adjoint of V = Bᵀ d B), tiles added where they overlap
            col = [[None] * 4 for _ in range(4)]                      # (B dV)[i][j]
            for j in range(4):
                v0, v1, v2, v3 = dv[0, j], dv[1, j], dv[2, j], dv[3, j]
                col[0][j], col[1][j], col[2][j], col[3][j] = v0, v1 - v2 + v3, -v0 + v1 + v2, -v3
            gxp = np.zeros((c, m, 2 * th + 2, 2 * tw + 2), grad_output.dtype)
            for i in range(4):
                e0, e1, e2, e3 = col[i]
                for j, val in enumerate((e0, e1 - e2 + e3, -e0 + e1 + e2, -e3)):
                    gxp[:, :, i:i + 2 * th:2, j:j + 2 * tw:2] += val
            hh, ww = min(h, 2 * th + 2 - t), min(w, 2 * tw + 2 - l)
            dst = gx[n0:n1]
            if hh < h or ww < w:
                dst[...] = 0
            dst[:, :, :hh, :ww] = gxp[:, :, t:t + hh, l:l + ww].transpose(1, 0, 2, 3)

        run_parallel(chunk, len(chunks), threads)
        return gx

    @staticmethod
    def grad_weight(grad_output: np.ndarray, x: np.ndarray, g: Geometry) -> np.ndarray:
        co, c = g.w_shape[:2]
        chunks, threads = _chunks(g, grad_output.itemsize)

        def part(n0: int, n1: int) -> np.ndarray:
            dm = Winograd._output_adjoint(grad_output[n0:n1], g)                  # (16, CO, m·T)
            v = Winograd._input_tiles(x[n0:n1], g).reshape(16, c, -1)             # (16, C, m·T)
            return np.matmul(dm, v.swapaxes(1, 2))                                # dU: (16, CO, C)

        du = _summed_in_groups(part, chunks, threads).reshape(4, 4, co, c).astype(np.float64)
        return np.einsum("ik,ijoc,jl->ockl", _G, du, _G).astype(grad_output.dtype)   # Gᵀ dU G


ALGORITHMS: dict[str, Any] = {a.name: a for a in (Pointwise, Depthwise, Winograd)}
CHOICES = ("auto", "im2col", *ALGORITHMS)
_state = {"conv_algorithm": "auto"}


def set_conv_algorithm(name: str) -> None:
    """'auto' (the measured rule), 'im2col' (the reference path everywhere), or an algorithm
    name (used wherever it applies, im2col elsewhere)."""
    if not isinstance(name, str) or name not in CHOICES:
        raise ArgumentError(f"conv_algorithm must be one of {', '.join(map(repr, CHOICES))}, "
                            f"got {name!r}")
    _state["conv_algorithm"] = name


def get_conv_algorithm() -> str:
    return _state["conv_algorithm"]


# The measured rule of 'auto' (docs/performance.md, "Conv algorithms"): depthwise convs by
# shifted multiply-adds from this many output positions per image up (below, im2col's
# batch-last layout was faster: 960 channels at 4×4 took 2× as long by shifted views).
DEPTHWISE_MIN_POSITIONS = 64


def _auto(g: Geometry, itemsize: int) -> Any:
    """1×1 convs always as GEMMs on the NCHW view; depthwise convs by shifted views on maps of
    DEPTHWISE_MIN_POSITIONS or more; Winograd never: in NumPy its transforms (a dozen passes
    over V and M) cost about what the 2.25× fewer GEMM flops save (ResNet-18 shapes: 0.95-3.1×
    im2col's time), so it is there to be chosen by name."""
    if Pointwise.applies(g):
        return Pointwise
    if Depthwise.applies(g) and math.prod(g.out) >= DEPTHWISE_MIN_POSITIONS:
        return Depthwise
    return None


def choose(x_shape: tuple, w_shape: tuple, stride: tuple, padding: tuple, dilation: tuple,
           groups: int, out: tuple, itemsize: int) -> tuple[Any, Geometry] | None:
    """(algorithm, geometry) for this conv, or None for im2col."""
    name = _state["conv_algorithm"]
    if name == "im2col" or len(w_shape) != 4 or x_shape[0] == 0:
        return None
    g = Geometry(tuple(x_shape), tuple(w_shape), tuple(stride), tuple(padding), tuple(dilation),
                 groups, tuple(out))
    algo = _auto(g, itemsize) if name == "auto" else ALGORITHMS[name] if ALGORITHMS[name].applies(g) else None
    if algo is Winograd:
        limit = get_workspace_limit()
        if limit is not None and Winograd.workspace_bytes(g, itemsize) > limit:
            return None
    return None if algo is None else (algo, g)
