"""`tc.backends`: the switches PyTorch scripts set for their backends, and the one that matters
here, the convolution algorithm.

    import tinygrad_cnn as tc
    tc.backends.conv_algorithm              # 'auto'
    tc.backends.conv_algorithm = "im2col"   # the reference path for every conv
    tc.backends.conv_algorithm = "winograd" # Winograd F(2x2, 3x3) wherever it applies

conv_algorithm: 'auto' (a measured rule per shape: 1x1 convs as one GEMM on the NCHW view,
depthwise convs as shifted multiply-adds, im2col otherwise; docs/performance.md), 'im2col',
'pointwise', 'depthwise', 'winograd'. Naming an algorithm uses it for the convs it applies to
and im2col for the others. Every algorithm computes the same convolution
(tests/test_conv_algorithms.py checks each against im2col); they differ in speed and, for
Winograd, in float32 rounding (docs/derivations.md bounds it). Validated on assignment.

`cudnn.benchmark = True` and friends are accepted and have no effect (there is no cuDNN);
`mps.is_available()` is False.
"""
from __future__ import annotations

import sys
import types

from .ops import conv_algorithms

__all__ = ["cudnn", "mps", "mkldnn", "openmp", "conv_algorithm", "CONV_ALGORITHMS"]

CONV_ALGORITHMS = conv_algorithms.CHOICES


class _Flags:
    """A namespace of plain attributes a script may read or set."""

    def __init__(self, doc: str, **flags: object) -> None:
        self.__doc__ = doc
        self.__dict__.update(flags)

    def is_available(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<backend flags {dict((k, v) for k, v in vars(self).items() if k != '__doc__')}>"


cudnn = _Flags("cuDNN flags: accepted, no effect (no GPU).", enabled=True, benchmark=False,
               deterministic=False, allow_tf32=True)
mps = _Flags("Apple MPS: not available.")
mkldnn = _Flags("oneDNN flags: accepted, no effect.", enabled=True)
openmp = _Flags("OpenMP: NumPy's BLAS threads are set with tc.set_blas_threads.")


class _BackendsModule(types.ModuleType):
    """This module, with `conv_algorithm` validated on assignment."""

    @property
    def conv_algorithm(self) -> str:
        return conv_algorithms.get_conv_algorithm()

    @conv_algorithm.setter
    def conv_algorithm(self, name: str) -> None:
        conv_algorithms.set_conv_algorithm(name)


sys.modules[__name__].__class__ = _BackendsModule
