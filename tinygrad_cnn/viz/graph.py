"""Draw the autograd graph: DOT text (`to_dot`) and a renderable `graphviz.Digraph` (`draw_graph`).

What is drawn
    The graph runs the way the data flows: leaves at the top, the root (usually the loss) at the
    bottom. There are two kinds of node:

    * op nodes (rounded, blue): one per `Function` call, named by the Function (Conv2d,
      MaxPool2d, Linear, ReLU, CrossEntropy...) with the call's non-tensor arguments that differ
      from the `forward` signature's defaults (``stride=2, padding=1``);
    * tensor nodes (square): every tensor the graph touches, with its shape and dtype.
      Parameters (green) carry their dotted names (``conv1.weight``); inputs that need no
      gradient (images, labels) are grey with dashed edges, since no gradient flows there;
      the root is orange and, when it is a single number, shows its value.

    Ops made inside a Module's forward are grouped in one cluster per module (``conv1``,
    ``fc2``), nested like the modules, down to `max_depth` levels; each cluster is labelled with
    the module's dotted name and class, so repeated blocks (``layer1.0``, ``layer1.1``) stay
    distinguishable. Parameters sit inside the cluster of the module that owns them.

    Options add information without changing the layout:
    ``show_saved``  what each op keeps for backward (arrays, shapes, bytes, and which input or
                    output they alias); after a backward() without retain_graph, "freed".
    ``show_values`` statistics of each tensor's data (mean, std, min, max, share of exact zeros,
                    the last being how dead ReLUs show up).
    ``show_grads``  after backward(): each tensor's gradient (L2 norm, RMS, min, max) and every
                    edge coloured and thickened by the RMS of the gradient of the tensor it
                    touches, on a log scale (blue = smallest in this graph, red = largest, with a
                    legend in real units); an all-zero gradient is marked, NaN/Inf in red.
    Non-finite values are flagged in red in every mode.

Gradients of intermediate tensors
    backward() keeps `.grad` only on leaves (parameters, inputs). To see the gradient at every
    tensor, call `capture_grads(loss)` *before* `loss.backward()`: it calls `retain_grad()` on
    every non-leaf tensor of the graph (the engine then stores their gradients, at the cost of
    one extra array per tensor). Without it, `show_grads` shows the leaves' gradients only and
    says so in the graph's title.

Determinism
    Node ids are assigned in one deterministic walk (ops in forward topological order, inputs
    in argument order), so the same program gives the same DOT text (tests keep a golden file).
    The walk is iterative: a 10,000-op chain draws without RecursionError.
"""
from __future__ import annotations

import html
import inspect
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd import Context, topological_order
from ..tensor import Tensor
from ..argcheck import check_sequence, check_choice, check_flag, check_str, describe
from ..errors import ArgumentError, GraphvizNotFoundError
from ..nn.graph_stats import saved_arrays, saved_nbytes

__all__ = ["to_dot", "draw_graph", "capture_grads", "Graph", "GraphvizNotFoundError",
           "INSTALL_HINT"]

INSTALL_HINT = ("install the Graphviz 'dot' program: apt-get install graphviz (Debian/Ubuntu), "
                "brew install graphviz (macOS), or conda install graphviz (conda)")

# ----------------------------------------------------------------------------------- styling
FONT = "Helvetica,Arial,sans-serif"
OP_FILL = "#dbe9f6"
OP_FREED_FILL = "#eef3f8"
TENSOR_FILL = "#ffffff"
PARAM_FILL = "#d9f2d0"
LEAF_GRAD_FILL = "#fff2cc"        # a leaf that requires grad but is not a parameter
DATA_FILL = "#eeeeee"              # a leaf that does not require grad (images, labels)
ROOT_FILL = "#fcd5b4"
SAVED_FILL = "#ffe6cc"
BAD_COLOR = "#d7191c"
NO_GRAD_EDGE = "#9e9e9e"
PLAIN_EDGE = "#404040"
CLUSTER_FILLS = ("#f7f7f7", "#eef5fb", "#fbf3e8", "#f1f8ec", "#f6eefa")
# blue -> green -> orange -> red: small -> large gradient RMS (all dark enough for thin lines)
GRAD_ANCHORS = ((0x2b, 0x83, 0xba), (0x1a, 0x96, 0x41), (0xfd, 0x8d, 0x3c), (0xd7, 0x19, 0x1c))
VANISHING_RMS = 1e-7               # gradient RMS below this is flagged as vanishing
EXPLODING_RMS = 1e3                # and above this as exploding




# ------------------------------------------------------------------------ capture the grads
def capture_grads(*roots: Any) -> int:
    """Make backward() keep the gradient of every non-leaf tensor in the graph of `roots`.

    Call it after the forward pass and before ``loss.backward()``; then
    ``draw_graph(loss, show_grads=True)`` shows a gradient at every tensor, not only at the
    leaves. Returns the number of tensors that will retain their gradient.
    """
    roots = _as_roots(roots)
    values, _, _, _ = _walk(roots)
    kept = [v.tensor for v in values if v.grad_fn is not None and v.tensor is not None]
    for t in kept:
        t.retain_grad()
    # backward releases intermediate tensors; the roots' contexts keep these alive for drawing
    for r in roots:
        if r.grad_fn is not None:
            r.grad_fn.keep = kept
    return len(kept)


