"""Depthwise convolution (groups == C == CO) in the (H, W, N·C) layout: array kernels.

Each output channel reads only its own input channel,

    y[n, c, oh, ow] = b[c] + Σ_{kh, kw} w[c, kh, kw] · xpad[n, c, oh·SH + kh·DH, ow·SW + kw·DW],

so there is no reduction over channels to hand to BLAS: the conv is KH·KW multiply-adds of
shifted (strided) views of the padded input, a memory-bound stream. What makes it fast is the
layout. In NCHW the views' inner loops run along one output row (OW values: 4 on MobileNetV2's
4×4 maps), so NumPy spends its time starting loops. Here every chunk of images is first moved
to (H', W', M) with M = n·C (image and channel merged, innermost): every view

    X[oh, ow, kh, kw, m] = xpad[oh·SH + kh·DH, ow·SW + kw·DW, m]     (one as_strided view)

has a contiguous inner axis of n·C values, strided or not, and the whole conv is one
np.einsum('hwabi,abi->hwi', X, Wt) with Wt[kh, kw, n·C + c] = w[c, kh, kw] — its inner loop a
fused multiply-add along M (one pass per offset, no temporaries). Backward, with grad_output
moved to (OH, OW, M) once and shared:

    grad_weight[c, kh, kw] = Σ_{n, oh, ow} grad_output · X[.., kh, kw, ..]
                           = einsum('hwi,hwabi->abi') summed over the n images of each m
    grad_input  (stride 1, D(K-1) >= P): the full correlation of grad_output with the
                 180°-rotated kernel (seed 004) — this same forward, padding D(K-1) - P
                 (otherwise) each offset adds w·grad_output into its strided view of a
                 zero-padded buffer, which is then cropped

The moves to and from NCHW are OpenBLAS's transpose (blocked copies without it; ops/conv_geometry.py). Chunks of images are
shared by the threads; grad_weight is summed in fixed groups of chunks. Derivation and
measurements: docs/derivations.md and docs/performance.md, "Conv algorithms".
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .conv_geometry import Geometry, chunks, summed_in_groups, to_channels_first, to_channels_last
from .parallel import run_parallel
from .workspace import strided_ufuncs

__all__ = ["Depthwise"]

# Images per chunk: about this many bytes of padded input, moved to (H', W', n·C). Measured on
# MobileNetV2-CIFAR's depthwise shapes (forward + backward, summed): 4 MiB 7-10 % faster than
# 1 MiB at one and at two threads (longer einsum inner loops), 8-16 MiB slower again.
CHUNK_INPUT_BYTES = 4 << 20


def _padded_hwm(x: np.ndarray, pad: tuple) -> np.ndarray:
    """(n, C, H, W) -> zero-padded (H', W', n·C)."""
    (t, b), (l, r) = pad
    n, c, h, w = x.shape
    xp = np.empty((h + t + b, w + l + r, n * c), x.dtype)
    if t or b or l or r:
        xp[:t], xp[t + h:], xp[:, :l], xp[:, l + w:] = 0, 0, 0, 0
    to_channels_last(xp[t:t + h, l:l + w], x.reshape(n * c, h, w))     # (n·C, H, W) -> (H, W, n·C)
    return xp


def _windows(xp: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> np.ndarray:
    """(H', W', M) -> the read-only view X (OH, OW, KH, KW, M) of every window."""
    rs, cs, ms = xp.strides
    return as_strided(xp, out + kernel + xp.shape[2:],
                      (stride[0] * rs, stride[1] * cs, dilation[0] * rs, dilation[1] * cs, ms),
                      writeable=False)


def _tiled(wk: np.ndarray, n: int) -> np.ndarray:
    """(C, KH, KW) -> (KH, KW, n·C): every image's copy of the per-channel weights."""
    c, kh, kw = wk.shape
    return np.ascontiguousarray(np.broadcast_to(wk.transpose(1, 2, 0)[:, :, None, :],
                                                (kh, kw, n, c))).reshape(kh, kw, n * c)


def _conv_hwm(xp: np.ndarray, wt: np.ndarray, stride: tuple, dilation: tuple, out: tuple) -> np.ndarray:
    """The depthwise conv in the (H', W', M) layout: (OH, OW, M), one einsum."""
    y = np.empty(out + xp.shape[2:], xp.dtype)
    np.einsum("hwabi,abi->hwi", _windows(xp, wt.shape[:2], stride, dilation, out), wt, out=y)
    return y


def _full_padding(g: Geometry) -> tuple | None:
    """Padding of grad_output that makes grad_input a stride-1 forward with the rotated
    kernel: D(K-1) - P per side; None when the stride is not 1 or a side would be negative."""
    if g.stride != (1, 1):
        return None
    full = tuple((d * (k - 1) - lo, d * (k - 1) - hi)
                 for d, k, (lo, hi) in zip(g.dilation, g.w_shape[2:], g.padding))
    return full if all(lo >= 0 and hi >= 0 for lo, hi in full) else None


