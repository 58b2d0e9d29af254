"""A random-argument fuzzer over tinygrad_cnn's whole public surface (issue 11, item 12).

Every public callable is found by introspection (the `__all__` of tc, tc.nn, tc.nn.functional,
tc.nn.init, tc.nn.utils, tc.optim, tc.optim.lr_scheduler, tc.data, tc.models, tc.viz,
tc.autograd and any public subpackage added later; every public method and operator of
`Tensor`; every `nn.Module` subclass's constructor and, when that works, its forward and a
few Module methods; every optimizer's constructor, step/zero_grad/state_dict/load_state_dict;
every scheduler's constructor and step; DataLoader iteration; `tc.load` on odd files), so a new
function is fuzzed without editing this file. Each call draws its arguments from a pool of
nasty values (see `pool`) with an RNG seeded by (seed, call index), so call i of seed s is
always the same call: `python tests/fuzz_surface.py --seed s --replay i` re-runs it.

Each outcome is classified:
  works       the call returned (and backward through a result that requires grad worked);
  documented  a library error: a type defined in tinygrad_cnn (errors.py & co.), or a
              TypeError/ValueError/RuntimeError raised by tinygrad_cnn's own code whose message
              names the function or one of its parameters, or Python's own arity TypeError at
              the call; IndexError/StopIteration raised by tinygrad_cnn's indexing code;
  raw         anything else: IndexError, AttributeError, AxisError, OverflowError, KeyError,
              RecursionError, MemoryError (an allocation beyond the worker's address-space
              limit), "truth value ... is ambiguous", a bare NumPy/Python message, ...;
  hang        the call took longer than the time limit (SIGALRM inside the worker, and a
              watchdog in the parent that kills a worker stuck inside C code).

Calls run in a worker subprocess with RLIMIT_AS (the memory guard: an unbounded allocation
fails there as a MemoryError instead of taking the machine), in a scratch directory (tc.save
writes its files there), with the global modes (grad mode, anomaly mode, workspace limit,
thread counts) restored after every call. A worker that dies is restarted after the call
that killed it, which is recorded as raw.

    python tests/fuzz_surface.py --calls 50000 --seed 1         # the long campaign
    python tests/fuzz_surface.py --seed 1 --replay 1234         # show call 1234 and its outcome
"""
from __future__ import annotations

import argparse
import collections
import inspect
import json
import math
import os
import random
import re
import selectors
import subprocess
import sys
import tempfile
import time
import traceback
import types
import warnings
from dataclasses import dataclass
from typing import Any, Callable

CALL_TIME_LIMIT = 10.0                   # seconds; a call on fuzz-sized inputs takes milliseconds
MEMORY_LIMIT = 3 << 30                   # the worker's address space (bytes)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Hang(BaseException):
    """A call exceeded the time limit (BaseException: library code must not swallow it)."""


