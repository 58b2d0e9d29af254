"""Shared pieces of the learning views (matplotlib, the optional `plot` extra): a figure without
pyplot's global state, a grid of numbers, argument coercion, and a figure's content signature
(the texts and array shapes it shows) that scripts/make_images.py uses to tell a stale picture."""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np

from ..tensor import Tensor

PLOT_HINT = "pip install 'tinygrad_cnn[plot]' (or pip install matplotlib)"
NUMBERS_MAX_CELLS = 16          # a grid up to 16 x 16 gets every number printed
HIGHLIGHT = "#d7191c"
SECOND = "#2b83ba"


_FIGURE_CLASS: list = []


def _figure_class() -> type:
    if not _FIGURE_CLASS:
        from matplotlib.figure import Figure

        class ViewFigure(Figure):
            """A matplotlib Figure that shows itself inline in Jupyter (PNG) without pyplot,
            with a one-line text repr."""

            def _repr_png_(self) -> bytes:
                import io
                buf = io.BytesIO()
                self.savefig(buf, format="png", dpi=90)
                return buf.getvalue()

            def __repr__(self) -> str:
                title = self.texts[0].get_text() if self.texts else ""
                title = title if len(title) <= 70 else title[:69] + "…"
                return (f"<tc.viz figure {title!r}: {len(self.axes)} axes; .savefig('view.png') "
                        f"writes it, Jupyter shows it inline>")

        _FIGURE_CLASS.append(ViewFigure)
    return _FIGURE_CLASS[0]


def new_figure(view: str, width: float, height: float) -> Any:
    """A matplotlib Figure that is not registered with pyplot (nothing global, no GUI backend);
    `fig.savefig(path)` writes PNG/SVG/PDF by the extension; Jupyter displays it inline."""
    try:
        cls = _figure_class()
    except ImportError:
        raise ImportError(f"tc.viz.{view} draws with matplotlib, which is not installed: "
                          f"{PLOT_HINT}") from None
    return cls(figsize=(width, height), layout="constrained")


def as_array(x: Any, name: str, view: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().numpy()
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple)):
        try:
            return np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"tc.viz.{view}: {name} must be a Tensor, a NumPy array or a nested list of "
                    f"numbers, got {type(x).__name__}")


def as_nchw(x: Any, view: str) -> np.ndarray:
    """(H, W), (C, H, W) or (N, C, H, W) -> (N, C, H, W)."""
    a = as_array(x, "x", view)
    if a.ndim == 2:
        a = a[None, None]
    elif a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or 0 in a.shape:
        raise ValueError(f"tc.viz.{view}: x must be (H, W), (C, H, W) or (N, C, H, W) and "
                         f"non-empty, got shape {tuple(as_array(x, 'x', view).shape)}")
    return a


def fmt_cell(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e4:
        return str(int(v))
    return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"


def draw_grid(ax: Any, a: np.ndarray, *, numbers: bool | None = None, cmap: str = "Greys",
              vmin: float | None = None, vmax: float | None = None, mask: np.ndarray | None = None,
              fontsize: float = 8) -> Any:
    """A 2-D array as coloured cells with thin grid lines; every number printed when the grid
    is small (numbers=None: up to NUMBERS_MAX_CELLS per side). `mask` greys out cells
    (padding). Returns the AxesImage."""
    a = np.asarray(a, dtype=np.float64)
    im = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks(np.arange(-0.5, a.shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, a.shape[0], 1), minor=True)
    ax.grid(which="minor", color="#c0c0c0", linewidth=0.4)
    ax.tick_params(which="minor", length=0)
    if mask is not None:                       # padding: solid light grey over the cells
        from matplotlib.colors import ListedColormap
        shade = np.ma.masked_where(~mask, np.ones_like(a))
        ax.imshow(shade, cmap=ListedColormap(["#d9d9d9"]), interpolation="nearest", vmin=0, vmax=1)
    if numbers is None:
        numbers = max(a.shape) <= NUMBERS_MAX_CELLS
    if numbers:
        lo = float(np.nanmin(a)) if vmin is None else vmin
        hi = float(np.nanmax(a)) if vmax is None else vmax
        mid = (lo + hi) / 2
        dark = cmap in ("Greys", "Blues", "Reds", "Oranges")
        for (i, j), v in np.ndenumerate(a):
            light_text = (v > mid) if dark else False
            ax.text(j, i, fmt_cell(v), ha="center", va="center", fontsize=fontsize,
                    color="white" if light_text else "black")
    return im


def outline(ax: Any, top: int, left: int, height: int, width: int, color: str = HIGHLIGHT,
            lw: float = 2.0, ls: str = "-") -> None:
    from matplotlib.patches import Rectangle
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor=color,
                           linewidth=lw, linestyle=ls))


def signature(fig: Any, mask_decimals: bool = False) -> str:
    """sha256 of what a figure says: every text (titles, labels, annotations, printed numbers)
    and the shape of every image, in order. It does not depend on pixels, fonts or the
    matplotlib version, so a committed PNG is stale exactly when the code would now draw
    something different. `mask_decimals` replaces numbers with a decimal point by '#' (for
    pictures of trained weights, whose last digits depend on the BLAS build)."""
    items: list = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        items += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        items += [t.get_text() for t in ax.texts]
        items += [list(im.get_array().shape) for im in ax.images]
    if mask_decimals:
        items = [re.sub(r"-?\d+\.\d+", "#", t) if isinstance(t, str) else t for t in items]
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode()).hexdigest()