# -------------------------------------------------------------------------------- traversal
def _as_roots(root: Any) -> tuple:
    items = root if isinstance(root, (tuple, list)) else (root,)
    flat: list = []
    stack = list(reversed(items))
    seen: set[int] = set()
    while stack:                               # nested tuples of outputs, flattened in order
        r = stack.pop()
        if isinstance(r, (tuple, list)):
            if id(r) in seen:                  # already flattened (or a list containing itself)
                continue
            seen.add(id(r))
            stack.extend(reversed(r))
        elif isinstance(r, Tensor):
            flat.append(r)
        else:
            raise TypeError(f"to_dot/draw_graph: the root must be a Tensor or a tuple of Tensors, "
                            f"got {type(r).__name__}")
    if not flat:
        raise TypeError("to_dot/draw_graph: no Tensor among the roots")
    return tuple(flat)


class _Value:
    """One value in the graph: a leaf tensor, or output `nr` of an op.

    Values are keyed by their producer (from the op's record-time `edges`), not by Tensor
    object: an in-place op gives the same Tensor object a new producer, and the ops that read
    it before must still point at the old value. `tensor` is a Tensor that currently holds
    this value (None when it was overwritten in place: then only shape and dtype are known).
    """

    __slots__ = ("tensor", "grad_fn", "nr", "shape", "dtype", "requires_grad", "overwritten")

    def __init__(self, tensor: Any, grad_fn: Any, nr: int, shape: tuple, dtype: Any,
                 requires_grad: bool) -> None:
        self.tensor, self.grad_fn, self.nr = tensor, grad_fn, nr
        self.shape, self.dtype, self.requires_grad = tuple(shape), np.dtype(dtype), requires_grad
        # the Tensor's version when a consumer still holds it but an in-place op has since
        # given it a new producer; None when nothing says so (after backward() the consumers'
        # references are freed, and then the value is simply gone, not overwritten)
        self.overwritten: int | None = None

    @property
    def fate(self) -> str | None:
        """What became of the value: "overwritten in place (now version N)" (the data shown,
        if any, is the copy the in-place op kept of the old value), "freed by backward" (no
        data any more), or None (the data is there, unchanged)."""
        if self.overwritten is not None:
            return f"overwritten in place (now version {self.overwritten})"
        return "freed by backward" if self.tensor is None else None

    @property
    def data(self) -> np.ndarray | None:
        return None if self.tensor is None else self.tensor.numpy()

    @property
    def grad(self) -> Any:
        return None if self.tensor is None else self.tensor.grad

    @property
    def name(self) -> str | None:
        return None if self.tensor is None else self.tensor.name


def _holds(t: Any, ctx: Context, nr: int) -> bool:
    return t is not None and t.grad_fn is ctx and t._output_nr == nr


def _walk(roots: tuple) -> tuple[list, list, dict, dict]:
    """Values and contexts reachable from `roots`, deterministic and iterative.

    Returns (values, ops, outputs, inputs_of): ops in forward topological order (every op after
    the ops that produced its inputs); values in order of first appearance in that walk (an
    op's inputs, then its outputs); outputs[id(ctx)] = {output_nr: _Value} for the outputs that
    something consumes (or that are roots); inputs_of[id(ctx)] = [_Value per Tensor input].
    """
    # inputs expanded first to last, so node ids follow the forward order of arguments
    order = topological_order([r.grad_fn for r in roots if r.grad_fn is not None],
                              lambda node: reversed(_edges(node)))

    by_key: dict[tuple, _Value] = {}
    outputs: dict[int, dict[int, _Value]] = {}

    def value(t: Any, edge: Any) -> _Value:
        if edge is None:
            key: tuple = ("leaf", id(t))
            if key not in by_key:
                by_key[key] = _Value(t, None, 0, t.shape, t.dtype, t.requires_grad)
            return by_key[key]
        c, nr = edge
        key = (id(c), nr)
        v = by_key.get(key)
        if v is None:
            shape, dtype = c.outputs_meta[nr] if nr < len(c.outputs_meta) else (t.shape, t.dtype)
            v = by_key[key] = _Value(None, c, nr, shape, dtype, True)
            outputs.setdefault(id(c), {})[nr] = v
        if v.tensor is None and _holds(t, c, nr):
            v.tensor = t
        elif isinstance(t, Tensor) and not _holds(t, c, nr):  # held, but re-produced in place since
            v.overwritten = t._version
        return v

    inputs_of: dict[int, list[_Value]] = {}
    for node in order:
        edges = _edges(node)
        inputs_of[id(node)] = [value(t, edges[i]) for i, t in enumerate(node.inputs)
                               if isinstance(t, Tensor) or edges[i] is not None]   # None: released by backward
    root_values = [value(r, (r.grad_fn, r._output_nr) if r.grad_fn is not None else None)
                   for r in roots]
    for v in by_key.values():                     # overwritten in place: a retain_grad() tensor?
        if v.tensor is None and v.grad_fn is not None and v.grad_fn.retained:
            ref = v.grad_fn.retained.get(v.nr)
            t = ref() if ref is not None else None
            if _holds(t, v.grad_fn, v.nr):
                v.tensor = t

    values: list[_Value] = []
    seen: set[int] = set()

    def add(v: _Value) -> None:
        if id(v) not in seen:
            seen.add(id(v))
            values.append(v)

    for node in order:
        for v in inputs_of[id(node)]:
            add(v)
        for nr in sorted(outputs.get(id(node), {})):
            add(outputs[id(node)][nr])
    for v in root_values:
        add(v)
    return values, order, outputs, inputs_of


