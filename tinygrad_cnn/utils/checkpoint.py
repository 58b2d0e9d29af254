"""Activation checkpointing, `torch.utils.checkpoint`: trade compute for memory.

    y = checkpoint(block, x, use_reentrant=False)      # block: a Module or any function
    y = checkpoint_sequential(model, segments=4, input=x, use_reentrant=False)

`checkpoint(function, *args)` runs `function` without recording a graph and keeps only its
inputs (and the state of the framework's random generator). When backward reaches it, it runs
`function` again on those inputs with recording on and backpropagates the incoming gradient
through that fresh graph (a backward nested in the outer one), then drops it. So between
forward and backward a checkpointed block holds its inputs instead of every intermediate
array; the price is a second forward. Random ops (dropout) draw the same numbers the second
time because the generator's state is restored around the recomputation
(`preserve_rng_state=False` skips that).

Gradients of parameters. The parameters the function uses are found on it: a Module's, a
bound method's Module's, a functools.partial's, and those of Modules/leaf Tensors in its
closure. They become inputs of the recorded op, so they get gradients even when no input
requires grad (what PyTorch's use_reentrant=False does), and each gradient reaches `.grad`
through the outer engine once (hooks run once). Parameters the function reaches in other ways
(a global) still get their gradient, accumulated by the nested backward, as with PyTorch's
use_reentrant=True, but only when some input requires grad.

`use_reentrant` is accepted for PyTorch scripts and both values run this mechanism; as in
PyTorch, keyword arguments are only allowed with use_reentrant=False. Under
create_graph=True the backward re-runs the function on the graph's own tensors and takes its
gradient with create_graph, so a checkpoint is twice differentiable (gradgradcheck'ed in the
registry). Not supported: `context_fn`/`debug`.
Module buffers updated in forward (BatchNorm running stats) are updated again by the
recomputation, as in PyTorch.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

from .. import gradcheck_suite as _suite
from .. import rng
from ..autograd import Function, enable_grad, no_grad
from ..argcheck import check_callable, check_flag, check_sequence
from ..errors import ArgumentError
from ..nn.module import Module
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Call:
    """One checkpointed call: the function, where its Tensor arguments go, and the RNG state."""

    def __init__(self, function: Callable, args: tuple, kwargs: dict, preserve: bool) -> None:
        self.function = function
        self.args = list(args)
        self.kwargs = dict(kwargs)
        self.arg_slots = [i for i, a in enumerate(self.args) if isinstance(a, Tensor)]
        self.kwarg_slots = [k for k, v in self.kwargs.items() if isinstance(v, Tensor)]
        self.preserve = preserve
        self.rng_state: dict | None = None
        self.multi = False

    @property
    def inputs(self) -> list[Tensor]:
        return [self.args[i] for i in self.arg_slots] + [self.kwargs[k] for k in self.kwarg_slots]

    def __call__(self, inputs: list[Tensor]) -> Any:
        args, kwargs = list(self.args), dict(self.kwargs)
        for slot, t in zip(self.arg_slots + self.kwarg_slots, inputs):
            if isinstance(slot, int):
                args[slot] = t
            else:
                kwargs[slot] = t
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:           # shown in graph drawings and error messages
        return f"checkpoint({getattr(self.function, '__name__', type(self.function).__name__)})"


def _outputs(out: Any, function: Callable) -> tuple[Tensor, ...]:
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"checkpoint: the checkpointed function must return a Tensor or a "
                            f"tuple of Tensors, but output {i} of {function!r} is "
                            f"{type(o).__name__}")
    return outs


class Checkpoint(Function):
    """Recompute-in-backward. The derivative is the checkpointed function's own: backward runs
    the function again with recording and backpropagates `grad_outputs` through it (chain rule
    through the recomputed graph), giving d(out)/d(input)ᵀ·grad_output for every input and
    every parameter passed after the inputs."""

    @staticmethod
    def forward(ctx: Any, call: _Call, *arrays: Any) -> Any:
        n = len(call.arg_slots) + len(call.kwarg_slots)
        ctx.call = call
        ctx.save_for_backward(*arrays[:n])             # the inputs only; parameters live on
        if call.preserve:
            call.rng_state = rng.generator().bit_generator.state
        with no_grad():
            out = call([Tensor._wrap(a) for a in arrays[:n]])
        call.multi = isinstance(out, (tuple, list))
        outs = _outputs(out, call.function)
        arrays_out = tuple(o.numpy() for o in outs)
        return arrays_out if call.multi else arrays_out[0]

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        call: _Call = ctx.call
        saved = ctx.saved_tensors
        n = len(saved)
        needs = ctx.needs_input_grad[1:]
        if getattr(ctx, "graph", False):     # create_graph: recompute on the graph's own tensors
            return (None, *_graph_backward(ctx, call, list(ctx.inputs[1:]), needs, grad_outputs))
        inputs = []
        for array, need in zip(saved, needs):
            t = Tensor._wrap(array)
            if need:
                t.requires_grad_(True)
            inputs.append(t)
        params = list(ctx.inputs[1 + n:])
        # the nested backward must not touch the parameters' .grad or run their hooks: their
        # gradients are returned, and the outer engine accumulates them (once)
        stash = [(p, p.grad, p._hooks) for p in params]
        for p in params:
            p.grad, p._hooks = None, None
        gen = rng.generator()
        current = gen.bit_generator.state
        try:
            if call.preserve and call.rng_state is not None:
                gen.bit_generator.state = call.rng_state
            try:
                with enable_grad():
                    outs = _outputs(call(inputs), call.function)
            finally:
                gen.bit_generator.state = current
            pairs = [(o, g) for o, g in zip(outs, grad_outputs)
                     if o.requires_grad and g is not None]
            with enable_grad():
                if len(pairs) == 1:
                    pairs[0][0].backward(Tensor._wrap(pairs[0][1]))
                elif pairs:                            # one backward for all outputs
                    total = None
                    for o, g in pairs:                 # d(sum_k <o_k, g_k>)/d(o_k) = g_k
                        term = (o * Tensor._wrap(g)).sum()
                        total = term if total is None else total + term
                    total.backward()
            input_grads = [None if t.grad is None else t.grad.numpy() for t in inputs]
            param_grads = [None if p.grad is None else p.grad.numpy() for p in params]
        finally:
            for p, grad, hooks in stash:
                p.grad, p._hooks = grad, hooks
        return (None, *input_grads, *param_grads)


def _graph_backward(ctx: Any, call: _Call, tensors: list, needs: tuple, grad_outputs: tuple) -> list:
    """Checkpoint's backward under create_graph=True: the function re-run on the inputs
    themselves (not copies), and its gradient taken with create_graph, so it is differentiable
    again (a gradient penalty through a checkpointed block)."""
    from ..autograd import grad as autograd_grad
    n = len(call.arg_slots) + len(call.kwarg_slots)
    gen = rng.generator()
    current = gen.bit_generator.state
    try:
        if call.preserve and call.rng_state is not None:
            gen.bit_generator.state = call.rng_state
        outs = _outputs(call(tensors[:n]), call.function)
    finally:
        gen.bit_generator.state = current
    pairs = [(o, g) for o, g in zip(outs, grad_outputs) if o.requires_grad and g is not None]
    wanted = [i for i, need in enumerate(needs) if need]
    result: list = [None] * len(tensors)
    if pairs and wanted:
        grads = autograd_grad([o for o, _ in pairs], [tensors[i] for i in wanted],
                              [g for _, g in pairs], create_graph=True, allow_unused=True)
        for i, g in zip(wanted, grads):
            result[i] = g
    return result


def _parameters_of(function: Callable) -> list[Tensor]:
    """Leaf tensors requiring grad that `function` visibly uses (see the module docstring)."""
    found: dict[int, Tensor] = {}

    def visit(obj: Any, depth: int = 0) -> None:
        if isinstance(obj, Module):
            for p in obj.parameters():
                if p.requires_grad:
                    found.setdefault(id(p), p)
        elif isinstance(obj, Tensor):
            if obj.requires_grad and obj.grad_fn is None:
                found.setdefault(id(obj), obj)
        elif isinstance(obj, functools.partial):
            visit(obj.func, depth)
            for a in (*obj.args, *obj.keywords.values()):
                visit(a, depth + 1)
        elif depth < 2 and isinstance(obj, (list, tuple)):
            for o in obj:
                visit(o, depth + 1)
        elif depth < 2 and isinstance(obj, dict):
            for o in obj.values():
                visit(o, depth + 1)
        elif callable(obj) and depth < 3:
            owner = getattr(obj, "__self__", None)
            if owner is not None:
                visit(owner, depth + 1)
            for cell in getattr(obj, "__closure__", None) or ():
                try:
                    visit(cell.cell_contents, depth + 1)
                except ValueError:                    # an empty cell
                    pass

    visit(function)
    return list(found.values())


def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None,
               preserve_rng_state: bool = True, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)`, recomputed in backward instead of stored; see the module
    docstring. Returns what the function returns (a Tensor or a tuple of Tensors)."""
    if not callable(function):
        raise ArgumentError(f"checkpoint: function must be callable, got {type(function).__name__}")
    for name in ("context_fn", "debug", "determinism_check", "early_stop"):
        if name in kwargs:
            raise ArgumentError(f"checkpoint: {name}= is not supported by tinygrad_cnn's "
                                f"checkpoint")
    if use_reentrant is not None:
        use_reentrant = check_flag(use_reentrant, "use_reentrant", "checkpoint")
    preserve_rng_state = check_flag(preserve_rng_state, "preserve_rng_state", "checkpoint")
    if kwargs and use_reentrant in (None, True):
        raise ArgumentError("Unexpected keyword arguments: " + ",".join(kwargs)
                            + " (keyword arguments need use_reentrant=False, as in PyTorch)")
    call = _Call(function, args, kwargs, bool(preserve_rng_state))
    params = [p for p in _parameters_of(function) if all(p is not t for t in call.inputs)]
    return Checkpoint.apply(call, *call.inputs, *params)


