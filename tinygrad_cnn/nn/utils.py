"""Model inspection and surgery: `summary`, `linear_to_conv2d`, gradient clipping, flat vectors.

MACs. `summary` counts multiply-accumulates (one multiply plus one add), per sample:

    Conv (any dims):  MACs = C_in/groups · prod(kernel) · C_out · prod(output spatial)
                           = C_in · C_out · KH · KW · OH · OW for a plain 2-D conv
    ConvTranspose:    MACs = C_out/groups · prod(kernel) · C_in · prod(input spatial)
                           (every input element is multiplied by its C_out/groups kernels)
    Linear:           MACs = in_features · out_features (times any extra leading dims)

Bias additions, activations, pooling and normalisation are not counted (they are O(outputs),
negligible next to the products). FLOPs, counting the multiply and the add separately, are
2 · MACs. Seed 002's "1 GFLOP" for C_in = C_out = 100, k = 5, 64×64 outputs is the MAC count
100·100·25·64·64 = 1.024e9 (it counts one multiply-accumulate as one operation).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..autograd import no_grad
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from .layers import Conv2d, Linear
from .layers.conv import _ConvNd
from .module import Module

__all__ = ["summary", "ModelSummary", "linear_to_conv2d", "clip_grad_norm_", "clip_grad_value_",
           "parameters_to_vector", "vector_to_parameters"]


# ------------------------------------------------------------------------------------ summary
class ModelSummary(str):
    """The summary table (a `str`) with the numbers behind it as attributes:
    `rows` (list of dicts: name, type, output_shape, params, macs), `total_params`,
    `trainable_params`, `total_macs`, `input_size`."""

    rows: list
    total_params: int
    trainable_params: int
    total_macs: int
    input_size: tuple

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs


def _layer_macs(module: Module, inputs: tuple, output: Any) -> int:
    out = output[0] if isinstance(output, (tuple, list)) else output
    if not isinstance(out, Tensor):
        return 0
    if isinstance(module, _ConvNd) and module.transposed:
        x = inputs[0] if inputs else None
        per_input = (module.out_channels // module.groups) * int(np.prod(module.kernel_size))
        return int(x._data.size) * per_input if isinstance(x, Tensor) else 0
    if isinstance(module, _ConvNd):
        per_output = (module.in_channels // module.groups) * int(np.prod(module.kernel_size))
        return int(out._data.size) * per_output
    if isinstance(module, Linear):
        return int(out._data.size) * module.in_features
    return 0


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f}"


def _shape_str(output: Any) -> str:
    outs = output if isinstance(output, (tuple, list)) else (output,)
    parts = [str([-1, *t.shape[1:]]) for t in outs if isinstance(t, Tensor)]
    return ", ".join(parts) if parts else "-"


def summary(model: Module, input_size: Sequence[int], *, dtype: Any = np.float32,
            print_fn: Callable[[str], Any] | None = print) -> ModelSummary:
    """Print and return a per-layer table: output shape, parameter count and MACs, with totals.

    `input_size` is the shape of ONE sample without the batch dim, e.g. (1, 28, 28); the model
    runs once on a zero batch of size 1 under no_grad and in eval mode (its training flags
    are restored afterwards). Output shapes show the batch dim as -1. Rows are the modules
    that do work themselves: leaves (no children) and modules that own parameters, in call
    order; a module called twice gets two rows (its parameters count once in the totals).
    `print_fn=None` returns the table without printing.
    """
    if isinstance(input_size, int):
        input_size = (input_size,)
    input_size = tuple(int(s) for s in input_size)
    rows: list[dict] = []
    seen_params: set[int] = set()
    handles = []
    for name, m in model.named_modules():
        has_children = any(True for _ in m.children())
        own = list(m.parameters(recurse=False))
        if (has_children and not own) or (m is model and has_children):
            continue

        def hook(mod: Module, args: tuple, output: Any, _name: str = name) -> None:
            params = 0
            for p in mod.parameters(recurse=False):
                if id(p) not in seen_params:
                    seen_params.add(id(p))
                    params += p.numel()
            rows.append(dict(name=_name or mod._get_name(), type=mod._get_name(),
                             output_shape=_shape_str(output), params=params,
                             macs=_layer_macs(mod, args, output)))
        handles.append(m.register_forward_hook(hook))
    modes = {id(m): m.training for m in model.modules()}
    x = Tensor._wrap(np.zeros((1, *input_size), dtype=dtype))
    try:
        model.eval()
        with no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            m.training = modes[id(m)]

    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total_macs = sum(r["macs"] for r in rows)
    param_bytes = sum(p._data.nbytes for p in params)

    headers = ("Layer (type)", "Output shape", "Param #", "MACs")
    body = [(f"{r['name']} ({r['type']})", r["output_shape"], f"{r['params']:,}", f"{r['macs']:,}")
            for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(headers)]
    line_width = sum(widths) + 3 * (len(widths) - 1)

    def fmt(cols: Sequence[str]) -> str:
        return "   ".join([cols[0].ljust(widths[0]), cols[1].ljust(widths[1]),
                           cols[2].rjust(widths[2]), cols[3].rjust(widths[3])])

    lines = [f"{model._get_name()} summary for input [-1, {', '.join(map(str, input_size))}]",
             "=" * line_width, fmt(headers), "=" * line_width]
    lines += [fmt(b) for b in body]
    lines += ["=" * line_width,
              f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}",
              f"Params size: {param_bytes / 2 ** 20:.2f} MB",
              f"Total MACs per sample: {total_macs:,} ({_human(total_macs)}MAC); "
              f"FLOPs = 2 x MACs = {_human(2 * total_macs)}FLOP",
              "=" * line_width]
    text = ModelSummary("\n".join(lines))
    text.rows, text.total_params, text.trainable_params = rows, total, trainable
    text.total_macs, text.input_size = total_macs, input_size
    if print_fn is not None:
        print_fn(text)
    return text


# --------------------------------------------------------------------------- linear -> conv
def linear_to_conv2d(linear: Linear, input_shape: Sequence[int] | int) -> Conv2d:
    """The Conv2d equivalent to `linear` applied to a flattened (C, H, W) feature map.

    The Linear's weight (out, C·H·W) is reshaped to a kernel (out, C, H, W): flattening NCHW
    puts element (c, h, w) at index c·H·W + h·W + w, which is exactly the kernel's layout. On a
    (C, H, W) input the conv outputs (out, 1, 1), equal to the Linear's output; on a larger map
    (C, H', W') it slides the classifier over every H×W window at stride 1 in one pass and
    outputs (out, H'-H+1, W'-W+1) scores (seeds 000/001: a net trained on 224×224 whose last
    map is 7×7 gives 6×6 scores on 384×384). For a Linear after another converted one, pass
    `input_shape=(in_features, 1, 1)` (or just `in_features`) to get a 1×1 conv.
    The parameters are copied (the new Conv2d does not share memory with the Linear).
    """
    if not isinstance(linear, Linear):
        raise TypeError(f"linear_to_conv2d expects an nn.Linear, got {type(linear).__name__}")
    shape = (int(input_shape), 1, 1) if isinstance(input_shape, (int, np.integer)) \
        else tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        shape = (shape[0], 1, 1)
    if len(shape) != 3:
        raise ArgumentError(f"linear_to_conv2d: input_shape must be (C, H, W), got {tuple(input_shape)}")
    c, h, w = shape
    if c * h * w != linear.in_features:
        raise ShapeError(f"linear_to_conv2d: {linear._label()} takes {linear.in_features} features, "
                         f"but input_shape {shape} flattens to {c * h * w}")
    conv = Conv2d(c, linear.out_features, (h, w), bias=linear.bias is not None,
                  dtype=linear.weight.dtype)
    conv.weight._data[...] = linear.weight._data.reshape(linear.out_features, c, h, w)  # (out, C·H·W) -> (out, C, H, W)
    if linear.bias is not None:
        conv.bias._data[...] = linear.bias._data
    return conv


# ---------------------------------------------------------------------------------- gradients
def _grads(parameters: Any) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients in place so that their joint norm is at most `max_norm`; returns the
    norm before clipping (PyTorch's rule: coef = min(max_norm / (norm + 1e-6), 1))."""
    grads = _grads(parameters)
    if not grads:
        return Tensor._wrap(np.array(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(np.abs(g._data).max()) if g._data.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g._data.astype(np.float64)) ** norm_type)) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients "
                           f"is non-finite ({total}), so it cannot be clipped")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        np.multiply(g._data, coef, out=g._data)
    return Tensor._wrap(np.array(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: Any, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated (a copy, outside the graph)."""
    return Tensor._wrap(np.concatenate([p._data.reshape(-1) for p in parameters]))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters, in place."""
    data = vec._data if isinstance(vec, Tensor) else np.asarray(vec)
    offset = 0
    for p in parameters:
        n = p._data.size
        if offset + n > data.size:
            raise ShapeError(f"vector_to_parameters: the vector has {data.size} elements, fewer "
                             f"than the parameters need")
        p._data[...] = data[offset:offset + n].reshape(p.shape)
        p._version += 1
        offset += n
    if offset != data.size:
        raise ShapeError(f"vector_to_parameters: the vector has {data.size} elements, the "
                         f"parameters {offset}")
