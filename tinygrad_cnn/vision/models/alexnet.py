"""AlexNet (Krizhevsky et al. 2012, the "one weird trick" variant torchvision ships):
`features.0/3/6/8/10` convs, `classifier.1/4/6` linears. PyTorch's default layer initialisation.

PyTorch-API only, built with torch too by tests/torch_twin.py.
"""
from __future__ import annotations

from typing import Any

# framework imports (tests/torch_twin.py swaps these for torch's)
from ... import nn
from ...tensor import Tensor
from ._api import check_weights

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """Five convs (11x11/4, 5x5, three 3x3) with three 3x3/2 max pools, a 6x6 adaptive average
    pool, and a dropout-linear classifier. Smallest input: 63x63."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x)).flatten(1)
        return self.classifier(x)


def alexnet(*, weights: Any = None, **kwargs: Any) -> AlexNet:
    """AlexNet (61,100,840 parameters at num_classes=1000)."""
    check_weights("alexnet", weights, kwargs)
    return AlexNet(**kwargs)