# ----------------------------------------------------------------------------------- pool
def pool(rng: random.Random, depth: int = 0) -> list[tuple[str, Callable[[], Any]]]:
    """(label, make) pairs of nasty argument values; `make` builds a fresh value each time so
    in-place ops in one call cannot change the next one."""
    import numpy as np
    import tinygrad_cnn as tc
    from tinygrad_cnn import nn

    def t(label, fn):
        return (label, fn)

    recursive: list = []
    recursive.append(recursive)
    ints = [0, 1, 2, 3, -1, -3, 7, 2 ** 31, 2 ** 63, -2 ** 63, 10 ** 30, np.int64(2), np.int32(-1),
            np.uint8(3)]
    floats = [0.0, 0.5, 1.5, -1.0, 1e-12, math.nan, math.inf, -math.inf, 1e308, np.float32(2.0),
              np.float64(math.nan)]
    entries = [t(repr(v), lambda v=v: v) for v in ints + floats]
    entries += [t(repr(v), lambda v=v: v) for v in [True, False, None, "", "a", "mean", "same",
                                                    "float32", "sum", "nearest", "x" * 3,
                                                    complex(1, 2), Ellipsis]]
    entries += [t(repr(v), lambda v=v: v) for v in [(), (2,), (2, 3), (1, -1), [2, 2], (2, 2 ** 63),
                                                    ((1,),), [None], (1.5, 2), (0, 0), [1, 2, 3],
                                                    (2, "a"), (math.nan,), (True, False)]]
    entries += [t("{'a': 1}", lambda: {"a": 1}), t("{}", dict), t("slice(None, None, 0)", lambda: slice(None, None, 0)),
                t("slice(1, 3)", lambda: slice(1, 3)), t("range(3)", lambda: range(3)),
                t("iter([1, 2])", lambda: iter([1, 2])), t("object()", object),
                t("recursive list", lambda: recursive), t("lambda x: x", lambda: (lambda *a, **k: a[0] if a else None)),
                t("np.array([1, 2])", lambda: np.array([1, 2])), t("np.zeros((2, 3))", lambda: np.zeros((2, 3))),
                t("np.array(1.5)", lambda: np.array(1.5)), t("np.array(['a'])", lambda: np.array(["a"])),
                t("np.zeros(0)", lambda: np.zeros(0)), t("np.array([True, False])", lambda: np.array([True, False])),
                t("np.ones((2, 3), object)", lambda: np.ones((2, 3), object)),
                t("np.array([1, 2], complex)", lambda: np.array([1, 2], complex))]
    entries += [t(f"dtype {d!r}", lambda d=d: d) for d in
                [tc.float32, tc.float64, tc.int64, tc.bool_, tc.float16, tc.uint8, np.dtype(np.complex64),
                 "float64", "int8"]]
    tensors = [
        ("randn(2, 3)", lambda: tc.randn(2, 3)),
        ("randn(2, 3, requires_grad)", lambda: tc.randn(2, 3, requires_grad=True)),
        ("randn(3)", lambda: tc.randn(3)),
        ("randn(1, 3, 8, 8)", lambda: tc.randn(1, 3, 8, 8)),
        ("randn(2, 1, 5, 5, requires_grad)", lambda: tc.randn(2, 1, 5, 5, requires_grad=True)),
        ("randn(2, 3, 6)", lambda: tc.randn(2, 3, 6)),
        ("randn(1, 2, 3, 4, 4)", lambda: tc.randn(1, 2, 3, 4, 4)),
        ("tensor(2.)", lambda: tc.tensor(2.0)),
        ("tensor(2., requires_grad)", lambda: tc.tensor(2.0, requires_grad=True)),
        ("zeros(0)", lambda: tc.zeros(0)),
        ("zeros(0, 3)", lambda: tc.zeros(0, 3)),
        ("zeros(0, 3, 4, 4)", lambda: tc.zeros(0, 3, 4, 4)),
        ("tensor([1, 2, 3])", lambda: tc.tensor([1, 2, 3])),
        ("tensor([0, 1])", lambda: tc.tensor([0, 1])),
        ("tensor([True, False])", lambda: tc.tensor([True, False])),
        ("randn(2, 3, float64)", lambda: tc.randn(2, 3, dtype=tc.float64)),
        ("randn(2, 3, float16)", lambda: tc.randn(2, 3).half() if hasattr(tc.Tensor, "half") else tc.randn(2, 3)),
        ("tensor([[1, 2]], uint8)", lambda: tc.tensor([[1, 2]], dtype=tc.uint8)),
        ("tensor([nan, inf, -inf])", lambda: tc.tensor([math.nan, math.inf, -math.inf])),
        ("randn(3, 2).T", lambda: tc.randn(3, 2).T),
        ("randn(1, 1)", lambda: tc.randn(1, 1)),
    ]
    entries += tensors
    entries += [
        ("nn.Linear(3, 2)", lambda: nn.Linear(3, 2)),
        ("nn.Conv2d(3, 2, 3)", lambda: nn.Conv2d(3, 2, 3)),
        ("[Parameter(randn(2))]", lambda: [nn.Parameter(tc.randn(2))]),
        ("Linear.parameters()", lambda: nn.Linear(3, 2).parameters()),
    ]
    return entries


def dtypes_pool():
    """Extra values for parameters named dtype: Python and NumPy types (callables, so they are
    kept out of the general pool, where calling them would be the caller's own error)."""
    import numpy as np
    return [(f"dtype {d!r}", lambda d=d: d) for d in (object, int, float, bool, np.float32, np.complex128)]


def callables_pool():
    """Values for parameters that take a function: working ones, broken ones and non-callables."""
    return [("lambda *a: None", lambda: (lambda *a, **k: None)),
            ("lambda *a: a[0]", lambda: (lambda *a, **k: a[0] if a else None)),
            ("lambda *a: 'x'", lambda: (lambda *a, **k: "x")),
            ("lambda *a: nan", lambda: (lambda *a, **k: math.nan)),
            ("print", lambda: print), ("3", lambda: 3), ("'f'", lambda: "f")]


