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
No gradient an op returned is ever mutated in place: the first sum is a new array, and
further gradients for the same tensor are added into that sum, which only the engine has seen.

Freeing. Unless `retain_graph=True`, each context drops what `forward` saved as soon as its
backward has run; a second backward through it raises `BackwardError` saying so.
"""
from __future__ import annotations

import functools
import sys
import threading
from typing import Any, Callable, Iterable

import numpy as np

from ..argcheck import check_flag, check_sequence
from ..errors import AllocationError, AnomalyError, ArgumentError, BackwardError

__all__ = ["Function", "Context", "AccumulateGrad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "backward", "grad", "once_differentiable", "gradgradcheck", "gradcheck",
           "grad_mode", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


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
        if not (isinstance(mode, (bool, np.bool_)) or isinstance(mode, (int, np.integer)) and mode in (0, 1)):
            raise ArgumentError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
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
                 "outputs_meta", "freed", "pre_hooks", "retained", "forward_site", "scope", "keep", "graph", "__dict__",
                 "__weakref__")

    def __init__(self, fn: type, inputs: tuple, needs_input_grad: tuple[bool, ...],
                 kwargs: dict, edges: tuple | None = None) -> None:
        self.fn = fn
        self.inputs = inputs                  # positional args of apply: Tensors and constants
        # per input: (producing Context, output index) for non-leaf tensors needing grad, else
        # None (apply passes them, found in its one pass over the arguments)
        self.edges: tuple = edges if edges is not None else tuple([
            (t.grad_fn, t._output_nr) if need and t.grad_fn is not None else None
            for t, need in zip(inputs, needs_input_grad)])
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
        self.graph = False                              # backward running on Tensors (create_graph)

    # -- the PyTorch-style API used inside forward/backward
    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays (or any values) for backward; they are freed after backward runs."""
        self.saved = arrays
        self.saved_versions = tuple([self._version_of(a) for a in arrays])

    @property
    def saved_tensors(self) -> tuple:
        """What forward saved: arrays in an ordinary backward; under create_graph=True, the
        graph's own tensors for saved inputs and outputs (so the backward rule records itself
        onto the forward graph) and the values themselves for anything else."""
        if self.freed:
            raise BackwardError(self._freed_message())
        self._check_versions()
        if not self.graph:
            return self.saved
        return tuple(self._as_graph_tensor(a, entry) for a, entry in zip(self.saved, self.saved_versions))

    def _as_graph_tensor(self, array: Any, entry: tuple | None) -> Any:
        if entry is None:
            return array
        counter, _, _, kind, index = entry
        if kind == "input":
            t = self.inputs[index]
            return t if t is not None and t._data is array else array
        t = _TensorType._wrap(array)              # an output: a handle on this node's output
        t._vc, t.requires_grad, t.grad_fn, t._output_nr = counter, True, self, index
        return t

    def cached(self, name: str, recompute: Callable[[], Any]) -> Any:
        """A value forward derived from its inputs and kept to speed up the ordinary backward
        (`ctx.<name>`). Under create_graph=True the cache is not part of the graph, so the
        value is recomputed from the graph's tensors by `recompute()` instead: the backward
        rule stays one formula, and its second derivative sees the dependence."""
        return recompute() if self.graph else self.__dict__[name]

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
    # Each entry is (version counter, its value at save time, shape, "input" or "output", its
    # index) for a saved array that is (a view of) an input's or an output's memory; views
    # share their base's counter, so a write through any alias is seen.
    def _version_of(self, array: Any) -> tuple | None:
        if not isinstance(array, np.ndarray):
            return None
        Tensor = _TensorType
        for i, t in enumerate(self.inputs):       # _may_alias inlined: called per saved array
            if isinstance(t, Tensor):
                data = t._data
                if data is array or (data.base is not None or array.base is not None) \
                        and np.may_share_memory(data, array):
                    return (t._vc, t._vc.value, data.shape, "input", i)
        return None

    def _track_saved_outputs(self, outputs: list) -> None:
        """After forward: saved arrays that are (views of) outputs get their version tracked too,
        so `h = a.tanh(); h.add_(1)` invalidates the tanh output that backward would read."""
        versions = list(self.saved_versions)
        for k, (array, entry) in enumerate(zip(self.saved, versions)):
            if entry is not None or not isinstance(array, np.ndarray):
                continue
            for nr, t in enumerate(outputs):
                if _may_alias(t._data, array):
                    versions[k] = (t._vc, t._vc.value, t.shape, "output", nr)
                    break
        self.saved_versions = tuple(versions)

    def _check_versions(self) -> None:
        for entry in self.saved_versions:
            if entry is None:
                continue
            counter, version, shape, kind, index = entry
            if counter.value != version:
                role = (f"input {index}" if kind == "input" else
                        "its output" if len(self.outputs_meta) == 1 else f"output {index}")
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
        self.inputs = tuple([None if edge is not None else t for t, edge in zip(self.inputs, self.edges)])
        self.freed = True


