"""Pictures of how the CNN ops compute: `im2col`, `col2im` (its backward) and `pool_switches`.

They draw the framework's own arrays (ops/conv.py's im2col and col2im, F.max_pool2d's forward
and backward), so what the picture shows is what the ops do. Names as in ops/conv.py: the
columns are a (K, N·L) matrix, K = C·KH·KW (one window), L = OH·OW (windows per image), column
index n·L + oh·OW + ow (batch-major). Seed 003 §8.1.6 (figure 8-17) and §8.2.2 (figure 8-27).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..argcheck import allocate, check_shape
from ..ops.conv import col2im as _col2im
from ..ops.conv import conv_output_size, conv_padding, im2col as _im2col, normalize_tuple
from ..tensor import Tensor
from .figures import as_nchw, draw_grid, new_figure, outline

__all__ = ["im2col", "col2im", "pool_switches"]

MAX_PLANES = 6              # input planes drawn (images x channels); more are summarised


def _geometry(shape: tuple, kernel_size: Any, stride: Any, padding: Any, view: str) -> tuple:
    n, c, h, w = shape
    kernel = normalize_tuple(kernel_size, 2, "kernel_size", view)
    stride = normalize_tuple(stride, 2, "stride", view)
    pad = conv_padding(padding, kernel, stride, (1, 1), view)
    out = conv_output_size(view, (h, w), kernel, stride, pad, (1, 1))
    return kernel, stride, pad, out


def _planes(n: int, c: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(c)][:MAX_PLANES]


def _padded_planes(x: np.ndarray, pad: tuple) -> tuple[np.ndarray, np.ndarray]:
    (pt, pb), (pl, pr) = pad
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    is_pad = np.ones(xp.shape[2:], bool)
    is_pad[pt:pt + x.shape[2], pl:pl + x.shape[3]] = False
    return xp, is_pad


def _column_axis_labels(ax: Any, n: int, c: int, kernel: tuple, out: tuple, numbers: bool) -> None:
    k, l_ = c * kernel[0] * kernel[1], out[0] * out[1]
    for i in range(1, n):                         # seed 003's solid/dashed split between images
        ax.axvline(i * l_ - 0.5, color="#404040", lw=1.2, ls="--")
    for j in range(1, c):
        ax.axhline(j * kernel[0] * kernel[1] - 0.5, color="#404040", lw=0.8, ls=":")
    if k <= 27:
        ax.set_yticks(range(k), [f"c{ci},{a},{b}" for ci in range(c) for a in range(kernel[0])
                                 for b in range(kernel[1])], fontsize=6)
    if n * l_ <= 40:
        ax.set_xticks(range(n * l_), [f"{j // l_},{(j % l_) // out[1]},{j % out[1]}"
                                       for j in range(n * l_)], fontsize=6, rotation=90)
    ax.set_ylabel("row (c, kh, kw)")
    ax.set_xlabel("column (n, oh, ow) = n·L + oh·OW + ow")


def im2col(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0, *,
           window: Any = 0) -> Any:
    """The im2col picture: the (padded) input with one window highlighted, and the (K, N·L)
    column matrix with that window's column highlighted. `window`: a column index j, or
    (n, oh, ow). Small inputs get every number printed. Returns a matplotlib Figure
    (`fig.savefig('im2col.png')`)."""
    a = as_nchw(x, "im2col")
    n, c, h, w = a.shape
    kernel, stride, pad, out = _geometry(a.shape, kernel_size, stride, padding, "im2col")
    l_ = out[0] * out[1]
    j = _window_index(window, n, out)
    cols = _im2col(a.astype(np.float64), kernel, stride, pad, (1, 1), out)   # (N, K, L)
    matrix = cols.transpose(1, 0, 2).reshape(c * kernel[0] * kernel[1], n * l_)  # -> (K, N·L)
    wn, rest = divmod(j, l_)
    oh, ow = divmod(rest, out[1])
    xp, is_pad = _padded_planes(a, pad)
    planes = _planes(n, c)
    numbers = max(matrix.shape) <= 40 and max(xp.shape[2:]) <= 16
    fig = new_figure("im2col", 3.0 * len(planes) + 0.35 * min(matrix.shape[1], 40) + 2, 5.2)
    grid = fig.add_gridspec(1, len(planes) + 1, width_ratios=[xp.shape[3]] * len(planes)
                            + [max(matrix.shape[1], 4) * 0.9])
    vmin, vmax = float(np.min(xp)), float(np.max(xp))
    for k, (pn, pc) in enumerate(planes):
        ax = fig.add_subplot(grid[0, k])
        draw_grid(ax, xp[pn, pc], numbers=numbers, mask=is_pad, vmin=vmin, vmax=vmax,
                  cmap="Blues")
        if pn == wn:
            outline(ax, oh * stride[0], ow * stride[1], kernel[0], kernel[1])
        ax.set_title(f"image {pn}, channel {pc}" + (" (padded)" if any(sum(p) for p in pad) else ""),
                     fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    axm = fig.add_subplot(grid[0, -1])
    draw_grid(axm, matrix, numbers=numbers, vmin=vmin, vmax=vmax, cmap="Blues", fontsize=7)
    outline(axm, 0, j, matrix.shape[0], 1)
    _column_axis_labels(axm, n, c, kernel, out, numbers)
    axm.set_title(f"columns (K, N·L) = {matrix.shape}:  K = C·KH·KW = {c}·{kernel[0]}·{kernel[1]},"
                  f"  L = OH·OW = {out[0]}·{out[1]}", fontsize=9)
    hidden = n * c - len(planes)
    fig.suptitle(f"im2col of x {tuple(a.shape)} (N, C, H, W), kernel {kernel}, stride {stride}, "
                 f"padding {tuple(p[0] for p in pad)}: window (n={wn}, oh={oh}, ow={ow}) "
                 f"becomes column {j}" + (f"  ({hidden} more planes not drawn)" if hidden else ""),
                 fontsize=10)
    return fig


def _window_index(window: Any, n: int, out: tuple) -> int:
    l_ = out[0] * out[1]
    if isinstance(window, (tuple, list)) and len(window) == 3:
        wn, oh, ow = (int(v) for v in window)
        if not (0 <= wn < n and 0 <= oh < out[0] and 0 <= ow < out[1]):
            raise ValueError(f"tc.viz.im2col: window {tuple(window)} is outside (N, OH, OW) = "
                             f"{(n, *out)}")
        return wn * l_ + oh * out[1] + ow
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        if not 0 <= int(window) < n * l_:
            raise ValueError(f"tc.viz.im2col: window {window} is outside the {n * l_} columns")
        return int(window)
    raise TypeError(f"tc.viz.im2col: window must be a column index or (n, oh, ow), got {window!r}")


def col2im(x_shape: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0, *,
           pixel: Any = None) -> Any:
    """col2im, the backward of im2col: every column entry is added back into the input pixel
    it was copied from. Left: how many column entries add into each input pixel (numbers), the
    chosen `pixel` (h, w) of image 0, channel 0 highlighted with the windows that cover it;
    right: the (K, N·L) column matrix with the entries that add into that pixel highlighted.
    `x_shape`: (H, W), (C, H, W) or (N, C, H, W). Returns a matplotlib Figure."""
    if not isinstance(x_shape, (tuple, list)) or not all(isinstance(s, (int, np.integer)) for s in x_shape):
        raise TypeError(f"tc.viz.col2im: x_shape must be a tuple of ints such as (4, 4), got {x_shape!r}")
    shape = check_shape(x_shape, "x_shape", "tc.viz.col2im")
    a = as_nchw(allocate(shape, np.float64, "tc.viz.col2im", fill=0), "col2im")
    n, c, h, w = a.shape
    kernel, stride, pad, out = _geometry(a.shape, kernel_size, stride, padding, "col2im")
    if pixel is None:
        ph, pw = h // 2, w // 2
    elif isinstance(pixel, (tuple, list)) and len(pixel) == 2 and \
            all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pixel):
        ph, pw = int(pixel[0]), int(pixel[1])
    else:
        raise TypeError(f"tc.viz.col2im: pixel must be (h, w), two ints, got {pixel!r}")
    if not (0 <= ph < h and 0 <= pw < w):
        raise ValueError(f"tc.viz.col2im: pixel {(ph, pw)} is outside (H, W) = {(h, w)}")
    k = c * kernel[0] * kernel[1]
    ones = np.ones((n, k, out[0] * out[1]))
    counts = _col2im(ones, a.shape, kernel, stride, pad, (1, 1), out)[0, 0]     # (H, W)
    marker = np.zeros(a.shape)
    marker[0, 0, ph, pw] = 1.0
    hits = _im2col(marker, kernel, stride, pad, (1, 1), out)                    # (N, K, L)
    hits = hits.transpose(1, 0, 2).reshape(k, -1)                               # -> (K, N·L)
    fig = new_figure("col2im", 4 + 0.3 * min(hits.shape[1], 40), 5.0)
    grid = fig.add_gridspec(1, 2, width_ratios=[max(w, 5) + 1, max(hits.shape[1], 4) * 0.9])
    ax = fig.add_subplot(grid[0, 0])
    draw_grid(ax, counts, numbers=max(h, w) <= 16, cmap="Oranges", vmin=0)
    outline(ax, ph, pw, 1, 1, color="#00b0ff", lw=3.5)          # visible on the dark cells
    rows, cols_ = np.nonzero(hits)
    ax.set_title(f"entries added into\neach pixel (image 0,\nchannel 0, {h}×{w});\n"
                 f"blue: x[0, 0, {ph}, {pw}]", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
    axm = fig.add_subplot(grid[0, 1])
    draw_grid(axm, hits, numbers=False, cmap="Reds", vmin=0, vmax=1.6)
    for r, q in zip(rows, cols_):
        outline(axm, int(r), int(q), 1, 1, lw=1.5)
    _column_axis_labels(axm, n, c, kernel, out, False)
    entries = f"{len(rows)} column entr{'y' if len(rows) == 1 else 'ies'}"
    axm.set_title(f"columns (K, N·L) = {hits.shape}: the {entries} that col2im adds "
                  f"into x[0, 0, {ph}, {pw}]", fontsize=9)
    fig.suptitle(f"col2im (im2col's backward): grad_x[0, 0, {ph}, {pw}] = sum of {entries}; "
                 f"kernel {kernel}, stride {stride}, padding "
                 f"{tuple(p[0] for p in pad)}", fontsize=10)
    return fig


def pool_switches(x: Any, kernel_size: Any = 2, stride: Any = None, *,
                  grad_output: Any = None) -> Any:
    """Where max-pool's gradient goes (seed 003 §8.2.2, figure 8-27): the input with every
    pooling window outlined and its maximum (the "switch") highlighted, the pooled output,
    a grad_output (default 1, 2, 3, ... so each value can be followed) and the grad_input that
    F.max_pool2d's backward computes: each window's gradient lands on its switch only.
    `x`: (H, W) (or (1, 1, H, W)). Returns a matplotlib Figure."""
    import tinygrad_cnn.nn.functional as F

    a = as_nchw(x, "pool_switches")
    if a.shape[:2] != (1, 1):
        raise ValueError(f"tc.viz.pool_switches: x must be one plane (H, W), got shape {a.shape}")
    kernel = normalize_tuple(kernel_size, 2, "kernel_size", "pool_switches")
    stride = kernel if stride is None else normalize_tuple(stride, 2, "stride", "pool_switches")
    xt = Tensor._wrap(a.astype(np.float64).copy())
    xt.requires_grad = True
    y = F.max_pool2d(xt, kernel, stride)
    g = np.arange(1, y.numel() + 1, dtype=np.float64).reshape(y.shape) if grad_output is None \
        else as_nchw(grad_output, "pool_switches").astype(np.float64)
    if g.shape != tuple(y.shape):
        raise ValueError(f"tc.viz.pool_switches: grad_output must have the output's shape "
                         f"{tuple(y.shape)}, got {g.shape}")
    y.backward(Tensor._wrap(g))
    gx = xt.grad.numpy()[0, 0]
    x2, y2 = a[0, 0], y.numpy()[0, 0]
    fig = new_figure("pool_switches", 13, 3.8)
    axes = fig.subplots(1, 4, width_ratios=[x2.shape[1], y2.shape[1], y2.shape[1], x2.shape[1]])
    draw_grid(axes[0], x2, cmap="Blues")
    switches = np.argwhere(gx != 0)
    for oh in range(y2.shape[0]):
        for ow in range(y2.shape[1]):
            outline(axes[0], oh * stride[0], ow * stride[1], kernel[0], kernel[1], color="#202020",
                    lw=1.4)
    for i, j in switches:
        outline(axes[0], int(i), int(j), 1, 1)
    axes[0].set_title(f"input x {x2.shape}: windows {kernel}, stride {stride};\nred: each window's max (switch)",
                      fontsize=9)
    draw_grid(axes[1], y2, cmap="Blues", vmin=float(x2.min()), vmax=float(x2.max()))
    axes[1].set_title(f"forward: y = max_pool2d(x) {y2.shape}", fontsize=9)
    draw_grid(axes[2], g[0, 0], cmap="Oranges", vmin=0)
    axes[2].set_title("grad_output ∂L/∂y", fontsize=9)
    draw_grid(axes[3], gx, cmap="Oranges", vmin=0, vmax=float(np.max(np.abs(g))) or 1.0)
    for i, j in switches:
        outline(axes[3], int(i), int(j), 1, 1)
    nonzero = 100.0 * np.count_nonzero(gx) / gx.size
    axes[3].set_title(f"backward: ∂L/∂x — {nonzero:.0f}% nonzero", fontsize=9)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle("max-pool backward: ∂L/∂x = ∂L/∂m at the switch of each window, 0 elsewhere "
                 "(seed 003 §8.2.2)", fontsize=10)
    return fig
