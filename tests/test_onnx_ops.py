"""ONNX export, op by op: each case is a small model around one exportable op (with its
variants: stride, padding incl. 'same', dilation, groups, pad modes, ceil_mode, ...), exported
with a dynamic batch axis, checked by onnx.checker, and run in ONNX Runtime at the traced batch
size (2) and another one (3), within 1e-5 of our forward."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

from onnx_roundtrip import assert_roundtrip, randomize_batch_norm


class Lambda(nn.Module):
    """A module around a function of its input (and of its own parameters, if any)."""

    def __init__(self, fn, **params):
        super().__init__()
        self.fn = fn
        for name, value in params.items():
            setattr(self, name, value)

    def forward(self, x):
        return self.fn(self, x)


def P(*shape):
    return nn.Parameter(np.random.default_rng(7).standard_normal(shape).astype(np.float32))


IMG = (2, 3, 9, 9)
SEQ = (2, 3, 17)
CASES = {
    # convolutions
    "conv2d_stride_pad": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), IMG),
    "conv2d_same_even_dilated": (lambda: nn.Conv2d(3, 4, 4, padding="same", dilation=2), IMG),
    "conv2d_valid_rect": (lambda: nn.Conv2d(3, 2, (2, 3), stride=(1, 2), padding="valid"), IMG),
    "conv2d_groups_nobias": (lambda: nn.Conv2d(4, 6, 3, groups=2, bias=False), (2, 4, 7, 7)),
    "conv2d_depthwise": (lambda: nn.Conv2d(3, 3, 3, padding=1, groups=3), IMG),
    "conv2d_reflect": (lambda: nn.Conv2d(3, 2, 3, padding=2, padding_mode="reflect"), IMG),
    "conv2d_replicate": (lambda: nn.Conv2d(3, 2, 3, padding=1, padding_mode="replicate"), IMG),
    "conv2d_circular": (lambda: nn.Conv2d(3, 2, 3, padding=(1, 2), padding_mode="circular"), IMG),
    "conv1d_stride_dilation": (lambda: nn.Conv1d(3, 5, 3, stride=2, dilation=2, padding=1), SEQ),
    "conv1d_same": (lambda: nn.Conv1d(3, 4, 4, padding="same"), SEQ),
    "conv3d": (lambda: nn.Conv3d(2, 3, 3, stride=(1, 2, 2), padding=1, dilation=(2, 1, 1)), (2, 2, 5, 6, 6)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), IMG),
    "conv_transpose2d_groups_dilation": (lambda: nn.ConvTranspose2d(4, 4, 2, groups=2, dilation=2), (2, 4, 5, 5)),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(3, 2, 4, stride=3), SEQ),
    # linear algebra
    "linear": (lambda: nn.Linear(17, 5), (2, 17)),
    "linear_3d": (lambda: nn.Linear(17, 4), SEQ),
    "matmul_param": (lambda: Lambda(lambda m, x: x @ m.w, w=P(17, 4)), SEQ),
    "matmul_self": (lambda: Lambda(lambda m, x: x @ x.transpose(1, 2)), SEQ),
    # pooling
    "max_pool_pad": (lambda: nn.MaxPool2d(3, stride=2, padding=1), IMG),
    "max_pool_ceil": (lambda: nn.MaxPool2d(2, ceil_mode=True), IMG),
    "max_pool_dilation": (lambda: nn.MaxPool2d(2, stride=1, dilation=2), IMG),
    "max_pool1d": (lambda: nn.MaxPool1d(3, stride=2), SEQ),
    "max_pool3d": (lambda: nn.MaxPool3d(2, stride=(1, 2, 2)), (2, 2, 4, 6, 6)),
    "avg_pool3d": (lambda: nn.AvgPool3d(3, stride=2, padding=1), (2, 2, 5, 6, 6)),
    "avg_pool_pad": (lambda: nn.AvgPool2d(3, stride=2, padding=1), IMG),
    "avg_pool_exclude_pad_ceil": (lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                                       count_include_pad=False), (2, 3, 8, 8)),
    "avg_pool_divisor": (lambda: Lambda(lambda m, x: F.avg_pool2d(x, 2, divisor_override=3)), IMG),
    "avg_pool1d": (lambda: nn.AvgPool1d(4, stride=3), SEQ),
    "adaptive_avg_global": (lambda: nn.AdaptiveAvgPool2d(1), IMG),
    "adaptive_avg_tiling": (lambda: nn.AdaptiveAvgPool2d((3, 1)), IMG),
    "adaptive_avg_overlap": (lambda: nn.AdaptiveAvgPool2d((4, 5)), IMG),
    "adaptive_avg1d": (lambda: nn.AdaptiveAvgPool1d(5), SEQ),
    "adaptive_max_global": (lambda: nn.AdaptiveMaxPool2d(1), IMG),
    "adaptive_max_tiling": (lambda: nn.AdaptiveMaxPool2d(3), IMG),
    # normalisation
    "batch_norm2d": (lambda: nn.BatchNorm2d(3), IMG),
    "batch_norm1d": (lambda: nn.BatchNorm1d(17), (2, 17)),
    "batch_norm2d_no_affine": (lambda: nn.BatchNorm2d(3, affine=False), IMG),
    "instance_norm2d": (lambda: nn.InstanceNorm2d(3, affine=True), IMG),
    "batch_norm3d": (lambda: nn.BatchNorm3d(2), (2, 2, 3, 4, 5)),
    "layer_norm": (lambda: nn.LayerNorm(17), SEQ),
    "group_norm": (lambda: nn.GroupNorm(2, 4), (2, 4, 5, 5)),
    # activations
    "relu": (lambda: nn.ReLU(), IMG),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), IMG),
    "sigmoid": (lambda: nn.Sigmoid(), IMG),
    "tanh": (lambda: nn.Tanh(), IMG),
    "silu": (lambda: nn.SiLU(), IMG),
    "gelu": (lambda: nn.GELU(), IMG),
    "gelu_tanh": (lambda: nn.GELU(approximate="tanh"), IMG),
    "elu": (lambda: nn.ELU(0.5), IMG),
    "softplus": (lambda: nn.Softplus(beta=2.0, threshold=1.0), IMG),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.7), IMG),
    "relu6": (lambda: Lambda(lambda m, x: F.relu6(x * 4)), IMG),
    "hardsigmoid": (lambda: Lambda(lambda m, x: F.hardsigmoid(x * 4)), IMG),
    "hardswish": (lambda: Lambda(lambda m, x: F.hardswish(x * 4)), IMG),
    "softmax": (lambda: nn.Softmax(dim=1), IMG),
    "log_softmax": (lambda: nn.LogSoftmax(dim=-1), (2, 17)),
    "clamp_exp_log": (lambda: Lambda(lambda m, x: (x.clamp(-1, 0.5).exp() + 1).log().sqrt()), IMG),
    "abs_neg_pow": (lambda: Lambda(lambda m, x: -(x.abs() ** 1.5) + x ** 2), IMG),
    # shapes and data movement
    "flatten": (lambda: nn.Flatten(), IMG),
    "reshape_view": (lambda: Lambda(lambda m, x: x.view(x.shape[0], 3, 81).reshape(-1, 27, 9)), IMG),
    "transpose_permute": (lambda: Lambda(lambda m, x: x.transpose(1, 3).permute(0, 2, 1, 3)), IMG),
    "squeeze_unsqueeze": (lambda: Lambda(lambda m, x: x.unsqueeze(1).squeeze(1).unsqueeze(-1)), SEQ),
    "pixel_shuffle": (lambda: nn.Sequential(nn.PixelUnshuffle(3), nn.PixelShuffle(3)), IMG),
    "cat": (lambda: Lambda(lambda m, x: tc.cat([x, x * 2, x[:, :1]], dim=1)), IMG),
    "stack": (lambda: Lambda(lambda m, x: tc.stack([x, -x], dim=2)), SEQ),
    "index": (lambda: Lambda(lambda m, x: x[:, 1:3, ::3][..., 0] * x[:, 0, None, -3:, 2] + x[:, [0, 2], 1:-1:3, None][:, :, :, 0, 0]), IMG),
    "pad_constant": (lambda: Lambda(lambda m, x: F.pad(x, (1, 2, 0, 3), value=0.5)), IMG),
    "pad_reflect": (lambda: nn.ReflectionPad2d((2, 1, 0, 3)), IMG),
    "pad_replicate": (lambda: nn.ReplicationPad1d(3), SEQ),
    "pad_circular": (lambda: nn.CircularPad2d((1, 2, 3, 0)), IMG),
    # arithmetic, broadcasting, residuals, reductions
    "scalar_arithmetic": (lambda: Lambda(lambda m, x: (1 - x) * 2 + 3 / (x * x + 1) - x / 4), IMG),
    "broadcast_params": (lambda: Lambda(lambda m, x: x * m.scale + m.shift, scale=P(3, 1, 1), shift=P(9)), IMG),
    "residual": (lambda: Lambda(lambda m, x: x + m.conv(x).relu(), conv=nn.Conv2d(3, 3, 3, padding=1)), IMG),
    "maximum_minimum": (lambda: Lambda(lambda m, x: x.maximum(m.a).minimum(x * 0.5 + 0.25), a=P(9)), IMG),
    "where_constant_mask": (lambda: Lambda(lambda m, x: tc.where(tc.from_numpy(np.arange(9) % 2 == 0), x, -x)), IMG),
    "reductions": (lambda: Lambda(lambda m, x: x.sum(dim=(2, 3)) + x.mean(dim=(1, 2)).amax(dim=-1, keepdim=True)
                                  - x.amin(dim=(1, 2)).mean(dim=1, keepdim=True)), IMG),
    "max_dim_var": (lambda: Lambda(lambda m, x: x.max(dim=1)[0] + x.var(dim=2, keepdim=True)[:, 0]), SEQ),
    "expand_cat": (lambda: Lambda(lambda m, x: tc.cat([m.token.expand(x.shape[0], 1, 17), x], dim=1),
                                  token=P(1, 1, 17)), SEQ),
    "dropout_eval": (lambda: nn.Sequential(nn.Dropout(0.5), nn.Dropout2d(0.3)), IMG),
    # resampling
    "nearest_size": (lambda: Lambda(lambda m, x: F.interpolate(x, size=(13, 5))), IMG),
    "nearest_scale": (lambda: nn.Upsample(scale_factor=2, mode="nearest"), IMG),
    "bilinear": (lambda: Lambda(lambda m, x: F.interpolate(x, size=(14, 4), mode="bilinear")), IMG),
    "bilinear_align_corners": (lambda: Lambda(lambda m, x: F.interpolate(x, size=(5, 12), mode="bilinear",
                                                                         align_corners=True)), IMG),
    "bilinear_scale_inexact": (lambda: Lambda(lambda m, x: F.interpolate(x, scale_factor=1.7, mode="bilinear")), IMG),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_roundtrip(case):
    build, shape = CASES[case]
    model = build()
    randomize_batch_norm(model)
    assert_roundtrip(model, shape, batches=(3,))
