"""2-D pooling: max (with its argmax "switches") and average. Names as in ops/conv.py:
N, C, H, W input; KH, KW window; SH, SW stride; PH, PW padding; DH, DW dilation; OH, OW output.

Both ops walk the KH*KW window offsets: for offset (kh, kw) the strided view
xpad[:, :, kh*DH :: SH, kw*DW :: SW] (OH×OW entries) holds that element of every window, so a
window reduction is KH*KW vectorised elementwise steps over (N, C, OH, OW), never a Python loop
over windows. Non-overlapping pooling (kernel == stride, no padding, no dilation: LeNet's 2×2)
needs no padded copy at all.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from ..autograd import Function
from .generic import is_graph, scatter_to_flat_positions
from ..errors import ShapeError
from .parallel import partition, run_parallel
from .resample import Separable2d, Taps
from .workspace import strided_ufuncs

# A thread pools at least this many bytes of input; smaller inputs run in the calling thread
# (LeNet's pool1, 0.9 MB: 0.83 ms fwd+bwd serial vs 1.21 ms on two threads at 256 KB).
MIN_PARALLEL_BYTES = 1 << 20
# At most this many image ranges per pooling call (threads take them as they come).
MAX_CHUNKS = 8

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "adaptive_windows",
           "pool_output_size"]


def pool_output_size(op: str, size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                     pad: Sequence[int], dilation: Sequence[int], ceil_mode: bool,
                     names: Sequence[str] = ("H", "W")) -> tuple[int, ...]:
    """PyTorch's pooling size: floor (or ceil) of (H + 2PH - DH(KH-1) - 1)/SH, plus 1; with
    ceil_mode the last window must start inside the input or its left padding."""
    out = []
    for nm, h, k, s, p, dl in zip(names, size, kernel, stride, pad, dilation):
        span = h + 2 * p - dl * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= h + p:
            o -= 1
        if o < 1:
            raise ShapeError(
                f"{op}: the output would have {nm} size {o} < 1: input {nm}={h}, kernel K{nm}={k}, "
                f"stride S{nm}={s}, padding P{nm}={p}, dilation D{nm}={dl} give "
                f"floor(({nm} + 2P{nm} - D{nm}*(K{nm}-1) - 1) / S{nm}) + 1 = {o}; the input is too "
                f"small for the window")
        out.append(o)
    return tuple(out)


def _geometry(h: int, k: int, s: int, p: int, dl: int, o: int) -> int:
    """Padding needed after the input so that every window (ceil_mode ones too) is in bounds."""
    return max(0, (o - 1) * s + dl * (k - 1) + 1 - h - p)


def _padded(x: np.ndarray, pad: Sequence[int], after: Sequence[int], value: float) -> np.ndarray:
    if not any(pad) and not any(after):
        return x
    (ph, pw), (ah, aw) = pad, after
    n, c, h, w = x.shape
    xp = np.full((n, c, h + ph + ah, w + pw + aw), value, x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


def _offset_views(xp: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
                  dilation: Sequence[int], out: Sequence[int]):
    """(kh, kw, view) for every window offset; view[n, c, oh, ow] = xp[n, c, oh*SH + kh*DH, ow*SW + kw*DW]."""
    (kh_, kw_), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    for kh, kw in itertools.product(range(kh_), range(kw_)):
        yield kh, kw, xp[:, :, kh * dh: kh * dh + (oh - 1) * sh + 1: sh,
                         kw * dw: kw * dw + (ow - 1) * sw + 1: sw]


class MaxPool2d(Function):
    """out = max over each KH×KW window (padding is -inf, so it never wins).

    Backward: the gradient of each output goes to its window's argmax only (the "switches" of
    seed 001 §2.2; seed 003 §8.2.2: ∂L/∂a = ∂L/∂m if m = a, else 0; seed 004 Pool.backward).
    Ties go to the first maximum in window order (row-major); a NaN wins, the last one if
    several, as in PyTorch. With return_indices a second output holds the flat index h*W + w of
    each argmax in its (unpadded) input plane (-1 for a window of padding only); it gets no gradient.
    """

    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, dilation, out, return_indices=False):
        n, c, h, w = x.shape
        after = tuple(_geometry(*a) for a in zip((h, w), kernel, stride, padding, dilation, out))
        n_offsets = kernel[0] * kernel[1]
        best = np.empty((n, c) + tuple(out), x.dtype)
        arg = np.empty((n, c) + tuple(out), np.uint16 if n_offsets > 255 else np.uint8)

        pairwise = (tuple(kernel) == (2, 2) == tuple(stride) and tuple(dilation) == (1, 1)
                    and not any(padding) and not any(after))

        def work(images: range) -> None:                  # a range of images, in one thread
            sl = slice(images.start, images.stop)
            with strided_ufuncs():
                b, a = best[sl], arg[sl]
                if pairwise:                               # 2×2, stride 2: max of columns, then of rows
                    xs = x[sl, :, :2 * out[0], :2 * out[1]]
                    left, right = xs[..., 0::2], xs[..., 1::2]
                    cols = np.maximum(left, right)         # (n, C, 2*OH, OW)
                    right_wins = right > left              # ties keep the first (left) one
                    top, bottom = cols[:, :, 0::2], cols[:, :, 1::2]
                    np.maximum(top, bottom, out=b)
                    bottom_wins = bottom > top
                    # offset kh*2 + kw: kw is the winning row's right_wins, picked with bit
                    # operations (np.where on these strided bool views is 2x slower)
                    upper, lower = right_wins[:, :, 0::2], right_wins[:, :, 1::2]
                    kw_bit = upper ^ (bottom_wins & (upper ^ lower))
                    np.bitwise_or(kw_bit.view(np.uint8), np.left_shift(bottom_wins.view(np.uint8), 1), out=a)
                    if np.isnan(b).any():                  # NaN != NaN: route to the last NaN
                        for k, (_, _, v) in enumerate(_offset_views(x[sl], kernel, stride, dilation, out)):
                            np.copyto(a, k, where=np.isnan(v))
                    return
                views = [v for _, _, v in _offset_views(_padded(x[sl], padding, after, -np.inf),
                                                        kernel, stride, dilation, out)]
                np.copyto(b, views[0])
                for v in views[1:]:
                    np.maximum(b, v, out=b)                # propagates NaN
                # switches: the first offset equal to the maximum (scan backwards: earlier ones win)
                a.fill(n_offsets - 1)
                for k in range(n_offsets - 2, -1, -1):
                    np.copyto(a, k, where=views[k] == b)
                if (any(padding) or any(after)) and np.isneginf(b).any():
                    # an all -inf window ties with its -inf padding: PyTorch picks the first input element
                    hit = np.isneginf(b)
                    for k, inside in reversed(list(enumerate(
                            _inside_masks((h, w), kernel, stride, padding, dilation, out)))):
                        np.copyto(a, k, where=hit & inside)
                if np.isnan(b).any():                      # NaN != NaN: route to the last NaN
                    for k, v in enumerate(views):
                        np.copyto(a, k, where=np.isnan(v))

        _run_chunks(work, n, x)
        ctx.arg = arg
        ctx.shapes = (x.shape, after)
        if not return_indices:
            return best
        idx = _flat_indices(arg, kernel, stride, padding, dilation, (h, w))
        ctx.mark_non_differentiable(idx)
        return best, idx

    @staticmethod
    def backward(ctx, grad_output, *_):
        kw = ctx.kwargs
        kernel, stride, padding, dilation, out = kw["kernel"], kw["stride"], kw["padding"], kw["dilation"], kw["out"]
        x_shape, after = ctx.shapes
        n, c, h, w = x_shape
        arg = ctx.arg
        if is_graph(grad_output):         # create_graph: the same scatter, as differentiable ops
            positions = _flat_indices(arg, kernel, stride, padding, dilation, (h, w))
            return scatter_to_flat_positions(grad_output, positions, x_shape)
        (ph, pw), (ah, aw) = padding, after
        padded = any(padding) or any(after)
        overlapping = any(s < dl * (k - 1) + 1 for k, s, dl in zip(kernel, stride, dilation))
        # windows that tile the input exactly write every element once: no zero fill needed
        tiling = (not padded and tuple(kernel) == tuple(stride) and tuple(dilation) == (1, 1)
                  and out[0] * stride[0] == h and out[1] * stride[1] == w)
        dxp = (np.empty if tiling else np.zeros)(
            (n, c, h + ph + ah, w + pw + aw) if padded else x_shape, grad_output.dtype)
        zero = np.zeros((), grad_output.dtype)

        def work(images: range) -> None:
            sl = slice(images.start, images.stop)
            a, g = arg[sl], grad_output[sl]
            # disjoint windows with finite gradients: (a == k) * g writes each element once, with
            # no temporary (4x faster than np.where for LeNet's pool1); 0 * inf would be NaN, so
            # other gradients take np.where
            multiply = not overlapping and np.isfinite(g).all()
            with strided_ufuncs():
                for k, (_, _, view) in enumerate(_offset_views(dxp[sl], kernel, stride, dilation, out)):
                    if multiply:
                        np.multiply(a == k, g, out=view)
                    elif overlapping:
                        view += np.where(a == k, g, zero)
                    else:
                        view[...] = np.where(a == k, g, zero)

        _run_chunks(work, n, dxp)
        return dxp[:, :, ph:ph + h, pw:pw + w] if padded else dxp


def _run_chunks(work, n: int, x: np.ndarray) -> None:
    """work(range of images) over chunks of at least MIN_PARALLEL_BYTES of x, shared by the
    threads (ops/parallel.py); a small input is one chunk, run in the calling thread."""
    per_image = max(1, x[:1].nbytes)
    chunks = partition(n, min(MAX_CHUNKS, n // max(1, -(-MIN_PARALLEL_BYTES // per_image))))
    run_parallel(lambda i: work(chunks[i]), len(chunks))


def _inside_masks(size, kernel, stride, padding, dilation, out):
    """Per window offset, an (OH, OW) mask of the windows whose element at that offset lies in
    the unpadded input."""
    (h, w), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = size, stride, padding, dilation, out
    for kh, kw in itertools.product(range(kernel[0]), range(kernel[1])):
        r = np.arange(oh) * sh - ph + kh * dh
        c = np.arange(ow) * sw - pw + kw * dw
        yield ((r >= 0) & (r < h))[:, None] & ((c >= 0) & (c < w))[None, :]


def _flat_indices(arg: np.ndarray, kernel, stride, padding, dilation, size) -> np.ndarray:
    """Window-offset switches -> flat positions h*W + w in the unpadded input plane (int64);
    -1 for a window that holds no input element at all (possible with dilation; its value is
    -inf), which would otherwise alias an element of another row."""
    (sh, sw), (ph, pw), (dh, dw), (height, width) = stride, padding, dilation, size
    oh, ow = arg.shape[2:]
    a = arg.astype(np.int64)
    rows = np.arange(oh).reshape(oh, 1) * sh - ph + (a // kernel[1]) * dh
    cols = np.arange(ow).reshape(1, ow) * sw - pw + (a % kernel[1]) * dw
    outside = (rows < 0) | (rows >= height) | (cols < 0) | (cols >= width)
    return np.where(outside, -1, rows * width + cols)


class AvgPool2d(Function):
    """out = (1/divisor) Σ over each KH×KW window (padding counts as zeros).

    divisor = KH*KW (count_include_pad, windows cut only by ceil_mode's overhang), or the number
    of input elements in the window (count_include_pad=False), or divisor_override.
    Backward: each input element gets grad_output/divisor of every window it is in.
    """

    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, out, ceil_mode, count_include_pad,
                divisor_override=None):
        n, c, h, w = x.shape
        dil = (1, 1)
        after = tuple(_geometry(*a) for a in zip((h, w), kernel, stride, padding, dil, out))
        div = _divisor((h, w), kernel, stride, padding, out, count_include_pad,
                       divisor_override).astype(x.dtype)
        acc = np.empty((n, c) + tuple(out), x.dtype)

        def work(images: range) -> None:
            sl = slice(images.start, images.stop)
            with strided_ufuncs():
                views = [v for _, _, v in _offset_views(_padded(x[sl], padding, after, 0.0),
                                                        kernel, stride, dil, out)]
                a = acc[sl]
                np.copyto(a, views[0])
                for v in views[1:]:
                    a += v
                a /= div

        _run_chunks(work, n, x)
        ctx.div = div
        ctx.shapes = (x.shape, after)
        return acc

    @staticmethod
    def backward(ctx, grad_output):
        kw = ctx.kwargs
        kernel, stride, padding, out = kw["kernel"], kw["stride"], kw["padding"], kw["out"]
        x_shape, after = ctx.shapes
        n, c, h, w = x_shape
        (ph, pw), (ah, aw) = padding, after
        if is_graph(grad_output):         # create_graph: each window's share, folded back (col2im)
            from .conv import Fold
            share = (grad_output / ctx.div).reshape(n, c, 1, -1)            # (N, C, 1, OH*OW)
            cols = share.expand(n, c, kernel[0] * kernel[1], share.shape[-1])
            return Fold.apply(cols.reshape(n, -1, share.shape[-1]), output_size=(h, w),
                              kernel=tuple(kernel), stride=tuple(stride),
                              padding=((ph, ah), (pw, aw)), dilation=(1, 1))
        dxp = np.zeros((n, c, h + ph + ah, w + pw + aw), grad_output.dtype)

        def work(images: range) -> None:
            sl = slice(images.start, images.stop)
            with strided_ufuncs():
                share = grad_output[sl] / ctx.div
                for _, _, view in _offset_views(dxp[sl], kernel, stride, (1, 1), out):
                    view += share

        _run_chunks(work, n, dxp)
        return dxp[:, :, ph:ph + h, pw:pw + w]


def _divisor(size, kernel, stride, padding, out, count_include_pad, divisor_override) -> np.ndarray:
    """(OH, OW) divisors, PyTorch's rule: a window is first clipped to the padded input
    (ceil_mode overhang never counts), then, without count_include_pad, to the input itself."""
    if divisor_override is not None:
        return np.full(out, float(divisor_override))
    counts = []
    for h, k, s, p, o in zip(size, kernel, stride, padding, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, h + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, h)
        counts.append((end - start).astype(np.float64))
    return counts[0][:, None] * counts[1][None, :]


# ------------------------------------------------------------------------------- adaptive
def adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows along one axis: output i covers [floor(i*size/out),
    ceil((i+1)*size/out)). They tile the axis when out divides size, else neighbours may share
    an element (and with out > size some windows repeat an element)."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _averaging_taps(size: int, out: int) -> Taps:
    """Taps of the adaptive mean along one axis: output i reads window i, each with weight
    1/len(window i) (the rows of the averaging matrix A with A[i, j] = 1/len(window i))."""
    lo, hi = _window_bounds(size, out)
    k = int((hi - lo).max())
    index = lo[:, None] + np.arange(k)[None, :]
    valid = index < hi[:, None]
    weight = np.broadcast_to(1.0 / (hi - lo)[:, None], index.shape)
    return Taps(np.minimum(index, size - 1), weight, valid)


def _window_positions(size: int, out: int) -> np.ndarray:
    """(out, K) input positions of each adaptive window, short ones padded with their last."""
    lo, hi = _window_bounds(size, out)
    k = int((hi - lo).max())
    return np.minimum(lo[:, None] + np.arange(k)[None, :], hi[:, None] - 1)


def _window_bounds(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """adaptive_windows as two arrays (start, stop), computed without a Python loop."""
    i = np.arange(out, dtype=np.int64)
    return (i * size) // out, -(-((i + 1) * size) // out)


class AdaptiveAvgPool2d(Separable2d):
    """out[n, c, i, j] = mean of x[n, c] over rows window_i × columns window_j (adaptive_windows).

    A rectangle's mean is the mean over its rows of the means over its columns, so with the
    averaging matrices A_H (OH×H) and A_W (OW×W): out = A_H · x · A_Wᵀ (two GEMMs, no loop;
    ops/resample.py). Backward: grad_x = A_Hᵀ · grad_output · A_W — each element of a window
    gets grad_output/(window area), summed over the windows it is in.
    """

    @staticmethod
    def taps(x, *, out):
        return _averaging_taps(x.shape[2], out[0]), _averaging_taps(x.shape[3], out[1])


class AdaptiveMaxPool2d(Function):
    """out[n, c, i, j] = max of x[n, c] over rows window_i × columns window_j (adaptive_windows).

    Backward: grad_output[i, j] goes to its window's argmax only (the switches, as in
    MaxPool2d): the first maximum in row-major order, or the last NaN. The second output holds
    the flat index h*W + w of each argmax (no gradient), as PyTorch's return_indices.
    """

    @staticmethod
    def forward(ctx, x, *, out, return_indices=False):
        n, c, h, w = x.shape
        # every window gathered at once, (N, C, OH, OW, KH, KW), short windows padded by repeating
        # their last element (a repeat never changes the max, the first maximum or the last NaN);
        # the windows overlap by at most one element, so this is at most ~4x the input or output
        rows, cols = _window_positions(h, out[0]), _window_positions(w, out[1])
        kh, kw = rows.shape[1], cols.shape[1]
        win = x[:, :, rows[:, None, :, None], cols[None, :, None, :]].reshape(n, c, out[0], out[1], kh * kw)
        k = win.argmax(axis=4)                                  # the first maximum
        nan = np.isnan(win)
        if nan.any():                                           # PyTorch: the last NaN wins
            last = kh * kw - 1 - nan[..., ::-1].argmax(axis=4)
            k = np.where(nan.any(axis=4), last, k)
        best = np.take_along_axis(win, k[..., None], axis=4)[..., 0]
        oh, ow = np.arange(out[0])[:, None], np.arange(out[1])[None, :]
        idx = rows[oh, k // kw] * w + cols[ow, k % kw]          # (N, C, OH, OW) flat h*W + w
        ctx.idx, ctx.x_shape = idx, x.shape
        if not return_indices:
            return best
        indices = idx.copy()                    # the caller's copy: editing it cannot change backward
        ctx.mark_non_differentiable(indices)
        return best, indices

    @staticmethod
    def backward(ctx, grad_output, *_):
        n, c, h, w = ctx.x_shape
        if is_graph(grad_output):         # create_graph: the same scatter, as differentiable ops
            return scatter_to_flat_positions(grad_output, ctx.idx, ctx.x_shape)
        # each output's gradient goes to its argmax; windows may share an argmax, so the
        # contributions are summed per input element (one bincount, no loop over outputs)
        plane = (np.arange(n * c) * (h * w)).reshape(n, c, 1, 1)
        dx = np.bincount((plane + ctx.idx).ravel(), weights=grad_output.ravel(), minlength=n * c * h * w)
        dx = dx.astype(grad_output.dtype, copy=False)
        return dx.reshape(n, c, h, w)
