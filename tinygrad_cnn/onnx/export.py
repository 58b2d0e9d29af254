"""`export(model, example_input, f, ...)`: trace a model's forward into an ONNX file.

Steps: (1) run the forward twice in eval mode with recording on (trace.py); (2) check that both
recordings have the same ops and that nothing but sizes along dynamic axes differs; (3) walk the
ops in topological order, giving each recorded value an ONNX name (model inputs by
`input_names`, parameters and buffers by their dotted names, other constant tensors as
constants) and converting each op with its entry in the op table (ops.py); (4) name the graph
outputs, declare dynamic axes as symbolic dims, check the model with onnx.checker and save it.
"""
from __future__ import annotations

import contextlib
import inspect
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..autograd import Context
from ..errors import ArgumentError
from ..ops.movement import Expand
from ..tensor import Tensor
from .builder import GraphBuilder, onnx_dtype
from .call import Call
from .ops import BROADCASTING, CONVERTERS, DYNAMIC_ARGS, converter_for
from .trace import (ExportError, Trace, check_inputs, companion_input, describe_scope,
                    record)

__all__ = ["export", "MIN_OPSET", "MAX_OPSET"]

MIN_OPSET, MAX_OPSET = 14, 21        # HardSwish needs 14; tested with ONNX Runtime up to 21


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError("tc.onnx.export needs the 'onnx' package: pip install tinygrad_cnn[onnx] "
                          "(or pip install onnx)") from None
    return onnx


# ------------------------------------------------------------------------- arguments
def _names(given: Sequence[str] | None, n: int, default: str, what: str) -> list[str]:
    if given is None:
        return [default] if n == 1 else [f"{default}_{k}" for k in range(n)]
    names = [given] if isinstance(given, str) else list(given)
    if len(names) != n or not all(isinstance(s, str) and s for s in names):
        raise ArgumentError(f"export: {what} must be {n} non-empty string(s), one per model "
                            f"{what.split('_')[0]}, got {given!r}")
    return names


