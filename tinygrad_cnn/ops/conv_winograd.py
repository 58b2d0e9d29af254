"""Winograd F(2×2, 3×3) for 3×3, stride-1, undilated, ungrouped convs: array kernels.

Lavin & Gray (2016). A 4×4 tile d of the padded input and a 3×3 kernel k give the tile's 2×2
correlation outputs as

    y = Aᵀ [ U ⊙ V ] A,      U = G k Gᵀ (4×4),   V = Bᵀ d B (4×4),

16 multiplies instead of 36. Over channels the ⊙ becomes 16 GEMMs, one per transformed
position ξν:  M[ξν] (P, CO) = V[ξν] (P, C) · U[ξν] (C, CO),  P = tiles in the chunk — 2.25×
fewer multiply-adds than im2col's (CO, 9C)·(9C, 4P) GEMM.

Layout. Each chunk of n images is moved once to the zero-padded (H', W', n·C) layout (as the
depthwise kernels do): every tile element d[i][j] of every tile is then the strided view
xp[i::2, j::2] with a contiguous inner axis of n·C values, the transforms are 8 + 8 additions
of such views per stage (no Python loop over tiles), and V[ξν] is already the (P, C) matrix
the GEMM wants, P = (TH, TW, n). The outputs come out as (OH, OW, n·CO) and are moved back.

Backward, the adjoint of each linear step in reverse (docs/derivations.md):

    dM = A dY Aᵀ per tile                  (grad_output moved to (OH, OW, n·CO) once)
    dU = Σ_P V[ξν]ᵀ dM[ξν],   grad_weight = Gᵀ dU G     (V recomputed from x, not kept)
    dV = dM[ξν] U[ξν]ᵀ,        grad_input  = Σ_tiles B dV Bᵀ, added where tiles overlap

The signs of A's last row and Bᵀ's last column are folded in where they cancel (see
_output_adjoint and _scatter_input_adjoint), so no pass is spent negating. U is computed in
the weight's dtype as one GEMM with the 16×9 matrix G⊗G. The float32 error is bounded in
tests/test_conv_algorithms.py and docs/derivations.md.
"""
from __future__ import annotations

import numpy as np

from .conv_depthwise import _padded_hwm
from .conv_geometry import Geometry, chunks, summed_in_groups, to_channels_first, to_channels_last
from .parallel import run_parallel

__all__ = ["Winograd", "winograd_2x2_3x3_matrices"]

# Images per chunk: about this many bytes of transformed tiles V and M (16 values per tile
# per input and output channel). Bigger than L2, but measured faster than 1-2 MiB chunks (at
# 1 thread, ResNet-18 shapes: 0.6-0.8x the time): NumPy's passes get longer inner loops
# (n·C values) and the GEMMs more rows; beyond 8 MiB no further gain.
CHUNK_TILE_BYTES = 8 << 20


