"""Layers: thin Modules that hold parameters and hyperparameters and call `nn.functional`.

Constructor signatures, attribute names, default initialisations and `repr`s follow PyTorch, so
a PyTorch model ports by changing its imports and a PyTorch state dict loads unchanged.

Shape errors name the layer before the op sees the input, e.g.
`Linear(400→120) got input with 256 features (input shape (64, 256)), expected 400
(module 'fc1' of LeNet5)`.

Split by kind: linear.py, conv.py, pooling.py, padding.py, activation.py, dropout.py,
normalization.py, loss.py, embedding.py, shuffle.py (PixelShuffle), lazy.py (LazyLinear/LazyConv2d)
(helpers in _common.py).
"""
from .activation import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .lazy import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .shuffle import *  # noqa: F401,F403

__all__ = ["Identity", "Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "Upsample", "ConstantPad1d", "ConstantPad2d", "ZeroPad1d", "ZeroPad2d",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
           "CircularPad1d", "CircularPad2d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "GELU",
           "ELU", "Softplus", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "Softmax",
           "LogSoftmax", "Flatten", "Dropout", "Dropout2d", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "GroupNorm", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "BatchNorm3d", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d", "MaxPool3d", "AvgPool3d", "MaxUnpool2d", "PixelShuffle",
           "PixelUnshuffle", "LazyLinear", "LazyConv2d", "UninitializedParameter", "Embedding"]
