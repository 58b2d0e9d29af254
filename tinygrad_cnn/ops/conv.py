"""Convolution as im2col + one matrix product, for 1-D, 2-D and 3-D alike; unfold and fold.

Names, defined here once and used verbatim below (2-D shown; 1-D drops H, 3-D adds a leading
depth D with KD, SD, PD, DD, OD):

    N        batch size                  C, CO    input / output channels, G groups
    H, W     input height and width      KH, KW   kernel height and width
    SH, SW   stride                      PH, PW   zero padding (lo, hi) per side
    DH, DW   dilation                    OH, OW   output height and width
    OH = floor((H + PH_lo + PH_hi - DH*(KH-1) - 1) / SH) + 1        (PH_lo = PH_hi = PH usually)
    K = C*KH*KW (a column's length),  L = OH*OW (columns per image),  Kg = K/G, COg = CO/G

im2col (seed 001 §2.1.7, seed 000 "批处理数据的卷积层矩阵乘法", seed 003 §8.1.6 figure 8-17)
puts the window of every output position in one column of a (K, N*L) matrix:

    col[(c, kh, kw), (n, oh, ow)] = xpad[n, c, oh*SH + kh*DH, ow*SW + kw*DW]

so that, with W2 = weight viewed as (CO, K), the convolution is a matrix product:

    Y2 = W2 @ col + bias                                 (CO, K) @ (K, N*L) -> (CO, N*L)

Backward, with G = grad_output viewed as (CO, N*L) in the same column order:

    grad_weight = G colᵀ                 grad_bias = Σ_{n, oh, ow} grad_output
    grad_input  = col2im(W2ᵀ G)          col2im adds each column entry back where im2col took it

col2im(W2ᵀ G) is the "full" correlation of the stride-dilated grad_output with the kernel
rotated by 180° (seed 004, 卷积层(反向传播): k_180 = k[::-1, ::-1] on the zero-padded delta);
`grad_input_by_rotated_kernel` computes it that way and tests/test_conv.py checks they agree.

How it runs (docs/derivations.md, "How it is fast"; benchmarks/bench_ops.py measures it):
  steps     The batch is processed a few images at a time ("steps", _Plan): a step's columns
            (about COLUMN_CHUNK_BYTES) are still in cache when its GEMMs and col2im read them.
            Steps are the unit of the workspace limit too (ops/workspace.py): when all columns
            would exceed it, they are not kept but rebuilt in backward, step by step.
  threads   The threads take the steps one after the other (ops/parallel.py), each doing
            its step's copies and single-threaded GEMMs; backward hands out fixed groups of
            steps so grad_weight's partial sums are the same whatever the thread count.
  layouts   batch-major: column index (n, oh, ow), every copy runs along rows of OW elements;
            batch-last: for small output maps (L <= BATCH_LAST_MAX_POSITIONS, LeNet's second
            conv, 8×8) the input is first moved to (C, H, W, N) and the column index is
            (oh, ow, n), so every im2col/col2im copy runs along OW*N contiguous elements.
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from .generic import is_graph
from ..errors import ArgumentError, ShapeError, WorkspaceError
from . import conv_algorithms, conv_tuning
from .conv_geometry import to_channels_first, to_channels_last
from .parallel import Scratch, get_num_threads, partition, run_parallel
from .workspace import get_workspace_limit, strided_ufuncs

__all__ = ["ConvNd", "ConvTransposeNd", "Unfold", "Fold", "im2col", "col2im", "conv_output_size",
           "conv_transpose_output_size", "normalize_tuple", "conv_padding",
           "grad_input_by_rotated_kernel", "conv_forward"]

# Output maps with at most this many positions (OH*OW) use the batch-last layout.
BATCH_LAST_MAX_POSITIONS = 144
# The GEMMs run over this many bytes of columns at a time (whole images), so the columns are
# still in the L2 cache when the GEMMs (and col2im) read them.
COLUMN_CHUNK_BYTES = 512 << 10
# Columns up to this size (all steps) are kept from forward to backward; bigger ones are rebuilt
# there step by step, in cache, which is cheaper than writing them to RAM and reading them back.
KEEP_COLUMNS_MAX_BYTES = 8 << 20
# Convs whose GEMMs (each) take fewer floating-point operations run in the calling thread:
# handing steps to another thread costs more than it saves.
MIN_PARALLEL_FLOPS = 50_000_000
# Batch-last convs split their batch in this many steps (at most): one per thread on 2 cores;
# more would cost col2im calls (KH*KW each) in every step.
BATCH_LAST_SPLITS = 2
# grad_weight with fewer entries (COg*Kg) than this is summed transposed (see ConvNd.backward).
TRANSPOSED_WEIGHT_GRAD_MAX = 256 * 2304
# grad_weight is summed per group of consecutive steps, then over the groups in order: the
# same sums whatever the number of threads, so results do not depend on it.
WEIGHT_GRAD_GROUPS = 8

_DIM_NAMES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _move(a: np.ndarray, source: int, destination: int) -> np.ndarray:
    """np.moveaxis for one axis, without its argument normalisation (a hot path)."""
    order = list(range(a.ndim))
    order.insert(destination % a.ndim, order.pop(source % a.ndim))
    return a.transpose(order)


def _last(a: np.ndarray, source: int) -> np.ndarray:
    return _move(a, source, -1)


# ------------------------------------------------------------------------ argument parsing
# kernel sizes, strides, paddings, dilations and output sizes above this are typos, not layers
MAX_WINDOW_ARG = 2 ** 31 - 1


def normalize_tuple(value: Any, n: int, name: str, op: str, minimum: int = 1) -> tuple[int, ...]:
    """An int or a length-n sequence of ints (each >= minimum) as an n-tuple."""
    if type(value) is int and minimum <= value <= MAX_WINDOW_ARG:    # the common forms, checked
        return (value,) * n                                            # cheaply (a hot path)
    if type(value) is tuple and len(value) == n:
        for v in value:
            if type(v) is not int or not minimum <= v <= MAX_WINDOW_ARG:
                break
        else:
            return value
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) == 1 and n > 1:
        items = items * n
    if len(items) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  for v in items):
        raise ArgumentError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    items = tuple(int(v) for v in items)
    if any(v < minimum for v in items):
        raise ArgumentError(f"{op}: {name} must be >= {minimum} in every dim, got {value!r}")
    if any(v > MAX_WINDOW_ARG for v in items):       # 2**63 would overflow NumPy's index arithmetic
        raise ArgumentError(f"{op}: {name} must be <= {MAX_WINDOW_ARG} in every dim, got {value!r}")
    return items


def conv_padding(padding: Any, kernel: Sequence[int], stride: Sequence[int],
                 dilation: Sequence[int], op: str) -> tuple[tuple[int, int], ...]:
    """int | tuple | 'same' | 'valid' -> ((lo, hi), ...) per spatial dim.

    'same' pads DH*(KH-1) in total, the odd element at the end (as PyTorch), and needs stride 1.
    """
    d = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ArgumentError(f"{op}: padding='same' is not supported for strided "
                                    f"convolutions (stride={tuple(stride)}); use an explicit "
                                    f"padding or stride=1")
            totals = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ArgumentError(f"{op}: padding must be an int, a tuple of ints, 'same' or 'valid', "
                            f"got {padding!r}")
    pads = normalize_tuple(padding, d, "padding", op, minimum=0)
    return tuple((p, p) for p in pads)


def conv_output_size(op: str, size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                     pad: Sequence[tuple[int, int]], dilation: Sequence[int],
                     shapes: str = "") -> tuple[int, ...]:
    """floor((H + PH_lo + PH_hi - DH*(KH-1) - 1) / SH) + 1 per dim; below 1 is a ShapeError
    naming every argument of the formula. Cached: a conv call asks up to four times."""
    return _output_size(op, tuple(size), tuple(kernel), tuple(stride),
                        tuple(tuple(p) for p in pad), tuple(dilation), shapes)


@functools.lru_cache(maxsize=1024)
def _output_size(op: str, size: tuple, kernel: tuple, stride: tuple, pad: tuple,
                 dilation: tuple, shapes: str) -> tuple[int, ...]:
    names = _DIM_NAMES.get(len(size), tuple(f"S{i}" for i in range(len(size))))
    out = []
    for nm, h, k, s, (lo, hi), dl in zip(names, size, kernel, stride, pad, dilation):
        o = (h + lo + hi - dl * (k - 1) - 1) // s + 1
        if o < 1:
            p = f"P{nm}={lo}" if lo == hi else f"P{nm}=({lo}, {hi})"
            raise ShapeError(
                f"{op}: the output would have {nm} size {o} < 1: input {nm}={h}, kernel K{nm}={k}, "
                f"stride S{nm}={s}, padding {p}, dilation D{nm}={dl} give "
                f"floor(({nm} + 2P{nm} - D{nm}*(K{nm}-1) - 1) / S{nm}) + 1 = {o}. The input is "
                f"too small for the (dilated) kernel{shapes}")
        out.append(o)
    return tuple(out)


# ------------------------------------------------------------------------------ im2col core
def _padded(x: np.ndarray, pad: Sequence[tuple[int, int]], batch_last: bool) -> np.ndarray:
    """Zero-padded copy: (N, C, H, W) -> (N, C, H+PH_lo+PH_hi, W+...), or, batch_last,
    -> (C, H+.., W+.., N). Without padding the batch-major case returns x itself."""
    spatial = x.shape[2:]
    inner = tuple(slice(lo, lo + h) for h, (lo, _) in zip(spatial, pad))
    padded = tuple(h + lo + hi for h, (lo, hi) in zip(spatial, pad))
    if batch_last:
        xp = np.zeros((x.shape[1], *padded, x.shape[0]), x.dtype)
        to_channels_last(xp[(slice(None),) + inner], x)   # (N, C, H, W) -> (C, H, W, N)
        return xp
    if not any(lo or hi for lo, hi in pad):
        return x
    xp = np.zeros(x.shape[:2] + padded, x.dtype)
    xp[(slice(None), slice(None)) + inner] = x
    return xp


def _windows(xp: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
             dilation: Sequence[int], out: Sequence[int], batch_last: bool) -> np.ndarray:
    """Read-only strided view of every window, no copy:
    (N, C, H', W') -> (N, C, KH, KW, OH, OW), or batch_last (C, H', W', N) -> (C, KH, KW, OH, OW, N)."""
    if batch_last:
        sc, *sp, sn = xp.strides
        shape = (xp.shape[0], *kernel, *out, xp.shape[-1])
        strides = (sc, *(a * dl for a, dl in zip(sp, dilation)), *(a * s for a, s in zip(sp, stride)), sn)
    else:
        sn, sc, *sp = xp.strides
        shape = (xp.shape[0], xp.shape[1], *kernel, *out)
        strides = (sn, sc, *(a * dl for a, dl in zip(sp, dilation)), *(a * s for a, s in zip(sp, stride)))
    return as_strided(xp, shape, strides, writeable=False)


def im2col(x: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
           pad: Sequence[tuple[int, int]], dilation: Sequence[int], out: Sequence[int],
           buffer: np.ndarray | None = None) -> np.ndarray:
    """x (N, C, H, W) -> columns (N, C*KH*KW, OH*OW), batch-major (what F.unfold returns)."""
    view = _windows(_padded(x, pad, False), kernel, stride, dilation, out, False)
    col = np.empty(view.shape, x.dtype) if buffer is None else buffer.reshape(view.shape)
    np.copyto(col, view)
    n, c = x.shape[:2]
    return col.reshape(n, c * math.prod(kernel), math.prod(out))   # (N, C, KH, KW, OH, OW) -> (N, K, L)


def _col2im_into(dx: np.ndarray, gcol: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
                 pad: Sequence[tuple[int, int]], dilation: Sequence[int], layout: str) -> None:
    """dx += col2im(gcol). Layouts (gcol -> dx):
        "nc"  (N, C, KH, KW, OH, OW) -> (N, C, H, W)     F.fold / unfold's backward
        "cn"  (C, KH, KW, N, OH, OW) -> (N, C, H, W)     conv, batch-major columns
        "bl"  (C, KH, KW, OH, OW, N) -> (C, H, W, N)     conv, batch-last columns

    One strided slice-add per kernel offset (kh, kw), vectorised over N, C, OH, OW. Padding is
    never materialised: each offset's output range is clipped to the rows/columns that fall
    inside the unpadded input.
    """
    if layout == "bl":                              # rows of OW*N: a smaller ufunc buffer is 2x faster
        with strided_ufuncs():
            _col2im_offsets(dx, gcol, kernel, stride, pad, dilation, layout)
    else:
        _col2im_offsets(dx, gcol, kernel, stride, pad, dilation, layout)


def _col2im_offsets(dx: np.ndarray, gcol: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
                    pad: Sequence[tuple[int, int]], dilation: Sequence[int], layout: str) -> None:
    d = len(kernel)
    spatial = dx.shape[1:1 + d] if layout == "bl" else dx.shape[2:]
    out = gcol.shape[-d:] if layout != "bl" else gcol.shape[1 + d:1 + 2 * d]
    every = (slice(None),)
    for offset, src, dst in _offset_slices(tuple(kernel), tuple(stride), tuple(pad), tuple(dilation),
                                           tuple(spatial), tuple(out)):
        if layout == "nc":
            dx[every + every + dst] += gcol[every + every + offset + src]
        elif layout == "cn":                        # (C, N, OH', OW') added into (N, C, OH', OW')
            dx[every + every + dst] += gcol[every + offset + every + src].swapaxes(0, 1)
        else:
            dx[every + dst + every] += gcol[every + offset + src + every]


@functools.lru_cache(maxsize=256)
def _offset_slices(kernel: tuple, stride: tuple, pad: tuple, dilation: tuple, spatial: tuple,
                   out: tuple) -> list:
    """For every kernel offset whose window elements fall inside the input: (offset, the output
    rows/columns that land inside, the input rows/columns they land on)."""
    result = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        src, dst = [], []
        for k, h, o, s, (lo, _), dl in zip(offset, spatial, out, stride, pad, dilation):
            base = k * dl - lo                      # input row of output row 0 at this offset
            o0 = max(0, -(base // s))               # first output row landing inside the input
            o1 = min(o, (h - 1 - base) // s + 1)    # one past the last
            if o1 <= o0:
                break
            src.append(slice(o0, o1))
            dst.append(slice(base + o0 * s, base + (o1 - 1) * s + 1, s))
        else:
            result.append((offset, tuple(src), tuple(dst)))
    return result


def col2im(gcol: np.ndarray, x_shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
           pad: Sequence[tuple[int, int]], dilation: Sequence[int], out: Sequence[int]) -> np.ndarray:
    """columns (N, C*KH*KW, OH*OW) -> (N, C, H, W), adding overlapping entries (F.fold)."""
    n, c = x_shape[:2]
    dx = np.zeros(tuple(x_shape), gcol.dtype)
    _col2im_into(dx, gcol.reshape(n, c, *kernel, *out),   # (N, K, L) -> (N, C, KH, KW, OH, OW)
                 kernel, stride, pad, dilation, "nc")
    return dx


# ---------------------------------------------------------------------------- convolution
class _Plan:
    """How one conv call lays out, chunks and spreads its columns (see the module docstring).

    batch_last    column index (oh, ow, n), else (n, oh, ow) (batch-major)
    steps         (n0, n1) image ranges, one GEMM each. Batch-major: small enough that a step's
                  columns stay in the L2 cache while the GEMMs read them (COLUMN_CHUNK_BYTES)
                  and within the workspace limit. Batch-last: BATCH_LAST_SPLITS steps.
    keep_columns  keep every step's columns for grad_weight (up to KEEP_COLUMNS_MAX_BYTES in
                  all), else rebuild them in backward, step by step
    threads       how many threads share the steps (1 below MIN_PARALLEL_FLOPS)
    """

    __slots__ = ("batch_last", "steps", "keep_columns", "threads", "kernel", "stride", "pad",
                 "dilation", "out")

    def __init__(self, x_shape: tuple, itemsize: int, co: int, kernel: tuple, stride: tuple,
                 pad: tuple, dilation: tuple, out: tuple, weight_needs_grad: bool):
        n, c = x_shape[:2]
        self.kernel, self.stride, self.pad, self.dilation, self.out = kernel, stride, pad, dilation, out
        k, positions = c * math.prod(kernel), math.prod(out)
        col_bytes = k * positions * itemsize               # one image's columns
        limit = get_workspace_limit()
        fits = limit is None or n * col_bytes <= limit
        self.batch_last = fits and n > 1 and positions <= BATCH_LAST_MAX_POSITIONS
        flops = 2 * n * co * k * positions                 # one of the conv's three GEMMs
        parallel = flops >= MIN_PARALLEL_FLOPS
        if self.batch_last:
            # as many steps whatever the threads (same results); one when serial anyway, as
            # splitting the batch would cut col2im's contiguous rows from OW*N to OW*N/2
            step = -(-n // BATCH_LAST_SPLITS) if parallel else n
        else:
            step = max(1, COLUMN_CHUNK_BYTES // col_bytes)
            if not fits:                                   # every thread holds one step's columns
                step = min(step, max(1, limit // (col_bytes * get_num_threads())))
        step = min(n, step)
        self.steps = [(n0, min(n, n0 + step)) for n0 in range(0, n, step)]
        self.keep_columns = weight_needs_grad and fits and n * col_bytes <= KEEP_COLUMNS_MAX_BYTES
        self.threads = get_num_threads() if parallel else 1
        if not fits:                                       # no more threads than steps' columns fit
            self.threads = max(1, min(self.threads, limit // max(1, step * col_bytes)))

    def columns(self, x: np.ndarray, scratch: Scratch, buffer: np.ndarray | None) -> np.ndarray:
        """The columns (K, m) of the images x (n, C, H, W): column index (n, oh, ow), or (oh, ow, n)
        when batch_last. One strided view, one copy."""
        kernel, stride, dilation, out = self.kernel, self.stride, self.dilation, self.out
        if self.batch_last:
            view = _windows(_padded(x, self.pad, True), kernel, stride, dilation, out, True)   # (C, KH, KW, OH, OW, n)
        else:
            view = _windows(self._padded_images(x, scratch), kernel, stride, dilation, out, False)  # (n, C, KH, KW, OH, OW)
            view = _move(view, 0, 1 + len(kernel))                                   # -> (C, KH, KW, n, OH, OW)
        col = np.empty(view.shape, x.dtype) if buffer is None else buffer[:view.size].reshape(view.shape)
        np.copyto(col, view)
        return col.reshape(x.shape[1] * math.prod(kernel), -1)                       # -> (K, m)

    def _padded_images(self, x: np.ndarray, scratch: Scratch) -> np.ndarray:
        """Batch-major: x (n, C, H, W) zero-padded -> (n, C, H', W') (x itself without padding),
        in a per-thread buffer whose border is zeroed once: steps only write the inside."""
        if not any(lo or hi for lo, hi in self.pad):
            return x
        n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
        padded = tuple(h + lo + hi for h, (lo, hi) in zip(spatial, self.pad))
        xp = scratch.get("padded", n * c * math.prod(padded), x.dtype, zero=True).reshape((n, c) + padded)
        xp[(slice(None), slice(None)) + tuple(slice(lo, lo + h) for h, (lo, _) in zip(spatial, self.pad))] = x
        return xp

    def to_output(self, y2: np.ndarray, bias: np.ndarray | None, dest: np.ndarray) -> None:
        """dest (n, CO, OH, OW) = the GEMM result (CO, m) reordered (+ bias): batch-major in one
        strided pass; batch-last a 2-D transpose (OpenBLAS's, several times faster than NumPy's
        strided copy), then the bias."""
        n, co = dest.shape[:2]
        if self.batch_last:                                       # (CO, OH, OW, n) -> (n, CO, OH, OW)
            to_channels_first(dest, y2.reshape(co, *self.out, n))
            if bias is not None:
                dest += bias.reshape((1, co) + (1,) * len(self.out))
            return
        src = y2.reshape(co, n, *self.out).swapaxes(0, 1)         # (CO, n, OH, OW) -> (n, CO, OH, OW)
        if bias is None:
            np.copyto(dest, src)
        else:
            with strided_ufuncs():
                np.add(src, bias.reshape((1, co) + (1,) * len(self.out)), out=dest)

    def gather(self, grad_output: np.ndarray, scratch: Scratch) -> np.ndarray:
        """grad_output (n, CO, OH, OW) -> G (CO, m), in the columns' order."""
        n, co = grad_output.shape[:2]
        if n == 1 and not self.batch_last:
            return grad_output.reshape(co, -1)                    # (1, CO, OH, OW): already (CO, m)
        if self.batch_last:                                       # (n, CO, OH, OW) -> (CO, OH, OW, n)
            dense = scratch.get("g", grad_output.size, grad_output.dtype).reshape(grad_output.shape[1:] + (n,))
            to_channels_last(dense, grad_output)
            return dense.reshape(co, -1)
        else:
            g = grad_output.swapaxes(0, 1)                        # (n, CO, OH, OW) -> (CO, n, OH, OW)
        dense = scratch.get("g", g.size, g.dtype).reshape(g.shape)
        np.copyto(dense, g)
        return dense.reshape(co, -1)

    def rotated_padding(self, x_shape: tuple) -> tuple | None:
        """The padding that makes grad_input a stride-1 conv of grad_output with the rotated
        kernel (seed 004) no bigger than col2im's GEMM, or None (col2im then).

        With stride 1, grad_input[h] = Σ_k w[k] grad_output[h + P_lo - k*D]: the correlation of
        grad_output, zero-padded by D*(K-1) - P_lo before and D*(K-1) - P_hi after, with the
        kernel reversed. Its GEMM has H*W columns per image where col2im's has OH*OW: the same
        for 'same'-padded convs, bigger for others (LeNet's: 144 vs 64), which keep col2im. Maps
        no bigger than the kernel (ResNet-50's last 2×2) keep col2im too: there the rotated conv's
        columns are mostly padding, and its reordered kernel copy costs more than col2im's adds."""
        if any(s != 1 for s in self.stride) or math.prod(self.out) <= math.prod(self.kernel):
            return None
        reach = [dl * (k - 1) for k, dl in zip(self.kernel, self.dilation)]
        pads = tuple((r - lo, r - hi) for r, (lo, hi) in zip(reach, self.pad))
        if any(lo < 0 or hi < 0 for lo, hi in pads) or math.prod(x_shape[2:]) > math.prod(self.out):
            return None
        return pads


