"""Pictures of what a trained CNN has learned: `filters` (its kernels), `feature_maps` (a
layer's activations, through a forward hook) and `saliency` (the input gradient of a class
score). Each returns a matplotlib Figure (`fig.savefig('filters.png')`)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..argcheck import check_instance, check_int, check_str
from ..nn.module import Module
from ..tensor import Tensor
from .figures import as_array, new_figure

__all__ = ["filters", "feature_maps", "saliency"]


def _model(model: Any, view: str) -> Any:
    return check_instance(model, Module, "model", f"tc.viz.{view}", "an nn.Module")


def _find_layer(model: Any, layer: Any, view: str) -> tuple[str, Any]:
    named = dict(_model(model, view).named_modules())
    if isinstance(layer, str):
        if layer not in named:
            options = [n for n in named if n]
            raise ValueError(f"tc.viz.{view}: {type(model).__name__} has no module {layer!r}; "
                             f"its modules are {', '.join(options[:20])}"
                             + (" ..." if len(options) > 20 else ""))
        return layer, named[layer]
    for name, m in named.items():
        if m is layer:
            return name or type(m).__name__, m
    raise ValueError(f"tc.viz.{view}: layer must be a module of the model or its dotted name, "
                     f"got {type(layer).__name__}")


def _image_batch(x: Any, view: str) -> Tensor:
    a = as_array(x, "x", view)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[0] < 1:
        raise ValueError(f"tc.viz.{view}: x must be one image (C, H, W) or a batch (N, C, H, W), "
                         f"got shape {a.shape}")
    return Tensor._wrap(np.ascontiguousarray(a[:1], dtype=np.float32))


def _show_image(ax: Any, img: np.ndarray, title: str) -> None:
    """img (C, H, W): grey for one channel, RGB (min-max scaled) for three."""
    if img.shape[0] == 3:
        lo, hi = img.min(), img.max()
        ax.imshow(np.transpose((img - lo) / (hi - lo + 1e-12), (1, 2, 0)))
    else:
        ax.imshow(img[0], cmap="gray")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([]), ax.set_yticks([])


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _mosaic(tiles: np.ndarray, rows: int, cols: int, gap: int = 1) -> np.ndarray:
    """tiles (n, KH, KW[, 3]) -> one image of rows × cols tiles separated by NaN gaps (drawn
    white), so a layer's kernels are one imshow, not one axes each."""
    n, kh, kw = tiles.shape[:3]
    extra = tiles.shape[3:]
    out = np.full((rows * (kh + gap) - gap, cols * (kw + gap) - gap, *extra), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (kh + gap):r * (kh + gap) + kh, c * (kw + gap):c * (kw + gap) + kw] = tiles[k]
    return out


def filters(conv_layer: Any, *, max_filters: int = 64, title: str | None = None) -> Any:
    """The kernels of a conv layer (or a weight (C_out, C_in, KH, KW)) as one mosaic: one row
    per output channel (up to `max_filters`), one tile per input channel (a grid of filters
    when there is one input channel); 3-channel kernels are drawn as RGB tiles. One symmetric
    colour scale for all tiles (red > 0 > blue), so the tiles compare."""
    weight = getattr(conv_layer, "weight", conv_layer)
    w = as_array(weight, "conv_layer", "filters")
    if w.ndim != 4 or 0 in w.shape:
        raise ValueError(f"tc.viz.filters: expected a 2-D conv layer or a non-empty weight (C_out, "
                         f"C_in, KH, KW), got a weight of shape {w.shape}")
    if w.dtype.kind not in "fiub":
        raise TypeError(f"tc.viz.filters: the weight must hold real numbers, got dtype {w.dtype}")
    check_str(title, "title", "tc.viz.filters", allow_none=True)
    if not isinstance(max_filters, (int, np.integer)) or isinstance(max_filters, bool) or max_filters < 1:
        raise ValueError(f"tc.viz.filters: max_filters must be an int >= 1, got {max_filters!r}")
    co, ci, kh, kw = w.shape
    shown = min(co, int(max_filters))
    w = w[:shown].astype(np.float64)
    if ci == 3:                                  # RGB tiles, each min-max scaled
        lo = w.min(axis=(1, 2, 3), keepdims=True)
        hi = w.max(axis=(1, 2, 3), keepdims=True)
        tiles, (rows, cols) = np.transpose((w - lo) / (hi - lo + 1e-12), (0, 2, 3, 1)), _grid(shown, 8)
    elif ci == 1:
        tiles, (rows, cols) = w[:, 0], _grid(shown, 8)
    else:
        tiles, rows, cols = w.reshape(shown * ci, kh, kw), shown, ci
    mosaic = _mosaic(tiles, rows, cols)
    cell = min(0.2, 10.0 / max(mosaic.shape[:2]))           # inches per kernel element
    fig = new_figure("filters", mosaic.shape[1] * cell + (0.8 if ci == 3 else 2.2),
                     mosaic.shape[0] * cell + 0.9)
    ax = fig.add_subplot()
    scale = float(np.abs(w).max()) or 1.0
    if ci == 3:
        ax.imshow(np.nan_to_num(mosaic, nan=1.0))
    else:
        import matplotlib
        cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")   # the gaps
        image = ax.imshow(mosaic, cmap=cmap, vmin=-scale, vmax=scale, interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.6, label="weight")
    centres = lambda n, k: [i * (k + 1) + (k - 1) / 2 for i in range(n)]   # noqa: E731
    if ci in (1, 3):
        ax.set_xticks([]), ax.set_yticks([])
        for k in range(shown):
            r, c = divmod(k, cols)
            ax.text(c * (kw + 1) - 0.4, r * (kh + 1) - 0.4, str(k), fontsize=6, va="top")
    else:
        ax.set_xticks(centres(cols, kw), [f"in {c}" for c in range(cols)], fontsize=7)
        ax.set_yticks(centres(rows, kh), [f"out {f}" for f in range(rows)], fontsize=7)
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    name = title or (f"{type(conv_layer).__name__} kernels" if not isinstance(conv_layer, (np.ndarray, Tensor))
                     else "kernels")
    note = f" (first {shown} of {co} shown)" if shown < co else ""
    fig.suptitle(f"{name}: weight {(co, ci, kh, kw)} (C_out, C_in, KH, KW){note}", fontsize=10)
    return fig


