"""Build a tinygrad_cnn model file with torch: the same source, only its framework imports
swapped. The vision model files (tinygrad_cnn/vision/models/*.py) are written against the
PyTorch API; their relative imports of the framework are the one thing that differs:

    from ... import nn                      ->  from torch import nn
    from ...nn import functional as F       ->  from torch.nn import functional as F
    from ...tensor import Tensor, cat       ->  from torch import Tensor, cat
    from ._api import check_weights         ->  the sibling module (framework-free), unchanged
    from .ops import Conv2dNormActivation   ->  the sibling module, itself built with torch

    resnet = twin_module("tinygrad_cnn.vision.models.resnet")
    theirs = resnet.resnet18(num_classes=10)          # a torch.nn.Module, same architecture

Anything else relative (a framework module this table does not know) raises, so a model file
cannot silently use tinygrad_cnn inside its "torch" build. Used by the vision model tests and
by benchmarks that need a torch peer of these models without torchvision.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types

__all__ = ["twin_module", "twin_source", "TORCH_IMPORTS"]

# tinygrad_cnn module (relative to the package root) -> the torch module with the same names
TORCH_IMPORTS = {"": "torch", "nn": "torch.nn", "nn.functional": "torch.nn.functional",
                 "nn.init": "torch.nn.init", "tensor": "torch"}
# framework-free tinygrad_cnn modules a model file may import as they are (errors, messages; the
# argument validators, which need only NumPy and errors)
SHARED = {"errors", "argcheck"}

_FROM = re.compile(r"^(?P<indent>\s*)from (?P<dots>\.+)(?P<mod>[\w.]*) import (?P<names>.+)$")
_cache: dict[str, types.ModuleType] = {}


def _resolve(package: str, dots: int, mod: str) -> str:
    """The absolute module name of `from <dots><mod> import ...` inside `package`."""
    base = package.split(".")
    if dots > 1:
        base = base[: len(base) - (dots - 1)]
    return ".".join(base + ([mod] if mod else []))


def twin_source(module_name: str) -> tuple[str, list[str]]:
    """The module's source with its framework imports swapped to torch, and the sibling
    modules it imports (to be twinned first)."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise ImportError(f"torch_twin: no module {module_name!r}")
    with open(spec.origin, encoding="utf-8") as f:
        source = f.read()
    package = module_name.rpartition(".")[0]
    root = module_name.split(".")[0]
    siblings: list[str] = []
    out = []
    for line in source.splitlines():
        m = _FROM.match(line)
        if m and m["mod"] != "__future__":
            target = _resolve(package, len(m["dots"]), m["mod"])
            rel = target[len(root) + 1:] if target != root else ""
            if rel in TORCH_IMPORTS:
                line = f"{m['indent']}from {TORCH_IMPORTS[rel]} import {m['names']}"
            elif rel in SHARED:
                line = f"{m['indent']}from {target} import {m['names']}"
            elif target.rpartition(".")[0] == package:      # a sibling: build it with torch too
                siblings.append(target)
                line = f"{m['indent']}from {_twin_name(target)} import {m['names']}"
            else:
                raise ImportError(f"torch_twin: {module_name} imports {target!r}, which has no "
                                  f"torch counterpart in TORCH_IMPORTS; write the file against "
                                  f"the PyTorch API (nn, nn.functional, nn.init, tensor)")
        out.append(line)
    return "\n".join(out) + "\n", siblings


def _twin_name(module_name: str) -> str:
    return "torch_twin." + module_name


def twin_module(module_name: str) -> types.ModuleType:
    """The module built from the same file with torch (cached per module)."""
    if module_name in _cache:
        return _cache[module_name]
    source, siblings = twin_source(module_name)
    for sibling in siblings:
        twin_module(sibling)
    name = _twin_name(module_name)
    module = types.ModuleType(name)
    module.__file__ = importlib.util.find_spec(module_name).origin
    sys.modules.setdefault("torch_twin", types.ModuleType("torch_twin"))
    sys.modules[name] = module                 # namedtuples, dataclasses and pickling find it
    try:
        exec(compile(source, f"<torch twin of {module.__file__}>", "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    _cache[module_name] = module
    return module