def conv_forward(ctx: Any, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                 stride: tuple, padding: tuple, dilation: tuple, groups: int) -> np.ndarray:
    """The conv forward on arrays (ConvNd.forward; also its backward's grad_input when that is a
    conv with the rotated kernel, and grad_input_by_rotated_kernel). A conv whose one image's
    columns exceed the workspace limit runs in bands of output rows (_banded_forward)."""
    bands = _row_bands(x.shape, weight.shape, stride, padding, dilation, x.itemsize)
    if bands is not None:
        return _banded_forward(ctx, x, weight, bias, stride, padding, dilation, groups, bands)
    return _im2col_forward(ctx, x, weight, bias, stride, padding, dilation, groups)


# --------------------------------------------------------------- bands of output rows
def _rows_per_band(row_bytes: int, limit: int, x_shape: tuple, w_shape: tuple, out: tuple,
                   itemsize: int) -> int:
    """How many output rows' columns fit the limit; WorkspaceError when not even one does."""
    if row_bytes > limit:
        raise WorkspaceError(
            f"conv: one output row's im2col columns need {row_bytes:,} bytes (C*KH*KW = "
            f"{x_shape[1] * math.prod(w_shape[2:]):,} values for each of the {math.prod(out[1:]):,} "
            f"positions of a row, {itemsize} bytes each; input {tuple(x_shape)}, weight "
            f"{tuple(w_shape)}, output rows of {tuple(out[1:])}), more than the workspace limit of "
            f"{limit:,} bytes; raise it with tc.set_workspace_limit(nbytes) (or None for no limit)")
    return limit // row_bytes


