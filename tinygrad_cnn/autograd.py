"""Reverse-mode automatic differentiation: `Function`, its `Context`, grad mode and the engine.

Recording. `Function.apply` unwraps its Tensor arguments to NumPy arrays, runs `forward`, and,
when grad mode is on and some input requires grad, attaches a `Context` to the output as its
`grad_fn`. The context remembers the inputs, the graph's edges (for each input, the context
that produced it and which of its outputs it was, captured at record time so that a later
in-place op that re-points a tensor's `grad_fn` cannot re-route old gradients), what `forward`
saved, and the non-tensor arguments (for error messages and graph drawings).

Ordering. `backward()` walks the graph once, iteratively (no recursion, so a 10,000-op chain is
fine), to get a topological order of the contexts, then visits them from the root down. Each
context is visited after every consumer of its outputs, so its incoming gradient is complete.

Accumulation. A tensor used twice receives two gradients; they are added (`x * x` at 3 gives 6).
Gradients are never mutated in place: each sum is a new array.

Freeing. Unless `retain_graph=True`, each context drops what `forward` saved as soon as its
backward has run; a second backward through it raises `BackwardError` saying so.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Iterable

import numpy as np

from .errors import AnomalyError, ArgumentError, BackwardError

__all__ = ["Function", "Context", "AccumulateGrad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "backward", "grad_mode", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


# ----------------------------------------------------------------------------------- grad mode
class _ThreadModes(threading.local):
    """Switches read on every op, one set per thread as in PyTorch: recording on/off, anomaly
    detection on/off, and the stack of Modules whose forward is running (so graph drawings can
    cluster ops by module). A new thread starts with recording on and anomaly mode off, whatever
    the thread that started it had (`no_grad` in one thread never changes another's mode)."""

    def __init__(self) -> None:
        self.enabled: bool = True
        self.anomaly: bool = False
        self.module_stack: list = []


grad_mode = _ThreadModes()


def is_grad_enabled() -> bool:
    return grad_mode.enabled


class set_grad_enabled:
    """Sets grad mode to `mode`, as in PyTorch: called on its own (`tc.set_grad_enabled(False)`)
    it switches the mode for good; as a context manager or decorator it restores the previous
    mode afterwards."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self.prev: list[bool] = []
        self._outer: bool | None = None   # the mode before a plain set_grad_enabled(...) call
        if type(self) is set_grad_enabled:
            self._outer, grad_mode.enabled = grad_mode.enabled, self.mode

    def __enter__(self) -> None:
        outer, self._outer = self._outer, None
        self.prev.append(grad_mode.enabled if outer is None else outer)
        grad_mode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        grad_mode.enabled = self.prev.pop()

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode
        if self._outer is not None:       # @tc.set_grad_enabled(False): decorating is not a switch
            grad_mode.enabled, self._outer = self._outer, None

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """`with tc.no_grad():`, `@tc.no_grad()` or `@tc.no_grad`: ops run without recording a graph."""

    def __new__(cls, orig_func: Callable | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)           # bare @tc.no_grad, as PyTorch allows

    def __init__(self, orig_func: Callable | None = None) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """`with tc.enable_grad():`, `@tc.enable_grad()` or `@tc.enable_grad`: recording back on
    inside a no_grad block."""

    def __new__(cls, orig_func: Callable | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)

    def __init__(self, orig_func: Callable | None = None) -> None:
        super().__init__(True)


class detect_anomaly:
    """`with tc.autograd.detect_anomaly():` (or as a decorator): every op's forward outputs and
    backward gradients are checked for NaN/Inf, and the first one found raises AnomalyError
    naming the op and the file:line of the user code that called it. Off by default; when off,
    each op pays one attribute check."""

    def __init__(self) -> None:
        self.prev: list[bool] = []

    def __enter__(self) -> None:
        self.prev.append(grad_mode.anomaly)
        grad_mode.anomaly = True

    def __exit__(self, *exc: object) -> None:
        grad_mode.anomaly = self.prev.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return fn(*args, **kwargs)
        return wrapper


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off globally."""
    grad_mode.anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    return grad_mode.anomaly


# ------------------------------------------------------------------------------------ Context
class Context:
    """What one call of a Function leaves in the graph; the `ctx` passed to forward and backward.

    Engine fields live in slots; anything `forward` stores as an attribute (`ctx.mask = ...`)
    goes to `__dict__` and is dropped, with the saved arrays, when the graph is freed.
    """

    __slots__ = ("fn", "inputs", "edges", "needs_input_grad", "kwargs", "saved", "saved_versions",
                 "outputs_meta", "freed", "pre_hooks", "retained", "forward_site", "scope", "keep", "__dict__",
                 "__weakref__")

    def __init__(self, fn: type, inputs: tuple, needs_input_grad: tuple[bool, ...],
                 kwargs: dict) -> None:
        self.fn = fn
        self.inputs = inputs                  # positional args of apply: Tensors and constants
        # per input: (producing Context, output index) for non-leaf tensors needing grad, else None
        self.edges: tuple = tuple(
            (t.grad_fn, t._output_nr) if need and t.grad_fn is not None else None
            for t, need in zip(inputs, needs_input_grad))
        self.needs_input_grad = needs_input_grad
        self.kwargs = kwargs
        self.saved: tuple = ()
        self.saved_versions: tuple = ()
        self.outputs_meta: tuple = ()         # (shape, dtype) per output, to materialise zeros
        self.freed = False
        self.pre_hooks: dict[int, list] | None = None   # output_nr -> hooks on that output's grad
        self.retained: dict[int, Any] | None = None     # output_nr -> weakref to a retain_grad tensor
        self.forward_site: str | None = None            # user file:line, recorded in anomaly mode
        self.scope: tuple = ()                          # Modules whose forward made this op, outer first
        self.keep: list | None = None                   # tensors kept alive past free() (graph viewer)

    # -- the PyTorch-style API used inside forward/backward
    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays (or any values) for backward; they are freed after backward runs."""
        self.saved = arrays
        self.saved_versions = tuple(self._version_of(a) for a in arrays)

    @property
    def saved_tensors(self) -> tuple:
        if self.freed:
            raise BackwardError(self._freed_message())
        self._check_versions()
        return self.saved

    def mark_non_differentiable(self, *arrays: np.ndarray) -> None:
        """Outputs listed here (by identity) get no gradient, e.g. the indices of max()."""
        self.__dict__.setdefault("_non_differentiable", set()).update(id(a) for a in arrays)

    # -- introspection (graph drawing, error messages)
    @property
    def name(self) -> str:
        return self.fn.__name__

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"

    @property
    def args(self) -> dict:
        """The non-tensor arguments of the call (stride, padding, dim, ...), for display."""
        out = {f"arg{i}": a for i, a in enumerate(self.inputs) if not _is_tensor(a)}
        out.update({k: v for k, v in self.kwargs.items() if not _is_tensor(v)})
        return out

    @property
    def next_tensors(self) -> list:
        """The Tensor inputs of this call, in order."""
        return [t for t in self.inputs if _is_tensor(t)]

    @property
    def next_functions(self) -> tuple:
        """PyTorch's view of the graph edges: one (node, output_nr) pair per tensor input, the
        node being the producing Context, an AccumulateGrad for a leaf that requires grad, or
        None for a tensor that needs no gradient."""
        out = []
        for t, need, edge in zip(self.inputs, self.needs_input_grad, self.edges):
            if edge is not None:
                out.append(edge)
            elif _is_tensor(t):
                out.append((AccumulateGrad(t), 0) if need else (None, 0))
        return tuple(out)

    # -- in-place safety: the memory of a saved array must not have changed since it was saved.
    # Each entry is (version counter, its value at save time, what it was) for a saved array
    # that is (a view of) an input's or an output's memory; views share their base's counter,
    # so a write through any alias is seen.
    def _version_of(self, array: Any) -> tuple | None:
        if not isinstance(array, np.ndarray):
            return None
        for i, t in enumerate(self.inputs):
            if _is_tensor(t) and (t._data is array or np.may_share_memory(t._data, array)):
                return (t._vc, t._vc.value, t.shape, f"input {i}")
        return None

    def _track_saved_outputs(self, outputs: list) -> None:
        """After forward: saved arrays that are (views of) outputs get their version tracked too,
        so `h = a.tanh(); h.add_(1)` invalidates the tanh output that backward would read."""
        versions = list(self.saved_versions)
        for k, (array, entry) in enumerate(zip(self.saved, versions)):
            if entry is not None or not isinstance(array, np.ndarray):
                continue
            for nr, t in enumerate(outputs):
                if t._data is array or np.may_share_memory(t._data, array):
                    versions[k] = (t._vc, t._vc.value, t.shape,
                                   "its output" if len(outputs) == 1 else f"output {nr}")
                    break
        self.saved_versions = tuple(versions)

    def _check_versions(self) -> None:
        for entry in self.saved_versions:
            if entry is None:
                continue
            counter, version, shape, role = entry
            if counter.value != version:
                raise BackwardError(
                    f"one of the tensors {self.name} saved for backward ({role}, shape {shape}) "
                    f"was modified by an in-place operation: it is at version {counter.value}, "
                    f"but {self.name} saved it at version {version} (a write through any view "
                    f"of the same memory counts). Clone the tensor before modifying it "
                    f"(x = x.clone()) or move the in-place op after backward()."
                    + (f" The {self.name} was created at {self.forward_site}." if self.forward_site
                       else " Run under tc.autograd.detect_anomaly() to see where it was created."))

    def _freed_message(self) -> str:
        return (f"Trying to backward through the graph a second time (through {self.name}): "
                f"its saved arrays were freed after the first backward(). Pass "
                f"retain_graph=True to the first backward() if you need to backpropagate twice.")

    def free(self) -> None:
        """Drop what forward saved, and the intermediate (non-leaf) input tensors: once backward
        has run, nothing needs them, and holding them would keep a whole step's activations
        alive into the next step's forward. Leaves (parameters, data), the edges and the
        output shapes stay, so the graph can still be drawn."""
        self.saved = ()
        self.saved_versions = ()
        self.__dict__.clear()
        self.inputs = tuple(None if edge is not None else t for t, edge in zip(self.inputs, self.edges))
        self.freed = True


def _is_tensor(x: Any) -> bool:
    return isinstance(x, _TensorType)


_TensorType: type = type(None)   # set by tensor.py to break the import cycle


class AccumulateGrad:
    """A leaf's node in `grad_fn.next_functions` (PyTorch's name): `.variable` is the leaf
    tensor whose `.grad` the backward accumulates into."""

    __slots__ = ("variable",)
    next_functions: tuple = ()

    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self) -> int:
        return id(self.variable)

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def _register_tensor_type(cls: type) -> None:
    global _TensorType
    _TensorType = cls


# ----------------------------------------------------------------------------------- Function
class Function:
    """Base class of every differentiable op, built-in or user-defined, written as in PyTorch:

        class Cube(tc.autograd.Function):
            @staticmethod
            def forward(ctx, a):            # NumPy arrays in, NumPy array(s) out
                ctx.save_for_backward(a)
                return a ** 3
            @staticmethod
            def backward(ctx, g):           # one gradient (or None) per positional input
                (a,) = ctx.saved_tensors
                return 3 * a ** 2 * g

        y = Cube.apply(x)

    Tensor arguments reach `forward` as NumPy arrays; other arguments (ints, tuples, floats)
    pass through unchanged and get `None` as their gradient. `forward` may return a tuple for
    several outputs. `ctx.needs_input_grad[i]` says whether input i wants a gradient, so
    backward can skip work (e.g. conv's grad_input for the first layer).
    """

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a Function subclass must define a static forward(ctx, *inputs)")

    @staticmethod
    def backward(ctx: Context, *grad_outputs: np.ndarray) -> Any:
        raise TypeError("a Function subclass must define a static backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        Tensor = _TensorType
        raw = [a._data if isinstance(a, Tensor) else a for a in args]
        if kwargs and grad_mode.enabled:
            for k, v in kwargs.items():   # a keyword tensor would silently get no gradient
                if isinstance(v, Tensor) and v.requires_grad:
                    raise ArgumentError(
                        f"{cls.__name__}.apply: the tensor passed as keyword argument {k!r} "
                        f"requires grad, but only positional arguments receive gradients; pass "
                        f"it positionally ({cls.__name__}.apply(..., {k}))")
        record = False
        if grad_mode.enabled:
            for a in args:
                if isinstance(a, Tensor):
                    if a._base is not None and a._view_version != a._vc.value:
                        a._refresh_view()     # its memory was written in place since it was made
                    if a.requires_grad:
                        record = True
        if record:
            needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
            ctx = Context(cls, args, needs, kwargs)
            if grad_mode.anomaly:
                ctx.forward_site = _user_call_site()
            if grad_mode.module_stack:
                ctx.scope = tuple(grad_mode.module_stack)
        else:
            ctx = Context(cls, (), tuple(False for _ in args), kwargs)
        out = cls.forward(ctx, *raw, **kwargs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        if grad_mode.anomaly:
            _check_finite(cls.__name__, "forward", outs, ctx.forward_site)
        non_diff = ctx.__dict__.get("_non_differentiable", ()) if record else ()
        results = []
        meta = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor):       # a user forward that returned a Tensor
                o = o._data
            o = np.asarray(o)
            t = Tensor._wrap(o)
            if o.base is not None or any(o is r for r in raw):
                _share_memory_identity(cls, t, o, args, multi)
            meta.append((o.shape, o.dtype))
            if record and id(o) not in non_diff and o.dtype.kind == "f":
                t.requires_grad = True
                t.grad_fn = ctx
                t._output_nr = i
            results.append(t)
        if record:
            ctx.outputs_meta = tuple(meta)
            if ctx.saved:
                ctx._track_saved_outputs(results)
        return tuple(results) if multi else results[0]


def _share_memory_identity(cls: type, t: Any, o: np.ndarray, args: tuple, multi: bool) -> None:
    """An output that aliases an input's memory is a view: it shares the input's version
    counter, and when the op is a view op (it has a `view(array, *args)` rule) it remembers how
    to re-derive itself from the base tensor, so in-place writes through it stay exact."""
    src = next((a for a in args if isinstance(a, _TensorType)
                and (a._data is o or o.base is not None and np.may_share_memory(a._data, o))), None)
    if src is None:
        return
    t._vc = src._vc
    t._view_version = src._vc.value
    t._base = src if src._base is None else src._base
    if getattr(cls, "view", None) is not None and not multi and args and args[0] is src \
            and (src._base is None or src._view_replay is not None):
        t._view_replay = (src._view_replay or ()) + ((cls, tuple(args[1:])),)


# ------------------------------------------------------------------------------------- engine
def topological_order(roots: Iterable[Context],
                      edges: Callable[[Context], Iterable] = lambda node: node.edges) -> list[Context]:
    """Contexts reachable from `roots`, each after all contexts it depends on: an iterative
    post-order DFS (no recursion limit). `edges(node)` gives (producer, output index) or None per
    input; the engine follows the gradient edges, the graph viewer every edge."""
    order: list[Context] = []
    visited: set[int] = set()
    stack: list[tuple[Context, bool]] = [(r, False) for r in reversed(list(roots))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for edge in edges(node):                   # the last pushed is expanded first
            if edge is not None and id(edge[0]) not in visited:
                stack.append((edge[0], False))
    return order


def backward(tensor: Any, gradient: Any = None, retain_graph: bool = False) -> None:
    """Backpropagate from `tensor`, accumulating into the `.grad` of leaves that require grad."""
    Tensor = _TensorType
    if not tensor.requires_grad:
        raise BackwardError(
            "backward() called on a tensor that does not require grad: it was not computed from "
            "any tensor with requires_grad=True, or it was computed under no_grad().")
    if gradient is None:
        if tensor._data.size != 1:
            raise BackwardError(
                f"backward() without a gradient is only defined for a scalar (one-element) "
                f"output, but the output has shape {tuple(tensor.shape)}; call "
                f"backward(gradient=...) with a tensor of that shape, or reduce it first (.sum()).")
        grad = np.ones_like(tensor._data)
    else:
        grad = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if grad.shape != tensor._data.shape:
            raise BackwardError(f"backward(gradient=...) got shape {grad.shape}, but the output "
                                f"has shape {tensor._data.shape}; they must match.")
        grad = grad.astype(tensor._data.dtype, copy=False)

    # Arrays already stored in some leaf's .grad, or owned by the caller: reaching a leaf again
    # they are copied, so no .grad aliases another's or the caller's `gradient` array.
    handed_out: set[int] = {id(grad)} if gradient is not None else set()
    if tensor.grad_fn is None:            # backward on a leaf: d leaf / d leaf = 1
        _accumulate_leaf(tensor, grad, handed_out)
        return

    root = tensor.grad_fn
    pending: dict[int, list] = {id(root): [None] * len(root.outputs_meta)}
    pending[id(root)][tensor._output_nr] = grad
    for node in reversed(topological_order([root])):
        grads = pending.pop(id(node), None)
        if grads is None:                 # reachable, but no gradient flows into it
            continue
        if node.freed:
            raise BackwardError(node._freed_message())
        _run_output_hooks(node, grads)
        if len(grads) > 1:                # multi-output op: absent gradients are zeros
            grads = [np.zeros(s, d) if g is None else g
                     for g, (s, d) in zip(grads, node.outputs_meta)]
        input_grads = node.fn.backward(node, *grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        _check_gradient_count(node, input_grads)
        if grad_mode.anomaly:
            _check_finite(node.name, "backward", input_grads, node.forward_site)
        for index, (inp, need, edge, g) in enumerate(
                zip(node.inputs, node.needs_input_grad, node.edges, input_grads)):
            if not need or g is None:
                continue
            if edge is None:
                _accumulate_leaf(inp, _conform(node, index, inp._data, g), handed_out)
            else:
                producer, nr = edge
                shape, dtype = producer.outputs_meta[nr]
                g = _conform(node, index, (shape, dtype), g)
                slots = pending.setdefault(id(producer), [None] * len(producer.outputs_meta))
                slots[nr] = g if slots[nr] is None else slots[nr] + g
        if not retain_graph:
            node.free()


def _conform(node: Context, index: int, like: Any, g: Any) -> np.ndarray:
    """Check a returned gradient against its input (an array, or the (shape, dtype) the input
    had when recorded): same shape, same dtype (cast if needed)."""
    shape, dtype = (like.shape, like.dtype) if isinstance(like, np.ndarray) else like
    if isinstance(g, _TensorType):
        g = g._data
    g = np.asarray(g)
    if g.shape != shape:
        raise BackwardError(
            f"{node.name}.backward returned a gradient of shape {g.shape} for input {index}, "
            f"whose shape is {shape}; each gradient must have its input's shape.")
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _check_gradient_count(node: Context, input_grads: tuple) -> None:
    n_in = len(node.inputs)
    if len(input_grads) < n_in or any(g is not None for g in input_grads[n_in:]):
        raise BackwardError(
            f"{node.name}.backward returned {len(input_grads)} gradient(s), but forward took "
            f"{n_in} positional input(s); return one gradient (or None) per input.")


def _accumulate_leaf(leaf: Any, g: np.ndarray, handed_out: set[int]) -> None:
    for hook in getattr(leaf, "_hooks", None) or ():
        new = hook(_TensorType._wrap(g))
        if new is not None:
            g = _conform_hook(leaf, new)
    # The same array may reach two leaves (Add passes its gradient through to both inputs) or
    # be a read-only view; copy so that each leaf owns its .grad.
    if id(g) in handed_out or g.base is not None or not g.flags.writeable:
        g = g.copy()
    if leaf.grad is None:
        handed_out.add(id(g))
        leaf.grad = _TensorType._wrap(g)
    else:
        leaf.grad = _TensorType._wrap(leaf.grad._data + g)


def _conform_hook(t: Any, new: Any) -> np.ndarray:
    arr = new._data if isinstance(new, _TensorType) else np.asarray(new)
    if arr.shape != t._data.shape:
        raise BackwardError(f"a hook returned a gradient of shape {arr.shape} for a tensor of "
                            f"shape {t._data.shape}; hooks must keep the gradient's shape.")
    return arr.astype(t._data.dtype, copy=False)


def _run_output_hooks(node: Context, grads: list) -> None:
    """Tensor hooks and retain_grad() on non-leaf outputs see the complete incoming gradient."""
    if node.pre_hooks:
        for nr, hooks in node.pre_hooks.items():
            if grads[nr] is None:
                continue
            for hook in hooks:
                new = hook(_TensorType._wrap(grads[nr]))
                if new is not None:
                    shape, dtype = node.outputs_meta[nr]
                    arr = new._data if isinstance(new, _TensorType) else np.asarray(new)
                    if arr.shape != shape:
                        raise BackwardError(
                            f"a hook on the output of {node.name} returned a gradient of shape "
                            f"{arr.shape}, expected {shape}.")
                    grads[nr] = arr.astype(dtype, copy=False)
    if node.retained:
        for nr, ref in node.retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr].copy()
                t.grad = _TensorType._wrap(g if t.grad is None else t.grad._data + g)


# ---------------------------------------------------------------------------- anomaly checks
def _check_finite(op: str, phase: str, arrays: Iterable, site: str | None) -> None:
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and not np.isfinite(a).all():
            what = "NaN" if np.isnan(a).any() else "Inf"
            site = site or (_user_call_site() if phase == "forward" else None)
            where = f" The {op} was called at {site}." if site else ""
            label = f"output {i}" if phase == "forward" else f"gradient for input {i}"
            raise AnomalyError(f"anomaly detected: {op}.{phase} produced {what} in its "
                               f"{label} (shape {a.shape}).{where}")


def _user_call_site() -> str:
    """file:line of the innermost stack frame outside this package (the user's code)."""
    import os
    import sys
    package_dir = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package_dir):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