def _dynamic_axes(spec: Any, inputs: list[str], outputs: list[str],
                  ranks: dict[str, int]) -> dict[str, dict[int, str]]:
    """{name: {axis: dim name}} from PyTorch's forms {name: {axis: dim name}} or {name: [axes]}."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise ArgumentError(f"export: dynamic_axes must be a dict like {{'input': {{0: 'batch'}}}}, got {spec!r}")
    out: dict[str, dict[int, str]] = {}
    for name, axes in spec.items():
        if name not in inputs and name not in outputs:
            raise ArgumentError(f"export: dynamic_axes names {name!r}, which is neither an input "
                                f"name {inputs} nor an output name {outputs}")
        if isinstance(axes, dict):
            items = list(axes.items())
        elif isinstance(axes, (list, tuple)):
            items = [(a, f"{name}_dynamic_axes_{k + 1}") for k, a in enumerate(axes)]
        else:
            raise ArgumentError(f"export: dynamic_axes[{name!r}] must be a dict {{axis: name}} or a "
                                f"list of axes, got {axes!r}")
        rank = ranks.get(name)
        axis_map: dict[int, str] = {}
        for a, dim in items:
            if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or (
                    rank is not None and not -rank <= a < rank):
                raise ArgumentError(f"export: dynamic_axes[{name!r}] has axis {a!r}, out of range for "
                                    f"a {rank}-D tensor" if rank is not None else
                                    f"export: dynamic_axes[{name!r}] has axis {a!r}; axes are ints")
            if not isinstance(dim, str) or not dim:
                raise ArgumentError(f"export: dynamic_axes[{name!r}][{a}] must be a dim name "
                                    f"(a non-empty string), got {dim!r}")
            axis_map[int(a) % rank if rank is not None else int(a)] = dim
        out[name] = axis_map
    return out


@contextlib.contextmanager
def _tracing(model: Any) -> Iterator[None]:
    """Eval mode, and every parameter requiring grad (so every op reading one is recorded);
    both restored afterwards."""
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    flags = [p.requires_grad for p in params]
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    try:
        if hasattr(model, "eval"):
            model.eval()
        for p in params:
            p.requires_grad = True
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad = f
        for m, mode in modes:
            m.training = mode


# ------------------------------------------------------------------ comparing traces
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, slice) and isinstance(b, slice):
        return _same((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def _arg_name(fn: type, i: int) -> str:
    try:
        params = list(inspect.signature(fn.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        params = []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return positional[i].name if i < len(positional) else f"argument {i}"


def _compare(trace: Trace, input_ids: dict[int, int], where: Callable[[Context], str]) -> None:
    """The companion recording must match the example's op for op; what may differ is only
    sizes (in outputs, and in the arguments DYNAMIC_ARGS allows)."""
    a, b = trace.a, trace.b
    path_msg = ("export: the forward pass took a different path for an input of another size or "
                "with other values ({detail}); export records one path through the model, so its "
                "ops must not depend on the input's values (or, along dynamic axes, sizes)")
    if len(a.order) != len(b.order) or len(a.outputs) != len(b.outputs):
        raise ExportError(path_msg.format(detail=f"{len(a.order)} ops, then {len(b.order)}"))
    for ca, cb in zip(a.order, b.order):
        if ca.fn is not cb.fn or len(ca.inputs) != len(cb.inputs) or set(ca.kwargs) != set(cb.kwargs):
            raise ExportError(path_msg.format(detail=f"{ca.name} in {where(ca)}, then {cb.name}"))
        allowed = DYNAMIC_ARGS.get(ca.fn, set())
        for i, (ta, tb, ea, eb) in enumerate(zip(ca.inputs, cb.inputs, ca.edges, cb.edges)):
            if (ea is None) != (eb is None) or (ea is not None and (
                    a.index[id(ea[0])] != b.index[id(eb[0])] or ea[1] != eb[1])):
                raise ExportError(path_msg.format(detail=f"input {i} of {ca.name} in {where(ca)} "
                                                         f"comes from another op"))
            if ea is not None:
                continue
            if isinstance(ta, Tensor) and isinstance(tb, Tensor):
                _compare_leaf(ca, cb, i, ta, tb, trace, input_ids, where)
            elif isinstance(ta, Tensor) or isinstance(tb, Tensor):
                raise ExportError(path_msg.format(detail=f"input {i} of {ca.name} in {where(ca)}"))
            elif a.input_array(ta) is not None or b.input_array(tb) is not None:
                if a.input_array(ta) != b.input_array(tb):
                    raise ExportError(path_msg.format(detail=f"input {i} of {ca.name} in {where(ca)}"))
            elif i not in allowed and not _same(ta, tb):
                _differs(ca, _arg_name(ca.fn, i), ta, tb, where)
        for k, va in ca.kwargs.items():
            vb = cb.kwargs[k]
            if isinstance(va, Tensor) or k in allowed or _same(va, vb):
                continue
            _differs(ca, k, va, vb, where)


def _differs(ctx: Context, name: str, va: Any, vb: Any, where: Callable[[Context], str]) -> None:
    raise ExportError(f"cannot export {ctx.name} (called in {where(ctx)}): its argument {name!r} "
                      f"depends on the input: {va!r} for the example input, {vb!r} for an input with "
                      f"more elements along each dynamic axis and shuffled values. Export "
                      f"records constants; drop that axis from dynamic_axes, or compute the "
                      f"argument from static sizes")


def _compare_leaf(ctx: Context, other: Context, i: int, ta: Tensor, tb: Tensor, trace: Trace,
                  input_ids: dict[int, int], where: Callable[[Context], str]) -> None:
    """A leaf tensor is a model input, a parameter/buffer, or a constant equal in both traces."""
    ka = input_ids.get(id(ta))
    if ka is not None or id(tb) in input_ids:
        if ka is None or input_ids.get(id(tb)) != ka:
            raise ExportError(f"export: input {i} of {ctx.name} in {where(ctx)} is a model input "
                              f"in one trace only")
        return
    if id(ta) in trace.names or id(tb) in trace.names:
        if ta is not tb:
            raise ExportError(f"export: input {i} of {ctx.name} in {where(ctx)} is not the same "
                              f"parameter or buffer in both traces")
        return
    if ta is tb:
        return
    a, b = constant_value(ctx, i, ta), constant_value(other, i, tb)
    if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
        change = (f"its shape {a.shape} became {b.shape}" if a.shape != b.shape else
                  "its values changed")
        raise ExportError(
            f"cannot export {ctx.name} (called in {where(ctx)}): its input {i} "
            f"({_arg_name(ctx.fn, i)}) is a tensor computed from the model input outside the "
            f"recorded graph — {change} when the input changed. Ops on tensors that need no "
            f"gradient are not recorded (a comparison like x > 0, argmax, .detach(), .numpy(), "
            f"no_grad()); the export would freeze the example's values. Compute it with "
            f"differentiable ops, or register it as a buffer if it really is constant")


# ------------------------------------------------------------------------------ export
def export(model: Any, example_input: Any, f: Any, *, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, dynamic_axes: dict | None = None,
           opset_version: int = 17) -> Any:
    """Write `model` as an ONNX file `f` (a path or a binary file object); return the
    onnx.ModelProto.

    The model runs in eval mode on `example_input` (a Tensor, or a tuple of Tensors for several
    inputs) and on a companion input (see trace.py); the recorded ops become ONNX nodes (the
    table in tinygrad_cnn/onnx/ops.py), the parameters and buffers initializers named as in
    `model.state_dict()`. `dynamic_axes={"input": {0: "batch"}}` makes axis 0 of the input a
    symbolic dim, so the file runs with any batch size. An op without an ONNX converter raises
    ExportError naming the op and the module that called it. Needs the `onnx` package.
    """
    onnx = _require_onnx()
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) or \
            not MIN_OPSET <= opset_version <= MAX_OPSET:
        raise ArgumentError(f"export: opset_version must be an int from {MIN_OPSET} to {MAX_OPSET}, "
                            f"got {opset_version!r}")
    if not callable(model):
        raise ArgumentError(f"export: model must be a Module (or a callable), got {type(model).__name__}")
    if not isinstance(f, (str, os.PathLike)) and not callable(getattr(f, "write", None)):
        raise ArgumentError(f"export: f must be a path (str or os.PathLike) or a binary file object, "
                            f"got {type(f).__name__}")
    inputs = check_inputs(example_input)
    in_names = _names(input_names, len(inputs), "input", "input_names")

    names = _state_names(model)
    module_names = {id(m): n for n, m in model.named_modules()} if hasattr(model, "named_modules") else {}
    with _tracing(model):
        a = record(model, inputs)
        out_names = _names(output_names, len(a.outputs), "output", "output_names")
        dyn = _dynamic_axes(dynamic_axes, in_names, out_names,
                            {**{n: x.ndim for n, x in zip(in_names, inputs)},
                             **{n: o.ndim for n, o in zip(out_names, a.outputs)}})
        grow = {dim: k + 1 for k, dim in enumerate(dict.fromkeys(
            d for n in in_names for d in dyn.get(n, {}).values()))}     # dim name -> extra elements
        companions = [Tensor._wrap(companion_input(
            x.numpy(), {axis: grow[d] for axis, d in dyn.get(n, {}).items()}, seed=k))
            for k, (n, x) in enumerate(zip(in_names, inputs))]
        try:
            b = record(model, companions)
        except Exception as e:             # e.g. a size along a dynamic axis the model rejects
            along = (f" and more elements along its dynamic axes {dyn} (shapes "
                     f"{[tuple(t.shape) for t in companions]})" if grow else "")
            raise ExportError(f"export: the model failed on a companion input with the example's "
                              f"values shuffled{along}: {type(e).__name__}: {e}. Export runs the "
                              f"forward twice (docs/interop.md)"
                              + (f"; those axes cannot be dynamic for this model" if grow else "")) from e
    trace = Trace(a, b, names, module_names)
    input_ids = {id(t): k for k, t in enumerate(a.inputs)}
    input_ids.update({id(t): k for k, t in enumerate(b.inputs)})

    def where(ctx: Context) -> str:
        return describe_scope(ctx, module_names)

    _compare(trace, input_ids, where)
    g = GraphBuilder(opset_version)
    for k, name in enumerate(in_names):
        g.reserve(name)
        for axis in dyn.get(name, {}):
            g.dim_sources.setdefault((inputs[k].shape[axis], companions[k].shape[axis]), (name, axis))
    for name in out_names:
        g.reserve(name)
    values = _convert(g, trace, in_names, where)
    _outputs(g, trace, values, in_names, out_names)

    graph = onnx.helper.make_graph(
        g.nodes, type(model).__name__, _value_infos(onnx, in_names, a.inputs, b.inputs, dyn, {}),
        _value_infos(onnx, out_names, a.outputs, b.outputs, dyn, _dim_names(g, dyn)),
        g.initializers)
    opset = [onnx.helper.make_opsetid("", opset_version)]
    from .. import __version__
    proto = onnx.helper.make_model(graph, opset_imports=opset, producer_name="tinygrad_cnn",
                                   producer_version=__version__,
                                   ir_version=onnx.helper.find_min_ir_version_for(opset))
    onnx.checker.check_model(proto)
    if isinstance(f, (str, os.PathLike)):
        onnx.save(proto, os.fspath(f))
    else:
        f.write(proto.SerializeToString())
    return proto


def _state_names(model: Any) -> dict[int, str]:
    names: dict[int, str] = {}
    for getter in ("named_parameters", "named_buffers"):
        if hasattr(model, getter):
            for n, t in getattr(model, getter)():
                if t is not None:
                    names.setdefault(id(t), n)
    return names


def _consumers(order: list[Context]) -> dict[tuple[int, int], list[tuple[Context, int]]]:
    uses: dict[tuple[int, int], list] = {}
    for ctx in order:
        for i, edge in enumerate(ctx.edges):
            if edge is not None:
                uses.setdefault((id(edge[0]), edge[1]), []).append((ctx, i))
    return uses


def _full_operand(consumer: Context, i: int) -> bool:
    """Whether an operand other than input i has the consumer's full output shape and is not
    itself cut down (an elided Expand or a reduced constant): a model input, a parameter or
    an op's result. Then ONNX broadcasting alone gives the output its shape."""
    full = tuple(consumer.outputs_meta[0][0])
    return any(j != i and isinstance(t, Tensor) and tuple(t.shape) == full
               and (consumer.needs_input_grad[j] if e is None else e[0].fn is not Expand)
               for j, (t, e) in enumerate(zip(consumer.inputs, consumer.edges)))