def _edges(node: Context) -> tuple:
    """Per positional input: (producing Context, output_nr) recorded when the op ran, or None."""
    edges = getattr(node, "edges", None)
    if edges is None:                 # an engine without record-time edges: use the tensors
        edges = tuple((t.grad_fn, t._output_nr) if isinstance(t, Tensor) and t.grad_fn is not None
                      else None for t in node.inputs)
    return edges


# ------------------------------------------------------------------------------- formatting
def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fmt_num(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e4:
        return f"{v:.4g}"
    return f"{v:.2e}"


def _fmt_shape(shape: tuple) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _fmt_value(v: Any, limit: int = 36) -> str:
    """A short, readable rendering of a non-tensor argument."""
    if isinstance(v, np.ndarray):
        s = f"array{_fmt_shape(v.shape)} {v.dtype}" if v.size > 6 else np.array2string(
            v, separator=",", precision=4)
    elif isinstance(v, slice):
        parts = ["" if v.start is None else str(v.start), "" if v.stop is None else str(v.stop)]
        s = ":".join(parts) + ("" if v.step is None else f":{v.step}")
    elif v is Ellipsis:
        s = "..."
    elif isinstance(v, tuple):
        s = "(" + ", ".join(_fmt_value(x, limit) for x in v) + ("," if len(v) == 1 else "") + ")"
    elif isinstance(v, (float, np.floating)):
        s = f"{float(v):g}"
    elif isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        s = str(np.dtype(v))
    elif isinstance(v, Tensor):
        s = f"tensor{_fmt_shape(v.shape)}"
    else:
        s = repr(v)
    return s if len(s) <= limit else s[:limit - 1] + "…"


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


_SIGNATURES: dict[Any, tuple] = {}


def _forward_params(fn: type) -> tuple:
    """(names of the positional parameters after ctx, {name: default}) of fn.forward."""
    if fn not in _SIGNATURES:
        names: list[str] = []
        defaults: dict[str, Any] = {}
        var = None
        try:
            params = list(inspect.signature(fn.forward).parameters.values())[1:]   # skip ctx
        except (TypeError, ValueError):
            params = []
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                var = p.name
            elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                names.append(p.name)
            if p.default is not p.empty:
                defaults[p.name] = p.default
        _SIGNATURES[fn] = (names, defaults, var)
    return _SIGNATURES[fn]


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (ValueError, TypeError):   # arrays and other values without a plain truth value
        return False


# window arguments: a tuple with one equal value per spatial dim reads as that value
# (stride=(2, 2) -> 2, padding=((1, 1), (1, 1)) -> 1), and the neutral value is not shown
_WINDOW_ARGS = ("kernel", "kernel_size", "stride", "padding", "dilation", "out", "output_size")
_NEUTRAL = {"stride": 1, "dilation": 1, "padding": 0, "groups": 1}


def _compact(v: Any) -> Any:
    while isinstance(v, tuple) and len(v) > 0 and all(_same(x, v[0]) for x in v[1:]):
        v = v[0]
    return v


def _check_context(ctx: Any, op: str) -> None:
    if not isinstance(ctx, Context):
        raise ArgumentError(f"{op}: expected an op node (a tensor's .grad_fn), got {describe(ctx)}")


def op_arguments(ctx: Context) -> list[tuple[str, Any]]:
    """The non-tensor arguments of an op call, named after forward's parameters, without None,
    without those equal to forward's defaults, and with window arguments compacted and their
    neutral values hidden (a conv with stride (2, 2), padding ((1, 1), (1, 1)), dilation (1, 1),
    groups 1 gives [('stride', 2), ('padding', 1)])."""
    _check_context(ctx, "op_arguments")
    names, defaults, var = _forward_params(ctx.fn)
    items: list[tuple[str, Any]] = []
    for i, v in enumerate(ctx.inputs):
        if isinstance(v, Tensor) or v is None:
            continue
        items.append((names[i] if i < len(names) else (f"{var}[{i - len(names)}]" if var else f"arg{i}"), v))
    items += [(k, v) for k, v in ctx.kwargs.items() if not isinstance(v, Tensor) and v is not None]
    out: list[tuple[str, Any]] = []
    for name, v in items:
        if name in defaults and _same(v, defaults[name]):
            continue
        if name in _WINDOW_ARGS or name == "groups":
            v = _compact(v)
            if name in _NEUTRAL and _same(v, _NEUTRAL[name]):
                continue
        out.append((name, v))
    return out


def op_name(ctx: Context) -> str:
    """The name an op node shows: `fn.graph_label(ctx)` when the Function defines it, else the
    Function's name, with a dimension-generic "Nd" suffix resolved from the output's spatial
    dims (ConvNd producing (N, C, H, W) shows as Conv2d)."""
    _check_context(ctx, "op_name")
    custom = getattr(ctx.fn, "graph_label", None)
    if callable(custom):
        return str(custom(ctx))
    name = ctx.name
    if name.endswith("Nd") and ctx.outputs_meta:
        nd = len(ctx.outputs_meta[0][0]) - 2
        if nd >= 1:
            return f"{name[:-2]}{nd}d"
    return name


def _stats(a: np.ndarray) -> dict | None:
    if a.dtype.kind not in "fiub" or a.size == 0:
        return None
    x = a.astype(np.float64, copy=False)
    finite = np.isfinite(x)
    good = x[finite] if not finite.all() else x
    out = {"nonfinite": int(x.size - finite.sum()), "size": int(x.size)}
    if good.size:
        out.update(mean=float(good.mean()), std=float(good.std()), min=float(good.min()),
                   max=float(good.max()), norm=float(np.sqrt(np.sum(good * good))),
                   rms=float(np.sqrt(np.mean(good * good))), zeros=float(np.mean(good == 0)))
    return out


def _grad_color(level: float) -> str:
    """level in [0, 1] -> a colour between the GRAD_ANCHORS."""
    level = min(max(level, 0.0), 1.0) * (len(GRAD_ANCHORS) - 1)
    i = min(int(level), len(GRAD_ANCHORS) - 2)
    f = level - i
    c = [round(a + (b - a) * f) for a, b in zip(GRAD_ANCHORS[i], GRAD_ANCHORS[i + 1])]
    return "#%02x%02x%02x" % tuple(c)


def _dot_id(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attrs(**kw: Any) -> str:
    parts = []
    for k, v in kw.items():
        if v is None:
            continue
        if isinstance(v, str) and v.startswith("<") and v.endswith(">"):
            parts.append(f"{k}={v}")               # HTML-like label
        else:
            parts.append(f"{k}={_dot_id(str(v))}")
    return "[" + " ".join(parts) + "]"


# ------------------------------------------------------------------------- module discovery
def _module_names(ops: list) -> tuple[dict, dict, list]:
    """Dotted names for the modules seen in the ops' scopes, and their parameters.

    Returns (module_name, param_name, tops): module_name[id(m)] = dotted name ('' for a top-level
    module), param_name[id(p)] = dotted parameter name, tops = top-level modules in order.
    """
    tops: list = []
    seen: set[int] = set()
    for ctx in ops:
        scope = getattr(ctx, "scope", ()) or ()
        if scope and id(scope[0]) not in seen:
            seen.add(id(scope[0]))
            tops.append(scope[0])
    module_name: dict[int, str] = {}
    param_name: dict[int, str] = {}
    with_params = [m for m in tops if _named(m, "named_parameters")]
    prefix_needed = len(with_params) > 1
    for k, m in enumerate(tops):
        prefix = f"{type(m).__name__}{k}." if prefix_needed else ""
        for name, sub in _named(m, "named_modules"):
            module_name.setdefault(id(sub), name)
        for name, p in _named(m, "named_parameters"):
            param_name.setdefault(id(p), prefix + name)
    return module_name, param_name, tops


def _named(module: Any, method: str) -> list:
    fn = getattr(module, method, None)
    if fn is None:
        return []
    try:
        return list(fn())
    except TypeError:                  # a module class with an unusual signature: no names
        return []


def _module_label(module: Any, name: str) -> str:
    cls = type(module).__name__
    extra = ""
    er = getattr(module, "extra_repr", None)
    if callable(er):
        try:
            extra = str(er())
        except (TypeError, ValueError, AttributeError):
            extra = ""
    head = f"<B>{_esc(name)}</B>: {_esc(cls)}" if name else f"<B>{_esc(cls)}</B>"
    if extra and len(extra) <= 60 and "\n" not in extra:
        head += f'<BR/><FONT POINT-SIZE="9">{_esc(extra)}</FONT>'
    return "<" + head + ">"


# ------------------------------------------------------------------------------- the builder
def _build(root: Any, params: dict | None, show_saved: bool, show_values: bool,
           show_grads: bool, cluster_modules: bool, max_depth: int | None, rankdir: str,
           title: str | None) -> list[str]:
    """The body lines (each ending in a newline) of the DOT graph."""
    for flag, value in (("show_saved", show_saved), ("show_values", show_values),
                        ("show_grads", show_grads), ("cluster_modules", cluster_modules)):
        check_flag(value, flag, "to_dot")
    check_str(title, "title", "to_dot", allow_none=True)
    if not isinstance(rankdir, str) or rankdir not in ("TB", "BT", "LR", "RL"):
        raise ValueError(f"to_dot: rankdir must be one of 'TB', 'BT', 'LR', 'RL', got {rankdir!r}")
    if max_depth is not None and (not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 0):
        raise ValueError(f"to_dot: max_depth must be None or an int >= 0, got {max_depth!r}")
    roots = _as_roots(root)
    tensors, ops, outputs, inputs_of = _walk(roots)       # tensors: _Value objects
    root_ids = {id(v) for v in tensors
                if any(v.tensor is r or (v.grad_fn is not None and _holds(r, v.grad_fn, v.nr))
                       for r in roots)}

    module_name, auto_param_name, _ = _module_names(ops)
    if params is not None:
        if not isinstance(params, dict):
            params = _name_pairs(params)      # an iterable of (name, tensor), e.g. named_parameters()
        by_tensor = {id(p): str(n) for n, p in params.items()}
    else:
        by_tensor = auto_param_name
    # names of leaf values (parameters), keyed like every other per-value table
    param_name = {id(v): by_tensor[id(v.tensor)] for v in tensors
                  if v.grad_fn is None and id(v.tensor) in by_tensor}

    # --- ids, deterministic: tensors t0.., ops op0..
    tid = {id(t): f"t{i}" for i, t in enumerate(tensors)}
    oid = {id(c): f"op{i}" for i, c in enumerate(ops)}

    # --- gradient colour scale (log10 RMS over the graph)
    grad_stats: dict[int, dict] = {}
    missing_grads = 0
    if show_grads:
        for t in tensors:
            if t.grad is not None:
                s = _stats(t.grad.numpy())
                if s is not None:
                    grad_stats[id(t)] = s
            elif t.requires_grad:
                missing_grads += 1
    # the colour scale spans the gradients in this graph, except the roots' (d loss / d loss = 1
    # says nothing and would stretch the scale)
    logs = [math.log10(s["rms"]) for k, s in grad_stats.items()
            if k not in root_ids and s.get("rms", 0) > 0 and math.isfinite(s["rms"])]
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 1.0)
    if hi - lo < 1.0:                        # at least one decade, centred
        mid = (hi + lo) / 2
        lo, hi = mid - 0.5, mid + 0.5

    def grad_level(t: _Value) -> tuple[str, float] | None:
        s = grad_stats.get(id(t))
        if s is None:
            return None
        if s["nonfinite"]:
            return BAD_COLOR, 3.0
        rms = s.get("rms", 0.0)
        if rms <= 0:
            return NO_GRAD_EDGE, 1.0
        level = min(max((math.log10(rms) - lo) / (hi - lo), 0.0), 1.0)
        return _grad_color(level), 1.0 + 2.5 * level

    # --- clusters: node -> cluster path (tuple of module ids, truncated at max_depth)
    depth_limit = 0 if not cluster_modules else (10 ** 9 if max_depth is None else max_depth)
    modules: dict[int, Any] = {}

    def path_of(scope: tuple) -> tuple:
        for m in scope:
            modules[id(m)] = m
        return tuple(id(m) for m in scope[:depth_limit])

    node_path: dict[str, tuple] = {}
    for c in ops:
        p = path_of(tuple(getattr(c, "scope", ()) or ()))
        node_path[oid[id(c)]] = p
        for t in outputs.get(id(c), {}).values():
            node_path[tid[id(t)]] = p
    # parameters go into the cluster of the module that owns them, if that cluster is drawn
    path_by_name: dict[str, tuple] = {}
    for c in ops:
        scope = tuple(getattr(c, "scope", ()) or ())
        for k in range(1, len(scope) + 1):
            name = module_name.get(id(scope[k - 1]))
            if name is not None:
                path_by_name.setdefault(name, path_of(scope[:k]))
    for t in tensors:
        n = param_name.get(id(t))
        if n is not None and t.grad_fn is None:
            owner = n.rsplit(".", 1)[0] if "." in n else ""
            if owner in path_by_name:
                node_path[tid[id(t)]] = path_by_name[owner]

    lines: list[str] = []
    add = lines.append

    # --- graph title
    n_params = sum(1 for t in tensors if id(t) in param_name and t.grad_fn is None)
    n_values = sum(int(np.prod(t.shape, dtype=np.int64)) for t in tensors
                   if id(t) in param_name and t.grad_fn is None)
    summary = [f"{len(ops)} ops", f"{len(tensors)} tensors"]
    if n_params:
        summary.append(f"{n_params} parameters ({n_values:,} values)")
    if show_saved:
        held, freed = _saved_bytes(ops)
        summary.append(f"saved for backward: {_fmt_bytes(held)}" + (f", {freed} ops freed" if freed else ""))
    title_lines = [_esc(title)] if title else []
    title_lines.append(_esc(" · ".join(summary)))
    if show_grads and missing_grads:
        title_lines.append(_esc(f"{missing_grads} tensors have no .grad: call tc.viz.capture_grads(loss) "
                                f"before backward() to keep intermediate gradients"))
    add("\t" + "graph " + _attrs(rankdir=rankdir, fontname=FONT, fontsize="11", labelloc="t",
                                  label="<" + "<BR/>".join(title_lines) + ">", newrank="true",
                                  nodesep="0.25", ranksep="0.35") + "\n")
    add("\t" + "node " + _attrs(fontname=FONT, fontsize="10", margin="0.08,0.03", height="0.3",
                                 penwidth="1") + "\n")
    add("\t" + "edge " + _attrs(fontname=FONT, fontsize="9", arrowsize="0.6",
                                 color=PLAIN_EDGE) + "\n")

    # --- node statements, grouped by cluster path
    stmts: dict[tuple, list[str]] = {}

    def put(node_id: str, stmt: str) -> None:
        stmts.setdefault(node_path.get(node_id, ()), []).append(stmt)

    placed: set[int] = set()

    def put_tensor(t: _Value) -> None:
        if id(t) not in placed:
            placed.add(id(t))
            put(tid[id(t)], _tensor_node(tid[id(t)], t, param_name.get(id(t)), id(t) in root_ids,
                                         show_values, grad_stats.get(id(t)) if show_grads else None))

    # statements in dataflow order (an op after its inputs, its outputs right after it): dot
    # uses this order to break ties, so the picture follows the program
    edges: list[str] = []
    saved_count = 0
    for c in ops:
        o = oid[id(c)]
        for t in inputs_of[id(c)]:
            put_tensor(t)
            edges.append(_edge(tid[id(t)], o, t, grad_level(t) if show_grads else None))
        put(o, _op_node(o, c, show_saved))
        if show_saved and not c.freed:
            for name, arr in saved_arrays(c):
                sid = f"s{saved_count}"
                saved_count += 1
                put(o, f"{sid} " + _attrs(shape="note", style="filled", fillcolor=SAVED_FILL,
                                          fontsize="9", label=_saved_label(name, arr, c, outputs)))
                edges.append(f"{sid} -> {o} " + _attrs(style="dashed", color="#e6a15c",
                                                        arrowhead="odot", arrowsize="0.5"))
        for nr in sorted(outputs.get(id(c), {})):
            t = outputs[id(c)][nr]
            put_tensor(t)
            label = f"out{nr}" if len(c.outputs_meta) > 1 else None
            edges.append(_edge(o, tid[id(t)], t, grad_level(t) if show_grads else None, label))
    for t in tensors:
        put_tensor(t)

    # --- emit clusters as a tree (iteratively), then edges
    children: dict[tuple, list[tuple]] = {}
    for p in sorted(stmts, key=lambda p: len(p)):
        for k in range(1, len(p) + 1):
            parent, child = p[:k - 1], p[:k]
            lst = children.setdefault(parent, [])
            if child not in lst:
                lst.append(child)
    # deterministic child order: order of first appearance among the nodes
    first_seen: dict[tuple, int] = {}
    node_order = [oid[id(c)] for c in ops] + [tid[id(t)] for t in tensors]
    for i, p in enumerate(node_path.get(n, ()) for n in node_order):
        for k in range(len(p) + 1):
            first_seen.setdefault(p[:k], i)
    for lst in children.values():
        lst.sort(key=lambda p: first_seen.get(p, 1 << 30))

    cluster_ids: dict[tuple, str] = {}
    used: set[str] = set()

    def cluster_id(p: tuple) -> str:
        if p not in cluster_ids:
            m = modules[p[-1]]
            name = module_name.get(p[-1]) or type(m).__name__
            base, k = f"cluster_{name}", 1
            cid = base
            while cid in used:
                k += 1
                cid = f"{base}_{k}"
            used.add(cid)
            cluster_ids[p] = cid
        return cluster_ids[p]

    work: list[tuple[str, Any]] = [("body", ())]
    while work:
        kind, p = work.pop()
        indent = "\t" * (len(p) + 1)
        if kind == "close":
            add(indent[:-1] + "}\n")
            continue
        if p:
            m = modules[p[-1]]
            name = module_name.get(p[-1], "")
            add(indent[:-1] + f"subgraph {_dot_id(cluster_id(p))} {{\n")
            add(indent + "graph " + _attrs(label=_module_label(m, name), style="rounded,filled",
                                           fillcolor=CLUSTER_FILLS[(len(p) - 1) % len(CLUSTER_FILLS)],
                                           color="#b0b0b0", fontsize="10", labeljust="l") + "\n")
        for s in stmts.get(p, []):
            if s:
                add(indent + s + "\n")
        if p:
            work.append(("close", p))
        for child in reversed(children.get(p, [])):
            work.append(("body", child))
    for e in edges:
        add("\t" + e + "\n")
    if show_grads and grad_stats:
        add("\t" + _legend(lo, hi) + "\n")
    return lines


def _saved_bytes(ops: list) -> tuple[int, int]:
    """(bytes the ops hold for backward, each memory block once; ops already freed)."""
    return saved_nbytes(ops), sum(1 for c in ops if c.freed)


def _saved_label(name: str, arr: np.ndarray, ctx: Context, outputs: dict) -> str:
    alias = ""
    for i, t in enumerate(ctx.inputs):
        a = t.numpy() if isinstance(t, Tensor) else None
        if a is not None and (a is arr or np.may_share_memory(a, arr)):
            alias = f"= input {i}" if a is arr else f"view of input {i}"
            break
    if not alias:
        for nr, t in outputs.get(id(ctx), {}).items():
            if t.data is not None and (t.data is arr or np.may_share_memory(t.data, arr)):
                alias = "= output" if t.data is arr else "view of output"
                break
    text = f"{_esc(name)}<BR/>{_fmt_shape(arr.shape)} {arr.dtype} · {_fmt_bytes(arr.nbytes)}"
    if alias:
        text += f"<BR/><I>{_esc(alias)}</I>"
    return "<" + text + ">"


def _tensor_node(node_id: str, t: _Value, pname: str | None, is_root: bool, show_values: bool,
                 gstats: dict | None) -> str:
    is_param = pname is not None and t.grad_fn is None
    is_param_type = type(t.tensor).__name__ == "Parameter"
    name = pname if is_param else t.name
    lines = []
    if name:
        lines.append(f"<B>{_esc(name)}</B>")
    lines.append(_esc(f"{_fmt_shape(t.shape)} {t.dtype}"))
    data = t.data
    if t.fate is not None:                # freed by backward, or overwritten by an in-place op
        lines.append(f'<FONT POINT-SIZE="8" COLOR="#707070"><I>{_esc(t.fate)}</I></FONT>')
    if data is None:
        data = np.zeros(0)
    bad = data.dtype.kind == "f" and not np.isfinite(data).all()
    if data.size == 1 and data.dtype.kind in "fiub" and (is_root or show_values):
        lines.append(_esc(f"= {_fmt_num(float(data.reshape(-1)[0]))}"))
    elif show_values:
        s = _stats(data)
        if s is not None and "mean" in s:
            lines.append(_esc(f"μ {_fmt_num(s['mean'])}  σ {_fmt_num(s['std'])}"))
            lines.append(_esc(f"[{_fmt_num(s['min'])}, {_fmt_num(s['max'])}]")
                         + (_esc(f"  zeros {100 * s['zeros']:.0f}%") if s["zeros"] > 0 else ""))
    if bad:
        n_nan = int(np.isnan(data).sum())
        n_inf = int(data.size - np.isfinite(data).sum()) - n_nan
        lines.append(f'<FONT COLOR="{BAD_COLOR}"><B>{_esc(f"NaN ×{n_nan}, Inf ×{n_inf}")}</B></FONT>')
    if gstats is not None:
        if gstats["nonfinite"]:
            lines.append(f'<FONT COLOR="{BAD_COLOR}"><B>∇ has {gstats["nonfinite"]} NaN/Inf</B></FONT>')
        if "rms" in gstats:
            if gstats["rms"] == 0:
                lines.append('<FONT COLOR="#707070">∇ all zero</FONT>')
            else:
                flag = ""
                if gstats["rms"] < VANISHING_RMS:
                    flag = " (vanishing)"
                elif gstats["rms"] > EXPLODING_RMS:
                    flag = " (exploding)"
                lines.append(_esc(f"∇ norm {_fmt_num(gstats['norm'])} · rms {_fmt_num(gstats['rms'])}{flag}"))
                lines.append(_esc(f"∇ [{_fmt_num(gstats['min'])}, {_fmt_num(gstats['max'])}]"))
    if is_root:
        fill = ROOT_FILL
    elif is_param or (is_param_type and t.grad_fn is None):
        fill = PARAM_FILL
    elif t.grad_fn is None:
        fill = LEAF_GRAD_FILL if t.requires_grad else DATA_FILL
    else:
        fill = TENSOR_FILL
    style = "filled" if t.requires_grad or is_root else "filled,dashed"
    return f"{node_id} " + _attrs(shape="box", style=style, fillcolor=fill,
                                  color=BAD_COLOR if bad else None, penwidth="2" if bad else None,
                                  fontsize="9" if t.grad_fn is not None and not is_root else None,
                                  label="<" + "<BR/>".join(lines) + ">")


def _op_node(node_id: str, ctx: Context, show_saved: bool) -> str:
    lines = [f"<B>{_esc(op_name(ctx))}</B>"]
    args = op_arguments(ctx)
    if args:
        parts = [f"{k}={_fmt_value(v)}" for k, v in args]
        row, rows = "", []
        for part in parts:                    # wrap long argument lists over several lines
            if row and len(row) + len(part) > 40:
                rows.append(row)
                row = ""
            row = part if not row else row + ", " + part
        rows.append(row)
        lines += [f'<FONT POINT-SIZE="9">{_esc(r)}</FONT>' for r in rows]
    if show_saved:
        if ctx.freed:
            lines.append('<FONT POINT-SIZE="8" COLOR="#707070"><I>saved: freed by backward()</I></FONT>')
        else:
            items = saved_arrays(ctx)
            if items:
                total = saved_nbytes([ctx])
                lines.append(f'<FONT POINT-SIZE="8">saved {len(items)} · {_esc(_fmt_bytes(total))}</FONT>')
    return f"{node_id} " + _attrs(shape="box", style="rounded,filled",
                                  fillcolor=OP_FREED_FILL if ctx.freed and show_saved else OP_FILL,
                                  label="<" + "<BR/>".join(lines) + ">")


def _edge(src: str, dst: str, t: _Value, level: tuple | None, label: str | None = None) -> str:
    kw: dict[str, Any] = {}
    if not t.requires_grad:
        kw.update(style="dashed", color=NO_GRAD_EDGE)
    elif level is not None:
        color, width = level
        kw.update(color=color, penwidth=f"{width:.2f}")
    if label:
        kw["label"] = label
    return f"{src} -> {dst}" + (" " + _attrs(**kw) if kw else "")


def _legend(lo: float, hi: float) -> str:
    cells = []
    steps = 5
    for i in range(steps):
        level = i / (steps - 1)
        value = 10 ** (lo + level * (hi - lo))
        cells.append(f'<TD BGCOLOR="{_grad_color(level)}"><FONT COLOR="white" POINT-SIZE="8">'
                     f'{value:.1e}</FONT></TD>')
    table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="3">'
             '<TR><TD COLSPAN="%d"><FONT POINT-SIZE="9">edge colour: gradient RMS (log scale)</FONT></TD></TR>'
             '<TR>%s</TR></TABLE>>') % (steps, "".join(cells))
    return "grad_legend " + _attrs(shape="plaintext", label=table)