def _row_bands(x_shape: tuple, w_shape: tuple, stride: tuple, padding: tuple, dilation: tuple,
               itemsize: int) -> list[tuple[int, int]] | None:
    """None when one image's columns fit the workspace limit (the batch is then chunked by
    images, _Plan); else the (o0, o1) ranges of output rows (first spatial dim) whose columns
    fit it."""
    limit = get_workspace_limit()
    if limit is None or x_shape[0] == 0:
        return None
    kernel = tuple(w_shape[2:])
    out = conv_output_size("conv", x_shape[2:], kernel, stride, padding, dilation)
    row_bytes = x_shape[1] * math.prod(kernel) * math.prod(out[1:]) * itemsize
    if row_bytes * out[0] <= limit:
        return None
    rows = _rows_per_band(row_bytes, limit, tuple(x_shape), tuple(w_shape), out, itemsize)
    return [(o0, min(out[0], o0 + rows)) for o0 in range(0, out[0], rows)]


def _band_input(h: int, band: tuple[int, int], kernel: int, stride: int,
                pad: tuple[int, int], dilation: int) -> tuple[slice, tuple[int, int]]:
    """The input rows (first spatial dim) that output rows o0..o1-1 read, and the padding that
    makes a conv of just those rows produce exactly those output rows.

    Output row o reads padded rows o*S .. o*S + D*(K-1), i.e. input rows r = o*S - P_lo + j.
    The band reads r0 = o0*S - P_lo up to r1 = (o1-1)*S - P_lo + D*(K-1) + 1 (exclusive); the
    part outside [0, H) becomes the band's own zero padding."""
    r0 = band[0] * stride - pad[0]
    r1 = (band[1] - 1) * stride - pad[0] + dilation * (kernel - 1) + 1
    a, b = min(max(0, r0), h), max(0, min(h, r1))
    if b <= a:                                       # the band sees only padding
        return slice(0, 0), (0, r1 - r0)
    return slice(a, b), (a - r0, r1 - b)