def _elidable(ctx: Context, uses: list, roots: set) -> bool:
    """An Expand can be left out when every consumer broadcasts by itself (BROADCASTING) and
    has a full-shape operand (_full_operand): ONNX gives the same shape the Expand made."""
    if ctx.fn is not Expand or (id(ctx), 0) in roots or not uses:
        return False
    return all(consumer.fn in BROADCASTING and _full_operand(consumer, i) for consumer, i in uses)


def _unbroadcast(arr: np.ndarray) -> np.ndarray:
    """The smallest array that broadcasts back to `arr`: the axes a broadcast made (stride 0)
    cut to size 1. An Expand of a tensor that needs no grad is not recorded, so a constant
    reaches its op already broadcast to the batch size of the trace."""
    return arr[tuple(slice(0, 1) if st == 0 and n > 1 else slice(None)
                     for st, n in zip(arr.strides, arr.shape))]


def constant_value(ctx: Context, i: int, t: Tensor) -> np.ndarray:
    """What a constant input i of ctx is written as: un-broadcast where the op broadcasts."""
    arr = t.numpy()
    return _unbroadcast(arr) if ctx.fn in BROADCASTING and _full_operand(ctx, i) else arr


def _convert(g: GraphBuilder, trace: Trace, in_names: list[str],
             where: Callable[[Context], str]) -> dict[tuple, str]:
    """ONNX names of every recorded value: ("op", id(ctx), nr) and ("leaf", id(tensor))."""
    a, b = trace.a, trace.b
    values: dict[tuple, str] = {}
    for k, t in enumerate(a.inputs):
        values[("leaf", id(t))] = in_names[k]
    uses = _consumers(a.order)
    roots = {(id(o.grad_fn), o._output_nr) for o in a.outputs if o.grad_fn is not None}
    for ctx, other in zip(a.order, b.order):
        scope = where(ctx)
        module = scope.split("'")[1] if scope.startswith("module '") else ""
        g.prefix = f"{module}/" if module else ""
        names: list[str | None] = []
        for i, (t, edge) in enumerate(zip(ctx.inputs, ctx.edges)):
            if edge is not None:
                names.append(values[("op", id(edge[0]), edge[1])])
            elif isinstance(t, Tensor):
                names.append(_leaf(g, t, trace, values, module, ctx, i))
            else:                                  # a number, a tuple, or a model input's array
                k = a.input_array(t)
                names.append(None if k is None else in_names[k])
        convert = converter_for(ctx.fn)
        if convert is None:
            supported = ", ".join(sorted({fn.__name__ for fn in CONVERTERS}))
            raise ExportError(f"cannot export {ctx.name} (called in {scope}): no ONNX converter for "
                              f"this Function. Supported: {supported}. Register one with "
                              f"@tc.onnx.register({ctx.name})")
        call = Call(g, ctx, other, names, scope,
                    elide=_elidable(ctx, uses.get((id(ctx), 0), []), roots))
        produced = convert(call)
        produced = [produced] if isinstance(produced, str) else list(produced)
        for nr, name in enumerate(produced):
            values[("op", id(ctx), nr)] = name
    g.prefix = ""
    return values


