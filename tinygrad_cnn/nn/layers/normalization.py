"""Normalisation: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...argcheck import allocate, check_flag, check_int, check_number, check_shape
from ...errors import ArgumentError, ShapeError
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module, Parameter
from ._common import _check_tensor, _float_dtype, _named_call

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "GroupNorm"]


def _affine_parameters(module: Module, affine: bool, bias: bool, shape: tuple, dtype: Any) -> None:
    """A norm layer's optional scale (ones) and shift (zeros) of `shape`, registered as None
    when absent (as PyTorch, so the state-dict keys match)."""
    op = type(module).__name__
    dtype = _float_dtype(dtype, op)
    affine, bias = check_flag(affine, "affine", op), check_flag(bias, "bias", op)
    module.register_parameter("weight", Parameter(allocate(shape, dtype, op, 1)) if affine else None)
    module.register_parameter("bias", Parameter(allocate(shape, dtype, op, 0)) if affine and bias else None)


class _BatchNorm(Module):
    """Batch normalisation over every axis but the channels (axis 1), PyTorch's semantics:

    training: normalise with the batch mean and biased variance; update
      running_mean ← (1 - momentum)·running_mean + momentum·mean,
      running_var  ← (1 - momentum)·running_var + momentum·var_unbiased,
      num_batches_tracked += 1 (momentum=None uses the cumulative average 1/num_batches_tracked);
    eval: normalise with the running statistics.
    `bias=False` (keyword, as in PyTorch ≥ 2.x) keeps the scale but drops the shift.
    State-dict keys: weight, bias, running_mean, running_var, num_batches_tracked.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        op = type(self).__name__
        dtype = _float_dtype(dtype, op)
        num_features = check_int(num_features, "num_features", op, minimum=0)
        eps = check_number(eps, "eps", op, minimum=0, finite=True)
        momentum = check_number(momentum, "momentum", op, finite=True, allow_none=True)
        affine = check_flag(affine, "affine", op)
        track_running_stats = check_flag(track_running_stats, "track_running_stats", op)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, affine, bias, (self.num_features,), dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(allocate(num_features, dtype, op, 0)))
            self.register_buffer("running_var", Tensor._wrap(allocate(num_features, dtype, op, 1)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    _layouts: dict[int, str] = {}                        # accepted ndim -> its layout, for errors

    def _label(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        if input.ndim not in self._layouts:
            expected = " or ".join(f"{d}-D {layout}" for d, layout in self._layouts.items())
            raise ShapeError(f"{self._label()} expects a {expected} input, got shape "
                             f"{tuple(input.shape)}{self._where()}")
        if input.shape[1] != self.num_features:
            raise ShapeError(f"{self._label()} got input with {input.shape[1]} "
                             f"channel{'s' * (input.shape[1] != 1)} (input "
                             f"shape {tuple(input.shape)}), expected {self.num_features}{self._where()}")
        # each attribute read once: buffers and parameters are found by Module.__getattr__
        training, momentum, track_running = self.training, self.momentum, self.track_running_stats
        factor = 0.0 if momentum is None else momentum
        if training and track_running:
            tracked = self.num_batches_tracked
            if tracked is not None:
                tracked._data += 1
                if momentum is None:
                    factor = 1.0 / float(tracked._data)
        running_mean, running_var = self.running_mean, self.running_var
        use_batch_stats = training or (running_mean is None and running_var is None)
        track = not training or track_running
        return F.batch_norm(input, running_mean if track else None, running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """_BatchNorm over (N, L) for each of C channels: input (N, C) or (N, C, L)."""
    _layouts = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    """_BatchNorm over (N, H, W) for each of C channels: input (N, C, H, W)."""
    _layouts = {4: "(N, C, H, W)"}


class BatchNorm3d(_BatchNorm):
    """_BatchNorm over (N, D, H, W) for each of C channels: input (N, C, D, H, W)."""
    _layouts = {5: "(N, C, D, H, W)"}


class _InstanceNorm(_BatchNorm):
    """Instance normalisation (Ulyanov et al., 2016): each channel of each sample standardised
    over its own positions, PyTorch's defaults (affine=False, track_running_stats=False).
    With track_running_stats, training updates running_mean/var (batch averages of the
    per-instance statistics) and eval normalises with them. Inputs with or without the batch
    dim; a channel count differing from num_features is an error only when affine (as PyTorch,
    which warns otherwise)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    _dims = 2

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        n = self._dims
        if input.ndim not in (n + 1, n + 2):
            layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[n]
            raise ShapeError(f"{self._label()} expects a {n + 2}-D input {layout} or a {n + 1}-D "
                             f"unbatched one, got shape {tuple(input.shape)}{self._where()}")
        unbatched = input.ndim == n + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and self.affine:
            raise ShapeError(f"{self._label()} got input with {x.shape[1]} channels (input shape "
                             f"{tuple(input.shape)}), expected {self.num_features}{self._where()}")
        use_input_stats = self.training or not self.track_running_stats
        track = self.track_running_stats and self.running_mean is not None
        momentum = self.momentum if self.momentum is not None else 0.0   # as PyTorch's _InstanceNorm
        y = _named_call(self, self._label(), F.instance_norm, x,
                        self.running_mean if track else None, self.running_var if track else None,
                        self.weight, self.bias, use_input_stats, momentum, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """_InstanceNorm over L: input (N, C, L) or (C, L)."""
    _dims = 1


class InstanceNorm2d(_InstanceNorm):
    """_InstanceNorm over (H, W): input (N, C, H, W) or (C, H, W)."""
    _dims = 2


class InstanceNorm3d(_InstanceNorm):
    """_InstanceNorm over (D, H, W): input (N, C, D, H, W) or (C, D, H, W)."""
    _dims = 3


class _AffineNorm(Module):
    """Shared by LayerNorm and GroupNorm: run the functional op with weight, bias and eps."""

    def _run(self, fn: Any, input: Tensor, *args: Any) -> Tensor:
        _check_tensor(self, input)
        return _named_call(self, type(self).__name__, fn, input, *args, self.weight, self.bias, self.eps)


class LayerNorm(_AffineNorm):
    """Standardise each sample over the last dims (normalized_shape), then scale and shift
    elementwise (weight and bias of normalized_shape)."""

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = check_shape(normalized_shape, "normalized_shape", "LayerNorm")
        eps = check_number(eps, "eps", "LayerNorm", minimum=0, finite=True)
        elementwise_affine = check_flag(elementwise_affine, "elementwise_affine", "LayerNorm")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine_parameters(self, elementwise_affine, bias, self.normalized_shape, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return self._run(F.layer_norm, input, self.normalized_shape)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(_AffineNorm):
    """Standardise each group of num_channels/num_groups channels per sample, then scale and
    shift per channel."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        num_groups = check_int(num_groups, "num_groups", "GroupNorm", minimum=1)
        num_channels = check_int(num_channels, "num_channels", "GroupNorm", minimum=0)
        eps = check_number(eps, "eps", "GroupNorm", minimum=0, finite=True)
        affine = check_flag(affine, "affine", "GroupNorm")
        if num_channels % num_groups:
            raise ArgumentError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                                f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, affine, bias, (num_channels,), dtype)

    def forward(self, input: Tensor) -> Tensor:
        return self._run(F.group_norm, input, self.num_groups)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