def checkpoint_sequential(functions: Any, segments: int, input: Tensor,
                          use_reentrant: bool | None = None, **kwargs: Any) -> Tensor:
    """Run `functions` (a Sequential or a list of callables) in `segments` chunks, each but the
    last under `checkpoint`, as torch.utils.checkpoint.checkpoint_sequential."""
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ArgumentError("Unexpected keyword arguments: " + ",".join(kwargs))
    if isinstance(functions, Module):
        functions = list(functions.children())
    op = "checkpoint_sequential"
    functions = check_sequence(functions, "functions", op, "a Sequential or a sequence of callables")
    for i, f in enumerate(functions):
        check_callable(f, f"functions[{i}]", op)
    if not isinstance(segments, int) or isinstance(segments, bool) or not 1 <= segments:
        raise ArgumentError(f"checkpoint_sequential: segments must be a positive int, got {segments!r}")
    if segments > len(functions):
        raise ArgumentError(f"checkpoint_sequential: segments ({segments}) must not exceed the number "
                            f"of functions ({len(functions)})")
    if use_reentrant is not None:
        use_reentrant = check_flag(use_reentrant, "use_reentrant", op)

    def run(chunk: Iterable[Callable]) -> Callable:
        chunk = list(chunk)                   # the closure holds this segment's callables only

        def forward(x: Tensor) -> Tensor:
            for f in chunk:
                x = f(x)
            return x
        return forward

    size = len(functions) // segments
    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        input = checkpoint(run(functions[start:end]), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(functions[end:])(input)


# `tinygrad-cnn gradcheck checkpoint` / `--all`: the recomputed graph's gradients, numerically
@_suite.register("checkpoint", defaults={"shape": (3, 4), "outputs": 1},
                 grid=[{}, {"outputs": 2}, {"shape": (2, 3, 5)}])
def _gradcheck_case(cfg: dict, gen: Any) -> tuple:
    """checkpoint(f, x, w): f = tanh(x * w) (+ exp(x) - w as a second output)"""
    def f(x: Tensor, w: Tensor) -> Any:
        y = (x * w).tanh()
        return (y, x.exp() - w) if cfg["outputs"] == 2 else y

    def fn(x: Tensor, w: Tensor) -> Any:
        return checkpoint(f, x, w, use_reentrant=False)
    return fn, [_suite.randn(gen, cfg["shape"]), _suite.randn(gen, cfg["shape"])]