# ------------------------------------------------------------------------------ public API
def _name_pairs(params: Any) -> dict:
    """dict(params) for an iterable of (name, tensor) pairs, or an error naming `params`."""
    what = "a dict or (name, tensor) pairs such as model.named_parameters()"
    items = check_sequence(params, "params", "to_dot", what, exclude=(Tensor,))
    if not all(isinstance(i, (tuple, list)) and len(i) == 2 for i in items):
        raise ArgumentError(f"to_dot: params must be a dict or (name, tensor) pairs such as "
                            f"model.named_parameters(), got {describe(params)}")
    return dict(items)


def to_dot(root: Any, params: Any = None, *, show_saved: bool = False, show_values: bool = False,
           show_grads: bool = False, cluster_modules: bool = True, max_depth: int | None = None,
           rankdir: str = "TB", title: str | None = None) -> str:
    """The DOT text of the graph that produced `root` (a Tensor or a tuple of Tensors).

    Needs no Graphviz installation. `params` maps names to parameters
    (``dict(model.named_parameters())``); when omitted, names are found from the modules whose
    forward recorded the ops. See the module docstring for what each option shows.
    """
    body = _build(root, params, show_saved, show_values, show_grads, cluster_modules,
                  max_depth, rankdir, title)
    return "digraph G {\n" + "".join(body) + "}\n"


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise ImportError("draw_graph needs the 'graphviz' Python package (pip install graphviz) "
                          "and the Graphviz program: " + INSTALL_HINT
                          + ". tc.viz.to_dot(...) gives the DOT text without either.") from None
    return graphviz