def _is_tensor(x: Any) -> bool:
    return isinstance(x, _TensorType)


def _may_alias(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays may share memory. Two arrays that each own their memory (no `.base`)
    are disjoint unless they are the same array: the common case, answered without
    np.may_share_memory's bounds arithmetic."""
    if a is b:
        return True
    if a.base is None and b.base is None:
        return False
    return np.may_share_memory(a, b)


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
        modes = grad_mode
        enabled = modes.enabled
        if kwargs and enabled:
            for k, v in kwargs.items():   # a keyword tensor would silently get no gradient
                if isinstance(v, Tensor) and v.requires_grad:
                    raise ArgumentError(
                        f"{cls.__name__}.apply: the tensor passed as keyword argument {k!r} "
                        f"requires grad, but only positional arguments receive gradients; pass "
                        f"it positionally ({cls.__name__}.apply(..., {k}))")
        # one pass over the arguments: unwrap tensors, refresh stale views, see what needs
        # grad and where its gradient goes (the graph's edges)
        record = False
        if enabled:
            raw, needs, edges = [], [], []
            for a in args:
                if isinstance(a, Tensor):
                    if a._base is not None and a._view_version != a._vc.value:
                        a._refresh_view()     # its memory was written in place since it was made
                    raw.append(a._data)
                    if a.requires_grad:
                        record = True
                        needs.append(True)
                        edges.append(None if a.grad_fn is None else (a.grad_fn, a._output_nr))
                        continue
                else:
                    raw.append(a)
                needs.append(False)
                edges.append(None)
        else:
            raw = [a._data if isinstance(a, Tensor) else a for a in args]
        if record:
            ctx = Context(cls, args, tuple(needs), kwargs, tuple(edges))
            if modes.anomaly:
                ctx.forward_site = _user_call_site()
            if modes.module_stack:
                ctx.scope = tuple(modes.module_stack)
        else:
            ctx = Context(cls, (), (False,) * len(args), kwargs, ())
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        except MemoryError as e:
            if isinstance(e, AllocationError):
                raise
            shapes = ", ".join(str(tuple(np.shape(a))) for a in raw if isinstance(a, np.ndarray))
            raise AllocationError(f"{cls.__name__}: the machine cannot allocate the memory this op "
                                  f"needs for inputs of shape {shapes or '()'} (arguments "
                                  f"{_short_kwargs(kwargs)}): {e}") from None
        multi = isinstance(out, tuple)
        if modes.anomaly:
            _check_finite(cls.__name__, "forward", out if multi else (out,), ctx.forward_site)
        if not multi and type(out) is np.ndarray and out.base is None \
                and "_non_differentiable" not in ctx.__dict__:
            # the common case, one new array and no non-differentiable mark: the loop below, short
            t = Tensor._wrap(out)
            for r in raw:
                if r is out:              # forward returned an input as it is
                    _share_memory_identity(cls, t, out, args, multi)
                    break
            if record:
                ctx.outputs_meta = ((out.shape, out.dtype),)
                if out.dtype.kind == "f":
                    t.requires_grad = True
                    t.grad_fn = ctx
                if ctx.saved and None in ctx.saved_versions:   # saved arrays that are no input's
                    ctx._track_saved_outputs((t,))
            return t
        outs = out if multi else (out,)
        non_diff = ctx.__dict__.get("_non_differentiable", ()) if record else ()
        results = []
        meta = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor):       # a user forward that returned a Tensor
                o = o._data
            if not isinstance(o, np.ndarray):   # a NumPy scalar (np.sqrt of a 0-d array)
                scalar, o = o, np.asarray(o)
                if record and ctx.saved:        # keep "saved its output" recognisable
                    ctx.saved = tuple(o if v is scalar else v for v in ctx.saved)
            t = Tensor._wrap(o)
            if o.base is not None or _is_one_of(o, raw):
                _share_memory_identity(cls, t, o, args, multi)
            meta.append((o.shape, o.dtype))
            if record and o.dtype.kind == "f" and id(o) not in non_diff:
                t.requires_grad = True
                t.grad_fn = ctx
                t._output_nr = i
            results.append(t)
        if record:
            ctx.outputs_meta = tuple(meta)
            if ctx.saved and None in ctx.saved_versions:   # saved arrays that are no input's
                ctx._track_saved_outputs(results)
        return tuple(results) if multi else results[0]