def _banded_forward(ctx: Any, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                    stride: tuple, padding: tuple, dilation: tuple, groups: int,
                    bands: list) -> np.ndarray:
    """The conv one image and one band of output rows at a time, each band a conv of the input
    rows it reads (_band_input): never more than a band's columns at once. Serial: the limit
    is what is scarce here, not cores."""
    kernel = tuple(weight.shape[2:])
    out = conv_output_size("conv", x.shape[2:], kernel, stride, padding, dilation)
    y = np.empty((x.shape[0], weight.shape[0]) + out, x.dtype)
    for n in range(x.shape[0]):
        for band in bands:
            rows, pad0 = _band_input(x.shape[2], band, kernel[0], stride[0], padding[0], dilation[0])
            y[n:n + 1, :, band[0]:band[1]] = _im2col_forward(
                None, x[n:n + 1, :, rows], weight, bias, stride, (pad0,) + tuple(padding[1:]),
                dilation, groups)
    if ctx is not None:
        needs = tuple(getattr(ctx, "needs_input_grad", ())) + (False,) * 3
        ctx.bands, ctx.x_shape = bands, x.shape
        ctx.save_for_backward(x if needs[1] else None, weight, None)   # weight: also its shape
    return y


def _banded_backward(ctx: Any, grad_output: np.ndarray) -> tuple:
    """ConvNd.backward band by band: each band's gradients from the backward of its own conv
    (columns rebuilt from its input rows), grad_input rows added where the bands overlap."""
    x, weight, _ = ctx.saved_tensors
    need_x, need_w, need_b = (ctx.needs_input_grad + (False, False))[:3]
    kw, x_shape = ctx.kwargs, ctx.x_shape
    stride, padding, dilation, groups = kw["stride"], kw["padding"], kw["dilation"], kw["groups"]
    kernel = tuple(weight.shape[2:])
    grad_x = np.zeros(x_shape, grad_output.dtype) if need_x else None
    grad_w = np.zeros(weight.shape, grad_output.dtype) if need_w else None
    grad_b = grad_output.sum(axis=(0,) + tuple(range(2, grad_output.ndim))) if need_b else None
    if not (need_x or need_w):
        return None, None, grad_b
    for n in range(x_shape[0]):
        for band in ctx.bands:
            rows, pad0 = _band_input(x_shape[2], band, kernel[0], stride[0], padding[0], dilation[0])
            sub_shape = (1, x_shape[1], rows.stop - rows.start) + tuple(x_shape[3:])
            pads = (pad0,) + tuple(padding[1:])
            out = conv_output_size("conv", sub_shape[2:], kernel, stride, pads, dilation)
            sub = _ConvContext((need_x, need_w, False), groups)
            sub.plan = _Plan(sub_shape, grad_output.itemsize, weight.shape[0], kernel, tuple(stride),
                             pads, tuple(dilation), out, False)
            sub.x_shape = sub_shape
            sub.save_for_backward(x[n:n + 1, :, rows] if need_w else None, weight, None)
            gx, gw, _ = ConvNd.backward(sub, np.ascontiguousarray(grad_output[n:n + 1, :, band[0]:band[1]]))
            if need_x:
                grad_x[n:n + 1, :, rows] += gx
            if need_w:
                grad_w += gw
    return grad_x, grad_w, grad_b


