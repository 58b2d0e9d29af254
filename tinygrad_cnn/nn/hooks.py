"""Module full backward hooks, PyTorch's `register_full_backward_hook` and
`register_full_backward_pre_hook`.

While a hooked module's forward runs, its tensor inputs that require grad pass through one
identity op (`_InputsIdentity`) and its outputs through another (`_OutputsIdentity`). In
backward the output identity sees the gradients with respect to the module's outputs first
(pre-hooks run there and may replace them); the input identity runs after everything inside
the module, with the gradients with respect to its inputs: there `hook(module, grad_input,
grad_output)` runs and may replace grad_input. Both identities pass gradients through
unchanged otherwise (derivative 1), so a hook that returns None changes nothing. As in PyTorch,
the hooked module's outputs are then views made by a Function, so an in-place op on them
(`out += x`) is refused: write `out = out + x`."""
from __future__ import annotations

from typing import Any

from ..autograd import Function
from ..tensor import Tensor


class _HookState:
    """What the two identity ops of one forward call share."""
    __slots__ = ("module", "grad_output", "n_inputs", "input_slots", "hooks", "pre_hooks")

    def __init__(self, module: Any, n_inputs: int, input_slots: tuple) -> None:
        self.module = module
        self.grad_output: tuple | None = None
        self.n_inputs = n_inputs              # tensor arguments of forward, in order
        self.input_slots = input_slots        # which of them go through the input identity
        self.hooks = list(module._full_backward_hooks.values())
        self.pre_hooks = list(module._full_backward_pre_hooks.values())


def _checked(result: Any, like: tuple, what: str, module: Any) -> tuple:
    result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(result) != len(like):
        raise ValueError(f"a backward hook of {type(module).__name__} returned {len(result)} "
                         f"{what} gradient(s), expected {len(like)}")
    return tuple(g.numpy() if hasattr(g, "numpy") else g for g in result)


def _tensors(grads: tuple) -> tuple:
    return tuple(None if g is None else Tensor._wrap(g) for g in grads)


class _Identity(Function):
    """z_i = a_i;  dz_i/da_i = 1 (the subclasses' backward runs hooks on the way)."""

    @staticmethod
    def forward(ctx, *arrays, state):
        return arrays if len(arrays) > 1 else arrays[0]


class _OutputsIdentity(_Identity):
    """Backward records grad_output (after the pre-hooks)."""

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.kwargs["state"]
        for hook in state.pre_hooks:
            new = hook(state.module, _tensors(grads))
            if new is not None:
                grads = _checked(new, grads, "output", state.module)
        state.grad_output = _tensors(grads)
        if not state.input_slots:           # nothing inside needs grad: hook now, as PyTorch
            for hook in state.hooks:
                hook(state.module, (None,) * state.n_inputs, state.grad_output)
        return grads


class _InputsIdentity(_Identity):
    """Backward calls the full backward hooks."""

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.kwargs["state"]
        full = [None] * state.n_inputs
        for slot, g in zip(state.input_slots, grads):
            full[slot] = g
        grad_input = _tensors(tuple(full))
        for hook in state.hooks:
            new = hook(state.module, grad_input, state.grad_output)
            if new is not None:
                grad_input = _tensors(_checked(new, grad_input, "input", state.module))
        return tuple(None if grad_input[s] is None else grad_input[s].numpy() for s in state.input_slots)


def wrap_inputs(module: Any, args: tuple) -> tuple[tuple, _HookState]:
    """The forward arguments with the tensors that require grad routed through _InputsIdentity."""
    tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    slots = tuple(k for k, i in enumerate(tensor_positions) if args[i].requires_grad)
    state = _HookState(module, len(tensor_positions), slots)
    if not slots:
        return args, state
    chosen = [args[tensor_positions[k]] for k in slots]
    out = _InputsIdentity.apply(*chosen, state=state)
    out = out if isinstance(out, tuple) else (out,)
    new_args = list(args)
    for k, t in zip(slots, out):
        new_args[tensor_positions[k]] = t
    return tuple(new_args), state


def wrap_outputs(out: Any, state: _HookState) -> Any:
    """The forward result with its tensors (a Tensor, or a tuple/list of them) routed through
    _OutputsIdentity; other results are returned as they are (no hook can run for them)."""
    if isinstance(out, Tensor):
        return _OutputsIdentity.apply(out, state=state) if out.requires_grad else out
    if isinstance(out, (tuple, list)) and out and all(isinstance(o, Tensor) for o in out):
        if not any(o.requires_grad for o in out):
            return out
        res = _OutputsIdentity.apply(*out, state=state)
        res = res if isinstance(res, tuple) else (res,)
        return type(out)(res) if isinstance(out, list) else tuple(res)
    return out
