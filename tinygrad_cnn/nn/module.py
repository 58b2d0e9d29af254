"""`Module`, `Parameter` and the containers `Sequential`, `ModuleList`, `ModuleDict`.

A Module is written exactly as in PyTorch:

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)      # registered as a child module
            self.fc1 = nn.Linear(864, 10)
        def forward(self, x):
            return self.fc1(F.relu(self.conv1(x)).flatten(1))

Registration. `__setattr__` sorts what is assigned: a `Parameter` goes to `_parameters`, a Module
to `_modules`, and a tensor registered with `register_buffer` lives in `_buffers`. Each is an
insertion-ordered dict, so `parameters()` yields parameters in definition order and
`named_parameters()` gives PyTorch's dotted names (`conv1.weight`, `0.bias`, `features.3.weight`).

State dicts. `state_dict()` maps those dotted names to detached `Tensor`s that share memory
with the parameters and persistent buffers (PyTorch's behaviour: copy them if you keep them
while training continues). `load_state_dict()` accepts Tensors, NumPy arrays, or anything
`np.asarray` understands (a CPU `torch.Tensor` too), checks every key and shape first, and only
then copies the values into the existing arrays, so optimizers keep pointing at the same
parameters and a failed load changes nothing.

Graph scopes. `__call__` pushes the module onto `autograd.grad_mode.module_stack` while its
forward runs; every op recorded meanwhile remembers the stack in `ctx.scope`, which is how
graph drawings group ops by the module that made them.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..autograd import grad_mode
from .hooks import wrap_inputs, wrap_outputs
from .. import devices as _device
from ..tensor import Tensor, _check_grad_dtype, _to_array, legacy_dtype, zero_grads
from ..argcheck import check_callable, check_dtype, check_flag, check_int, check_sequence, check_str, describe
from ..errors import ArgumentError, StateDictError

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "StateDictError",
           "RemovableHandle", "IncompatibleKeys"]




IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


# ---------------------------------------------------------------------------------- Parameter
class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter (`requires_grad=True`).

    `Parameter(tensor)` shares the tensor's array, as in PyTorch; other data (lists, NumPy
    arrays) is converted as `tc.tensor` converts it (NumPy arrays are not copied).
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            arr = np.empty(0, dtype=np.float32)
        elif isinstance(data, Tensor):
            arr = data._data
        else:
            arr = _to_array(data, copy=False)
        requires_grad = check_flag(requires_grad, "requires_grad", "Parameter")
        if requires_grad:
            _check_grad_dtype(arr, "Parameter")
        super().__init__(np.empty(0, dtype=arr.dtype), requires_grad=False)
        self._data = arr
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> "Parameter":
        out = Parameter(self._data.copy(), self.requires_grad)
        if self.grad is not None:
            out.grad = Tensor._wrap(self.grad._data.copy())
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (Parameter, (self._data, self.requires_grad))


# ---------------------------------------------------------------------------------- hooks
_hook_ids = itertools.count()


class RemovableHandle:
    """Returned by `register_forward_hook` & co.; `.remove()` unregisters the hook. Also a
    context manager: `with model.register_forward_hook(h): model(x)`."""

    def __init__(self, hooks: dict) -> None:
        self.hooks = hooks
        self.id = next(_hook_ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value._data
    return np.asarray(value)


# ------------------------------------------------------------------------------------ Module
class Module:
    """Base class of every layer and model (see the module docstring)."""

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_full_backward_hooks"] = OrderedDict()
        d["_full_backward_pre_hooks"] = OrderedDict()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ------------------------------------------------------------------------- calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        stack = grad_mode.module_stack
        stack.append(self)
        d = self.__dict__
        try:
            if (d.get("_forward_pre_hooks") or d.get("_forward_hooks") or d.get("_full_backward_hooks")
                    or d.get("_full_backward_pre_hooks")):
                return self._call_with_hooks(args, kwargs)
            return self.forward(*args, **kwargs)          # no hooks: the common case
        finally:
            stack.pop()

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        """forward between the forward pre-hooks and hooks, with the module's backward hooks
        attached to its inputs and outputs (nn/hooks.py) when grad mode is on."""
        d = self.__dict__
        if d.get("_forward_pre_hooks"):
            for hook in list(self._forward_pre_hooks.values()):
                new = hook(self, args)
                if new is not None:
                    args = new if isinstance(new, tuple) else (new,)
        backward_hooks = (d.get("_full_backward_hooks") or d.get("_full_backward_pre_hooks")) \
            and grad_mode.enabled
        if backward_hooks:
            args, hook_state = wrap_inputs(self, args)
        out = self.forward(*args, **kwargs)
        if backward_hooks:
            out = wrap_outputs(out, hook_state)
        if d.get("_forward_hooks"):
            for hook in list(self._forward_hooks.values()):
                new = hook(self, args, out)
                if new is not None:
                    out = new
        return out

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(module, args, output)` runs after every forward; a non-None result replaces
        the output. Returns a handle whose `.remove()` unregisters it."""
        check_callable(hook, "hook", "register_forward_hook")
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """`hook(module, grad_input, grad_output)` runs when the gradients with respect to the
        module's tensor inputs are computed (tuples of Tensors, None for inputs that need no
        gradient); a non-None result (a tuple like grad_input) replaces grad_input. See nn/hooks.py."""
        return self._add_hook("_full_backward_hooks", hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """`hook(module, grad_output)` runs when the gradients with respect to the module's
        outputs are ready, before any of its internals' backward; a non-None result replaces
        grad_output."""
        return self._add_hook("_full_backward_pre_hooks", hook, prepend)

    def _add_hook(self, registry: str, hook: Callable, prepend: bool) -> RemovableHandle:
        hooks = self.__dict__.setdefault(registry, OrderedDict())   # modules unpickled from old state
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(module, args)` runs before every forward; a non-None result replaces the args."""
        check_callable(hook, "hook", "register_forward_pre_hook")
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    # -------------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")      # a reassigned parameter keeps its place
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(nn.Parameter or None expected)")
            params[name] = None
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                f"(nn.Module or None expected)")
            modules[name] = None
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(tc.Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        d = self.__dict__
        d.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            if key != keep:
                d[key].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__                 # unrolled: every parameter, buffer and child read
        store = d.get("_parameters")      # in a forward comes through here
        if store is not None and name in store:
            return store[name]
        store = d.get("_buffers")
        if store is not None and name in store:
            return store[name]
        store = d.get("_modules")
        if store is not None and name in store:
            return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d[key]:
                del d[key][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = list(object.__dir__(self)) + list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(k for k in set(keys) if not k[:1].isdigit())

    def _check_name(self, name: Any, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"{what} name can't contain \".\" or be empty, got {name!r}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            f"(nn.Parameter or None required)")
        if name in self.__dict__ or name in self._modules or name in self._buffers:
            if name not in self._parameters:
                raise KeyError(f"attribute '{name}' already exists")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that belongs to the module's state but is not a parameter (BatchNorm's
        running statistics). Persistent buffers appear in the state dict."""
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        if (name in self.__dict__ or name in self._parameters or name in self._modules) \
                and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if (name in self.__dict__ or name in self._parameters or name in self._buffers) \
                and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        """The submodule at a dotted path, e.g. `model.get_submodule('features.0')`."""
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            if item not in mod._modules or mod._modules[item] is None:
                raise AttributeError(f"{mod._get_name()} has no submodule `{item}` (looking up '{target}')")
            mod = mod._modules[item]
        return mod

    # ---------------------------------------------------------------------- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """(dotted name, module) for this module and every descendant, depth first."""
        check_str(prefix, "prefix", "named_modules")
        remove_duplicate = check_flag(remove_duplicate, "remove_duplicate", "named_modules")
        if memo is not None and not isinstance(memo, set):
            raise ArgumentError(f"named_modules: memo must be a set or None, got {describe(memo)}")
        memo = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in memo:
                    continue
                memo.add(id(mod))
            yield name, mod
            children = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        recurse = check_flag(recurse, "recurse", f"named_{store[1:]}")
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        seen: set[int] = set()
        for mod_prefix, mod in mods:
            for k, v in getattr(mod, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mod_prefix}.{k}" if mod_prefix else k), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) in definition order; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -------------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ArgumentError(f"train(): mode should be a bool, got {mode!r}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        requires_grad = check_flag(requires_grad, "requires_grad", "requires_grad_")
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (default) or zero every parameter's `.grad`."""
        set_to_none = check_flag(set_to_none, "set_to_none", "zero_grad")
        zero_grads(self.parameters(), set_to_none)

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call `fn` on every submodule (children first) and then on self, like PyTorch."""
        check_callable(fn, "fn", "Module.apply")
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------------------------- dtype
    def to(self, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False) -> "Module":
        """`to(tc.float64)`, `to(device)` (the CPU: a no-op; another device raises DeviceError),
        `to(device, dtype)`, `to(tensor)`, `to(dtype=...)`: casts floating-point parameters,
        their gradients and floating buffers in place (the Parameter objects stay the same, so
        an optimizer built before still updates them)."""
        for a in args:
            if _device.is_device_like(a) or (isinstance(a, int) and not isinstance(a, bool)):
                device = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            else:
                dtype = a
        _device.check_device(device, f"{type(self).__name__}.to()")
        if dtype is None:
            return self
        dtype = check_dtype(dtype, "dtype", "Module.to", kinds="f")
        for p in self.parameters():
            if p.dtype.kind == "f" and p.dtype != dtype:
                p._data = p._data.astype(dtype)
                p._version += 1
                if p.grad is not None:
                    p.grad = Tensor._wrap(p.grad._data.astype(dtype))
        for b in self.buffers():
            if b.dtype.kind == "f" and b.dtype != dtype:
                b._data = b._data.astype(dtype)
                b._version += 1
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    def type(self, dst_type: Any) -> "Module":
        """Cast the float parameters and buffers to `dst_type` (a float dtype or a legacy name
        such as 'torch.DoubleTensor'). Integer buffers (num_batches_tracked) keep their dtype,
        where torch's Module.type casts them too."""
        return self.to(legacy_dtype(dst_type))

    def cpu(self) -> "Module":
        return self

    def cuda(self, device: Any = None) -> "Module":
        _device.check_device("cuda" if device is None else device, f"{type(self).__name__}.cuda()")
        return self

    def share_memory(self) -> "Module":
        """Move every parameter, buffer and existing gradient into shared memory, so processes
        started afterwards (fork, spawn, or sent through tinygrad_cnn.multiprocessing queues)
        update the same values (Hogwild); see tinygrad_cnn/multiprocessing.py."""
        # imported here: multiprocessing sits above nn (it only needs the tensor core)
        from ..multiprocessing import share_memory_
        for t in itertools.chain(self.parameters(), self.buffers()):
            share_memory_(t)
            if t.grad is not None:
                share_memory_(t.grad)
        return self

    # --------------------------------------------------------------------- state dicts
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(key, tensor) of every persistent entry: each module's own parameters, then its
        persistent buffers, then its children's, depth first (PyTorch's order)."""
        for mod_prefix, mod in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            base = f"{mod_prefix}." if mod_prefix else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    yield base + k, p
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers:
                    yield base + k, b

    def state_dict(self, *, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Dotted name -> Tensor for every parameter and persistent buffer.

        The tensors are detached and share memory with the module (as in PyTorch); use
        `tc.save(model.state_dict(), path)` to write them, or copy them to keep a snapshot.
        `keep_vars=True` returns the Parameter objects themselves.
        """
        check_str(prefix, "prefix", "state_dict")
        keep_vars = check_flag(keep_vars, "keep_vars", "state_dict")
        if destination is not None and not isinstance(destination, dict):
            raise ArgumentError(f"state_dict: destination must be a dict or None, got {describe(destination)}")
        out = OrderedDict() if destination is None else destination
        for key, t in self._state_items(prefix):
            out[key] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy `state_dict` into this module's parameters and buffers.

        Values may be Tensors, NumPy arrays, or anything `np.asarray` takes (CPU torch tensors,
        so `model.load_state_dict(torch_model.state_dict())` works). Shape mismatches are always
        errors; missing and unexpected keys are errors when `strict` (otherwise they are
        returned). All problems are listed in one `StateDictError` and nothing is copied
        unless the whole load is valid.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict, got {type(state_dict).__name__}")
        strict = check_flag(strict, "strict", "load_state_dict")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, plan = [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            try:
                value = _as_array(state_dict[key])
            except Exception as e:  # noqa: BLE001 - report any conversion failure by key
                errors.append(f'could not convert the value of "{key}" to an array: {e}')
                continue
            if value.dtype.kind not in "biuf":
                errors.append(f'the value of "{key}" has dtype {value.dtype}, expected numbers')
                continue
            lazy = hasattr(target, "materialize")     # a lazy layer's UninitializedParameter
            if value.shape != target.shape and not lazy:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(value.shape)} from checkpoint, the shape in current model "
                              f"is {tuple(target.shape)}.")
                continue
            plan.append((target, value))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise StateDictError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                                 + "\n\t".join(errors))
        for target, value in plan:
            if hasattr(target, "materialize"):      # takes the checkpoint's shape (as PyTorch)
                target.materialize(value.shape)
            np.copyto(target._data, value, casting="unsafe")
            target._version += 1
        return IncompatibleKeys(missing, unexpected)

    # --------------------------------------------------------------------------- repr
    def _get_name(self) -> str:
        return type(self).__name__

    def _label(self) -> str:
        """How error messages name this layer, e.g. `Linear(400→120)`."""
        return self._get_name()

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's own line in repr()."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    # ---------------------------------------------------------------- error messages
    def _where(self) -> str:
        """' (the 'fc1' of LeNet5)' when this module's forward runs inside a parent's, for
        error messages; '' otherwise."""
        stack = grad_mode.module_stack
        if not stack or stack[0] is self:
            return ""
        root = stack[0]
        for name, m in root.named_modules():
            if m is self:
                return f" (module '{name}' of {root._get_name()})"
        return ""


# -------------------------------------------------------------------------------- containers
def _check_slice(idx: slice, who: str) -> slice:
    """A slice of a container: int (or None) bounds and a non-zero step."""
    if idx.step == 0 or not all(v is None or check_int(v, "slice bound", who) is not None
                                for v in (idx.start, idx.stop, idx.step)):
        raise ArgumentError(f"{who}: slice step cannot be zero, got {idx!r}")
    return idx


class Sequential(Module):
    """Modules applied in order; names are "0", "1", ... (or an OrderedDict's keys), so a
    parameter is called "0.weight" as in PyTorch. Indexing gives a module, slicing a
    Sequential with the same names."""

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for key, m in args[0].items():
                self.add_module(key, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def _index(self, idx: int) -> str:
        check_int(idx, "index", self._get_name())
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a {self._get_name()} of length {n}")
        return list(self._modules)[idx % n]

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[_check_slice(idx, self._get_name())]))
        return self._modules[self._index(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, self._index(idx), module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)[_check_slice(idx, self._get_name())] if isinstance(idx, slice) else [self._index(idx)]
        for k in keys:
            del self._modules[k]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def forward(self, input: Any) -> Any:
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(Module):
    """A list of modules registered as children "0", "1", ... (no forward of its own)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, idx: int) -> int:
        check_int(idx, "index", "ModuleList")
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a ModuleList of length {n}")
        return idx % n

    def __getitem__(self, idx: int | slice) -> Any:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(values[_check_slice(idx, "ModuleList")])
        return values[self._index(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(self._index(idx)), module)

    def __delitem__(self, idx: int | slice) -> None:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            del values[_check_slice(idx, "ModuleList")]
        else:
            del values[self._index(idx)]
        self._modules.clear()
        for i, m in enumerate(values):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for m in check_sequence(modules, "modules", "ModuleList.extend", "an iterable of modules",
                                exclude=(Module,)):
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        check_int(index, "index", "ModuleList.insert")
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(values):
            self.add_module(str(i), m)

    def __repr__(self) -> str:
        """PyTorch's compressed form: runs of identical modules print as `(0-2): 3 x Linear(...)`."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        blocks: list[list] = []
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = []
        for start, end, r in blocks:
            text = f"({start}): {r}" if start == end else f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(_addindent(text, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); iterate over it in your own forward")


class ModuleDict(Module):
    """A dict of named child modules (no forward of its own)."""

    def __init__(self, modules: dict | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if not isinstance(key, str) or key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r} (keys: {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self[key]                                     # the KeyError naming the keys
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def update(self, modules: Any) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        items = items if hasattr(modules, "items") else check_sequence(
            items, "modules", "ModuleDict.update", "a dict or (name, module) pairs")
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ArgumentError(f"ModuleDict.update: expected (name, module) pairs, got the item {describe(item)}")
            self.add_module(*item)

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(); index it in your own forward")