def _is_one_of(o: Any, items: list) -> bool:
    """Membership by identity (`is`), never by `==` (arrays)."""
    for r in items:
        if r is o:
            return True
    return False


def _share_memory_identity(cls: type, t: Any, o: np.ndarray, args: tuple, multi: bool) -> None:
    """An output that aliases an input's memory is a view: it shares the input's version
    counter, and when the op is a view op (it has a `view(array, *args)` rule) it remembers how
    to re-derive itself from the base tensor, so in-place writes through it stay exact."""
    for src in args:
        if isinstance(src, _TensorType) and (
                src._data is o or o.base is not None and np.may_share_memory(src._data, o)):
            break
    else:
        return
    t._vc = src._vc
    t._view_version = src._vc.value
    t._base = src if src._base is None else src._base
    if getattr(cls, "view", None) is not None and not multi and args and args[0] is src \
            and (src._base is None or src._view_replay is not None):
        t._view_replay = (src._view_replay or ()) + ((cls, tuple(args[1:])),)


# ------------------------------------------------------------------------------------- engine
def topological_order(roots: Iterable[Context],
                      edges: Callable[[Context], Iterable] | None = None) -> list[Context]:
    """Contexts reachable from `roots`, each after all contexts it depends on: an iterative
    post-order DFS (no recursion limit). `edges(node)` gives (producer, output index) or None per
    input; the engine follows the gradient edges (`node.edges`, the default), the graph viewer
    every edge."""
    order: list[Context] = []
    visited: set[Context] = set()     # Contexts hash by identity (no __eq__): no id() calls
    stack: list[tuple[Context, bool]] = [(r, False) for r in reversed(list(roots))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for edge in node.edges if edges is None else edges(node):   # the last pushed is expanded first
            if edge is not None and edge[0] not in visited:
                stack.append((edge[0], False))
    return order


def _short_kwargs(kwargs: dict) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return text if len(text) <= 120 else text[:117] + "..."


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Backpropagate from one or several roots, accumulating into the `.grad` of the leaves
    that require grad (or only into `inputs`, leaves or not, when given). `create_graph=True`
    runs every backward rule on Tensors, so the gradients are themselves differentiable; it
    implies `retain_graph=True`, as in PyTorch."""
    retain_graph, create_graph = _flags("backward", retain_graph=retain_graph, create_graph=create_graph)
    roots = _roots(tensors, grad_tensors, "backward", create_graph)
    targets = None if inputs is None else _targets(inputs, "backward(inputs=...)")
    if retain_graph is None:
        retain_graph = create_graph
    _run(roots, bool(retain_graph), bool(create_graph), targets, accumulate=True)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple:
    """d(outputs)/d(inputs) as a tuple of Tensors, one per input, without touching any `.grad`
    (PyTorch's torch.autograd.grad). `grad_outputs` weights non-scalar outputs (the vector of
    the vector-Jacobian product); with `create_graph=True` the results are differentiable.
    An input the outputs do not depend on raises, unless `allow_unused=True` (then None, or
    zeros with `materialize_grads=True`)."""
    retain_graph, create_graph, allow_unused, materialize_grads = _flags(
        "grad", retain_graph=retain_graph, create_graph=create_graph, allow_unused=allow_unused,
        materialize_grads=materialize_grads)
    single = _is_tensor(inputs)
    targets = _targets([inputs] if single else inputs, "grad(inputs=...)")
    roots = _roots(outputs, grad_outputs, "grad", create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    found = _run(roots, bool(retain_graph), bool(create_graph), targets, accumulate=False)
    if allow_unused is None:
        allow_unused = materialize_grads
    results = []
    for i, t in enumerate(targets):
        g = found.get(i)
        if g is None:
            if not allow_unused:
                raise BackwardError(
                    f"grad(): input {i} (shape {tuple(t.shape)}) was not used to compute the "
                    f"outputs, so it has no gradient; pass allow_unused=True to get None for it "
                    f"(or materialize_grads=True to get zeros)")
            if materialize_grads:
                g = np.zeros(t.shape, t.dtype)
        results.append(None if g is None else g if _is_tensor(g) else _TensorType._wrap(g))
    return tuple(results)


def _flags(op: str, **flags: Any) -> list:
    """The engine's bool options checked (None stays None: 'the default')."""
    return [None if v is None else check_flag(v, name, f"{op}()") for name, v in flags.items()]


def _roots(tensors: Any, grads: Any, op: str, graph: bool) -> list:
    """(tensor, initial gradient) per root; the gradient is an array, or a Tensor in graph mode."""
    Tensor = _TensorType
    ts = [tensors] if _is_tensor(tensors) else check_sequence(
        tensors, "outputs" if op == "grad" else "tensors", f"{op}()", "a Tensor or a sequence of Tensors",
        error=BackwardError)
    if grads is None:
        gs = [None] * len(ts)
    else:
        gs = [grads] if _is_tensor(grads) or not isinstance(grads, (list, tuple)) else list(grads)
    if not ts or any(not _is_tensor(t) for t in ts):
        raise BackwardError(f"{op}(): expected a Tensor or a sequence of Tensors as outputs, got "
                            f"{type(tensors).__name__}")
    if len(gs) != len(ts):
        raise BackwardError(f"{op}(): got {len(ts)} output(s) but {len(gs)} gradient(s); give "
                            f"one gradient (or None) per output")
    roots = []
    for k, (t, g) in enumerate(zip(ts, gs)):
        label = "" if len(ts) == 1 else f" (output {k})"
        if t._base is not None and t._view_version != t._vc.value:
            t._refresh_view()
        if not t.requires_grad:
            raise BackwardError(
                f"{op}(){label}: the tensor does not require grad: it was not computed from any "
                f"tensor with requires_grad=True, or it was computed under no_grad().")
        if g is None:
            if t._data.size != 1:
                raise BackwardError(
                    f"{op}(){label}: a gradient can only be implied for a scalar (one-element) "
                    f"output, but the output has shape {tuple(t.shape)}; pass "
                    f"{'gradient' if op == 'backward' else 'grad_outputs'}=... with a tensor of "
                    f"that shape, or reduce it first (.sum()).")
            arr = np.ones_like(t._data)
            roots.append((t, Tensor._wrap(arr) if graph else arr, False))
            continue
        if isinstance(g, Tensor):
            arr = g._data
        else:
            try:
                arr = np.asarray(g, dtype=t.dtype)
            except (TypeError, ValueError, OverflowError):
                raise BackwardError(f"{op}(){label}: the gradient must be a tensor or array of "
                                    f"numbers, got {type(g).__name__}") from None
        if arr.shape != t._data.shape:
            raise BackwardError(f"{op}(){label}: the gradient has shape {arr.shape}, but the "
                                f"output has shape {t._data.shape}; they must match.")
        if graph:
            g = g if isinstance(g, Tensor) else Tensor._wrap(arr)
            roots.append((t, g if g.dtype == t.dtype else g.to(t.dtype), True))
        else:
            roots.append((t, arr.astype(t.dtype, copy=False), True))
    return roots


def _targets(inputs: Any, op: str) -> list:
    ts = [inputs] if _is_tensor(inputs) else check_sequence(
        inputs, "inputs", op, "a Tensor or a sequence of Tensors", error=BackwardError)
    for i, t in enumerate(ts):
        if not _is_tensor(t):
            raise BackwardError(f"{op}: input {i} is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise BackwardError(f"{op}: input {i} (shape {tuple(t.shape)}) does not require grad, "
                                f"so no gradient is defined for it")
    return ts


def _run(roots: list, retain_graph: bool, graph: bool, targets: list | None,
         accumulate: bool) -> dict:
    """The engine: one reverse topological sweep from all roots. With `targets`, gradients are
    captured only for those tensors (leaves by identity, non-leaves by graph position) and
    accumulated into their `.grad` when `accumulate`, else returned; without, every leaf that
    requires grad accumulates."""
    leaf_slot: dict[int, list] = {}       # a tensor may be asked for twice: every slot gets it
    node_slot: dict[tuple, list] = {}
    if targets is not None:
        for i, t in enumerate(targets):
            if t.grad_fn is None:
                leaf_slot.setdefault(id(t), []).append(i)
            else:
                node_slot.setdefault((id(t.grad_fn), t._output_nr), []).append(i)
    found: dict[int, Any] = {}
    handed_out: set[int] = set()
    for t, g, user_owned in roots:
        if user_owned:
            handed_out.add(id(g))

    def deliver_leaf(leaf: Any, g: Any) -> None:
        if targets is None:
            _accumulate_leaf(leaf, g, handed_out)
            return
        for i in leaf_slot.get(id(leaf), ()):
            _deliver(i, targets[i], g, found, accumulate, handed_out)
            if accumulate:
                break                         # one .grad per tensor

    pending: dict[Context, list] = {}     # incoming gradients per node (keyed by identity)
    # ids of the sums in `pending` that the engine made itself (array mode): nothing else has
    # seen them, so a further gradient is added into them in place instead of allocating a new
    # sum each time (DenseNet's feature maps get one gradient per later layer). Same values.
    own_sums: set[int] = set()
    nodes = []
    for t, g, _ in roots:
        if t.grad_fn is None:                 # backward on a leaf: d leaf / d leaf = 1
            deliver_leaf(t, g)
            continue
        node = t.grad_fn
        slots = pending.setdefault(node, [None] * len(node.outputs_meta))
        slots[t._output_nr] = g if slots[t._output_nr] is None else slots[t._output_nr] + g
        nodes.append(node)
    if not nodes:
        return found
    with set_grad_enabled(graph):
        for node in reversed(topological_order(nodes)):
            grads = pending.pop(node, None)
            if grads is None:                 # reachable, but no gradient flows into it
                continue
            if own_sums:                      # handed on now: no longer the engine's alone
                for g in grads:
                    own_sums.discard(id(g))
            if node.freed:
                raise BackwardError(node._freed_message())
            if node.pre_hooks or node.retained:
                _run_output_hooks(node, grads, graph)
            if node_slot:
                for nr, g in enumerate(grads):
                    for i in node_slot.get((id(node), nr), ()) if g is not None else ():
                        _deliver(i, targets[i], g, found, accumulate, handed_out)
                        if accumulate:
                            break
            if len(grads) > 1:                # multi-output op: absent gradients are zeros
                grads = [_zeros(s, d, graph) if g is None else g
                         for g, (s, d) in zip(grads, node.outputs_meta)]
            input_grads = _call_backward(node, grads, graph)
            for index, (inp, need, edge, g) in enumerate(
                    zip(node.inputs, node.needs_input_grad, node.edges, input_grads)):
                if not need or g is None:
                    continue
                if edge is None:
                    like = inp._data
                    if not (type(g) is np.ndarray and g.shape == like.shape and g.dtype == like.dtype):
                        g = _conform(node, index, (like.shape, like.dtype), g, graph)
                    deliver_leaf(inp, g)
                else:
                    producer, nr = edge
                    shape, dtype = producer.outputs_meta[nr]
                    if not (type(g) is np.ndarray and g.shape == shape and g.dtype == dtype):
                        g = _conform(node, index, (shape, dtype), g, graph)
                    slots = pending.get(producer)
                    if slots is None:
                        slots = pending[producer] = [None] * len(producer.outputs_meta)
                    total = slots[nr]
                    if total is None:
                        slots[nr] = g
                    elif id(total) in own_sums:
                        np.add(total, g, out=total)
                    else:
                        slots[nr] = total = total + g
                        if type(total) is np.ndarray:   # not in graph mode, nor a 0-d sum's scalar
                            own_sums.add(id(total))
            if not retain_graph:
                node.free()
    return found


def _call_backward(node: Context, grads: list, graph: bool) -> tuple:
    """Run one op's backward rule: on arrays (the fast path), or in graph mode on Tensors with
    `ctx.saved_tensors` giving the graph's own tensors, so the rule records itself."""
    if graph:
        node.graph = True
        try:
            input_grads = node.fn.backward(node, *grads)
        finally:
            node.graph = False
    else:
        input_grads = node.fn.backward(node, *grads)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(node.inputs):
        _check_gradient_count(node, input_grads)
    if grad_mode.anomaly:
        _check_finite(node.name, "backward", [g._data if _is_tensor(g) else g for g in input_grads],
                      node.forward_site)
    if graph:
        input_grads = tuple(_graph_gradient(node, g, grads) for g in input_grads)
    return input_grads


def _graph_gradient(node: Context, g: Any, grads: list) -> Any:
    """In graph mode a rule that returned a plain array computed it outside the graph: the
    gradient is right, but differentiating it again would silently give zero. It becomes a
    tensor whose own backward raises, naming the op (once_differentiable's behaviour)."""
    if g is None or _is_tensor(g):
        return g
    arr = np.asarray(g)
    upstream = [t for t in grads if _is_tensor(t) and t.requires_grad]
    upstream += [t for t in node.inputs if _is_tensor(t) and t.requires_grad]
    if not upstream:
        return _TensorType._wrap(arr)
    return _NotTwiceDifferentiable.apply(arr, node.name, *upstream)


def _zeros(shape: tuple, dtype: Any, graph: bool) -> Any:
    arr = np.zeros(shape, dtype)
    return _TensorType._wrap(arr) if graph else arr


def _deliver(i: int, target: Any, g: Any, found: dict, accumulate: bool, handed_out: set) -> None:
    if accumulate:
        _accumulate_leaf(target, g, handed_out)
    else:
        found[i] = g if found.get(i) is None else found[i] + g


def _conform(node: Context, index: int, like: tuple, g: Any, graph: bool = False) -> Any:
    """Check a returned gradient against its input's recorded (shape, dtype): same shape, same
    dtype (cast if needed). In graph mode it stays a Tensor."""
    shape, dtype = like
    if graph:
        gshape, gdtype = tuple(g.shape), g.dtype
    else:
        if _is_tensor(g):
            g = g._data
        g = np.asarray(g)
        gshape, gdtype = g.shape, g.dtype
    if gshape != shape:
        raise BackwardError(
            f"{node.name}.backward returned a gradient of shape {gshape} for input {index}, "
            f"whose shape is {shape}; each gradient must have its input's shape.")
    if gdtype != dtype:
        g = g.to(dtype) if graph else g.astype(dtype)
    return g


def _check_gradient_count(node: Context, input_grads: tuple) -> None:
    n_in = len(node.inputs)
    if len(input_grads) < n_in or any(g is not None for g in input_grads[n_in:]):
        raise BackwardError(
            f"{node.name}.backward returned {len(input_grads)} gradient(s), but forward took "
            f"{n_in} positional input(s); return one gradient (or None) per input.")


def _accumulate_leaf(leaf: Any, g: Any, handed_out: set[int]) -> None:
    """Add g into leaf.grad. Arrays: the same array may reach two leaves (Add passes its
    gradient through to both inputs) or be a read-only view, so it is copied and each leaf owns
    its .grad. In graph mode g is a Tensor and .grad keeps its graph (as in PyTorch)."""
    Tensor = _TensorType
    for hook in getattr(leaf, "_hooks", None) or ():
        new = hook(g if isinstance(g, Tensor) else Tensor._wrap(g))
        if new is not None:
            g = _conform_hook(leaf, new, isinstance(g, Tensor))
    if isinstance(g, Tensor):
        if id(g) in handed_out:
            g = g.clone()
        handed_out.add(id(g))
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if id(g) in handed_out or not (g.base is None or _sole_view(g)) or not g.flags.writeable:
        g = g.copy()
    if leaf.grad is None:
        handed_out.add(id(g))
        leaf.grad = Tensor._wrap(g)
    else:
        leaf.grad = Tensor._wrap(leaf.grad._data + g)


def _sole_view(g: np.ndarray) -> bool:
    """Whether the view g is as good as an array of its own for a leaf's .grad: a C-contiguous
    view of all of an owning array that nothing but g references (a conv's grad_weight is the
    reshape of its GEMM's result). Then no one else can read or write that memory, and copying
    it (a pass over the model's largest weights, page faults included) buys nothing."""
    base = g.base
    if not (type(base) is np.ndarray and base.base is None and base.flags.owndata
            and g.flags.c_contiguous and g.size == base.size):
        return False
    del base
    return _base_refcount(g) == _SOLE_VIEW_REFS


def _base_refcount(g: np.ndarray) -> int:
    base = g.base
    return sys.getrefcount(base)


# the count _base_refcount sees when g is its base's only holder, measured rather than assumed
# (Pythons differ in the references the call itself adds); anything else reads as shared
_SOLE_VIEW_REFS = _base_refcount(np.empty(2).reshape(1, 2))


def _conform_hook(t: Any, new: Any, graph: bool) -> Any:
    Tensor = _TensorType
    shape = new.shape if isinstance(new, Tensor) else np.shape(new)
    if tuple(shape) != tuple(t.shape):
        raise BackwardError(f"a hook returned a gradient of shape {tuple(shape)} for a tensor of "
                            f"shape {tuple(t.shape)}; hooks must keep the gradient's shape.")
    if graph:
        new = new if isinstance(new, Tensor) else Tensor._wrap(np.asarray(new))
        return new if new.dtype == t.dtype else new.to(t.dtype)
    arr = new._data if isinstance(new, Tensor) else np.asarray(new)
    return arr.astype(t.dtype, copy=False)


def _run_output_hooks(node: Context, grads: list, graph: bool) -> None:
    """Tensor hooks and retain_grad() on non-leaf outputs see the complete incoming gradient."""
    Tensor = _TensorType
    if node.pre_hooks:
        for nr, hooks in node.pre_hooks.items():
            if grads[nr] is None:
                continue
            for hook in hooks:
                g = grads[nr]
                new = hook(g if isinstance(g, Tensor) else Tensor._wrap(g))
                if new is not None:
                    shape, dtype = node.outputs_meta[nr]
                    got = new.shape if isinstance(new, Tensor) else np.shape(new)
                    if tuple(got) != tuple(shape):
                        raise BackwardError(
                            f"a hook on the output of {node.name} returned a gradient of shape "
                            f"{tuple(got)}, expected {shape}.")
                    if graph:
                        new = new if isinstance(new, Tensor) else Tensor._wrap(np.asarray(new))
                        grads[nr] = new if new.dtype == dtype else new.to(dtype)
                    else:
                        arr = new._data if isinstance(new, Tensor) else np.asarray(new)
                        grads[nr] = arr.astype(dtype, copy=False)
    if node.retained:
        for nr, ref in node.retained.items():
            t = ref()
            g = grads[nr]
            if t is not None and g is not None:
                if not isinstance(g, Tensor):
                    g = Tensor._wrap(g.copy())
                t.grad = g if t.grad is None else t.grad + g


class _NotTwiceDifferentiable(Function):
    """The gradient an op's backward computed outside the graph (a `once_differentiable`
    backward, or one that returned arrays under create_graph=True). Its value is exact; its
    backward raises, naming the op, because differentiating it again would be silently zero."""

    @staticmethod
    def forward(ctx, value, op_name, *upstream):
        ctx.op_name = op_name
        return value

    @staticmethod
    def backward(ctx, grad_output):
        raise BackwardError(
            f"the gradient computed by {ctx.op_name}.backward is not differentiable: that "
            f"backward is once_differentiable (it works on NumPy arrays outside the graph), so "
            f"a second derivative through it cannot be computed. Write its backward with "
            f"differentiable operations to use create_graph=True through it.")


def once_differentiable(backward_fn: Callable) -> Callable:
    """Decorator for a custom Function's backward that works on NumPy arrays only (as PyTorch's
    torch.autograd.function.once_differentiable): under create_graph=True it still gets arrays,
    and its results become gradients whose own backward raises a clear error."""
    @functools.wraps(backward_fn)
    def wrapper(ctx: Context, *grad_outputs: Any) -> Any:
        if not getattr(ctx, "graph", False):
            return backward_fn(ctx, *grad_outputs)
        arrays = [g._data if _is_tensor(g) else g for g in grad_outputs]
        ctx.graph = False                 # saved_tensors as arrays
        try:
            with no_grad():
                result = backward_fn(ctx, *arrays)
        finally:
            ctx.graph = True
        single = not isinstance(result, tuple)
        results = (result,) if single else result
        out = tuple(_graph_gradient(ctx, None if r is None else
                                    (r._data if _is_tensor(r) else np.asarray(r)), grad_outputs)
                    for r in results)
        return out[0] if single else out
    wrapper.once_differentiable = True
    return wrapper


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
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # tinygrad_cnn/
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package_dir):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def __getattr__(name: str) -> Any:
    """tc.autograd.gradcheck / gradgradcheck, as in torch.autograd (defined in gradcheck.py,
    which sits above this module)."""
    if name == "gradcheck":
        from ..gradcheck import gradcheck
        return gradcheck
    if name == "gradgradcheck":
        from ..gradcheck import gradgradcheck
        return gradgradcheck
    raise AttributeError(f"module 'tinygrad_cnn.autograd' has no attribute {name!r}")
