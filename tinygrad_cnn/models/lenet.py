"""LeNet-5 (seed 004) and the seed-003 network, as ordinary `nn.Module`s.

LeNet5(), the seed-004 layout on 28×28 MNIST digits (no padding):

    conv1  1→6, 5×5     28×28 → 24×24      156 params
    pool1  max 2×2      24×24 → 12×12
    conv2  6→16, 5×5    12×12 → 8×8        2,416
    pool2  max 2×2      8×8   → 4×4        (16·4·4 = 256 features)
    fc1    256→120                         30,840
    fc2    120→84                          10,164
    fc3    84→10                           850            total 44,426

LeNet5(classic=True), LeCun's 32×32 layout: conv1 pads the 28×28 digit by 2 (the same as a
32×32 input), so conv2 leaves 16·5·5 = 400 features and fc1 is 400→120 — seed 004's C5 layer
with 120·(16·5·5 + 1) = 48,120 parameters; C1 has 6·(25 + 1) = 156, F6 84·(120 + 1) = 10,164;
total 61,706.

Seed003Net(), seed 003's network: conv 3×3×16 with padding 1 (28×28 → 28×28), ReLU, max pool
2×2 (→ 14×14, 16·14·14 = 3,136 features), fc1 3,136→512, ReLU, fc2 512→10.

ReLU activations and max pooling throughout (the seeds' choices). Attribute names conv1, conv2,
fc1, fc2, fc3 give the state-dict keys ("conv1.weight", ...) that a PyTorch model with the same
attribute names also has, so state dicts move both ways unchanged.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..argcheck import check_flag, check_int
from ..nn.utils import linear_to_conv2d

__all__ = ["LeNet5", "Seed003Net"]


def _conv_out(size: int, kernel: int, padding: int = 0) -> int:
    return size + 2 * padding - kernel + 1


class LeNet5(nn.Module):
    """LeNet-5 for `in_channels`×`input_size`×`input_size` images (see the module docstring).

    Args:
        num_classes: outputs of fc3 (10).
        in_channels: image channels (1 for MNIST).
        classic: pad conv1 by 2 (LeCun's 32×32 layout: 400 features into fc1) instead of the
            seed-004 layout without padding (256 features).
        input_size: the image side the classifier is sized for (28).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, classic: bool = False,
                 input_size: int = 28) -> None:
        super().__init__()
        for arg, value in (("num_classes", num_classes), ("in_channels", in_channels), ("input_size", input_size)):
            check_int(value, arg, "LeNet5", minimum=1, maximum=1 << 20)
        classic = check_flag(classic, "classic", "LeNet5")
        pad = 2 if classic else 0
        side = _conv_out(input_size, 5, pad) // 2
        side = _conv_out(side, 5) // 2
        if side < 1:
            raise ValueError(f"LeNet5: input_size={input_size} is too small for two 5×5 convs "
                             f"and two 2×2 pools")
        self.classic = classic
        self.input_size = (in_channels, input_size, input_size)
        self.feature_shape = (16, side, side)          # what fc1 sees, flattened
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=pad)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)

    def fully_convolutional(self) -> nn.Sequential:
        """The same network with fc1/fc2/fc3 turned into convolutions (nn.utils.linear_to_conv2d):
        on a larger image it outputs a (num_classes, H', W') map of class scores, one per
        input_size window at a stride of 4 pixels (the two 2×2 pools). The conv layers are
        shared with this model; the converted classifier layers are copies."""
        return nn.Sequential(OrderedDict([
            ("conv1", self.conv1), ("relu1", self.relu1), ("pool1", self.pool1),
            ("conv2", self.conv2), ("relu2", self.relu2), ("pool2", self.pool2),
            ("fc1", linear_to_conv2d(self.fc1, self.feature_shape)), ("relu3", nn.ReLU()),
            ("fc2", linear_to_conv2d(self.fc2, self.fc2.in_features)), ("relu4", nn.ReLU()),
            ("fc3", linear_to_conv2d(self.fc3, self.fc3.in_features)),
        ]))


class Seed003Net(nn.Module):
    """Seed 003's CNN: conv 3×3×16 (padding 1), ReLU, max pool 2×2, fc 512, ReLU, fc num_classes."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 channels: int = 16, hidden: int = 512) -> None:
        super().__init__()
        for arg, value in (("num_classes", num_classes), ("in_channels", in_channels), ("input_size", input_size),
                           ("channels", channels), ("hidden", hidden)):
            check_int(value, arg, "Seed003Net", minimum=1, maximum=1 << 20)
        side = input_size // 2
        if side < 1:
            raise ValueError(f"Seed003Net: input_size={input_size} is too small for the 2×2 pool")
        self.input_size = (in_channels, input_size, input_size)
        self.feature_shape = (channels, side, side)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(channels * side * side, hidden)
        self.relu2 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = self.flatten(self.pool1(self.relu1(self.conv1(x))))
        return self.fc2(self.relu2(self.fc1(x)))

    def fully_convolutional(self) -> nn.Sequential:
        """fc1/fc2 as convolutions (see LeNet5.fully_convolutional); window stride 2 pixels."""
        return nn.Sequential(OrderedDict([
            ("conv1", self.conv1), ("relu1", self.relu1), ("pool1", self.pool1),
            ("fc1", linear_to_conv2d(self.fc1, self.feature_shape)), ("relu2", nn.ReLU()),
            ("fc2", linear_to_conv2d(self.fc2, self.fc2.in_features)),
        ]))