class Depthwise:
    """groups == C == CO: KH·KW multiply-adds of the windows in the (H, W, N·C) layout (module
    doc), a few images at a time."""

    name = "depthwise"

    @staticmethod
    def applies(g: Geometry) -> bool:
        c = g.x_shape[1]
        return len(g.w_shape) == 4 and g.groups == c == g.w_shape[0] and c > 1

    @staticmethod
    def _chunks(g: Geometry, itemsize: int) -> tuple[list, int]:
        c, h, w = g.x_shape[1:]
        per_image = c * (h + sum(g.padding[0])) * (w + sum(g.padding[1])) * itemsize
        return chunks(g, itemsize, CHUNK_INPUT_BYTES, per_image)

    @staticmethod
    def forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry) -> np.ndarray:
        n, c = x.shape[:2]
        wk = weight.reshape(c, *weight.shape[2:])                          # (C, 1, KH, KW) -> (C, KH, KW)
        y = np.empty((n, c) + g.out, x.dtype)
        parts, threads = Depthwise._chunks(g, x.itemsize)

        def chunk(i: int) -> None:
            n0, n1 = parts[i]
            m = n1 - n0
            yh = _conv_hwm(_padded_hwm(x[n0:n1], g.padding), _tiled(wk, m), g.stride, g.dilation, g.out)
            if bias is not None:
                yh += np.tile(bias, m)
            to_channels_first(y[n0:n1].reshape((m * c,) + g.out), yh)        # (OH, OW, m·C) -> (m·C, OH, OW)

        run_parallel(chunk, len(parts), threads)
        return y

    @staticmethod
    def backward(grad_output: np.ndarray, x: np.ndarray | None, weight: np.ndarray | None,
                 g: Geometry, need_x: bool, need_w: bool) -> tuple:
        """(grad_input or None, grad_weight or None), grad_output moved to (OH, OW, M) once per
        chunk for both."""
        n, c, h, w = g.x_shape
        kh_, kw_ = g.w_shape[2:]
        dtype = grad_output.dtype
        full = _full_padding(g) if need_x else None
        if need_x:
            wk = weight.reshape(c, kh_, kw_)
            gx = np.empty(g.x_shape, dtype)
        parts, threads = Depthwise._chunks(g, grad_output.itemsize)

        def part(n0: int, n1: int) -> np.ndarray | None:
            m = n1 - n0
            go = grad_output[n0:n1]
            if full is not None:                       # padded for the rotated-kernel forward
                gop = _padded_hwm(go, full)
                (ft, _), (fl, _) = full
                goh = gop[ft:ft + g.out[0], fl:fl + g.out[1]]
            else:
                goh = np.empty(g.out + (m * c,), dtype)
                to_channels_last(goh, go.reshape((m * c,) + g.out))          # (m·C, OH, OW) -> (OH, OW, m·C)
            if need_x:
                dst = gx[n0:n1].reshape(m * c, h, w)
                if full is not None:
                    wt = _tiled(np.ascontiguousarray(wk[:, ::-1, ::-1]), m)
                    to_channels_first(dst, _conv_hwm(gop, wt, (1, 1), g.dilation, (h, w)))
                else:
                    to_channels_first(dst, Depthwise._scatter(goh, _tiled(wk, m), g))
            if not need_w:
                return None
            xw = _windows(_padded_hwm(x[n0:n1], g.padding), (kh_, kw_), g.stride, g.dilation, g.out)
            gw = np.einsum("hwi,hwabi->abi", goh, xw)                      # (KH, KW, m·C)
            return gw.reshape(kh_, kw_, m, c).sum(axis=2)                  # -> (KH, KW, C)

        if need_w:
            gw = summed_in_groups(part, parts, threads)
            grad_w = np.ascontiguousarray(gw.transpose(2, 0, 1)).reshape(g.w_shape)   # (KH, KW, C) -> (C, 1, KH, KW)
        else:
            run_parallel(lambda i: part(*parts[i]), len(parts), threads)
            grad_w = None
        return (gx if need_x else None), grad_w

    @staticmethod
    def _scatter(goh: np.ndarray, wt: np.ndarray, g: Geometry) -> np.ndarray:
        """grad_input (H, W, M) for any stride: each offset adds w·grad_output into its strided
        view of the zero-padded (H', W', M) buffer, which is then cropped."""
        (t, b), (l, r) = g.padding
        h, w = g.x_shape[2:]
        (sh, sw), (dh, dw), (oh, ow) = g.stride, g.dilation, g.out
        gxp = np.zeros((h + t + b, w + l + r, goh.shape[2]), goh.dtype)
        tmp = np.empty(goh.shape, goh.dtype)
        with strided_ufuncs():
            for a in range(wt.shape[0]):
                for e in range(wt.shape[1]):
                    np.multiply(goh, wt[a, e], out=tmp)
                    gxp[a * dh:a * dh + (oh - 1) * sh + 1:sh, e * dw:e * dw + (ow - 1) * sw + 1:sw] += tmp
        return gxp[t:t + h, l:l + w]
