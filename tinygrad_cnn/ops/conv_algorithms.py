"""Convolution algorithms besides im2col, chosen per shape: array-in/array-out kernels.

Each algorithm is kernels on NumPy arrays — forward(x, weight, bias), and either grad_input
(grad_output, weight) and grad_weight(grad_output, x) (Pointwise), or one backward(grad_output,
x, weight, g, need_x, need_w) that shares its layout moves and transforms between the two
gradients (Depthwise, Winograd) — for the geometries where `applies` says it is exact. ops/conv.py's ConvNd calls them at its kernel dispatch point; im2col (ops/conv.py)
stays the reference path, used for everything else. Names as in ops/conv.py (N, C, CO, G, H,
W, KH, KW, S, P, D, OH, OW, L = OH*OW). Derivations: docs/derivations.md, "Conv algorithms".

    pointwise  1×1 kernels, no padding, any stride and groups: one GEMM on the NCHW view,
               Y[n] = W2 · X[n] (stride: X subsampled first), no columns at all
    depthwise  groups == C == CO (ops/conv_depthwise.py): KH·KW multiply-adds of the windows,
               one einsum in the (H, W, N·C) layout whose inner loop runs along N·C
    winograd   3×3, stride 1, dilation 1, groups 1 (ops/conv_winograd.py): F(2×2, 3×3) — 16
               GEMMs of (tiles, C)·(C, CO) in the transformed domain instead of one
               (CO, 9C)·(9C, 4·tiles); grad_input and grad_weight the adjoints of the transforms

Selection (tc.backends.conv_algorithm): 'auto' uses the measured rule in `choose`;
'im2col' forces the reference path; naming an algorithm uses it wherever it applies (im2col
elsewhere). The kernels split the batch over the CNN ops' threads (ops/parallel.py) and sum
grad_weight in fixed groups of images, so results do not depend on the thread count.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ArgumentError
from .conv_depthwise import Depthwise
from .conv_winograd import Winograd, winograd_2x2_3x3_matrices
from .conv_geometry import Geometry, add_bias, chunks, summed_in_groups
from .parallel import run_parallel
from .workspace import get_workspace_limit

__all__ = ["Geometry", "ALGORITHMS", "geometry", "choose", "candidates", "set_conv_algorithm",
           "get_conv_algorithm", "winograd_2x2_3x3_matrices"]

_chunks, _summed_in_groups, _add_bias = chunks, summed_in_groups, add_bias


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


# Winograd under 'auto': enough tiles for its 16 GEMMs (N·TH·TW rows each), and enough GEMM
# work per value the transforms pass over, C·CO/(C + CO) (C/2 for square convs), that the
# 2.25x fewer multiplies outweigh the transforms. Measured at one thread, forward + backward
# (docs/derivations.md, "Conv algorithms"): 32 tiles lose (1.3-1.4x im2col's time); 128 tiles
# win with 128 channels (0.8x), lose with 128 -> 32 (1.08x); with 256 tiles or more every
# shape measured wins in isolation (0.7-0.95x), but in whole models the narrow ones did not
# (DenseNet's 128 -> 32: +3 % per step; a 3 -> 32 stem, whose backward needs no grad_input:
# +5 %), hence the floor on the channels.
WINOGRAD_MIN_TILES = 128
WINOGRAD_MIN_CHANNELS = 32
WINOGRAD_MIN_WORK = 6144


def _winograd_pays(g: Geometry) -> bool:
    c, co = g.x_shape[1], g.w_shape[0]
    th, tw = Winograd._tiles(g)
    tiles = g.x_shape[0] * th * tw
    return (tiles >= WINOGRAD_MIN_TILES and c * co >= WINOGRAD_MIN_CHANNELS * (c + co)
            and tiles * c * co >= WINOGRAD_MIN_WORK * (c + co))


def _auto(g: Geometry, itemsize: int) -> Any:
    """The measured rule (docs/derivations.md, "Conv algorithms"; benchmarks/
    bench_conv_algorithms.py): 1×1 convs always as GEMMs on the NCHW view; depthwise convs
    always in the (H, W, N·C) layout; Winograd for 3×3 stride-1 convs with enough tiles
    (_winograd_pays: 0.7-0.95× im2col's forward + backward time on ResNet's, DenseNet's and
    the stems' shapes; with few tiles its GEMMs are too thin and the transforms dominate)."""
    if Pointwise.applies(g):
        return Pointwise
    if Depthwise.applies(g):
        return Depthwise
    if Winograd.applies(g) and _winograd_pays(g):
        return Winograd
    return None


def _fits(algo: Any, g: Geometry, itemsize: int) -> bool:
    """Winograd's transformed tiles must fit the workspace limit (im2col bands its columns)."""
    if algo is not Winograd:
        return True
    limit = get_workspace_limit()
    return limit is None or Winograd.workspace_bytes(g, itemsize) <= limit


def candidates(g: Geometry, itemsize: int) -> list:
    """Every way to compute this conv: None (im2col) first, then each algorithm that applies
    and fits the workspace limit (what cudnn.benchmark times, ops/conv_tuning.py)."""
    return [None] + [a for a in ALGORITHMS.values() if a.applies(g) and _fits(a, g, itemsize)]


def geometry(x_shape: tuple, w_shape: tuple, stride: tuple, padding: tuple, dilation: tuple,
             groups: int, out: tuple) -> Geometry | None:
    """The Geometry of a conv some algorithm may take, or None when only im2col can
    (conv_algorithm 'im2col', not 2-D, or an empty batch)."""
    if _state["conv_algorithm"] == "im2col" or len(w_shape) != 4 or x_shape[0] == 0:
        return None
    return Geometry(tuple(x_shape), tuple(w_shape), tuple(stride), tuple(padding), tuple(dilation),
                    groups, tuple(out))


def choose(g: Geometry, itemsize: int) -> Any:
    """The algorithm for this conv under conv_algorithm (None: im2col)."""
    name = _state["conv_algorithm"]
    algo = _auto(g, itemsize) if name == "auto" else ALGORITHMS[name] if ALGORITHMS[name].applies(g) else None
    return algo if algo is not None and _fits(algo, g, itemsize) else None
