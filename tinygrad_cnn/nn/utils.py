"""Model inspection and surgery: `summary`, `linear_to_conv2d`, gradient clipping, flat vectors.

MACs. `summary` counts multiply-accumulates (one multiply plus one add) of the ops that ran:

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
from ..argcheck import check_sequence, check_callable, check_dtype, check_flag, check_number, check_shape, describe
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
    `rows` (list of dicts: name, type, depth, output_shape, params, macs, saved_bytes, calls),
    `total_params`, `trainable_params`, `total_macs` (for the whole input batch),
    `saved_bytes` (held for backward by the whole forward), `input_size` (list of shapes, batch
    dimension included), `batch_size`."""

    rows: list
    total_params: int
    trainable_params: int
    total_macs: int
    saved_bytes: int
    input_size: list
    batch_size: int

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    @property
    def macs_per_sample(self) -> float:
        return self.total_macs / max(self.batch_size, 1)


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f}"


def _shape_str(output: Any) -> str:
    outs = output if isinstance(output, (tuple, list)) else (output,)
    parts = [str(list(t.shape)) for t in outs if isinstance(t, Tensor)]
    return ", ".join(parts) if parts else "-"


def _sample_rank(model: Module) -> int | None:
    """The rank of one sample the model takes (C, H, W) -> 3, from `model.input_size` or its
    first conv; None when that cannot be told (e.g. a model that starts with a Linear)."""
    size = getattr(model, "input_size", None)
    if isinstance(size, (tuple, list)) and size:
        return len(size)
    for m in model.modules():
        if isinstance(m, _ConvNd):
            return 1 + len(m.kernel_size)
    return None


def _input_shapes(model: Module, input_size: Any) -> tuple[list[tuple], str | None]:
    """input_size as a list of shapes with the batch dimension, and a note when the old form
    (one sample's shape, no batch dimension) was given and read as batch 1."""
    if isinstance(input_size, (int, np.integer)):
        input_size = (input_size,)
    if not isinstance(input_size, (tuple, list)) or not input_size:
        raise ArgumentError(f"summary: input_size must be a shape like (1, 1, 28, 28) (batch "
                            f"dimension first) or a list of shapes, got {input_size!r}")
    several = all(isinstance(s, (tuple, list)) for s in input_size)
    shapes = [tuple(s) for s in input_size] if several else [tuple(input_size)]
    for s in shapes:
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in s):
            raise ArgumentError(f"summary: input_size entries must be non-negative ints, got {s!r}")
    shapes = [tuple(int(d) for d in s) for s in shapes]
    note = None
    rank = _sample_rank(model)
    if not several and rank is not None and len(shapes[0]) == rank:
        note = (f"note: input_size {shapes[0]} has no batch dimension; read as "
                f"{(1, *shapes[0])}. Pass the batch dimension first, as torchinfo does.")
        shapes = [(1, *shapes[0])]
    return shapes, note