def winograd_2x2_3x3_matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lavin & Gray's F(2×2, 3×3) transforms (Bᵀ 4×4, G 4×3, Aᵀ 2×4): for a 4×4 input tile d
    and a 3×3 kernel k, the 2×2 correlation output is Aᵀ [(G k Gᵀ) ⊙ (Bᵀ d B)] A."""
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
    gm = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
    at = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
    return bt, gm, at


_BT, _G, _AT = winograd_2x2_3x3_matrices()
_GG = np.kron(_G, _G)                                  # (16, 9): vec(G k Gᵀ) = (G⊗G) vec(k)
# dM is computed with A's last row as +[0, 1] (no negation pass); the true dM[ξν] is
# s[ξ]·s[ν]·dM'[ξν] with s = (1, 1, 1, -1). grad_weight takes the signs through G⊗G.
_SIGNS = np.kron([1, 1, 1, -1], [1, 1, 1, -1]).astype(np.float64)
_GG_SIGNED = _GG * _SIGNS[:, None]


def _input_transform(xp: np.ndarray, th: int, tw: int, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """V = Bᵀ d B for every tile: xp (H', W', M) -> out (4, 4, TH, TW, M); tmp the same shape.
    Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]], applied to rows then columns."""
    d = [[xp[i:i + 2 * th:2, j:j + 2 * tw:2] for j in range(4)] for i in range(4)]   # (TH, TW, M) views
    for j in range(4):                                 # rows: tmp[ξ, j] = Σ_i Bᵀ[ξ, i] d[i][j]
        np.subtract(d[0][j], d[2][j], out=tmp[0, j])
        np.add(d[1][j], d[2][j], out=tmp[1, j])
        np.subtract(d[2][j], d[1][j], out=tmp[2, j])
        np.subtract(d[1][j], d[3][j], out=tmp[3, j])
    for i in range(4):                                 # columns: out[ξ, ν] = Σ_j tmp[ξ, j] Bᵀ[ν, j]
        r = tmp[i]
        np.subtract(r[0], r[2], out=out[i, 0])
        np.add(r[1], r[2], out=out[i, 1])
        np.subtract(r[2], r[1], out=out[i, 2])
        np.subtract(r[1], r[3], out=out[i, 3])
    return out


def _output_transform(m: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """y = Aᵀ M A per tile: m (4, 4, TH, TW, M) -> out (TH, 2, TW, 2, M); tmp (2, 4, TH, TW, M).
    Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]."""
    for j in range(4):                                 # rows
        np.add(m[0, j], m[1, j], out=tmp[0, j])
        tmp[0, j] += m[2, j]
        np.subtract(m[1, j], m[2, j], out=tmp[1, j])
        tmp[1, j] -= m[3, j]
    for a in range(2):                                 # columns
        s = tmp[a]
        np.add(s[0], s[1], out=out[:, a, :, 0])
        out[:, a, :, 0] += s[2]
        np.subtract(s[1], s[2], out=out[:, a, :, 1])
        out[:, a, :, 1] -= s[3]


def _output_adjoint(gy: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """dM' = A' dY A'ᵀ per tile with A' = [[1,0],[1,1],[1,-1],[0,1]] (A with its last row's sign
    flipped; the true dM is s[ξ]s[ν]·dM'): gy (TH, 2, TW, 2, M) -> out (4, 4, TH, TW, M);
    tmp (2, 2, TH, TW, M) holds the columns 1 and 2 of the first stage."""
    e = [[None] * 4 for _ in range(2)]                 # e[a][ν] = Σ_b A'[ν, b] dY[a, b]
    for a in range(2):
        g0, g1 = gy[:, a, :, 0], gy[:, a, :, 1]
        e[a][0], e[a][3] = g0, g1
        e[a][1] = np.add(g0, g1, out=tmp[a, 0])
        e[a][2] = np.subtract(g0, g1, out=tmp[a, 1])
    for j in range(4):                                 # out[ξ, ν] = Σ_a A'[ξ, a] e[a][ν]
        e0, e1 = e[0][j], e[1][j]
        np.copyto(out[0, j], e0)
        np.add(e0, e1, out=out[1, j])
        np.subtract(e0, e1, out=out[2, j])
        np.copyto(out[3, j], e1)
    return out


def _scatter_input_adjoint(dv: np.ndarray, gxp: np.ndarray, th: int, tw: int, tmp: np.ndarray) -> None:
    """gxp (H', W', M) = Σ_tiles B dV Bᵀ, tiles added where they overlap. dv (4, 4, TH, TW, M)
    is dV' = dM'·U, i.e. s[ξ]s[ν]·dV: the sign s[3] = -1 cancels the -1 of Bᵀ's last column, so
    on both axes d0 = v0, d1 = v1 - v2 - v3, d2 = v1 + v2 - v0, d3 = v3 (B dV Bᵀ would be
    d1 = v1 - v2 + v3, d3 = -v3). tmp (2, 4, TH, TW, M) holds rows 1 and 2."""
    r = [[None] * 4 for _ in range(4)]                 # r[i][ν] = Σ_ξ B'[i, ξ] dV'[ξ, ν]
    for j in range(4):
        v0, v1, v2, v3 = dv[0, j], dv[1, j], dv[2, j], dv[3, j]
        r[0][j], r[3][j] = v0, v3
        r[1][j] = np.subtract(v1, v2, out=tmp[0, j])
        r[1][j] -= v3
        r[2][j] = np.add(v1, v2, out=tmp[1, j])
        r[2][j] -= v0
    gxp[2 * th:] = 0                                   # rows and columns only the last tiles' d2, d3 reach
    gxp[:, 2 * tw:] = 0
    for i in range(4):
        r0, r1, r2, r3 = r[i]
        cols = ((0, r0, None, None, 1), (1, r1, r2, r3, -1), (2, r1, r2, r0, 1), (3, r3, None, None, 1))
        for j, a, b, c, sign in cols:                  # d1 = r1 - r2 - r3, d2 = r1 + r2 - r0
            dst = gxp[i:i + 2 * th:2, j:j + 2 * tw:2]
            first = i < 2 and j < 2                    # these four cover gxp[:2TH, :2TW] once, first
            if b is None:
                if first:
                    np.copyto(dst, a)
                else:
                    dst += a
                continue
            if first:
                (np.subtract if sign < 0 else np.add)(a, b, out=dst)
            else:
                dst += a
                if sign < 0:
                    dst -= b
                else:
                    dst += b
            dst -= c


class Winograd:
    """F(2×2, 3×3) in the (H, W, n·C) layout (module doc), a few images per chunk."""

    name = "winograd"

    @staticmethod
    def applies(g: Geometry) -> bool:
        return (len(g.w_shape) == 4 and g.w_shape[2:] == (3, 3) and g.stride == (1, 1)
                and g.dilation == (1, 1) and g.groups == 1)

    @staticmethod
    def _tiles(g: Geometry) -> tuple[int, int]:
        return -(-g.out[0] // 2), -(-g.out[1] // 2)

    @staticmethod
    def _tile_bytes(g: Geometry, itemsize: int) -> int:
        """One image's V and M: 16 values per tile per input and output channel."""
        th, tw = Winograd._tiles(g)
        return 16 * th * tw * (g.x_shape[1] + g.w_shape[0]) * itemsize

    @staticmethod
    def workspace_bytes(g: Geometry, itemsize: int) -> int:
        """V and M of one chunk's tiles (at least one image per chunk)."""
        per_image = Winograd._tile_bytes(g, itemsize)
        return max(per_image, min(CHUNK_TILE_BYTES, per_image * g.x_shape[0]))

    @staticmethod
    def _chunks(g: Geometry, itemsize: int) -> tuple[list, int]:
        return chunks(g, itemsize, CHUNK_TILE_BYTES, Winograd._tile_bytes(g, itemsize))

    @staticmethod
    def _padded(x: np.ndarray, g: Geometry) -> np.ndarray:
        """(n, C, H, W) -> (H', W', n·C), zero-padded to whole tiles: H' = 2·TH + 2."""
        th, tw = Winograd._tiles(g)
        (t, b), (l, r) = g.padding
        h, w = x.shape[2:]
        return _padded_hwm(x, ((t, 2 * th + 2 - h - t), (l, 2 * tw + 2 - w - l)))

    @staticmethod
    def kernel_transform(weight: np.ndarray, gg: np.ndarray = _GG) -> np.ndarray:
        """U = G k Gᵀ for every (output, input) channel pair: (CO, C, 3, 3) -> (16, CO, C), one
        GEMM with G⊗G in the weight's dtype."""
        co, c = weight.shape[:2]
        w9 = weight.reshape(co * c, 9)
        return np.matmul(gg.astype(weight.dtype), w9.T).reshape(16, co, c)

    @staticmethod
    def forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: Geometry) -> np.ndarray:
        n, c = x.shape[:2]
        co = weight.shape[0]
        th, tw = Winograd._tiles(g)
        oh, ow = g.out
        ut = Winograd.kernel_transform(weight).transpose(0, 2, 1)       # (16, C, CO), a view
        y = np.empty((n, co) + g.out, x.dtype)
        parts, threads = Winograd._chunks(g, x.itemsize)

        def chunk(i: int) -> None:
            n0, n1 = parts[i]
            k = n1 - n0
            p = th * tw * k
            v = np.empty((4, 4, th, tw, k * c), x.dtype)
            _input_transform(Winograd._padded(x[n0:n1], g), th, tw, v, np.empty_like(v))
            mm = np.matmul(v.reshape(16, p, c), ut)                     # M[ξν] = V[ξν] · U[ξν]
            yt = np.empty((th, 2, tw, 2, k * co), x.dtype)
            _output_transform(mm.reshape(4, 4, th, tw, k * co), yt,
                              np.empty((2, 4, th, tw, k * co), x.dtype))
            yh = yt.reshape(2 * th, 2 * tw, k * co)[:oh, :ow]
            if bias is not None:
                yh += np.tile(bias, k)
            to_channels_first(y[n0:n1].reshape(k * co, oh, ow), yh)     # (OH, OW, k·CO) -> NCHW

        run_parallel(chunk, len(parts), threads)
        return y

    @staticmethod
    def backward(grad_output: np.ndarray, x: np.ndarray | None, weight: np.ndarray | None,
                 g: Geometry, need_x: bool, need_w: bool) -> tuple:
        """(grad_input or None, grad_weight or None); dM shared by both, per chunk."""
        n, c, h, w = g.x_shape
        co = g.w_shape[0]
        th, tw = Winograd._tiles(g)
        oh, ow = g.out
        (t, _), (l, _) = g.padding
        dtype = grad_output.dtype
        if need_x:
            u = Winograd.kernel_transform(weight)                        # (16, CO, C)
            gx = np.empty(g.x_shape, dtype)
        parts, threads = Winograd._chunks(g, grad_output.itemsize)

        def part(n0: int, n1: int) -> np.ndarray | None:
            k = n1 - n0
            p = th * tw * k
            gy = np.empty((2 * th, 2 * tw, k * co), dtype)
            gy[oh:], gy[:, ow:] = 0, 0                                   # the partial tiles' outside
            to_channels_last(gy[:oh, :ow], grad_output[n0:n1].reshape(k * co, oh, ow))
            dm = _output_adjoint(gy.reshape(th, 2, tw, 2, k * co), np.empty((4, 4, th, tw, k * co), dtype),
                                 np.empty((2, 2, th, tw, k * co), dtype)).reshape(16, p, co)
            if need_x:
                dv = np.matmul(dm, u).reshape(4, 4, th, tw, k * c)       # dV' = dM' · U[ξν]ᵀ
                gxp = np.empty((2 * th + 2, 2 * tw + 2, k * c), dtype)
                _scatter_input_adjoint(dv, gxp, th, tw, np.empty((2, 4, th, tw, k * c), dtype))
                to_channels_first(gx[n0:n1].reshape(k * c, h, w), gxp[t:t + h, l:l + w])
            if not need_w:
                return None
            v = np.empty((4, 4, th, tw, k * c), dtype)
            _input_transform(Winograd._padded(x[n0:n1], g), th, tw, v, np.empty_like(v))
            return np.matmul(v.reshape(16, p, c).transpose(0, 2, 1), dm)  # dU' (16, C, CO)

        grad_w = None
        if need_w:
            du = summed_in_groups(part, parts, threads)                 # (16, C, CO)
            # grad_weight[o, c, :] = Σ_ξν (G⊗G)[ξν, :] s[ξ]s[ν] dU'[ξν, c, o]
            gw = np.matmul(du.reshape(16, c * co).T, _GG_SIGNED.astype(dtype))   # (C·CO, 9)
            grad_w = np.ascontiguousarray(gw.reshape(c, co, 9).transpose(1, 0, 2)).reshape(g.w_shape)
        else:
            run_parallel(lambda i: part(*parts[i]), len(parts), threads)
        return (gx if need_x else None), grad_w

