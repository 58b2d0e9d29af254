"""Ready-made models: `tc.models.LeNet5`, `tc.models.Seed003Net`, and a name registry for the
CLI (`get_model("lenet5")`, `get_model("lenet5-classic")`, `get_model("seed003")`)."""
from __future__ import annotations

from typing import Any, Callable

from .lenet import LeNet5, Seed003Net

__all__ = ["LeNet5", "Seed003Net", "MODELS", "get_model", "available_models"]

MODELS: dict[str, Callable[..., Any]] = {
    "lenet5": LeNet5,
    "lenet5-classic": lambda **kw: LeNet5(classic=True, **kw),
    "seed003": Seed003Net,
}


def available_models() -> list[str]:
    return sorted(MODELS)


def get_model(name: str, **kwargs: Any):
    """A new model by registry name; kwargs go to its constructor (num_classes, in_channels, ...).
    Every model has `.input_size` = (C, H, W) of one sample."""
    key = name.lower().replace("_", "-")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    return MODELS[key](**kwargs)