def _leaf(g: GraphBuilder, t: Tensor, trace: Trace, values: dict, module: str,
          ctx: Context | None = None, i: int = 0) -> str:
    """A model input, a parameter or buffer (an initializer named as in the state dict), or a
    constant (deduplicated by value)."""
    key = ("leaf", id(t))
    if key in values:
        return values[key]
    if id(t) in trace.names:
        values[key] = g.initializer(t.numpy(), trace.names[id(t)])
        return values[key]
    arr = t.numpy() if ctx is None else constant_value(ctx, i, t)
    return g.const(arr, hint=f"{module}/const" if module else "const")


def _outputs(g: GraphBuilder, trace: Trace, values: dict, in_names: list[str],
             out_names: list[str]) -> None:
    """Give each graph output its name: rename the node output that computes it, or add an
    Identity (an output that is an input, a weight, or already another output)."""
    produced = {o: node for node in g.nodes for o in node.output}
    for k, (o, name) in enumerate(zip(trace.a.outputs, out_names)):
        if o.grad_fn is not None:
            value = values.get(("op", id(o.grad_fn), o._output_nr))
        else:
            value = values.get(("leaf", id(o)))
            if value is None and id(o) in trace.names:
                value = _leaf(g, o, trace, values, "")
        if value is None:
            raise ExportError(f"export: output {k} ({name!r}) was not computed by recorded ops from "
                              f"the model input (an integer result such as argmax, a comparison, "
                              f"or a tensor made under no_grad/.detach()); export only records "
                              f"differentiable ops")
        node = produced.get(value)
        if node is not None and value not in in_names and value not in out_names:
            for n in g.nodes:
                n.input[:] = [name if i == value else i for i in n.input]
            node.output[:] = [name if x == value else x for x in node.output]
            produced[name] = produced.pop(value)
            for key, v in list(values.items()):
                if v == value:
                    values[key] = name
        else:
            g.op("Identity", value, outputs=[name])


def _dim_names(g: GraphBuilder, dyn: dict) -> dict[tuple[int, int], str]:
    """(size in trace a, in trace b) -> the name of the input dim that had those sizes, so an
    output axis that follows the batch is called 'batch' too."""
    return {key: dyn[name][axis] for key, (name, axis) in g.dim_sources.items()}


def _value_infos(onnx: Any, names: list[str], ta: list[Tensor], tb: list[Tensor], dyn: dict,
                 by_sizes: dict) -> list:
    infos = []
    for name, x, y in zip(names, ta, tb):
        given = dyn.get(name, {})
        shape: list = []
        for axis, (sa, sb) in enumerate(zip(x.shape, y.shape)):
            if axis in given:
                shape.append(given[axis])
            elif sa != sb:
                shape.append(by_sizes.get((sa, sb), f"{name}_dim{axis}"))
            else:
                shape.append(int(sa))
        infos.append(onnx.helper.make_tensor_value_info(name, onnx_dtype(x.dtype), shape))
    return infos