def summary(model: Module, input_size: Any = None, *, input_data: Any = None, depth: int = 3,
            dtype: Any = np.float32, mode: str = "eval",
            print_fn: Callable[[str], Any] | None = print) -> ModelSummary:
    """Print and return a table of what one forward pass actually ran, module by module:
    output shape, parameters, MACs and the bytes the recorded ops keep for backward.

    `input_size` is the input's shape WITH the batch dimension, as in torchinfo: (1, 1, 28, 28);
    a list of shapes for a model with several inputs. The old form without the batch dimension
    ((1, 28, 28) for LeNet5) is still accepted and read as batch 1, with a note in the table.
    `input_data`: the input tensor(s) instead (then `input_size` is not needed).
    The model runs once on zeros (or `input_data`) with gradients recorded, in eval mode
    (`mode="train"` for training mode; running stats and the random generator are restored
    afterwards); its hooks and training flags are left as they were.

    Numbers come from the recorded graph, so functional calls inside a module's forward
    (`F.conv2d(x, self.w)`) count like layers. A row stands for one call of a module at most
    `depth` levels deep (the model itself is depth 0); deeper calls fold into their ancestor at
    that depth. Params, MACs and saved bytes of a row are those not shown in a deeper row, so
    each column sums to its total. A module called twice gets two rows, its parameters counted
    at the first. MACs are for the whole batch (`macs_per_sample` divides); saved bytes count
    each memory block once (views count as their base), parameters not included (they are in
    "Params size"). `print_fn=None` returns the table
    without printing.
    """
    from .graph_stats import assign_ops, base_array, op_macs, record_calls, saved_nbytes

    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ArgumentError(f"summary: depth must be an int >= 0, got {depth!r}")
    if mode not in ("eval", "train"):
        raise ArgumentError(f"summary: mode must be 'eval' or 'train', got {mode!r}")
    note = None
    if input_data is not None:
        inputs = list(input_data) if isinstance(input_data, (tuple, list)) else [input_data]
        inputs = [x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x)) for x in inputs]
    elif input_size is not None:
        shapes, note = _input_shapes(model, input_size)
        inputs = [Tensor._wrap(np.zeros(s, dtype=dtype)) for s in shapes]
    else:
        raise ArgumentError("summary: pass input_size (e.g. (1, 1, 28, 28)) or input_data")
    shapes = [tuple(x.shape) for x in inputs]

    calls = record_calls(model, inputs, mode)
    shown = [c for c in calls if c.depth <= depth]
    assign_ops(shown)

    seen_params: set[int] = set()
    # parameters are counted in "Params size", not again as saved memory
    seen_blocks: set[int] = {id(base_array(p.numpy())) for p in model.parameters()}
    rows: list[dict] = []
    for c in shown:
        collapsed = c.depth == depth
        params = 0
        for p in c.module.parameters(recurse=collapsed):
            if id(p) not in seen_params:
                seen_params.add(id(p))
                params += p.numel()
        first_call = not any(o.module is c.module for o in shown[:shown.index(c)])
        rows.append(dict(name=c.name or c.module._get_name(), type=c.module._get_name(),
                         depth=c.depth, output_shape=_shape_str(c.output), params=params,
                         macs=sum(op_macs(op) for op in c.ops),
                         saved_bytes=saved_nbytes(c.ops, seen_blocks),
                         first_call=first_call))
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total_macs = sum(r["macs"] for r in rows)
    saved_total = sum(r["saved_bytes"] for r in rows)
    param_bytes = sum(p.numpy().nbytes for p in params)
    batch = shapes[0][0] if shapes and shapes[0] else 1

    headers = ("Layer (type)", "Output shape", "Param #", "MACs", "Saved for backward")
    body = []
    for r in rows:
        label = "  " * r["depth"] + (f"{r['name']} ({r['type']})" if r["depth"] else r["type"])
        param_text = f"{r['params']:,}" if r["first_call"] or r["params"] else "(recursive)"
        body.append((label, r["output_shape"], param_text, f"{r['macs']:,}",
                     _fmt_size(r["saved_bytes"])))
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(headers)]
    line_width = sum(widths) + 3 * (len(widths) - 1)

    def fmt(cols: Sequence[str]) -> str:
        return "   ".join([cols[0].ljust(widths[0]), cols[1].ljust(widths[1])]
                          + [c.rjust(w) for c, w in zip(cols[2:], widths[2:])])

    inputs_text = ", ".join(str(list(s)) for s in shapes)
    lines = [f"{model._get_name()} summary for input {inputs_text} ({mode} mode, depth {depth})"]
    if note:
        lines.append(note)
    lines += ["=" * line_width, fmt(headers), "=" * line_width]
    lines += [fmt(b) for b in body]
    per_sample = f" = {_human(total_macs / batch)}MAC per sample" if batch > 1 else ""
    lines += ["=" * line_width,
              f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}",
              f"Params size: {param_bytes / 2 ** 20:.2f} MB",
              f"Total MACs: {total_macs:,} ({_human(total_macs)}MAC) for batch {batch}{per_sample}; "
              f"FLOPs = 2 x MACs = {_human(2 * total_macs)}FLOP",
              f"Saved for backward: {_fmt_size(saved_total)} (measured: the arrays the recorded "
              f"ops hold, each once, parameters not counted again)",
              "=" * line_width]
    text = ModelSummary("\n".join(lines))
    text.rows, text.total_params, text.trainable_params = rows, total, trainable
    text.total_macs, text.saved_bytes, text.input_size, text.batch_size = \
        total_macs, saved_total, shapes, batch
    if print_fn is not None:
        print_fn(text)
    return text


def _fmt_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}"
    return f"{n} B"


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
    shape = check_shape(input_shape, "input_shape", "linear_to_conv2d")
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
def _tensors(parameters: Any, op: str) -> list[Tensor]:
    """A Tensor or an iterable of Tensors (parameters) as a list; anything else is an error."""
    if isinstance(parameters, Tensor):
        return [parameters]
    params = check_sequence(parameters, "parameters", op, "a Tensor or an iterable of Tensors")
    for p in params:
        if not isinstance(p, Tensor):
            raise ArgumentError(f"{op}: parameters must be Tensors, got an element {describe(p)}")
    return params


def _grads(parameters: Any, op: str) -> list[Tensor]:
    return [p.grad for p in _tensors(parameters, op) if p.grad is not None]


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients in place so that their joint norm is at most `max_norm`; returns the
    norm before clipping (PyTorch's rule: coef = min(max_norm / (norm + 1e-6), 1))."""
    grads = _grads(parameters, "clip_grad_norm_")
    max_norm = check_number(max_norm, "max_norm", "clip_grad_norm_")
    norm_type = check_number(norm_type, "norm_type", "clip_grad_norm_")
    error_if_nonfinite = check_flag(error_if_nonfinite, "error_if_nonfinite", "clip_grad_norm_")
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
    grads = _grads(parameters, "clip_grad_value_")
    clip_value = check_number(clip_value, "clip_value", "clip_grad_value_")
    for g in grads:
        np.clip(g.numpy(), -clip_value, clip_value, out=g.numpy())


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated (a copy, outside the graph)."""
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        raise ArgumentError("parameters_to_vector: got no parameters")
    return Tensor._wrap(np.concatenate([p.numpy().reshape(-1) for p in params]))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters, in place."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise ArgumentError(f"vector_to_parameters: vec must be a 1-D Tensor, got {describe(vec)}")
    data = vec.numpy()
    offset = 0
    for p in _tensors(parameters, "vector_to_parameters"):
        n = p.numpy().size
        if offset + n > data.size:
            raise ShapeError(f"vector_to_parameters: the vector has {data.size} elements, fewer "
                             f"than the parameters need")
        p._data[...] = data[offset:offset + n].reshape(p.shape)
        p._version += 1
        offset += n
    if offset != data.size:
        raise ShapeError(f"vector_to_parameters: the vector has {data.size} elements, the "
                         f"parameters {offset}")
