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

`cudnn.benchmark = True` does what it does in PyTorch, for these algorithms: under 'auto', the
first conv of each configuration (shapes, arguments, dtype, needed gradients) times every
algorithm that applies, forward and backward, and later calls use the fastest
(ops/conv_tuning.py; the pick may differ between runs, and with it float32 rounding).
`cudnn.deterministic` and friends are accepted and have no effect (there is no cuDNN);
`mps.is_available()` is False.
"""
from __future__ import annotations

import sys
import types

from .ops import conv_algorithms, conv_tuning

__all__ = ["cudnn", "mps", "mkldnn", "openmp", "conv_algorithm", "CONV_ALGORITHMS"]

CONV_ALGORITHMS = conv_algorithms.CHOICES


class _Flags:
    """A namespace of plain attributes a script may read or set."""

    def __init__(self, doc: str, **flags: object) -> None:
        self.__doc__ = doc
        self.__dict__.update(flags)

    def is_available(self) -> bool:
        return False

    def _values(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "__doc__"}

    def __repr__(self) -> str:
        return f"<backend flags {self._values()}>"


class _CudnnFlags(_Flags):
    """cuDNN's flags. `benchmark` does what it does in PyTorch, for this library's conv
    algorithms: True times them once per conv configuration and keeps the fastest
    (ops/conv_tuning.py); the others are accepted and have no effect (no GPU)."""

    @property
    def benchmark(self) -> bool:
        return conv_tuning.get_benchmark()

    @benchmark.setter
    def benchmark(self, flag: bool) -> None:
        conv_tuning.set_benchmark(flag)

    def _values(self) -> dict:
        return {**super()._values(), "benchmark": self.benchmark}


cudnn = _CudnnFlags("cuDNN flags: benchmark = True times the conv algorithms once per shape and "
                    "keeps the fastest; the others are accepted, no effect (no GPU).",
                    enabled=True, deterministic=False, allow_tf32=True)
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
