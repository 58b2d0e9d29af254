"""`Optimizer`: parameter groups, per-parameter state, zero_grad and state dicts, as in PyTorch.

Subclasses implement `step()` by updating `p._data` IN PLACE with NumPy ufuncs writing into
preallocated arrays (`np.multiply(a, s, out=buf)`), so a step allocates nothing after the first
one and every reference to a parameter (the model, other optimizers) sees the new values.
Each updated parameter's version counter is bumped, so a backward through a graph that saved
the old values reports the in-place change instead of returning wrong gradients.

State dict (PyTorch's layout, so `tc.save` can write it next to the model's):

    {"state": {0: {"momentum_buffer": Tensor, ...}, 1: {...}},       # keyed by parameter index
     "param_groups": [{"lr": 0.01, "momentum": 0.9, ..., "params": [0, 1, 2, 3]}]}

Parameter indices count through the groups in order. The state tensors share memory with the
optimizer (as PyTorch's do); `load_state_dict` copies what it is given.

`optimizer.state` is PyTorch's view too: `optimizer.state[p]["momentum_buffer"]` is a Tensor
sharing the optimizer's array (internally `_state` keeps the bare arrays the steps update), an
unseen parameter reads as an empty dict, and assigning a Tensor stores its array -- so the
usual resume loop `for state in optimizer.state.values(): for k, v in state.items(): if
isinstance(v, torch.Tensor): state[k] = v.to(device)` runs unchanged.
"""
from __future__ import annotations

import inspect
from collections.abc import MutableMapping
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..argcheck import check_flag, check_number, check_sequence, describe
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor, zero_grads

__all__ = ["Optimizer"]


def _bare(value: Any) -> Any:
    return value._data if isinstance(value, Tensor) else value


