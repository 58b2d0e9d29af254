"""lenet5: the project's LeNet-5 (tinygrad_cnn.models.LeNet5) under a torchvision-style builder.
torchvision has no LeNet; the builder's signature follows its conventions (weights=None)."""
from __future__ import annotations

from typing import Any

from ...models.lenet import LeNet5
from ._api import check_weights

__all__ = ["LeNet5", "lenet5"]


def lenet5(*, weights: Any = None, **kwargs: Any) -> LeNet5:
    """LeNet-5 for 1x28x28 digits (44,426 parameters; classic=True: 32x32 layout, 61,706);
    kwargs go to LeNet5 (num_classes, in_channels, classic, input_size)."""
    check_weights("lenet5", weights, kwargs)
    return LeNet5(**kwargs)
