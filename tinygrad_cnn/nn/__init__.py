"""Neural-network building blocks, PyTorch's `torch.nn` names:

    functional   stateless ops on tensors (F.conv2d, F.relu, F.cross_entropy, ...)
    Module, Parameter, Sequential, ModuleList, ModuleDict
    layers       Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, MaxPool1d/2d, AvgPool1d/2d,
                 AdaptiveAvg/MaxPool1d/2d, ReLU, SiLU, GELU, ..., BatchNorm1d/2d, losses
    init         weight initialisation (kaiming_/xavier_ uniform/normal, zeros_, ones_, ...)
    utils        summary, linear_to_conv2d, clip_grad_norm_, ...
"""
from . import functional
from . import init
from .module import (IncompatibleKeys, Module, ModuleDict, ModuleList, Parameter, RemovableHandle,
                     Sequential, StateDictError)
from .layers import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                     AvgPool1d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Conv3d,
                     ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, CrossEntropyLoss, Dropout,
                     Dropout2d, ELU, Flatten, GELU, Hardsigmoid, Hardswish, Hardtanh, Identity,
                     LeakyReLU, Linear, LogSoftmax, MaxPool1d, MaxPool2d, MSELoss, NLLLoss, ReLU,
                     ReLU6, Sigmoid, SiLU, Softmax, Softplus, Tanh)
from . import utils

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList",
           "ModuleDict", "StateDictError", "IncompatibleKeys", "RemovableHandle", "Identity",
           "Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "GELU", "ELU", "Softplus", "Hardtanh",
           "ReLU6", "Hardsigmoid", "Hardswish", "Softmax", "LogSoftmax", "Flatten", "Dropout",
           "Dropout2d", "BatchNorm1d", "BatchNorm2d", "CrossEntropyLoss", "NLLLoss", "MSELoss"]
