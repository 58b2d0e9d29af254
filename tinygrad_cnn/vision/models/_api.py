"""What every model builder shares: the `weights=` check (nothing is ever downloaded) and
torchvision's `_make_divisible` channel rounding.

Framework-free on purpose: tests/torch_twin.py builds the model files with torch, and this module
serves both builds unchanged.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from ...argcheck import CheckedEnumMeta
from ...errors import ArgumentError

__all__ = ["check_weights", "make_divisible", "WeightsEnum", "WEIGHTS"]


class WeightsEnum(Enum, metaclass=CheckedEnumMeta):
    """torchvision's weight-enum names (ResNet18_Weights.DEFAULT, .IMAGENET1K_V1, ...), so
    `weights=ResNet18_Weights.DEFAULT` imports and reaches the builder's clear "no pretrained
    weights here" error instead of failing at the import. No member has weights behind it."""


def _weights(name: str, versions: int = 1) -> type:
    members = [(f"IMAGENET1K_V{v}", f"IMAGENET1K_V{v}") for v in range(1, versions + 1)]
    members.append(("DEFAULT", members[-1][1]))                  # an alias, as torchvision's
    return WeightsEnum(name, members, module=__name__)


# builder -> its weight enum (torchvision's names; V2 where torchvision has a second recipe)
WEIGHTS: dict[str, type] = {
    builder: _weights(enum, versions) for builder, enum, versions in [
        ("alexnet", "AlexNet_Weights", 1), ("vgg11", "VGG11_Weights", 1),
        ("vgg11_bn", "VGG11_BN_Weights", 1), ("vgg13", "VGG13_Weights", 1),
        ("vgg13_bn", "VGG13_BN_Weights", 1), ("vgg16", "VGG16_Weights", 1),
        ("vgg16_bn", "VGG16_BN_Weights", 1), ("vgg19", "VGG19_Weights", 1),
        ("vgg19_bn", "VGG19_BN_Weights", 1), ("resnet18", "ResNet18_Weights", 1),
        ("resnet34", "ResNet34_Weights", 1), ("resnet50", "ResNet50_Weights", 2),
        ("resnet101", "ResNet101_Weights", 2), ("resnet152", "ResNet152_Weights", 2),
        ("resnext50_32x4d", "ResNeXt50_32X4D_Weights", 2),
        ("wide_resnet50_2", "Wide_ResNet50_2_Weights", 2),
        ("squeezenet1_0", "SqueezeNet1_0_Weights", 1),
        ("squeezenet1_1", "SqueezeNet1_1_Weights", 1),
        ("mobilenet_v2", "MobileNet_V2_Weights", 2), ("densenet121", "DenseNet121_Weights", 1),
        ("densenet161", "DenseNet161_Weights", 1), ("densenet169", "DenseNet169_Weights", 1),
        ("densenet201", "DenseNet201_Weights", 1), ("googlenet", "GoogLeNet_Weights", 1)]}


def check_weights(builder: str, weights: Any, kwargs: dict) -> None:
    """Refuse pretrained weights with a clear error: this framework ships no weight files and
    never downloads any. `weights=None` (and the deprecated `pretrained=False`) build a randomly
    initialised model, as torchvision does; anything else raises ArgumentError."""
    pretrained = kwargs.pop("pretrained", False)
    kwargs.pop("progress", None)                      # torchvision's download progress bar
    if weights is None and not pretrained:
        return
    given = f"weights={weights!r}" if weights is not None else f"pretrained={pretrained!r}"
    raise ArgumentError(
        f"{builder}: {given} asks for pretrained weights, but tinygrad_cnn.vision downloads and "
        f"ships none; build with weights=None (random initialisation, torchvision's scheme) and "
        f"load a state dict you have with model.load_state_dict(tc.load(path)) - a torchvision "
        f"state dict loads unchanged")


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of `divisor` (at least `min_value`, never
    more than 10 % below v), as torchvision's `_make_divisible` (MobileNet's width multiplier)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