CALLABLE_NAMES = {"fn", "hook", "closure", "lr_lambda", "collate_fn", "print_fn", "build", "on_row",
                  "transform", "target_transform", "func", "function", "callback", "worker_init_fn"}


TENSOR_NAMES = {"input", "x", "t", "tensor", "a", "b", "other", "target", "weight", "bias", "self",
                "grad_output", "gradient", "tensors", "mat", "mat2", "vec", "condition", "inputs",
                "outputs", "src", "value", "mask", "indices", "labels", "root", "output", "y",
                "source", "params", "running_mean", "running_var", "w", "tensor1", "tensor2"}


@dataclass
class Target:
    name: str
    kind: str          # "function", "method", "module", "optimizer", "scheduler", "loader", "load"
    obj: Any


# ----------------------------------------------------------------------------------- surface
def _public(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    return list(dict.fromkeys(names))


# Not fuzzed, each for a reason:
#   set_detect_anomaly, set_num_threads, set_blas_threads: process-wide state that would make
#     later calls depend on earlier ones (their argument checks have their own tests);
#   gradcheck_suite.check_all: runs the whole gradcheck registry (minutes by design, not a hang);
#   viz.Graph: graphviz.Digraph's own constructor (its arguments are graphviz's to check);
#   nn.utils.ModelSummary: a str subclass whose constructor is str's (summary() builds it);
#   autograd.Context: the engine's record of one op call (users get it as grad_fn, never build it);
#   multiprocessing.spawn: starts processes running a given function (not an argument check).
SKIP = {"tc.autograd.set_detect_anomaly", "tc.set_num_threads", "tc.set_blas_threads",
        "tc.gradcheck_suite.check_all", "tc.viz.Graph", "tc.nn.utils.ModelSummary",
        "tc.autograd.Context", "tc.multiprocessing.spawn"}


def surface() -> list[Target]:
    """Every public callable of the package, found by introspection."""
    import tinygrad_cnn as tc
    from tinygrad_cnn import nn, optim
    from tinygrad_cnn.optim import lr_scheduler

    targets: list[Target] = []
    seen: set[int] = set()
    module_classes, optimizer_classes, scheduler_classes = [], [], []

    def add_module_members(prefix: str, module) -> None:
        # a model zoo's builders (resnet152(), vgg16(), ...) build 10-140 M parameters with their
        # default arguments, 1-30 s of legitimate work each: not fuzzed (their classes and
        # get_model are, with small arguments)
        zoo = set(module.list_models()) if callable(getattr(module, "list_models", None)) else set()
        for name in _public(module):
            obj = getattr(module, name, None)
            full = f"{prefix}.{name}"
            if obj is None or isinstance(obj, types.ModuleType) or full in SKIP or name in zoo \
                    or not getattr(obj, "__module__", "tinygrad_cnn").startswith("tinygrad_cnn"):
                continue
            if isinstance(obj, type):
                if issubclass(obj, BaseException) or zoo and issubclass(obj, nn.Module):
                    continue                 # a zoo's architectures: 10-140 M parameters to build
                if issubclass(obj, nn.Module):
                    module_classes.append((full, obj))
                elif issubclass(obj, optim.Optimizer):
                    optimizer_classes.append((full, obj))
                elif issubclass(obj, lr_scheduler.LRScheduler):
                    scheduler_classes.append((full, obj))
                elif id(obj) not in seen:
                    seen.add(id(obj))
                    targets.append(Target(full, "function", obj))
                continue
            if callable(obj) and id(obj) not in seen:
                seen.add(id(obj))
                targets.append(Target(full, "function", obj))

    # the public modules: tc, the subpackages tc.__all__ names, and the submodules their __all__ names
    modules = [("tc", tc)]
    queue = [("tc", tc)]
    # public subpackages that tc.__all__ does not name (tinygrad_cnn.vision, utils, onnx: import
    # targets of their own); ops/ is the internal kernel layer, reached through the public API
    import importlib
    import pkgutil
    for info in pkgutil.iter_modules(tc.__path__):
        if info.ispkg and not info.name.startswith("_") and info.name != "ops" and info.name not in _public(tc):
            try:
                sub = importlib.import_module(f"tinygrad_cnn.{info.name}")
            except ImportError:                # an optional extra that is not installed
                continue
            modules.append((f"tc.{info.name}", sub))
            queue.append((f"tc.{info.name}", sub))
    while queue:
        prefix, module = queue.pop(0)
        for name in _public(module):
            sub = getattr(module, name, None)
            if isinstance(sub, types.ModuleType) and sub.__name__.startswith("tinygrad_cnn") \
                    and all(sub is not m for _, m in modules):
                modules.append((f"{prefix}.{name}", sub))
                queue.append((f"{prefix}.{name}", sub))
    for prefix, module in modules:
        add_module_members(prefix, module)

    skip_methods = {"__init__", "__new__", "__init_subclass__", "__subclasshook__", "__getattribute__",
                    "__setattr__", "__delattr__", "__dir__", "__reduce__", "__reduce_ex__", "__sizeof__",
                    "__del__", "__class_getitem__", "__getstate__", "__setstate__", "__copy__", "__deepcopy__"}
    for name in sorted(dir(tc.Tensor)):
        if name in skip_methods or (name.startswith("_") and not (name.startswith("__") and name.endswith("__"))):
            continue
        attr = inspect.getattr_static(tc.Tensor, name)
        if isinstance(attr, (property,)) or not callable(getattr(tc.Tensor, name, None)):
            continue
        if name.startswith("__") and name not in tc.Tensor.__dict__ and name not in ("__eq__", "__ne__", "__hash__", "__format__", "__str__", "__repr__"):
            continue
        targets.append(Target(f"Tensor.{name}", "method", name))
    seen_cls: set = set()
    for full, cls in module_classes:
        if cls not in seen_cls and not inspect.isabstract(cls):
            seen_cls.add(cls)
            targets.append(Target(full, "module", cls))
    for full, cls in dict.fromkeys(optimizer_classes):
        if cls is not optim.Optimizer:
            targets.append(Target(full, "optimizer", cls))
    for full, cls in dict.fromkeys(scheduler_classes):
        if cls is not lr_scheduler.LRScheduler:
            targets.append(Target(full, "scheduler", cls))
    targets.append(Target("DataLoader-iteration", "loader", tc.data.DataLoader))
    targets.append(Target("tc.load-files", "load", tc.load))
    return targets


# ----------------------------------------------------------------------------------- calls
def _signature(fn) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _draw(rng: random.Random, entries, name: str | None, tensor_bias: float = 0.75):
    """One (label, value): a tensor for tensor-like parameter names (mostly), else anything."""
    tensors = [e for e in entries if e[0].startswith(("randn", "tensor", "zeros"))]
    if name in CALLABLE_NAMES and rng.random() < 0.7:
        label, make = rng.choice(callables_pool())
    elif name == "dtype" and rng.random() < 0.3:
        label, make = rng.choice(dtypes_pool())
    elif name in TENSOR_NAMES and rng.random() < tensor_bias:
        label, make = rng.choice(tensors)
    else:
        label, make = rng.choice(entries)
    return label, make()


def _arguments(rng: random.Random, fn, entries, skip_first: bool = False):
    """Positional args and kwargs for fn drawn from the pool, following its signature: every
    required parameter, each optional one with probability 1/2, 0-3 extra *args."""
    sig = _signature(fn)
    args, kwargs, labels = [], {}, []
    if sig is None:
        for _ in range(rng.randint(0, 3)):
            label, v = _draw(rng, entries, None)
            args.append(v), labels.append(label)
        return args, kwargs, labels
    params = list(sig.parameters.values())
    if skip_first and params:
        params = params[1:]
    positional_ok = True
    for p in params:
        if p.name in ("download",):                       # never touch the network
            continue
        if p.kind is p.VAR_POSITIONAL:
            for _ in range(rng.randint(0, 3)):
                label, v = _draw(rng, entries, "input" if rng.random() < 0.5 else None)
                args.append(v), labels.append(label)
            positional_ok = False
            continue
        if p.kind is p.VAR_KEYWORD:
            if rng.random() < 0.1:
                label, v = _draw(rng, entries, None)
                kwargs["zz_unknown"] = v
                labels.append(f"zz_unknown={label}")
            continue
        required = p.default is p.empty
        if not required and rng.random() < 0.5:
            positional_ok = positional_ok and p.kind is p.KEYWORD_ONLY
            if p.kind is not p.KEYWORD_ONLY:
                positional_ok = False
            continue
        if not required and rng.random() < 0.3:           # a near-default value of the right type
            label, v = repr(p.default), p.default
            if isinstance(p.default, bool):
                v = not p.default
            elif isinstance(p.default, int):
                v = rng.choice([0, 1, 2, 3, -1])
            elif isinstance(p.default, float):
                v = rng.choice([0.0, 0.5, 1.0, 2.0])
            label = repr(v)
        else:
            label, v = _draw(rng, entries, p.name)
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and positional_ok:
            args.append(v), labels.append(label)
        else:
            kwargs[p.name] = v
            labels.append(f"{p.name}={label}")
    return args, kwargs, labels


def _valid_tensor_for(rng: random.Random, entries):
    tensors = [e for e in entries if e[0].startswith(("randn", "tensor", "zeros"))]
    label, make = rng.choice(tensors[:7] if rng.random() < 0.8 else tensors)
    return label, make()


def _load_files(scratch: str) -> list[str]:
    """Odd files for tc.load: valid, empty, garbage, truncated, a directory, missing."""
    import numpy as np
    import tinygrad_cnn as tc
    paths = {}
    paths["good.npz"] = os.path.join(scratch, "good.npz")
    if not os.path.exists(paths["good.npz"]):
        tc.save({"w": tc.randn(2, 3), "step": 3, "name": "x", "nested": [1, (2.5, None)]}, paths["good.npz"])
        with open(paths["good.npz"], "rb") as f:
            good = f.read()
        for name, data in {"empty.npz": b"", "garbage.npz": os.urandom(200),
                           "truncated.npz": good[: len(good) // 2], "flipped.npz": good[:40] + b"\xff" * 8 + good[48:]}.items():
            with open(os.path.join(scratch, name), "wb") as f:
                f.write(data)
        np.savez(os.path.join(scratch, "plain.npz"), a=np.arange(3))
        os.makedirs(os.path.join(scratch, "adir.npz"), exist_ok=True)
    return [os.path.join(scratch, n) for n in ("good.npz", "empty.npz", "garbage.npz", "truncated.npz",
                                               "flipped.npz", "plain.npz", "adir.npz", "missing.npz")]


def build_call(target: Target, rng: random.Random, scratch: str):
    """(description, thunk) of one random call of `target`."""
    import tinygrad_cnn as tc
    from tinygrad_cnn import nn, optim
    entries = pool(rng)

    if target.kind == "function":
        args, kwargs, labels = _arguments(rng, target.obj, entries)
        return f"{target.name}({', '.join(labels)})", lambda: target.obj(*args, **kwargs)

    if target.kind == "method":
        self_label, self_t = _valid_tensor_for(rng, entries) if rng.random() < 0.9 else _draw(rng, entries, "input", 1.0)
        method = getattr(tc.Tensor, target.obj)
        args, kwargs, labels = _arguments(rng, method, entries, skip_first=True)
        return (f"{self_label}.{target.obj}({', '.join(labels)})",
                lambda: getattr(self_t, target.obj)(*args, **kwargs))

    if target.kind == "module":
        cls = target.obj
        args, kwargs, labels = _arguments(rng, cls, entries)
        if rng.random() < 0.3:                      # a plausible construction, to reach forward
            sig = _signature(cls)
            args, kwargs, labels = [], {}, []
            for p in (list(sig.parameters.values()) if sig else []):
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                    v = rng.choice([1, 2, 3])
                    args.append(v), labels.append(repr(v))
        fwd_label, x = _valid_tensor_for(rng, entries)
        extra = []
        if rng.random() < 0.3:
            extra_label, e = _draw(rng, entries, "target")
            extra = [e]
            fwd_label += ", " + extra_label
        method = rng.choice(["forward"] * 6 + ["state_dict", "load_state_dict", "extra_repr", "train",
                                                "named_parameters", "apply", "to", "zero_grad", "requires_grad_",
                                                "register_forward_hook", "__getitem__", "__len__"])

        def call():
            m = cls(*args, **kwargs)
            if method == "forward":
                return m(x, *extra)
            fn = getattr(m, method, None)
            if fn is None:
                return None
            margs, mkwargs, _ = _arguments(rng, fn, entries)
            return fn(*margs, **mkwargs)
        return f"{target.name}({', '.join(labels)}) then .{method}({fwd_label})", call

    if target.kind == "optimizer":
        cls = target.obj
        model = nn.Linear(3, 2)
        choice = rng.random()
        if choice < 0.5:
            params_label, params = "model.parameters()", model.parameters()
        elif choice < 0.6:
            params_label, params = "[{'params': ..., 'lr': x}]", [{"params": list(model.parameters()),
                                                                   "lr": _draw(rng, entries, None)[1]}]
        else:
            params_label, params = _draw(rng, entries, None)
        args, kwargs, labels = _arguments(rng, cls, entries, skip_first=True)
        method = rng.choice(["step", "zero_grad", "state_dict", "load_state_dict", "add_param_group", "step"])

        def call():
            opt = cls(params, *args, **kwargs)
            model(tc.randn(4, 3)).sum().backward()
            fn = getattr(opt, method)
            if method == "step":
                return fn()
            margs, mkwargs, _ = _arguments(rng, fn, entries)
            return fn(*margs, **mkwargs)
        return f"{target.name}({params_label}, {', '.join(labels)}).{method}(...)", call

    if target.kind == "scheduler":
        cls = target.obj
        opt = optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1)
        args, kwargs, labels = _arguments(rng, cls, entries, skip_first=True)
        if rng.random() < 0.5 and "lr_lambda" in (_signature(cls).parameters if _signature(cls) else {}):
            kwargs["lr_lambda"] = rng.choice([lambda e: 0.5 ** e, lambda e: "x", lambda e: math.nan])
            labels.append("lr_lambda=<fn>")
        steps = rng.choice([1, 3])
        step_arg = _draw(rng, entries, None) if rng.random() < 0.3 else None

        def call():
            sched = cls(opt, *args, **kwargs)
            for _ in range(steps):
                opt.step()
                sched.step() if step_arg is None else sched.step(step_arg[1])
            return sched.get_last_lr() if hasattr(sched, "get_last_lr") else None
        return f"{target.name}(opt, {', '.join(labels)}) then step x{steps}", call

    if target.kind == "loader":
        from tinygrad_cnn.data import DataLoader, TensorDataset
        dataset = rng.choice([("TensorDataset(randn(10, 3), arange(10))", lambda: TensorDataset(tc.randn(10, 3), tc.arange(10))),
                              ("TensorDataset(zeros(0, 3))", lambda: TensorDataset(tc.zeros(0, 3))),
                              ("[1, 2, 3]", lambda: [1, 2, 3]),
                              ("[(randn(2), 1)] * 5", lambda: [(tc.randn(2), 1)] * 5),
                              ("[{'a': 1}, {'b': 2}]", lambda: [{"a": 1}, {"b": 2}]),
                              ("[randn(2), randn(3)]", lambda: [tc.randn(2), tc.randn(3)])] + entries[:0])
        if rng.random() < 0.2:
            dataset = _draw(rng, entries, None)
            dataset = (dataset[0], lambda v=dataset[1]: v)
        args, kwargs, labels = _arguments(rng, DataLoader, entries, skip_first=True)
        kwargs.pop("num_workers", None) if rng.random() < 0.7 else None

        def call():
            loader = DataLoader(dataset[1](), *args, **kwargs)
            batches = []
            for i, batch in enumerate(loader):
                batches.append(batch)
                if i >= 2:
                    break
            len(loader)
            return batches
        return f"DataLoader({dataset[0]}, {', '.join(labels)}) iterated", call

    if target.kind == "load":
        files = _load_files(scratch)
        path = rng.choice(files + [entries[rng.randrange(len(entries))][1]()])
        return f"tc.load({os.path.basename(path) if isinstance(path, str) else repr(path)[:60]})", \
            lambda: tc.load(path)
    raise AssertionError(target.kind)


# ----------------------------------------------------------------------------------- classify
def _library_errors() -> tuple[type, ...]:
    import tinygrad_cnn
    found = set()
    for name, mod in list(sys.modules.items()):
        if name == "tinygrad_cnn" or name.startswith("tinygrad_cnn."):
            for obj in vars(mod).values():
                if isinstance(obj, type) and issubclass(obj, BaseException) \
                        and obj.__module__.startswith("tinygrad_cnn"):
                    found.add(obj)
    del tinygrad_cnn
    return tuple(found)


def _innermost(exc: BaseException):
    frames = traceback.extract_tb(exc.__traceback__)
    return frames[-1] if frames else None


def _in_package(frame) -> bool:
    pkg = os.path.join(ROOT, "tinygrad_cnn") + os.sep
    import tinygrad_cnn
    pkg2 = os.path.dirname(os.path.abspath(tinygrad_cnn.__file__)) + os.sep
    return frame is not None and os.path.abspath(frame.filename).startswith((pkg, pkg2))


ARITY = re.compile(r"\w\(\) (got an unexpected keyword argument|takes \d+ positional|takes from|"
                   r"missing \d+ required|got multiple values|takes no arguments|got some positional-only)")


def classify(exc: BaseException, target: Target, library_errors) -> tuple[str, str]:
    """('documented' | 'raw' | 'hang', class key) of an exception raised by a fuzzed call."""
    import numpy as np
    frame = _innermost(exc)
    where = f"{os.path.relpath(frame.filename, ROOT)}:{frame.lineno}" if frame else "?"
    key = f"{type(exc).__name__} at {where}"
    if isinstance(exc, Hang):
        return "hang", f"hang in {target.name}"
    msg = str(exc)
    if isinstance(exc, library_errors) and not isinstance(exc, np.exceptions.AxisError):
        return ("documented" if msg else "raw"), key
    if "truth value" in msg and "ambiguous" in msg:
        return "raw", key
    if type(exc) is TypeError and ARITY.search(msg):
        return "documented", key                          # Python's own signature check names the function
    if type(exc) is TypeError and frame is not None and os.path.abspath(frame.filename) == os.path.abspath(__file__):
        return "documented", key
    explicit = _in_package(frame) and (frame.line or "").lstrip().startswith("raise ")
    if explicit and msg and type(exc) in (TypeError, ValueError, RuntimeError, NotImplementedError,
                                          IndexError, KeyError, StopIteration, FileNotFoundError,
                                          IsADirectoryError, PermissionError, OSError):
        return "documented", key                          # tinygrad_cnn's own raise, with its message
    if type(exc) is StopIteration:
        return "documented", key
    if isinstance(exc, OSError) and getattr(exc, "filename", None) is not None:
        return "documented", key                          # open() on a missing file, a directory: names the path
    return "raw", key


# ----------------------------------------------------------------------------------- worker
def _alarm(seconds: float):
    """Hang (a BaseException, so library code cannot swallow it) after `seconds`."""
    sys.path.insert(0, HERE)
    from fuzz_support import time_limit
    return time_limit(seconds, error=Hang)


def _reset_state(defaults) -> None:
    import tinygrad_cnn as tc
    tc.set_grad_enabled(True)
    tc.autograd.set_detect_anomaly(False)
    tc.set_workspace_limit(defaults["workspace"])
    tc.set_default_dtype(tc.float32) if hasattr(tc, "set_default_dtype") else None


def run_one(seed: int, index: int, targets, scratch: str, library_errors, defaults,
            time_limit: float = CALL_TIME_LIMIT) -> dict:
    """Build and run call `index` of campaign `seed`; returns its record."""
    import tinygrad_cnn as tc
    rng = random.Random(seed * 1_000_003 + index)
    target = targets[index % len(targets)]
    tc.manual_seed(index)
    record = {"i": index, "target": target.name}
    try:
        with _alarm(time_limit):
            description, thunk = build_call(target, rng, scratch)
            record["call"] = description[:400]
            result = thunk()
            if isinstance(result, tc.Tensor) and result.requires_grad and result.grad_fn is not None:
                result.sum().backward()
        record["outcome"] = "works"
    except Hang as exc:
        record["outcome"], record["class"] = classify(exc, target, library_errors)
        record["error"] = str(exc)
    except BaseException as exc:  # noqa: BLE001 - the point is to classify whatever escapes
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        outcome, key = classify(exc, target, library_errors)
        record["outcome"], record["class"] = outcome, f"{target.name}: {key}"
        record["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        if outcome == "raw":
            record["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:])[-1500:]
    finally:
        _reset_state(defaults)
    return record


def _set_memory_limit(limit: int) -> None:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker(seed: int, start: int, stop: int, memory_limit: int, time_limit: float) -> None:
    """Run calls [start, stop) and print one JSON line per call (on the original stdout)."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)                                # prints of fuzzed code go nowhere
    sys.stdout = open(os.devnull, "w")
    _set_memory_limit(memory_limit)
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(3000)
    import tinygrad_cnn as tc
    targets = surface()
    library_errors = _library_errors()
    defaults = {"workspace": tc.get_workspace_limit()}
    scratch = tempfile.mkdtemp(prefix="fuzz_surface_")
    os.chdir(scratch)
    for i in range(start, stop):
        print(json.dumps({"i": i, "start": True}), file=out)
        record = run_one(seed, i, targets, scratch, library_errors, defaults, time_limit)
        print(json.dumps(record, default=str), file=out)


def campaign(calls: int, seed: int = 0, start: int = 0, memory_limit: int = MEMORY_LIMIT,
             time_limit: float = CALL_TIME_LIMIT, log=None) -> dict:
    """Run calls [start, start+calls) of campaign `seed` in worker subprocesses; a summary dict."""
    counts = collections.Counter()
    raw: dict[str, dict] = {}
    per_target = collections.Counter()
    t0 = time.perf_counter()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    stop = start + calls
    nxt = start
    while nxt < stop:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", str(seed), str(nxt),
                                 str(stop), str(memory_limit), str(time_limit)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        current, buf = None, ""
        deadline = time.monotonic() + time_limit + 60            # startup (imports) included
        while True:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                proc.kill()                                      # stuck inside C code: a hang
                proc.wait()
                failed = current if current is not None else nxt
                counts["hang"] += 1
                raw.setdefault(f"hang (watchdog) at call {failed}", {"i": failed, "outcome": "hang"})
                nxt = failed + 1
                break
            line = proc.stdout.readline()
            if not line:
                proc.wait()
                if current is not None:                          # the worker died during a call
                    counts["raw"] += 1
                    raw.setdefault(f"worker died (exit {proc.returncode})", {"i": current, "outcome": "raw"})
                    nxt = current + 1
                else:
                    nxt = stop
                break
            rec = json.loads(line)
            if rec.get("start"):
                current = rec["i"]
                deadline = time.monotonic() + time_limit + 5
                continue
            current = None
            nxt = rec["i"] + 1
            counts[rec["outcome"]] += 1
            per_target[(rec["target"], rec["outcome"])] += 1
            if rec["outcome"] in ("raw", "hang"):
                entry = raw.setdefault(rec["class"], dict(rec, count=0))
                entry["count"] = entry.get("count", 0) + 1
                if log is not None:
                    print(f"[{rec['outcome']}] {rec['class']}\n    {rec.get('call')}\n    {rec.get('error')}", file=log)
        sel.close()
    elapsed = time.perf_counter() - t0
    return {"calls": sum(counts.values()), "counts": dict(counts), "raw_classes": raw,
            "seconds": round(elapsed, 1), "seed": seed, "start": start,
            "targets": len({t for t, _ in per_target})}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--replay", type=int, default=None, help="run one call in-process and show it")
    parser.add_argument("--time-limit", type=float, default=CALL_TIME_LIMIT)
    parser.add_argument("--worker", nargs=5, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--list", action="store_true", help="list the fuzzed surface")
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args(argv)
    if a.worker:
        s, b, e, m, tl = a.worker
        worker(int(s), int(b), int(e), int(m), float(tl))
        return 0
    if a.list:
        for target in surface():
            print(target.kind, target.name)
        return 0
    if a.replay is not None:
        import tinygrad_cnn as tc
        targets = surface()
        scratch = tempfile.mkdtemp(prefix="fuzz_surface_")
        os.chdir(scratch)
        warnings.simplefilter("ignore")
        rec = run_one(a.seed, a.replay, targets, scratch, _library_errors(),
                      {"workspace": tc.get_workspace_limit()}, a.time_limit)
        print(json.dumps(rec, indent=2, default=str))
        print(rec.get("traceback", ""))
        return 0
    summary = campaign(a.calls, a.seed, a.start, time_limit=a.time_limit, log=None if a.json else sys.stdout)
    if a.json:
        print(json.dumps(summary, default=str))
    else:
        print(f"{summary['calls']} calls over {summary['targets']} targets in {summary['seconds']} s: "
              f"{summary['counts']}; {len(summary['raw_classes'])} raw/hang classes")
    return 0 if not summary["counts"].get("raw") and not summary["counts"].get("hang") else 1


if __name__ == "__main__":
    sys.exit(main())
