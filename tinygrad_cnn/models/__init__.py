"""Ready-made models: `tc.models.LeNet5`, `tc.models.Seed003Net`, and the name registry every
CLI command (`train`, `graph`, `summary`) uses: `get_model("lenet5")`, `"lenet5-classic"`,
`"seed003"`, `"mlp"`, and every `tinygrad_cnn.vision.models` builder (`"resnet18"`,
`"densenet121"`, ...)."""
from __future__ import annotations

from typing import Any, Callable

from .lenet import LeNet5, Seed003Net

__all__ = ["LeNet5", "Seed003Net", "MODELS", "get_model", "available_models"]

VISION_INPUT_SIZE = (3, 224, 224)       # one sample for the vision builders (ImageNet's)


def _mlp(num_classes: int = 10, in_channels: int = 1, input_size: int = 28) -> Any:
    """A two-layer perceptron on flattened images (the CLI's smallest model)."""
    from .. import nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * input_size * input_size, 64),
                          nn.ReLU(), nn.Linear(64, num_classes))
    model.input_size = (in_channels, input_size, input_size)
    return model


MODELS: dict[str, Callable[..., Any]] = {
    "lenet5": LeNet5,
    "lenet5-classic": lambda **kw: LeNet5(classic=True, **kw),
    "seed003": Seed003Net,
    "mlp": _mlp,
}


def _vision_builders() -> Any:
    try:
        from ..vision import models as vision_models
    except ImportError:                     # a build without the vision package
        return None
    return vision_models


def available_models() -> list[str]:
    """The registry's names plus the vision builders' (torchvision's names)."""
    vm = _vision_builders()
    return sorted(set(MODELS) | (set(vm.list_models()) if vm is not None else set()))


def get_model(name: str, **kwargs: Any):
    """A new model by registry name; kwargs go to its constructor (num_classes, in_channels, ...).
    Every model has `.input_size` = (C, H, W) of one sample (the vision builders' models get
    VISION_INPUT_SIZE unless they say otherwise; `in_channels`/`input_size` do not apply to them)."""
    if not isinstance(name, str):
        raise TypeError(f"get_model: name must be a str (one of {', '.join(available_models())}), got {type(name).__name__}")
    key = name.lower().replace("_", "-")
    if key in MODELS:
        return MODELS[key](**kwargs)
    vm = _vision_builders()
    if vm is not None and name in vm.list_models():
        kwargs = {k: v for k, v in kwargs.items() if k not in ("in_channels", "input_size")}
        model = vm.get_model(name, **kwargs)
        if not getattr(model, "input_size", None):
            model.input_size = VISION_INPUT_SIZE
        return model
    raise ValueError(f"unknown model {name!r}; available: {', '.join(available_models())}")
