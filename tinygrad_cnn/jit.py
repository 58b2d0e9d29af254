"""`tc.jit`: PyTorch's TorchScript entry points as no-ops, so model code written for
`torch.jit` (torchvision's models use `torch.jit.is_scripting()`, `@torch.jit.unused`,
`@torch.jit._overload_method`) runs unchanged. There is no compiler here: `script` and `trace`
return what they are given, and the code runs eagerly, exactly as it does without them."""
from __future__ import annotations

import typing
from typing import Any, Callable

__all__ = ["script", "trace", "trace_module", "unused", "ignore", "export", "is_scripting",
           "is_tracing", "annotate", "interface", "Final", "_overload", "_overload_method"]

Final = typing.Final


def script(obj: Any, *args: Any, **kwargs: Any) -> Any:
    """Returns obj (a Module, function or class) unchanged: it runs eagerly."""
    return obj


def trace(func: Any, example_inputs: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Returns func unchanged (nothing is recorded or compiled)."""
    return func


def trace_module(mod: Any, inputs: Any = None, *args: Any, **kwargs: Any) -> Any:
    return mod


def unused(fn: Callable) -> Callable:
    """Marks a method TorchScript should not compile; here: returns it unchanged."""
    return fn


def ignore(drop: Any = False, **kwargs: Any) -> Any:
    """`@ignore` or `@ignore(drop=True)`: the function unchanged."""
    if callable(drop):
        return drop
    return lambda fn: fn


def export(fn: Callable) -> Callable:
    return fn


def interface(obj: Any) -> Any:
    return obj


def is_scripting() -> bool:
    """False: code never runs under TorchScript here."""
    return False


def is_tracing() -> bool:
    return False


def annotate(the_type: Any, the_value: Any) -> Any:
    """TorchScript's type hint for a value; returns the value."""
    return the_value


def _overload(fn: Callable) -> Callable:
    return fn


def _overload_method(fn: Callable) -> Callable:
    """TorchScript overload declarations (torchvision's GoogLeNet/Inception); the last
    definition of the method is the one that runs, as in plain Python."""
    return fn