def _im2col_forward(ctx: Any, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                    stride: tuple, padding: tuple, dilation: tuple, groups: int) -> np.ndarray:
    """The im2col conv (the module docstring): chunks of whole images, threads, kept columns."""
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    co, kernel = weight.shape[0], tuple(weight.shape[2:])
    out = conv_output_size("conv", spatial, kernel, stride, padding, dilation)
    k, positions = c * math.prod(kernel), math.prod(out)
    g_, cog, kg = groups, co // groups, k // groups
    w3 = weight.reshape(g_, cog, kg)                       # (CO, C/G, KH, KW) -> (G, COg, Kg)
    needs = tuple(getattr(ctx, "needs_input_grad", ())) + (False,) * 3
    plan = _Plan(tuple(x.shape), x.itemsize, co, kernel, tuple(stride), tuple(padding),
                 tuple(dilation), out, needs[1])
    y = np.empty((n, co) + out, x.dtype)
    kept: list = [None] * len(plan.steps)
    most = max(n1 - n0 for n0, n1 in plan.steps)
    scratch = Scratch()                                    # per-thread buffers, reused step to step

    def step(i: int) -> None:
        n0, n1 = plan.steps[i]
        m = (n1 - n0) * positions
        buf = None if plan.keep_columns else scratch.get("cols", most * k * positions, x.dtype)
        cols = plan.columns(x[n0:n1], scratch, buf).reshape(g_, kg, m)      # (K, m) -> (G, Kg, m)
        if n1 - n0 == 1 and not plan.batch_last:           # one image: the GEMM lands in NCHW as is
            np.matmul(w3, cols, out=y[n0].reshape(g_, cog, m))
            if bias is not None:
                y[n0] += bias.reshape((co,) + (1,) * len(out))
        else:
            y2 = np.matmul(w3, cols, out=scratch.get("y", co * m, x.dtype).reshape(g_, cog, m))
            plan.to_output(y2.reshape(co, m), bias, y[n0:n1])
        if plan.keep_columns:
            kept[i] = cols

    run_parallel(step, len(plan.steps), plan.threads)
    if ctx is not None:
        ctx.plan, ctx.x_shape = plan, x.shape
        ctx.save_for_backward(x if needs[1] and not plan.keep_columns else None,
                              weight if needs[0] else None, kept if plan.keep_columns else None)
    return y