_RENDER_FORMATS = {"svg", "png", "pdf", "jpg", "jpeg", "gif", "ps", "eps", "json", "xdot",
                   "plain", "dot", "gv", "webp", "bmp", "tif", "tiff"}


def _make_graph_class():
    graphviz = _graphviz()

    class Graph(graphviz.Digraph):
        """A graphviz.Digraph whose ``render(path)`` takes the format from the extension
        (``g.render('lenet.svg')`` writes lenet.svg, not lenet.svg.pdf) and which explains how
        to install Graphviz, instead of a bare ExecutableNotFound, when `dot` is missing."""

        def render(self, filename=None, directory=None, view=False, cleanup=None, format=None,
                   **kwargs: Any) -> str:
            outfile = kwargs.pop("outfile", None)
            if outfile is None and filename is not None and format is None:
                ext = Path(str(filename)).suffix.lower().lstrip(".")
                if ext in _RENDER_FORMATS - {"dot", "gv"}:
                    outfile = Path(directory or "") / str(filename)
                    filename = outfile.with_suffix(".dot")
                    directory = None
                    cleanup = True if cleanup is None else cleanup
            if outfile is not None:
                Path(outfile).parent.mkdir(parents=True, exist_ok=True)
                kwargs["outfile"] = os.fspath(outfile)
                if filename is None:
                    filename = Path(outfile).with_suffix(".dot")
            try:
                return super().render(filename, directory=directory, view=view,
                                      cleanup=bool(cleanup), format=format, **kwargs)
            except graphviz.CalledProcessError:
                if cleanup and filename is not None:    # no stray DOT file beside a failed render
                    Path(directory or "", str(filename)).unlink(missing_ok=True)
                raise
            except graphviz.ExecutableNotFound:
                dot_path = Path(directory or "") / (filename if filename is not None else
                                                    (self.filename or "graph.gv"))
                dot_path.parent.mkdir(parents=True, exist_ok=True)
                dot_path.write_text(self.source, encoding="utf-8")
                target = kwargs.get("outfile") or f"{dot_path}.{format or self.format}"
                raise GraphvizNotFoundError(
                    f"cannot render {target}: the Graphviz 'dot' executable was not found on "
                    f"PATH. To fix it, {INSTALL_HINT}. The DOT text was written to "
                    f"{os.path.abspath(dot_path)}; once Graphviz is installed, render it with "
                    f"`dot -T{Path(str(target)).suffix.lstrip('.') or 'svg'} {dot_path} -o {target}`.") from None

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise GraphvizNotFoundError(
                    "cannot render the graph: the Graphviz 'dot' executable was not found on "
                    f"PATH. To fix it, {INSTALL_HINT}. tc.viz.to_dot(...) (or this graph's "
                    ".source) gives the DOT text without it.") from None

        def __repr__(self) -> str:
            """Short and readable (the DOT text is `.source`): what it is and how to see it."""
            ids = re.findall(r"^\s*([A-Za-z_]\w*) \[", self.source, flags=re.M)
            n_nodes = sum(1 for i in ids if i not in ("graph", "node", "edge"))
            n_edges = len(re.findall(r"^\s*\S+ -> \S+", self.source, flags=re.M))
            title = re.search(r'label=<([^<>]*)', self.source)
            head = f" {html.unescape(title.group(1)).strip()!r}" if title and title.group(1).strip() else ""
            return (f"<tc.viz.Graph{head}: {n_nodes} nodes, {n_edges} edges; "
                    f".render('graph.svg') writes it, Jupyter shows it inline, .source is the DOT text>")

        def _repr_mimebundle_(self, include=None, exclude=None, **kwargs: Any) -> dict:
            """Jupyter: inline SVG at its natural size (no size attribute, so nothing is
            scaled down or clipped); the DOT text plus the install hint when dot is missing."""
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except (graphviz.ExecutableNotFound, GraphvizNotFoundError):
                return {"text/plain": f"[Graphviz 'dot' not found: {INSTALL_HINT}]\n" + self.source}

    return Graph