class ParamState(MutableMapping):
    """One parameter's state as PyTorch shows it: array entries read as Tensors sharing the
    optimizer's memory, Tensors written are stored as their arrays."""

    def __init__(self, store: dict) -> None:
        self._store = store

    def __getitem__(self, name: str) -> Any:
        value = self._store[name]
        return Tensor._wrap(value) if isinstance(value, np.ndarray) else value

    def __setitem__(self, name: str, value: Any) -> None:
        self._store[name] = _bare(value)

    def __delitem__(self, name: str) -> None:
        del self._store[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class StateView(MutableMapping):
    """`optimizer.state`: parameter -> ParamState, a defaultdict(dict) as in PyTorch (reading an
    unseen parameter gives an empty state; `p in optimizer.state` does not create one)."""

    def __init__(self, store: dict) -> None:
        self._store = store

    def __getitem__(self, p: Tensor) -> ParamState:
        return ParamState(self._store.setdefault(p, {}))

    def __setitem__(self, p: Tensor, state: Any) -> None:
        self._store[p] = {k: _bare(v) for k, v in dict(state).items()}

    def __delitem__(self, p: Tensor) -> None:
        del self._store[p]

    def __contains__(self, p: object) -> bool:
        return p in self._store

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        return f"StateView({len(self._store)} parameters)"


def directed_grad(p: Tensor, maximize: bool, weight_decay: float, out: np.ndarray,
                  scratch: np.ndarray) -> np.ndarray:
    """The gradient an update follows: -g if maximize, plus λ·p (L2 weight decay) if λ ≠ 0,
    written into `out` (the gradient itself when neither applies, no copy)."""
    d = p.grad.numpy()
    if maximize:
        d = np.negative(d, out=out)
    if weight_decay:
        d = np.add(d, np.multiply(p.numpy(), weight_decay, out=scratch), out=out)
    return d


def lerp_(start: np.ndarray, end: np.ndarray, weight: float, scratch: np.ndarray) -> None:
    """start ← start + weight·(end - start) in place, with torch.lerp's two formulas (the one
    for weight ≥ 0.5 is exact at weight = 1), so trajectories agree with PyTorch bit for bit."""
    np.subtract(end, start, out=scratch)
    if weight < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1 - weight
        np.subtract(end, scratch, out=start)


def check_hyperparameters(op: str, **values: float) -> None:
    """Each value must be a non-negative finite number (lr, eps, weight_decay, momentum, ...)."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not 0.0 <= v < float("inf"):
            what = "lr (learning rate)" if name == "lr" else name
            raise ArgumentError(f"{op}: invalid {what} value {v!r} (expected a non-negative number)")


def check_betas(op: str, betas: Any) -> tuple[float, float]:
    """Adam's (beta1, beta2), each in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ArgumentError(f"{op}: betas must be a pair (beta1, beta2), got {describe(betas)}")
    for i, b in enumerate(betas):
        b = check_number(b, f"betas[{i}]", op, finite=True)
        if not 0.0 <= b < 1.0:
            raise ArgumentError(f"{op}: Invalid beta parameter at index {i}: {b}")
    return tuple(float(b) for b in betas)


def check_group_value(op: str, name: str, value: Any, default: Any) -> Any:
    """A parameter group's hyperparameter, checked against the kind of its default: a flag for
    a bool default, a finite number for a number, a tuple of finite numbers for a tuple (so a
    group dict with lr='0.1' fails here, not inside step())."""
    if isinstance(default, (bool, np.bool_)):
        return check_flag(value, name, op)
    if isinstance(default, (int, float, np.integer, np.floating)):
        return check_number(value, name, op, finite=True, allow_tensor=False)
    if isinstance(default, tuple):
        if not isinstance(value, (tuple, list)) or len(value) != len(default):
            raise ArgumentError(f"{op}: {name} must be a tuple of {len(default)} numbers, got {describe(value)}")
        return tuple(check_number(v, f"{name}[{i}]", op, finite=True, allow_tensor=False)
                     for i, v in enumerate(value))
    return value


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class: `Optimizer(params, defaults)`, where params is an iterable of tensors or of
    dicts `{"params": [...], "lr": ...}` (parameter groups with their own hyperparameters)."""

    def __init__(self, params: Iterable[Any], defaults: dict) -> None:
        # every hyperparameter checked against the kind of its default in the subclass's
        # signature (a bool flag, a finite number, a tuple of numbers): one rule for every optimizer
        signature = inspect.signature(type(self).__init__).parameters
        defaults = {name: check_group_value(type(self).__name__, name, value, signature[name].default)
                    if name in signature and signature[name].default is not inspect.Parameter.empty
                    else value for name, value in defaults.items()}
        self.defaults = defaults
        self._state: dict[Tensor, dict] = {}       # the bare arrays; `state` is the public view
        self.param_groups: list[dict] = []
        self._scratch: dict[int, list[np.ndarray]] = {}          # id(p) -> views of the pool
        self._scratch_pool: dict[np.dtype, np.ndarray] = {}       # dtype -> (rows, size) scratch
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor (wrap it in a list)")
        if hasattr(params, "parameters") and hasattr(params, "forward"):
            raise TypeError(f"params argument given to {type(self).__name__} should be an iterable "
                            f"of Tensors or dicts, but got a Module: pass model.parameters()")
        groups = check_sequence(params, "params", type(self).__name__, "an iterable of Tensors or dicts",
                                error=TypeError)
        if not groups:
            raise ArgumentError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    @property
    def state(self) -> StateView:
        """Per-parameter state, PyTorch's `optimizer.state` (Tensors sharing the arrays)."""
        return StateView(self._state)

    @state.setter
    def state(self, value: Any) -> None:
        self._state = {p: {k: _bare(v) for k, v in dict(s).items()} for p, s in dict(value).items()}

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ArgumentError(f"a param group must have a 'params' entry, got keys {list(param_group)}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else check_sequence(
            params, "a param group's 'params'", type(self).__name__, "a Tensor or an iterable of Tensors",
            error=TypeError)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ArgumentError("can't optimize a non-leaf Tensor (it was computed from other "
                                 "tensors); optimize the leaves it came from, or .detach() it")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ArgumentError(f"parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            group.setdefault(name, default)
            group[name] = check_group_value(type(self).__name__, name, group[name], default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ArgumentError("optimizer contains a parameter group with duplicate parameters")
        if existing & {id(p) for p in params}:
            raise ArgumentError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ----------------------------------------------------------------------------- steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (default, like PyTorch ≥ 2.0) or zero every parameter's `.grad`."""
        set_to_none = check_flag(set_to_none, "set_to_none", "zero_grad")
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    @staticmethod
    def _evaluate(closure: Callable[[], Any] | None) -> Any:
        """The loss from `closure` (run with grad enabled, as step() itself runs under no_grad)."""
        if closure is None:
            return None
        if not callable(closure):
            raise ArgumentError(f"step: closure must be a callable returning the loss, got {describe(closure)}")
        from ..autograd import enable_grad
        with enable_grad():
            return closure()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define step() (a subclass of Optimizer)")

    def _buffers(self, p: Tensor, n: int) -> list[np.ndarray]:
        """n scratch arrays shaped like p (not part of the state): views, made once per
        parameter, of one pool per dtype that all parameters share (rows as long as the largest
        of them). A pool per parameter would be n times the model's size in memory for the
        updates to stream through (SGD on ResNet-50's 23.5M float32 parameters: ~16 -> ~14.5 ms
        per step shared). Sharing is safe because every optimizer updates one parameter at a
        time and keeps nothing of its scratch past that update."""
        data = p._data
        bufs = self._scratch.get(id(p))
        if bufs is None or len(bufs) < n or bufs[0].dtype != data.dtype or bufs[0].shape != data.shape:
            pool = self._scratch_pool.get(data.dtype)
            if pool is None or pool.shape[0] < n or pool.shape[1] < data.size:
                size = max([q._data.size for group in self.param_groups for q in group["params"]
                            if q._data.dtype == data.dtype] + [data.size])
                rows = max(n, 0 if pool is None else pool.shape[0])
                pool = self._scratch_pool[data.dtype] = np.empty((rows, size), data.dtype)
            bufs = self._scratch[id(p)] = [row[:data.size].reshape(data.shape) for row in pool]
        return bufs

    def _params_to_update(self, group: dict, n_scratch: int,
                          fresh_state: Callable[[Tensor], dict]) -> Iterator[tuple]:
        """(p, state, scratch arrays) for each parameter of the group that has a gradient, its
        step count already advanced; a parameter seen for the first time gets step 0 plus
        fresh_state(p)."""
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state.setdefault(p, {})
            if not state:
                state["step"] = 0
                state.update(fresh_state(p))
            state["step"] += 1
            yield p, state, self._buffers(p, n_scratch)[:n_scratch]

    # ----------------------------------------------------------------------- state dicts
    def state_dict(self) -> dict:
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self._state:
                    state[index[id(p)]] = {k: Tensor._wrap(v) if isinstance(v, np.ndarray) else v
                                           for k, v in self._state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and per-parameter state (copied and cast to each parameter's
        dtype) from `state_dict()` output, e.g. after `tc.load`. Values may be Tensors, NumPy
        arrays or CPU torch tensors; the groups must match this optimizer's in number and size."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            raise ArgumentError("optimizer state dict must be a dict with 'state' and 'param_groups' entries, "
                                f"got {describe(state_dict)}")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not all(
                isinstance(g, dict) and isinstance(g.get("params"), (list, tuple)) for g in saved_groups) \
                or not isinstance(saved_state, dict) or not all(isinstance(v, dict) for v in saved_state.values()):
            raise ArgumentError("optimizer state dict: 'param_groups' must be a list of dicts with a "
                                "'params' list and 'state' a dict of dicts (as state_dict() returns)")
        if len(saved_groups) != len(self.param_groups):
            raise ArgumentError(f"loaded state dict has {len(saved_groups)} parameter group(s), but the "
                             f"optimizer has {len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ArgumentError(f"loaded state dict contains a parameter group {i} with "
                                 f"{len(s['params'])} parameters, but the optimizer's group {i} has "
                                 f"{len(g['params'])}; the model or its parameter order differs")
        id_map = {}
        for g, s in zip(self.param_groups, saved_groups):
            for p, idx in zip(g["params"], s["params"]):
                id_map[int(idx)] = p
        new_state: dict[Tensor, dict] = {}
        for key, values in saved_state.items():
            key = int(key)
            if key not in id_map:
                raise ArgumentError(f"optimizer state dict has state for parameter index {key}, which "
                                 f"no parameter group lists")
            p = id_map[key]
            entry = {}
            for name, v in values.items():
                entry[name] = self._cast_state(p, name, v)
            new_state[p] = entry
        self._state = new_state
        for g, s in zip(self.param_groups, saved_groups):
            for k, v in s.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) and isinstance(g.get(k), tuple) else v

    @staticmethod
    def _cast_state(p: Tensor, name: str, value: Any) -> Any:
        if name == "step":
            return int(round(float(np.asarray(value._data if isinstance(value, Tensor) else value))))
        if value is None or isinstance(value, (int, float, bool, str)):
            return value
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        if arr.shape != p.shape:
            raise ShapeError(f"optimizer state '{name}' has shape {arr.shape}, but its parameter "
                             f"has shape {p.shape}")
        return np.array(arr, dtype=p.dtype if arr.dtype.kind == "f" else arr.dtype, copy=True)

    def __repr__(self) -> str:
        s = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for key in sorted(group):
                if key != "params":
                    s += f"\n    {key}: {group[key]}"
        return s + "\n)"
