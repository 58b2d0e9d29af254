"""Neural-network building blocks, PyTorch's `torch.nn` names:

    functional   stateless ops on tensors (F.conv2d, F.relu, F.cross_entropy, ...)
    Module, Parameter, Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
    layers       Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, MaxPool1d/2d, AvgPool1d/2d,
                 AdaptiveAvg/MaxPool1d/2d, Upsample, ReLU, SiLU, GELU, ..., BatchNorm1d/2d,
                 LayerNorm, GroupNorm, losses
    init         weight initialisation (kaiming_/xavier_ uniform/normal, zeros_, ones_, ...)
    utils        summary, linear_to_conv2d, clip_grad_norm_, ...
"""
from . import functional
from . import init
from .module import (IncompatibleKeys, Module, ModuleDict, ModuleList, Parameter, RemovableHandle,
                     Sequential, StateDictError)
from .parameters import ParameterDict, ParameterList
from . import layers
from .layers import *  # noqa: F401,F403 - every layer, listed once in layers.__all__
from . import utils

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList",
           "ModuleDict", "ParameterList", "ParameterDict", "StateDictError", "IncompatibleKeys", "RemovableHandle", *layers.__all__]
