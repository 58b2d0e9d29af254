"""The module-level view of a model: `draw_model` / `model_to_dot` (what torchview draws).

    g = tc.viz.draw_model(model, tc.randn(1, 3, 224, 224), depth=1)   # Jupyter shows it inline
    g.render("resnet18.svg")

The model runs once on the example input with the graph recorded and a hook on every module
(`nn.graph_stats.record_calls`), so the picture shows what ran, not what `__init__` declared:

* every module call at `depth` levels below the model (or a leaf module above it) is ONE node,
  labelled with its dotted name, class, short settings and parameter count; a collapsed module
  that adds two branches (a residual block) or concatenates tensors (a dense block) says so;
* modules above `depth` are boxes (clusters) around their children;
* ops that a forward calls directly (`out += identity`, `torch.cat(...)`, `flatten`) are small
  ellipses, so residual and concat edges are visible where the modules are open;
* every edge carries the shape of the tensor that flows along it;
* with `roll=True`, consecutive calls of identical modules (same class, same settings, same
  input and output shapes) chained one into the next are drawn as one node "BasicBlock × 2".
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..argcheck import allocate, check_acyclic, check_choice, check_flag, check_shape, check_str
from ..nn.graph_stats import Call, assign_ops, record_calls, tensors_in
from ..tensor import Tensor
from .graph import FONT, _attrs, _dot_id, _esc, _fmt_shape, _graph_class, op_name

__all__ = ["draw_model", "model_to_dot"]

NODE_FILL = "#dbe9f6"
LEAF_FILL = "#eef5fb"
ROLLED_FILL = "#d9f2d0"
FREE_OP_FILL = "#fff2cc"
IO_FILL = "#eeeeee"
CLUSTER_FILLS = ("#f7f7f7", "#fbf3e8", "#f1f8ec", "#f6eefa")


def _example_inputs(example_input: Any) -> list[Tensor]:
    if isinstance(example_input, Tensor):
        return [example_input]
    if isinstance(example_input, np.ndarray):
        return [Tensor._wrap(example_input)]
    if isinstance(example_input, (tuple, list)) and example_input and \
            all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in example_input):
        shape = check_shape(example_input, "example_input (a shape)", "draw_model", itemsize=4)
        return [Tensor._wrap(allocate(shape, np.float32, "draw_model", fill=0))]          # a shape
    if isinstance(example_input, (tuple, list)) and example_input:
        out = []
        for x in example_input:
            out += _example_inputs(x)
        return out
    raise TypeError(f"draw_model: example_input must be a Tensor, an array, a shape such as "
                    f"(1, 3, 224, 224), or a tuple of those, got {type(example_input).__name__}")


def _n_params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


# PyTorch's defaults, left out of the node labels (a node says what is special about it)
_DEFAULT_SETTINGS = {"stride=1", "padding=0", "dilation=1", "groups=1", "bias=True",
                     "eps=1e-05", "momentum=0.1", "affine=True", "track_running_stats=True",
                     "inplace=False", "ceil_mode=False", "padding_mode=zeros", "start_dim=1",
                     "end_dim=-1", "elementwise_affine=True"}


def _settings(module: Any) -> list[str]:
    """The module's extra_repr, compacted ("kernel_size=(3, 3)" -> "kernel_size=3") and wrapped
    into lines of about 36 characters; nothing when it is long or multi-line."""
    er = getattr(module, "extra_repr", None)
    text = ""
    if callable(er):
        try:
            text = str(er())
        except (TypeError, ValueError, AttributeError):
            text = ""
    if not text or "\n" in text:
        return []
    text = re.sub(r"\((\d+), \1\)", r"\1", text)            # (3, 3) -> 3
    text = re.sub(r"\((\d+), \1, \1\)", r"\1", text)
    parts = [p.strip() for p in re.split(r", (?![^()]*\))", text) if p.strip()]
    parts, lines, row = [p for p in parts if p not in _DEFAULT_SETTINGS], [], ""
    for part in parts:
        if row and len(row) + len(part) > 36:
            lines.append(row)
            row = ""
        row = part if not row else row + ", " + part
    lines.append(row)
    lines = [line for line in lines if line]
    return lines if len(lines) <= 3 else []


def _structure_notes(ops: list, call_inputs: set) -> list[str]:
    """'adds 2 branches' / 'concatenates N' for a collapsed module whose ops do that."""
    adds = cats = 0
    for op in ops:
        name = op.fn.__name__
        tensors = [(i, t) for i, t in enumerate(op.inputs) if isinstance(t, Tensor) or
                   (op.edges[i] is not None)]
        # a branch: an activation (made by an op, or given to the call), not a parameter
        branches = [i for i, t in tensors if op.edges[i] is not None or id(t) in call_inputs]
        if name == "Add" and len(branches) >= 2:
            adds += 1
        elif name == "Cat":
            cats += 1
    notes = []
    if adds:
        notes.append("skip connection: adds 2 branches" + (f" ×{adds}" if adds > 1 else ""))
    if cats:
        notes.append("concatenates its inputs" + (f" ×{cats}" if cats > 1 else ""))
    return notes


class _Element:
    """One drawn node: a module call (or a rolled run of them), a free op, an input, an output."""
    __slots__ = ("id", "kind", "calls", "op", "parent", "label", "order")

    def __init__(self, id_: str, kind: str, parent: Any, order: int, calls: list | None = None,
                 op: Any = None, label: str = "") -> None:
        self.id, self.kind, self.parent, self.order = id_, kind, parent, order
        self.calls, self.op, self.label = calls or [], op, label


def _build(model: Any, example_input: Any, depth: int, roll: bool, mode: str, rankdir: str,
           title: str | None) -> list[str]:
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"draw_model: depth must be an int >= 0, got {depth!r}")
    check_choice(rankdir, "rankdir", "draw_model", ("TB", "BT", "LR", "RL"))
    check_choice(mode, "mode", "draw_model", ("eval", "train"))
    roll = check_flag(roll, "roll", "draw_model")
    check_str(title, "title", "draw_model", allow_none=True)
    inputs = _example_inputs(check_acyclic(example_input, "example_input", "draw_model"))
    calls = record_calls(model, inputs, mode)
    if not calls:
        raise TypeError(f"draw_model: {type(model).__name__} ran no module forward (is it an nn.Module?)")
    top = calls[0]
    shown = [c for c in calls if c.depth <= depth]
    has_children = {id(c.parent) for c in shown if c.parent is not None}
    owner = assign_ops(shown)
    ops = [op for c in shown for op in c.ops]

    # --- elements: node calls, free ops, inputs, outputs
    elements: dict[str, _Element] = {}
    of_call: dict[int, _Element] = {}
    of_op: dict[int, _Element] = {}
    for c in shown:
        if c is top and depth > 0 and id(c) in has_children:
            continue
        if c.depth == depth or id(c) not in has_children:
            parent = None if c is top or c.parent is top else c.parent
            e = _Element(f"m{c.index}", "module", parent, c.index, [c])
            elements[e.id] = of_call[id(c)] = e
    for k, op in enumerate(ops):
        c = owner[id(op)]
        if id(c) in of_call:
            of_op[id(op)] = of_call[id(c)]
        else:                                   # an op a (drawn-open) forward called directly
            e = _Element(f"f{k}", "op", c if c is not top else None, c.index, op=op)
            elements[e.id] = of_op[id(op)] = e
    input_ids = {id(x): i for i, x in enumerate(inputs)}
    for i, x in enumerate(inputs):
        elements[f"in{i}"] = _Element(f"in{i}", "input", None, -1, label=f"input{i if len(inputs) > 1 else ''}")
    outputs = tensors_in(top.output)
    out_edges = dict(zip((id(t) for t in outputs if t.grad_fn is not None), top.output_edges))
    for i, _ in enumerate(outputs):
        elements[f"out{i}"] = _Element(f"out{i}", "output", None, 1 << 30,
                                       label=f"output{i if len(outputs) > 1 else ''}")

    # --- edges between elements, labelled with the shape of what flows
    edges: dict[tuple, str] = {}

    def add_edge(src: _Element, dst: _Element, key: Any, shape: tuple) -> None:
        if src is not dst:
            edges.setdefault((src.id, dst.id, key), _fmt_shape(shape))

    for op in ops:
        dst = of_op[id(op)]
        for i, t in enumerate(op.inputs):
            edge = op.edges[i] if i < len(op.edges) else None
            if edge is not None and id(edge[0]) in of_op:
                producer, nr = edge
                add_edge(of_op[id(producer)], dst, (id(producer), nr), producer.outputs_meta[nr][0])
            elif isinstance(t, Tensor) and id(t) in input_ids:
                add_edge(elements[f"in{input_ids[id(t)]}"], dst, ("in", id(t)), t.shape)
    for i, t in enumerate(outputs):
        producer, nr = out_edges.get(id(t), (None, 0))
        if producer is not None and id(producer) in of_op:
            add_edge(of_op[id(producer)], elements[f"out{i}"], (id(producer), nr), t.shape)
        elif id(t) in input_ids:
            add_edge(elements[f"in{input_ids[id(t)]}"], elements[f"out{i}"], ("in", id(t)), t.shape)

    if roll:
        _roll(elements, edges)

    # --- emit: clusters for the open calls, nodes inside them, then edges
    lines: list[str] = []
    add = lines.append
    n_params = _n_params(model)
    shapes = ", ".join(_fmt_shape(x.shape) for x in inputs)
    head = title or f"{type(model).__name__}: modules at depth {depth}" + (", repeats rolled" if roll else "")
    add("\t" + "graph " + _attrs(rankdir=rankdir, fontname=FONT, fontsize="11", labelloc="t",
                                  label="<" + _esc(head) + "<BR/>" + _esc(f"input {shapes} · {n_params:,} parameters · {mode} mode")
                                  + ">", newrank="true", nodesep="0.3", ranksep="0.35") + "\n")
    add("\t" + "node " + _attrs(fontname=FONT, fontsize="10", margin="0.1,0.04", height="0.3") + "\n")
    add("\t" + "edge " + _attrs(fontname=FONT, fontsize="8", arrowsize="0.6", color="#404040",
                                 fontcolor="#505050") + "\n")
    by_parent: dict[int, list[_Element]] = {}
    for e in elements.values():
        by_parent.setdefault(id(e.parent) if e.parent is not None else 0, []).append(e)
    cluster_calls = [c for c in shown if c is not top and id(c) in has_children and id(c) not in of_call]
    children: dict[int, list[Call]] = {}
    for c in cluster_calls:
        p = c.parent if c.parent is not top else None
        children.setdefault(id(p) if p is not None else 0, []).append(c)

    work: list[tuple[str, Any]] = [("body", None)]
    while work:
        kind, c = work.pop()
        level = 0 if c is None else c.depth
        indent = "\t" * (level + 1)
        if kind == "close":
            add(indent[:-1] + "}\n")
            continue
        key = 0 if c is None else id(c)
        if c is not None:
            add(indent[:-1] + f"subgraph {_dot_id('cluster_' + (c.name or str(c.index)) + f'_{c.index}')} {{\n")
            add(indent + "graph " + _attrs(label=f"<<B>{_esc(c.name)}</B>: {_esc(type(c.module).__name__)}>",
                                           style="rounded,filled", color="#b0b0b0", fontsize="10",
                                           labeljust="l",
                                           fillcolor=CLUSTER_FILLS[(c.depth - 1) % len(CLUSTER_FILLS)]) + "\n")
        for e in sorted(by_parent.get(key, []), key=lambda e: e.order):
            add(indent + _node(e) + "\n")
        if c is not None:
            work.append(("close", c))
        for child in reversed(children.get(key, [])):
            work.append(("body", child))
    order = {e.id: e.order for e in elements.values()}
    for (src, dst, _), label in sorted(edges.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]])):
        add(f"\t{src} -> {dst} " + _attrs(label=" " + label) + "\n")
    return lines


def _node(e: _Element) -> str:
    if e.kind in ("input", "output"):
        return f"{e.id} " + _attrs(shape="box", style="rounded,filled", fillcolor=IO_FILL,
                                   label=f"<<B>{_esc(e.label)}</B>>")
    if e.kind == "op":
        return f"{e.id} " + _attrs(shape="ellipse", style="filled", fillcolor=FREE_OP_FILL,
                                   fontsize="9", label=f"<{_esc(op_name(e.op))}>")
    first, last = e.calls[0], e.calls[-1]
    m = first.module
    cls = type(m).__name__
    n = len(e.calls)
    name = first.name if n == 1 else f"{first.name} … {last.name}"
    lines = [f"<B>{_esc(name)}</B>: {_esc(cls)}" + (f" × {n}" if n > 1 else "")]
    leaf = not any(True for _ in m.children())
    for row in (_settings(m) if leaf else []):
        lines.append(f'<FONT POINT-SIZE="8">{_esc(row)}</FONT>')
    params = _n_params(m)
    if params:
        lines.append(f'<FONT POINT-SIZE="8">{params:,} parameters' + (f" each" if n > 1 else "") + "</FONT>")
    if not leaf:
        call_inputs = {id(t) for t in first.inputs}
        for note in _structure_notes(first.ops, call_inputs):
            lines.append(f'<FONT POINT-SIZE="8" COLOR="#a05000"><I>{_esc(note)}</I></FONT>')
    fill = ROLLED_FILL if n > 1 else (LEAF_FILL if leaf else NODE_FILL)
    return f"{e.id} " + _attrs(shape="box", style="rounded,filled", fillcolor=fill,
                               label="<" + "<BR/>".join(lines) + ">")


def _signature(c: Call) -> tuple:
    outs = tensors_in(c.output)
    return (type(c.module), repr(c.module), tuple(tuple(t.shape) for t in c.inputs),
            tuple(tuple(t.shape) for t in outs))


def _roll(elements: dict, edges: dict) -> None:
    """Merge chains of identical module calls (see the module docstring) into one element."""
    sources: dict[str, set] = {}
    targets: dict[str, set] = {}
    for src, dst, _ in edges:
        sources.setdefault(dst, set()).add(src)
        targets.setdefault(src, set()).add(dst)
    modules = sorted((e for e in elements.values() if e.kind == "module"), key=lambda e: e.order)
    merged_into: dict[str, _Element] = {}
    i = 0
    while i < len(modules):
        head = modules[i]
        run = [head]
        sig = _signature(head.calls[0])
        while i + len(run) < len(modules):
            nxt = modules[i + len(run)]
            prev = run[-1]
            if nxt.parent is not head.parent or _signature(nxt.calls[0]) != sig or \
                    sources.get(nxt.id) != {prev.id} or targets.get(prev.id) != {nxt.id}:
                break
            run.append(nxt)
        if len(run) > 1:
            head.calls = [c for e in run for c in e.calls]
            for e in run[1:]:
                merged_into[e.id] = head
                del elements[e.id]
        i += len(run)
    if not merged_into:
        return
    rewired: dict[tuple, str] = {}
    for (src, dst, key), label in edges.items():
        s = merged_into[src].id if src in merged_into else src
        d = merged_into[dst].id if dst in merged_into else dst
        if s != d:
            rewired.setdefault((s, d, key), label)
    edges.clear()
    edges.update(rewired)


# ------------------------------------------------------------------------------ public API
def model_to_dot(model: Any, example_input: Any, depth: int = 1, roll: bool = True, *,
                 mode: str = "eval", rankdir: str = "TB", title: str | None = None) -> str:
    """The DOT text of the module-level view of `model` run on `example_input` (a Tensor, a
    shape such as (1, 3, 224, 224), or a tuple of those for several inputs); see the module
    docstring. Needs no Graphviz installation."""
    return "digraph M {\n" + "".join(_build(model, example_input, depth, roll, mode, rankdir, title)) + "}\n"


def draw_model(model: Any, example_input: Any, depth: int = 1, roll: bool = True, *,
               mode: str = "eval", rankdir: str = "TB", title: str | None = None,
               format: str = "svg") -> Any:
    """The module-level view of `model` as a renderable `tc.viz.Graph` (a graphviz.Digraph):
    ``draw_model(model, x, depth=2).render('model.svg')``; displays inline in Jupyter.
    `depth`: how many levels of submodules to open (0: the model as one node; 1: its children).
    `roll`: draw chains of identical blocks as one node "Block × n". Options as in `model_to_dot`."""
    body = _build(model, example_input, depth, roll, mode, rankdir, title)
    return _graph_class()(name="M", body=body, format=format)