def feature_maps(model: Any, x: Any, layer: Any, *, max_maps: int = 32) -> Any:
    """The activations of `layer` (a module of `model` or its dotted name, e.g. "conv1") for
    one image `x` (C, H, W) or the first of a batch: the input, then one tile per channel of
    the layer's output, each with its own colour scale (the range is in the tile's title).
    Captured with a forward hook while the model runs in eval mode without gradients."""
    from ..autograd import no_grad

    max_maps = check_int(max_maps, "max_maps", "tc.viz.feature_maps", minimum=1)
    name, module = _find_layer(model, layer, "feature_maps")
    xb = _image_batch(x, "feature_maps")
    captured: list = []
    handle = module.register_forward_hook(lambda m, args, out: captured.append(out))
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(xb)
    finally:
        handle.remove()
        model.train(was_training)
    if not captured:
        raise ValueError(f"tc.viz.feature_maps: module {name!r} did not run in the forward pass")
    out = captured[0][0] if isinstance(captured[0], (tuple, list)) else captured[0]
    a = out.numpy()[0]
    if a.ndim == 1:                              # a Linear's output: one row of values
        a = a[:, None, None]
    if a.ndim != 3:
        raise ValueError(f"tc.viz.feature_maps: {name!r} outputs shape {tuple(out.shape)}; "
                         f"expected (N, C, H, W) feature maps")
    if not isinstance(max_maps, (int, np.integer)) or isinstance(max_maps, bool) or max_maps < 1:
        raise ValueError(f"tc.viz.feature_maps: max_maps must be an int >= 1, got {max_maps!r}")
    shown = min(a.shape[0], int(max_maps))
    rows, cols = _grid(shown + 1, 8)
    fig = new_figure("feature_maps", 1.35 * cols, 1.45 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    _show_image(axes[0, 0], xb.numpy()[0], "input")
    for k, ax in enumerate(axes.flat[1:]):
        ax.set_xticks([]), ax.set_yticks([])
        if k >= shown:
            ax.axis("off")
            continue
        ax.imshow(a[k], cmap="viridis")
        ax.set_title(f"ch {k} [{a[k].min():.1f}, {a[k].max():.1f}]", fontsize=7)
    note = f"; first {shown} of {a.shape[0]} channels" if shown < a.shape[0] else ""
    fig.suptitle(f"{name} ({type(module).__name__}) output {tuple(out.shape)}{note}", fontsize=10)
    return fig


def saliency(model: Any, x: Any, target: int | None = None) -> Any:
    """Which input pixels the class score depends on most: |∂ logit[target] / ∂ x|, the
    largest over channels (Simonyan et al. 2014). `target`: a class index (default the
    predicted class). Drawn as the image, the saliency map, and the map over the image. The
    model runs in eval mode; its parameters' .grad are left as they were."""
    _model(model, "saliency")
    if target is not None and (not isinstance(target, (int, np.integer)) or isinstance(target, bool)):
        raise TypeError(f"tc.viz.saliency: target must be a class index (int) or None, got {target!r}")
    xb = _image_batch(x, "saliency")
    xb.requires_grad = True
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    was_training = model.training
    try:
        for p in params:                         # only the input's gradient is wanted
            p.requires_grad = False
        model.eval()
        logits = model(xb)
        if logits.ndim != 2:
            raise ValueError(f"tc.viz.saliency: the model must output (N, classes) scores, got "
                             f"shape {tuple(logits.shape)}")
        predicted = int(np.argmax(logits.numpy()[0]))
        if target is not None and (not isinstance(target, (int, np.integer)) or isinstance(target, bool)):
            raise TypeError(f"tc.viz.saliency: target must be a class index (int) or None, got {target!r}")
        cls = predicted if target is None else int(target)
        if not 0 <= cls < logits.shape[1]:
            raise ValueError(f"tc.viz.saliency: target {target} is not a class index in "
                             f"[0, {logits.shape[1]})")
        logits[0, cls].backward()
    finally:
        for p, f in zip(params, flags):
            p.requires_grad = f
        model.train(was_training)
    grad = np.abs(xb.grad.numpy()[0]).max(axis=0)          # (C, H, W) -> (H, W)
    img = xb.detach().numpy()[0]
    fig = new_figure("saliency", 9, 3.4)
    axes = fig.subplots(1, 3)
    _show_image(axes[0], img, "input")
    axes[1].imshow(grad, cmap="hot")
    axes[1].set_title("|∂ score / ∂ input| (max over channels)", fontsize=8)
    grey = img.mean(axis=0)
    axes[2].imshow(grey, cmap="gray")
    axes[2].imshow(grad, cmap="hot", alpha=0.55)
    axes[2].set_title("overlay", fontsize=8)
    for ax in axes[1:]:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"saliency of class {cls} (the model predicts {predicted})", fontsize=10)
    return fig