_GRAPH_CLASS: list = []


def _graph_class():
    if not _GRAPH_CLASS:
        _GRAPH_CLASS.append(_make_graph_class())
    return _GRAPH_CLASS[0]


def __getattr__(name: str) -> Any:          # `tc.viz.Graph`, built lazily (needs graphviz)
    if name == "Graph":
        return _graph_class()
    raise AttributeError(name)


def draw_graph(root: Any, params: Any = None, *, show_saved: bool = False,
               show_values: bool = False, show_grads: bool = False, cluster_modules: bool = True,
               max_depth: int | None = None, rankdir: str = "TB", title: str | None = None,
               format: str = "svg") -> Any:
    """The graph of `root` as a `graphviz.Digraph` (a `Graph`, see there).

    ``draw_graph(loss).render('graph.svg')`` writes an SVG (the extension picks the format:
    svg, png, pdf...); in Jupyter the returned object displays inline as SVG. Rendering needs
    the Graphviz `dot` program; without it, render raises GraphvizNotFoundError naming how to
    install it and where the DOT text was saved. Options as in `to_dot`.
    """
    formats = getattr(_graphviz(), "FORMATS", None)       # graphviz's own list of output formats
    check_choice(format, "format", "draw_graph", sorted(formats) if formats else [format] if isinstance(format, str) else [])
    body = _build(root, params, show_saved, show_values, show_grads, cluster_modules,
                  max_depth, rankdir, title)
    return _graph_class()(name="G", body=body, format=format)

