"""torchvision.ops.misc's building block the models share: Conv2dNormActivation
(conv -> norm -> activation as one Sequential, so its keys are `<i>.0.weight`, `<i>.1.weight`).

PyTorch-API only, built with torch too by tests/torch_twin.py.
"""
from __future__ import annotations

from typing import Any, Callable

# framework imports (tests/torch_twin.py swaps these for torch's)
from ... import nn

__all__ = ["Conv2dNormActivation"]


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (padding (kernel_size - 1) // 2 * dilation by default, bias only without a norm),
    then `norm_layer(out_channels)` and `activation_layer(inplace=...)`, each skipped when None."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int | None = None, groups: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
                 activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
                 dilation: int = 1, inplace: bool | None = True,
                 bias: bool | None = None) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers: list[Any] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                                       dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels
