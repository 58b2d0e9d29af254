"""torchvision.models' counterpart: the same architectures under the same names, constructor
arguments, initialisation schemes and state-dict keys, so a torchvision state dict loads
unchanged and `torchvision.models.resnet18(num_classes=10)` ports by changing the import.

    from tinygrad_cnn.vision import models
    model = models.resnet18(num_classes=10)          # random init, torchvision's scheme
    models.resnet18(weights="IMAGENET1K_V1")          # ArgumentError: nothing is downloaded

Builders: lenet5, alexnet, vgg11/11_bn/13/13_bn/16/16_bn/19/19_bn, resnet18/34/50/101/152,
resnext50_32x4d, wide_resnet50_2, squeezenet1_0/1_1, mobilenet_v2,
densenet121/161/169/201, googlenet. `list_models()` names them; `get_model(name, **kwargs)`
builds one by name. torchvision's weight enums exist by name (`ResNet18_Weights.DEFAULT`), so
such imports work; passing one as `weights=` raises the same clear error.
"""
from __future__ import annotations

from typing import Any, Callable

from ._api import WEIGHTS, WeightsEnum
from .alexnet import AlexNet, alexnet
from .densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from .lenet import LeNet5, lenet5
from .mobilenetv2 import MobileNetV2, mobilenet_v2
from .resnet import (BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101,
                     resnet152, resnext50_32x4d, wide_resnet50_2)
from .squeezenet import SqueezeNet, squeezenet1_0, squeezenet1_1
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

_BUILDERS: dict[str, Callable[..., Any]] = {f.__name__: f for f in [
    lenet5, alexnet, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
    resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d, wide_resnet50_2,
    squeezenet1_0, squeezenet1_1, mobilenet_v2, densenet121, densenet161, densenet169,
    densenet201, googlenet]}


# ResNet18_Weights, DenseNet121_Weights, ...: importable names; using one raises the builders'
# clear "no pretrained weights" error
globals().update({enum.__name__: enum for enum in WEIGHTS.values()})


def list_models() -> list[str]:
    """The builder names, sorted (torchvision.models.list_models)."""
    return sorted(_BUILDERS)


def get_model(name: str, **config: Any) -> Any:
    """A new model by builder name (torchvision.models.get_model): get_model("resnet18",
    num_classes=10)."""
    if not isinstance(name, str) or name not in _BUILDERS:
        raise ValueError(f"get_model: unknown model name {name!r}; available: "
                         f"{', '.join(list_models())}")
    return _BUILDERS[name](**config)


def get_model_builder(name: str) -> Callable[..., Any]:
    """The builder function for a name (torchvision.models.get_model_builder)."""
    if not isinstance(name, str) or name not in _BUILDERS:
        raise ValueError(f"get_model_builder: unknown model name {name!r}; available: "
                         f"{', '.join(list_models())}")
    return _BUILDERS[name]


__all__ = ["AlexNet", "VGG", "ResNet", "BasicBlock", "Bottleneck", "SqueezeNet", "MobileNetV2",
           "DenseNet", "GoogLeNet", "GoogLeNetOutputs", "LeNet5", "list_models", "get_model",
           "get_model_builder", "WeightsEnum", *_BUILDERS,
           *(enum.__name__ for enum in WEIGHTS.values())]