def _grad_input_by_conv(grad_output: np.ndarray, weight: np.ndarray, pads: tuple,
                        dilation: tuple, groups: int) -> np.ndarray:
    """Stride 1: grad_input = grad_output (N, CO, OH, OW), padded by `pads`, correlated with the
    kernel rotated by 180° and with its in/out channels swapped per group (seed 004)."""
    d = len(pads)
    co, cg, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    wt = weight.reshape(groups, co // groups, cg, *kernel).swapaxes(1, 2)   # -> (G, C/G, CO/G, KH, KW)
    wt = np.ascontiguousarray(wt.reshape(groups * cg, co // groups, *kernel)  # -> (C, CO/G, KH, KW)
                              [(slice(None), slice(None)) + (slice(None, None, -1),) * d])
    return conv_forward(None, grad_output, wt, None, (1,) * d, pads, dilation, groups)


class ConvNd(Function):
    """y = x ⋆ W + b: N-d cross-correlation (conv1d/2d/3d), stride, padding, dilation, groups.

    Forward  Y2 = W2 @ col + b                              (im2col; seeds 000, 001 §2.1.7, 003 §8.1.6)
    Backward grad_weight = G · colᵀ                         (seed 003 §8.1.5, ∂L/∂w_ij element by element)
             grad_bias   = Σ_{n,oh,ow} grad_output          (seed 004, b_gradient = Σ delta)
             grad_input  = col2im(W2ᵀ · G)                  (seed 003 §8.1.5 ∂L/∂X_ij; equals the full
                           correlation of the stride-dilated grad_output with the 180°-rotated
                           kernel, seed 004, which is how it is computed for stride-1 'same' convs)
    with col the (K, N*L) column matrix and G the grad_output as (CO, N*L), both processed a
    few images at a time. grad_input is skipped when the input needs no gradient (the first
    layer); the columns are not kept when the weight needs no gradient.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, stride, padding, dilation, groups):
        if x.shape[0] == 0:               # an empty batch (PyTorch allows it): nothing to plan or chunk
            ctx.empty_shapes = (x.shape, weight.shape)
            out = conv_output_size("conv", x.shape[2:], weight.shape[2:], stride, padding, dilation)
            return np.zeros((0, weight.shape[0]) + out, x.dtype)
        out = conv_output_size("conv", x.shape[2:], weight.shape[2:], stride, padding, dilation)
        g = conv_algorithms.geometry(x.shape, weight.shape, stride, padding, dilation, groups, out)
        algo = None if g is None else _algorithm_for(g, x, weight, bias, ctx.needs_input_grad)
        return _conv_by(algo, g, ctx, x, weight, bias)

    @staticmethod
    def backward(ctx, grad_output):
        if "empty_shapes" in ctx.__dict__:  # empty batch: zero gradients, bias included
            (x_shape, w_shape), need = ctx.empty_shapes, ctx.needs_input_grad + (False, False)
            return tuple(np.zeros(shape, grad_output.dtype) if need[i] else None
                         for i, shape in enumerate((x_shape, w_shape, w_shape[:1])))
        if is_graph(grad_output):         # create_graph: the same products, as differentiable ops
            ctx.saved_tensors             # (the in-place check)
            return conv_backward_graph(ctx.inputs[0], ctx.inputs[1], grad_output, ctx.needs_input_grad,
                                       **ctx.kwargs)
        if "algorithm" in ctx.__dict__:
            return _algorithm_backward(ctx, grad_output)
        if "bands" in ctx.__dict__:       # one image's columns exceed the workspace limit
            return _banded_backward(ctx, grad_output)
        x, weight, kept = ctx.saved_tensors
        need_x, need_w, need_b = (ctx.needs_input_grad + (False, False))[:3]
        plan, g_, x_shape = ctx.plan, ctx.kwargs["groups"], ctx.x_shape
        n, c, co = x_shape[0], x_shape[1], grad_output.shape[1]
        k, positions = c * math.prod(plan.kernel), math.prod(plan.out)
        cog, kg = co // g_, k // g_
        dtype = grad_output.dtype
        grad_output = np.ascontiguousarray(grad_output)
        grad_x = grad_w = grad_b = None
        if need_b:
            grad_b = grad_output.reshape(n, co, positions).sum(axis=0).sum(axis=1)
        pads = plan.rotated_padding(x_shape) if need_x else None
        if pads is not None:
            try:
                grad_x = _grad_input_by_conv(grad_output, weight, pads, plan.dilation, g_)
            except WorkspaceError:        # its rows (CO*KH*KW per position) do not fit: col2im's do
                pads = None
        col2im = need_x and pads is None
        if not (need_w or col2im):
            return grad_x, None, grad_b
        if col2im:                        # a transposed view: BLAS reads it as such, no copy
            w3t = weight.reshape(g_, cog, kg).swapaxes(1, 2)                    # -> (G, Kg, COg)
            dx = np.zeros((c,) + x_shape[2:] + (n,) if plan.batch_last else x_shape, dtype)   # batch-last: (C, H, W, N)

        groups = partition(len(plan.steps), WEIGHT_GRAD_GROUPS)
        most = max(n1 - n0 for n0, n1 in plan.steps)
        scratch = Scratch()                               # per-thread buffers, reused group to group

        # grad_weight (G, COg, Kg) = G·colᵀ; small ones as (G·colᵀ)ᵀ = col·Gᵀ, which OpenBLAS runs
        # faster there, transposed back at the end — for big ones that transpose costs more than
        # the GEMM (16 ms for ResNet's 512×4608, TLB misses), so they are summed as they are.
        transposed = cog * kg < TRANSPOSED_WEIGHT_GRAD_MAX

        def group(gi: int) -> np.ndarray | None:          # consecutive steps, one thread
            grad = None                                   # the first product lands here as is
            for i in groups[gi]:
                n0, n1 = plan.steps[i]
                m = (n1 - n0) * positions
                g = plan.gather(grad_output[n0:n1], scratch).reshape(g_, cog, m)   # G: (G, COg, m)
                if need_w:
                    cols = kept[i] if kept is not None else plan.columns(
                        x[n0:n1], scratch, scratch.get("cols", most * k * positions, dtype))
                    cols = cols.reshape(g_, kg, m)
                    a, b = (cols, g.swapaxes(1, 2)) if transposed else (g, cols.swapaxes(1, 2))
                    if grad is None:
                        grad = np.matmul(a, b)
                    else:
                        grad += np.matmul(a, b, out=scratch.get("gw", grad.size, dtype).reshape(grad.shape))
                if col2im:
                    gcol = np.matmul(w3t, g, out=scratch.get("gcol", g_ * kg * m, dtype).reshape(g_, kg, m))
                    if plan.batch_last:
                        _col2im_into(dx[..., n0:n1], gcol.reshape((c,) + plan.kernel + plan.out + (n1 - n0,)),   # -> (C, KH, KW, OH, OW, n)
                                     plan.kernel, plan.stride, plan.pad, plan.dilation, "bl")
                    else:
                        _col2im_into(dx[n0:n1], gcol.reshape((c,) + plan.kernel + (n1 - n0,) + plan.out),   # -> (C, KH, KW, n, OH, OW)
                                     plan.kernel, plan.stride, plan.pad, plan.dilation, "cn")
            return grad

        partials = run_parallel(group, len(groups), plan.threads)
        if col2im:
            if plan.batch_last:                                              # (C, H, W, N) -> (N, C, H, W)
                grad_x = np.empty(x_shape, dtype)
                to_channels_first(grad_x, dx)
            else:
                grad_x = dx
        if need_w:
            grad_w = partials[0]
            for p in partials[1:]:
                grad_w += p
            if transposed:
                grad_w = np.ascontiguousarray(grad_w.swapaxes(1, 2))         # (G, Kg, COg) -> (G, COg, Kg)
            grad_w = grad_w.reshape((co, c // g_) + plan.kernel)             # -> (CO, C/G, KH, KW)
        return grad_x, grad_w, grad_b


def _conv_by(algo: Any, g: Any, ctx: Any, x: np.ndarray, weight: np.ndarray,
             bias: np.ndarray | None) -> np.ndarray:
    """ConvNd's forward by `algo` (an ops/conv_algorithms.py algorithm, or None: im2col)."""
    if algo is None:
        kw = ctx.kwargs
        return conv_forward(ctx, x, weight, bias, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    ctx.algorithm = (algo, g)
    need_x, need_w = (ctx.needs_input_grad + (False,))[:2]
    ctx.save_for_backward(x if need_w else None, weight if need_x else None, None)
    return algo.forward(x, weight, bias, g)


def _algorithm_for(g: Any, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                   needs_input_grad: tuple) -> Any:
    """The algorithm for this conv: 'auto''s rule, or with cudnn.benchmark on the fastest
    candidate, timed on this call's arrays the first time its configuration is seen."""
    if not (conv_tuning.get_benchmark() and conv_algorithms.get_conv_algorithm() == "auto"):
        return conv_algorithms.choose(g, x.itemsize)
    needs = tuple((needs_input_grad + (False, False))[:2])

    def run(algo: Any) -> None:
        ctx = _ConvContext(needs + (False,), g.groups)
        ctx.kwargs.update(stride=g.stride, padding=g.padding, dilation=g.dilation)
        y = _conv_by(algo, g, ctx, x, weight, bias)
        if any(needs):
            ConvNd.backward(ctx, y)       # y as grad_output: the right shape, realistic values

    return conv_tuning.tuned_choice(g, x.dtype, needs, run)


def _algorithm_backward(ctx: Any, grad_output: np.ndarray) -> tuple:
    """ConvNd.backward through the kernels of the algorithm its forward used."""
    (algo, geometry), (x, weight, _) = ctx.algorithm, ctx.saved_tensors
    need_x, need_w, need_b = (ctx.needs_input_grad + (False, False))[:3]
    grad_output = np.ascontiguousarray(grad_output)
    grad_b = grad_output.sum(axis=(0, 2, 3)) if need_b else None
    if hasattr(algo, "backward"):         # both gradients in one pass (shared transforms)
        return (*algo.backward(grad_output, x, weight, geometry, need_x, need_w), grad_b)
    return (algo.grad_input(grad_output, weight, geometry) if need_x else None,
            algo.grad_weight(grad_output, x, geometry) if need_w else None, grad_b)


def grad_input_by_rotated_kernel(grad_output: np.ndarray, weight: np.ndarray,
                                 x_shape: Sequence[int], stride: Sequence[int],
                                 padding: Sequence[tuple[int, int]], dilation: Sequence[int],
                                 groups: int = 1) -> np.ndarray:
    """grad_input computed as seed 004 derives it: dilate grad_output by the stride (S-1 zeros
    between entries), pad it with DH*(KH-1) zeros in front (and enough behind to cover the padded
    input), then correlate it (stride 1, dilation D) with the kernel rotated by 180° and with its
    in/out channels swapped; crop the padding. A reference for tests: ConvNd uses col2im."""
    d = len(stride)
    n, c, spatial = x_shape[0], x_shape[1], tuple(x_shape[2:])
    co, cg, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    out = grad_output.shape[2:]
    padded = tuple(h + lo + hi for h, (lo, hi) in zip(spatial, padding))
    front = tuple(dl * (k - 1) for k, dl in zip(kernel, dilation))
    size = tuple(p + f for p, f in zip(padded, front))     # = padded + DH*(KH-1)
    gd = np.zeros((n, co) + size, grad_output.dtype)
    gd[(slice(None), slice(None)) + tuple(slice(f, f + (o - 1) * s + 1, s)
                                          for f, o, s in zip(front, out, stride))] = grad_output
    # weight (CO, C/G, K...) -> (C, CO/G, K...) per group, rotated 180° in every spatial dim
    wt = weight.reshape(groups, co // groups, cg, *kernel).swapaxes(1, 2).reshape(c, co // groups, *kernel)
    wt = np.ascontiguousarray(wt[(slice(None), slice(None)) + (slice(None, None, -1),) * d])
    dxp = conv_forward(None, gd, wt, None, (1,) * d, ((0, 0),) * d, tuple(dilation), groups)
    return np.ascontiguousarray(dxp[(slice(None), slice(None)) + tuple(
        slice(lo, lo + h) for h, (lo, _) in zip(spatial, padding))])


# ------------------------------------------------------------------- transposed convolution
def conv_transpose_output_size(op: str, size: Sequence[int], kernel: Sequence[int],
                               stride: Sequence[int], pad: Sequence[int], dilation: Sequence[int],
                               output_padding: Sequence[int], shapes: str = "") -> tuple[int, ...]:
    """(H - 1)*SH - 2*PH + DH*(KH - 1) + output_padding + 1 per dim (PyTorch's); below 1 is a
    ShapeError naming every argument."""
    out = []
    for nm, h, k, s, p, dl, op_ in zip("DHW"[-len(size):], size, kernel, stride, pad, dilation,
                                       output_padding):
        o = (h - 1) * s - 2 * p + dl * (k - 1) + op_ + 1
        if o < 1:
            raise ShapeError(
                f"{op}: the output would have {nm} size {o} < 1: input {nm}={h}, kernel K{nm}={k}, "
                f"stride S{nm}={s}, padding P{nm}={p}, dilation D{nm}={dl}, output_padding={op_} "
                f"give ({nm} - 1)*S{nm} - 2P{nm} + D{nm}*(K{nm}-1) + output_padding + 1 = {o}{shapes}")
        out.append(o)
    return tuple(out)


def _image_chunks(n: int, bytes_per_image: int) -> list[tuple[int, int]]:
    """(n0, n1) ranges of images whose column matrices fit the workspace limit (one image at least)."""
    limit = get_workspace_limit()
    step = n if limit is None else max(1, min(n, limit // max(1, bytes_per_image)))
    return [(n0, min(n, n0 + step)) for n0 in range(0, n, max(1, step))]


def _output_padding(out: Sequence[int], size: Sequence[int], stride: Sequence[int],
                    padding: Sequence[tuple[int, int]], dilation: Sequence[int],
                    kernel: Sequence[int]) -> tuple[int, ...]:
    """output_padding per dim, recovered from the transposed conv's output size."""
    return tuple(o - ((h - 1) * s - lo - hi + dl * (k - 1) + 1)
                 for o, h, s, (lo, hi), dl, k in zip(out, size, stride, padding, dilation, kernel))


class _ConvContext:
    """The parts of a Function context that conv_forward and ConvNd.backward use, so that
    ConvTransposeNd can run them directly on arrays."""

    def __init__(self, needs_input_grad: tuple, groups: int) -> None:
        self.needs_input_grad, self.kwargs = needs_input_grad, {"groups": groups}

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays


class ConvTransposeNd(Function):
    """y = conv_transpose(x, W) + b (conv_transpose1d/2d/3d): the adjoint of ConvNd in its input,
    i.e. the grad_input a conv with weight W produces from grad_output x. W is (C_in, C_out/G,
    KH, KW) as in PyTorch; y is (N, C_out, OH, OW) with OH = (H-1)·SH - 2PH + DH(KH-1) +
    output_padding + 1.

    Forward  col = W2ᵀ · X2, y = col2im(col) + b       (X2: the input as (C_in/G, N·H·W) per
                                                          group; col2im as in ConvNd.backward)
    Backward grad_input  = conv(grad_output, W)         (ConvNd's forward: the adjoint's adjoint)
             grad_weight = X2 · im2col(grad_output)ᵀ    (that conv's grad_weight for grad_output X2)
             grad_bias   = Σ_{n,oh,ow} grad_output
    Both backward products run through ConvNd's code (threads, columns kept or rebuilt). The
    forward processes images in chunks whose column matrices fit the workspace limit.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, stride, padding, dilation, groups, out):
        n, cin, spatial = x.shape[0], x.shape[1], tuple(x.shape[2:])
        cig, cog, kernel = cin // groups, weight.shape[1], tuple(weight.shape[2:])
        kk, positions = math.prod(kernel), math.prod(spatial)
        wt = weight.reshape(groups, cig, cog * kk).swapaxes(1, 2)    # (C_in, C_out/G, K..) -> (G, C_out/G·KK, C_in/G)
        y = np.zeros((n, groups * cog) + tuple(out), x.dtype)
        for n0, n1 in _image_chunks(n, groups * cog * kk * positions * x.itemsize):
            m = n1 - n0
            xs = np.ascontiguousarray(_move(x[n0:n1], 0, 1))         # (m, C_in, H, W) -> (C_in, m, H, W)
            cols = np.matmul(wt, xs.reshape(groups, cig, m * positions))   # -> (G, C_out/G·KK, m·H·W)
            _col2im_into(y[n0:n1], cols.reshape((groups * cog,) + kernel + (m,) + spatial),  # -> (C_out, KH, KW, m, H, W)
                         kernel, stride, padding, dilation, "cn")
        if bias is not None:
            y += bias.reshape((-1,) + (1,) * len(out))
        needs = tuple(getattr(ctx, "needs_input_grad", ())) + (False,) * 3
        ctx.save_for_backward(x if needs[1] else None, weight if needs[0] or needs[1] else None)
        # The adjoint conv (backward) pads grad_output by (P, P - output_padding): y's last
        # output_padding rows are its padding-after that the forward cut short. A negative
        # padding is a crop. Then the conv's output has exactly x's size.
        crops, pads = [], []
        for o, (lo, hi), extra in zip(out, padding, _output_padding(out, spatial, stride, padding, dilation, kernel)):
            crops.append(o + min(0, hi - extra))
            pads.append((lo, max(0, hi - extra)))
        ctx.x_shape, ctx.adjoint = x.shape, (tuple(crops), tuple(pads))
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = (ctx.needs_input_grad + (False, False))[:3]
        kw = ctx.kwargs
        if is_graph(grad_output):         # create_graph: the same products, as differentiable ops
            crops, pads = ctx.adjoint
            g = grad_output[(slice(None), slice(None)) + tuple(slice(0, c) for c in crops)]
            grad_x, grad_w, _ = conv_backward_graph(
                g, ctx.inputs[1], ctx.inputs[0], (need_x, need_w, False), stride=kw["stride"],
                padding=pads, dilation=kw["dilation"], groups=kw["groups"], adjoint=True)
            grad_b = grad_output.sum(axis=(0,) + tuple(range(2, grad_output.ndim))) if need_b else None
            return grad_x, grad_w, grad_b
        stride, dilation, groups = kw["stride"], kw["dilation"], kw["groups"]
        grad_x = grad_w = grad_b = None
        if need_b:
            grad_b = grad_output.sum(axis=(0,) + tuple(range(2, grad_output.ndim)))
        if not (need_x or need_w):
            return None, None, grad_b
        if ctx.x_shape[0] == 0:                       # an empty batch: zero gradients
            return (np.zeros(ctx.x_shape, grad_output.dtype) if need_x else None,
                    np.zeros_like(weight) if need_w else None, grad_b)
        # the conv grad_output -> x-space with weight W: its output is grad_x (computed even
        # when only grad_w is wanted: ConvNd's backward needs its plan), its grad_weight for
        # grad_output x is grad_w
        crops, pads = ctx.adjoint
        g = grad_output[(slice(None), slice(None)) + tuple(slice(0, c) for c in crops)]
        conv_ctx = _ConvContext((False, need_w, False), groups)
        grad_x = conv_forward(conv_ctx, np.ascontiguousarray(g), weight, None, stride, pads,
                              dilation, groups)
        if need_w:
            _, grad_w, _ = ConvNd.backward(conv_ctx, x)
        return grad_x if need_x else None, grad_w, grad_b


def conv_backward_graph(x: Any, weight: Any, grad_output: Any, needs: tuple, *, stride: tuple,
                        padding: tuple, dilation: tuple, groups: int, adjoint: bool = False) -> tuple:
    """ConvNd's backward under create_graph=True, from the Functions it is made of, so that it
    is itself differentiable (second derivatives, gradient penalties):
        grad_input  = conv_transpose(grad_output, W)                (the adjoint conv)
        grad_weight = Σ_n G_n · unfold(x)_nᵀ                        (per group: a correlation of
                                                                     x with grad_output)
        grad_bias   = Σ grad_output
    With `adjoint=True` (ConvTransposeNd's backward) the roles swap: `x` is the conv's input
    (ConvTranspose's grad_output), `grad_output` is the conv's output gradient (its input), and
    grad_input is that conv itself."""
    need_x, need_w, need_b = (tuple(needs) + (False,) * 3)[:3]
    kernel = tuple(weight.shape[2:])
    n = x.shape[0]
    grad_x = grad_w = grad_b = None
    if need_x:
        if adjoint:
            grad_x = ConvNd.apply(x, weight, None, stride=stride, padding=padding,
                                  dilation=dilation, groups=groups)
        else:
            grad_x = ConvTransposeNd.apply(grad_output, weight, None, stride=stride,
                                           padding=padding, dilation=dilation, groups=groups,
                                           out=tuple(x.shape[2:]))
    if need_w:
        cols = Unfold.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        positions = cols.shape[-1]
        cols = cols.reshape(n, groups, -1, positions)                  # (N, G, C/G·KK, L)
        g = grad_output.reshape(n, groups, -1, positions)              # (N, G, CO/G, L)
        grad_w = np.matmul(g, np.swapaxes(cols, -1, -2)).sum(axis=0)   # (G, CO/G, C/G·KK)
        grad_w = grad_w.reshape(weight.shape)
    if need_b:
        grad_b = grad_output.sum(axis=(0,) + tuple(range(2, grad_output.ndim)))
    return grad_x, grad_w, grad_b


# --------------------------------------------------------------------------- unfold / fold
class Unfold(Function):
    """cols = im2col(x): (N, C, H, W) -> (N, C*KH*KW, OH*OW), PyTorch's F.unfold.
    Backward: grad_input = col2im(grad_output) (= F.fold), each entry added back where it came from."""

    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, dilation):
        out = conv_output_size("unfold", x.shape[2:], kernel, stride, padding, dilation)
        ctx.shape = (x.shape, out)
        return im2col(x, kernel, stride, padding, dilation, out)

    @staticmethod
    def backward(ctx, grad_output):
        x_shape, out = ctx.shape
        kw = ctx.kwargs
        if is_graph(grad_output):         # create_graph: col2im as the Fold op (its backward: Unfold)
            return Fold.apply(grad_output, output_size=tuple(x_shape[2:]), **kw)
        return col2im(grad_output, x_shape, kw["kernel"], kw["stride"], kw["padding"], kw["dilation"], out)


class Fold(Function):
    """x = col2im(cols): (N, C*KH*KW, L) -> (N, C, H, W) summing overlaps, PyTorch's F.fold.
    Backward: grad_input = im2col(grad_output) (= F.unfold)."""

    @staticmethod
    def forward(ctx, cols, *, output_size, kernel, stride, padding, dilation):
        out = conv_output_size("fold", output_size, kernel, stride, padding, dilation)
        n, k = cols.shape[:2]
        c = k // math.prod(kernel)
        ctx.out = out
        return col2im(cols, (n, c, *output_size), kernel, stride, padding, dilation, out)

    @staticmethod
    def backward(ctx, grad_output):
        kw = ctx.kwargs
        if is_graph(grad_output):         # create_graph: im2col as the Unfold op (its backward: Fold)
            return Unfold.apply(grad_output, **{k: v for k, v in kw.items() if k != "output_size"})
        return im2col(grad_output, kw["kernel"], kw["stride"], kw["padding"], kw["dilation"], ctx.out)
