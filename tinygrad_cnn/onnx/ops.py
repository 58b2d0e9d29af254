"""The op table: one converter per `Function`, from a recorded call to ONNX nodes.

A converter takes a `Call` (call.py) and returns the ONNX name of each output it produces (a
str for one output). It adds nodes with `c.g.op(...)` and constants with `c.g.const(...)`.
Where the ONNX op does not compute exactly what the Function does (average pooling's divisor
under ceil_mode, PyTorch's nearest-neighbour rule, batch-dependent reshapes), the converter
adds what makes it exact. `register(MyFunction)` adds a converter for a user's own Function.

    Function (ops/)                 ONNX
    Add Sub Mul Div Pow             Add Sub Mul Div Pow (Python numbers become constants)
    Maximum Minimum Where           Max Min Where
    Neg Exp Log Sqrt Abs Tanh       Neg Exp Log Sqrt Abs Tanh
    Sigmoid ReLU Clone Cast         Sigmoid Relu Identity Cast
    LeakyReLU ELU Clamp Hardtanh    LeakyRelu Elu Clip Clip
    Hardsigmoid Hardswish           HardSigmoid HardSwish
    SiLU GELU Softplus              x·Sigmoid(x); x·½(1 + Erf(x/√2)) or its tanh form; Softplus + Where
    Softmax LogSoftmax              Softmax LogSoftmax
    Reshape Permute Expand          Reshape Transpose Expand (sizes of dynamic axes read at run time)
    Index                           Slice Gather Unsqueeze (basic indexing, one integer array)
    Embedding                       Gather (the ids an integer model input)
    Pad GatherPad                   Pad (constant, reflect, edge); circular as Slice + Concat
    Cat Stack                       Concat; Unsqueeze + Concat
    MatMul Linear                   MatMul; Gemm (2-D) or MatMul + Add
    ConvNd ConvTransposeNd          Conv ConvTranspose (1-D, 2-D, 3-D; groups, dilation, 'same')
    MaxPool2d AvgPool2d             MaxPool AveragePool (+ Mul by the divisor correction)
    AdaptiveAvgPool2d               GlobalAveragePool, AveragePool, or MatMul by averaging matrices
    AdaptiveMaxPool2d               GlobalMaxPool or MaxPool (when the windows tile the input)
    Interpolate2d                   Resize (nearest: asymmetric/floor; bilinear: pytorch_half_pixel
                                    or align_corners)
    BatchNorm (eval)                BatchNormalization
    Standardize (layer/group norm)  ReduceMean Sub Mul Add Sqrt Div
    Sum Mean Amax Amin MaxDim Var   ReduceSum ReduceMean ReduceMax ReduceMin ReduceMax; Var expanded

Dropout in eval mode records nothing (it returns its input), so it needs no converter; a
Dropout recorded in training mode is an error, as are the losses, unfold/fold and IndexPut.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..ops import activation as A
from ..ops import conv as CV
from ..ops import elementwise as E
from ..ops import indexing as IX
from ..ops import linalg as L
from ..ops import movement as M
from ..ops import nonlinear as NL
from ..ops import norm as NM
from ..ops import pool as P
from ..ops import reduce as R
from ..ops import resample as RS
from .builder import onnx_dtype
from .call import Call

__all__ = ["CONVERTERS", "DYNAMIC_ARGS", "BROADCASTING", "register", "converter_for"]

Converter = Callable[[Call], "str | list[str]"]
CONVERTERS: dict[type, Converter] = {}

# Arguments whose values may follow a dynamic axis: the converter reads them from both traces.
DYNAMIC_ARGS: dict[type, set] = {M.Reshape: {1, "shape"}, M.Expand: {1, "shape"}}

# Ops whose ONNX counterpart broadcasts its operands (numpy rules): an Expand feeding only
# these is left out (see export.py).
BROADCASTING = (E.Add, E.Sub, E.Mul, E.Div, E.Pow, E.Maximum, E.Minimum, E.Where)

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def converts(*functions: type) -> Callable[[Converter], Converter]:
    def deco(f: Converter) -> Converter:
        for fn in functions:
            CONVERTERS[fn] = f
        return f
    return deco


def register(function: type) -> Callable[[Converter], Converter]:
    """Decorator: `@tc.onnx.register(MyOp)` def convert(c): return c.g.op("Relu", c.inputs[0]).
    The converter gets a Call (tinygrad_cnn/onnx/call.py) and returns its output name(s)."""
    return converts(function)


def converter_for(fn: type) -> Converter | None:
    if fn in CONVERTERS:
        return CONVERTERS[fn]
    # any Separable2d whose forward is the separable product: y = A_H · x · A_Wᵀ exactly
    if isinstance(fn, type) and issubclass(fn, RS.Separable2d) and fn.forward == RS.Separable2d.forward:
        return separable
    return None


# ------------------------------------------------------------------------ elementwise
_BINARY = {E.Add: "Add", E.Sub: "Sub", E.Mul: "Mul", E.Div: "Div", E.Pow: "Pow",
           E.Maximum: "Max", E.Minimum: "Min"}
_UNARY = {E.Neg: "Neg", E.Exp: "Exp", E.Log: "Log", E.Sqrt: "Sqrt", E.Abs: "Abs", E.Tanh: "Tanh",
          E.Sigmoid: "Sigmoid", E.ReLU: "Relu", E.Clone: "Identity", NL.Hardswish: "HardSwish"}


@converts(*_BINARY)
def binary(c: Call) -> str:
    return c.g.op(_BINARY[c.fn], c.operand(0), c.operand(1))


@converts(*_UNARY)
def unary(c: Call) -> str:
    return c.g.op(_UNARY[c.fn], c.inputs[0])


@converts(E.LeakyReLU)
def leaky_relu(c: Call) -> str:
    return c.g.op("LeakyRelu", c.inputs[0], alpha=float(c.arg(1, "negative_slope", 0.01)))


@converts(NL.ELU)
def elu(c: Call) -> str:
    return c.g.op("Elu", c.inputs[0], alpha=float(c.kwargs["alpha"]))


def _clip(c: Call, lo: float | None, hi: float | None) -> str:
    g = c.g
    return g.op("Clip", c.inputs[0], None if lo is None else g.const(lo, c.dtype),
                None if hi is None else g.const(hi, c.dtype))


@converts(E.Clamp)
def clamp(c: Call) -> str:
    return _clip(c, c.arg(1, "min"), c.arg(2, "max"))


@converts(NL.Hardtanh)
def hardtanh(c: Call) -> str:
    return _clip(c, c.kwargs["min_val"], c.kwargs["max_val"])


@converts(NL.Hardsigmoid)
def hardsigmoid(c: Call) -> str:
    return c.g.op("HardSigmoid", c.inputs[0], alpha=1.0 / 6.0, beta=0.5)


@converts(E.Where)
def where(c: Call) -> str:
    return c.g.op("Where", c.operand(0), c.operand(1), c.operand(2))


@converts(E.Cast)
def cast(c: Call) -> str:
    return c.g.op("Cast", c.inputs[0], to=onnx_dtype(c.arg(1, "dtype")))


@converts(NL.SiLU)
def silu(c: Call) -> str:
    x = c.inputs[0]
    return c.g.op("Mul", x, c.g.op("Sigmoid", x))


@converts(NL.GELU)
def gelu(c: Call) -> str:
    g, x, k = c.g, c.inputs[0], lambda v: c.g.const(v, c.dtype)
    if c.kwargs["approximate"] == "tanh":     # ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
        cube = g.op("Mul", g.op("Mul", x, x), x)
        inner = g.op("Mul", g.op("Add", x, g.op("Mul", cube, k(0.044715))), k(math.sqrt(2 / math.pi)))
        return g.op("Mul", g.op("Mul", x, k(0.5)), g.op("Add", g.op("Tanh", inner), k(1.0)))
    cdf = g.op("Mul", g.op("Add", g.op("Erf", g.op("Div", x, k(math.sqrt(2.0)))), k(1.0)), k(0.5))
    return g.op("Mul", x, cdf)


@converts(NL.Softplus)
def softplus(c: Call) -> str:
    g, x = c.g, c.inputs[0]
    beta, threshold = c.kwargs["beta"], c.kwargs["threshold"]
    bx = g.op("Mul", x, g.const(beta, c.dtype))
    soft = g.op("Div", g.op("Softplus", bx), g.const(beta, c.dtype))
    return g.op("Where", g.op("Greater", bx, g.const(threshold, c.dtype)), x, soft)


@converts(A.Softmax)
def softmax(c: Call) -> str:
    return c.g.op("Softmax", c.inputs[0], axis=int(c.kwargs["dim"]))


@converts(A.LogSoftmax)
def log_softmax(c: Call) -> str:
    return c.g.op("LogSoftmax", c.inputs[0], axis=int(c.kwargs["dim"]))


@converts(A.Dropout)
def dropout(c: Call) -> str:
    raise c.fail(f"dropout in training mode (p={c.kwargs['p']}) is random; export runs the model "
                 f"in eval mode, so this dropout was called with training=True explicitly "
                 f"(F.dropout(x, p, training=self.training) follows model.eval())")


# --------------------------------------------------------------------------- movement
def _shape_entries(c: Call, a: tuple, b: tuple, keep: Callable[[int], bool], keep_value: int,
                   infer: bool) -> list:
    """A target shape as ints and run-time sizes: entries equal in both traces are constants;
    an entry that is the input's own (dynamic) size at that place becomes `keep_value` (0 for
    Reshape's copy, 1 for Expand's broadcast); one remaining entry can be inferred (-1) when
    `infer`; others are read from the graph inputs (GraphBuilder.dim)."""
    entries: list = []
    loose = []
    for j, (sa, sb) in enumerate(zip(a, b)):
        if sa == sb:
            entries.append(int(sa))
        elif keep(j):
            entries.append(keep_value)
        else:
            entries.append(None)
            loose.append(j)
    if infer and len(loose) == 1:
        entries[loose[0]] = -1
        return entries
    for j in loose:
        entries[j] = c.g.dim(int(a[j]), int(b[j]))
        if entries[j] is None:
            raise c.fail(f"the target size {tuple(a)} has an entry (dim {j}) that follows a dynamic "
                         f"axis in a way the export cannot express (sizes {a[j]} and {b[j]} in the two "
                         f"traces, and no graph-input axis with those sizes)")
    return entries


@converts(M.Reshape)
def reshape(c: Call) -> str:
    a, b = tuple(c.arg(1, "shape")), tuple(c.arg_b(1, "shape"))
    ia, ib = c.in_shape(0), c.in_shape_b(0)
    entries = _shape_entries(c, a, b, lambda j: j < len(ia) and ia[j] == a[j] and ib[j] == b[j], 0, True)
    return c.g.op("Reshape", c.inputs[0], c.g.shape_tensor(entries))


@converts(M.Expand)
def expand(c: Call) -> str:
    if c.elide:
        return c.inputs[0]
    a, b = tuple(c.arg(1, "shape")), tuple(c.arg_b(1, "shape"))
    ia, ib = c.in_shape(0), c.in_shape_b(0)
    lead = len(a) - len(ia)
    entries = _shape_entries(c, a, b, lambda j: j >= lead and ia[j - lead] == a[j] and ib[j - lead] == b[j],
                             1, False)
    return c.g.op("Expand", c.inputs[0], c.g.shape_tensor(entries))


@converts(M.Permute)
def permute(c: Call) -> str:
    return c.g.op("Transpose", c.inputs[0], perm=[int(d) for d in c.arg(1, "dims")])


@converts(M.Index)
def index(c: Call) -> str:
    """Basic indexing (ints, slices, None, ...) and at most one integer (or 1-D bool) array,
    item by item: Gather for ints and arrays, Slice for slices, Unsqueeze for None."""
    g = c.g
    idx = c.arg(1, "index")
    items = list(idx) if isinstance(idx, tuple) else [idx]
    items = [np.nonzero(i)[0] if isinstance(i, np.ndarray) and i.dtype == bool and i.ndim == 1 else i
             for i in items]
    arrays = [i for i in items if isinstance(i, np.ndarray)]
    if len(arrays) > 1 or any(a.dtype.kind not in "iu" for a in arrays):
        raise c.fail("indexing with several arrays (or an N-d boolean mask) is not exported; "
                     "index with one integer array and slices")
    ndim = len(c.in_shape(0))
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    x, axis = c.inputs[0], 0
    for item in items:
        if item is Ellipsis:
            axis += ndim - used
        elif item is None:
            x = g.op("Unsqueeze", x, g.ints([axis]))
            axis += 1
        elif isinstance(item, slice):
            if item != slice(None):
                step = 1 if item.step is None else int(item.step)
                start = item.start if item.start is not None else (0 if step > 0 else INT64_MAX)
                stop = item.stop if item.stop is not None else (INT64_MAX if step > 0 else INT64_MIN)
                x = g.op("Slice", x, g.ints([start]), g.ints([stop]), g.ints([axis]), g.ints([step]))
            axis += 1
        elif isinstance(item, (int, np.integer)):
            x = g.op("Gather", x, g.const(np.int64(item)), axis=axis)      # a scalar index drops the axis
        elif isinstance(item, np.ndarray):
            x = g.op("Gather", x, g.const(item.astype(np.int64)), axis=axis)
            axis += item.ndim
        else:
            raise c.fail(f"index item {item!r} of type {type(item).__name__} is not supported")
    return x if x != c.inputs[0] else g.op("Identity", x)


@converts(IX.Embedding)
def embedding(c: Call) -> str:
    """Rows of the weight picked by integer ids: the ids must be a model input (an integer
    graph input); ids computed inside the model are not recorded."""
    if c.inputs[1] is None:
        raise c.fail("the indices are not a model input (ids computed inside forward are not "
                     "recorded); pass the integer ids as an input of the model")
    return c.g.op("Gather", c.inputs[0], c.inputs[1], axis=0)


def _pads(pad_width) -> list[int]:
    """((lo, hi) per dim) -> ONNX's [lo_0, lo_1, ..., hi_0, hi_1, ...]."""
    return [int(lo) for lo, _ in pad_width] + [int(hi) for _, hi in pad_width]


@converts(M.Pad)
def pad(c: Call) -> str:
    value = c.arg(2, "value", 0.0)
    return c.g.op("Pad", c.inputs[0], c.g.ints(_pads(c.arg(1, "pad_width"))), c.g.const(value, c.dtype),
                  mode="constant")


@converts(M.GatherPad)
def gather_pad(c: Call) -> str:
    g, width, mode = c.g, c.kwargs["pad_width"], c.kwargs["mode"]
    if mode in ("reflect", "replicate"):
        return g.op("Pad", c.inputs[0], g.ints(_pads(width)), mode="reflect" if mode == "reflect" else "edge")
    x = c.inputs[0]                                   # circular: wrap around, one axis at a time
    for axis, (lo, hi) in enumerate(width):
        parts = []
        if lo:
            parts.append(g.op("Slice", x, g.ints([-lo]), g.ints([INT64_MAX]), g.ints([axis])))
        parts.append(x)
        if hi:
            parts.append(g.op("Slice", x, g.ints([0]), g.ints([hi]), g.ints([axis])))
        if len(parts) > 1:
            x = g.op("Concat", *parts, axis=axis)
    return x


@converts(M.Cat)
def cat(c: Call) -> str:
    return c.g.op("Concat", *c.inputs, axis=int(c.kwargs.get("axis", 0)))


@converts(M.Stack)
def stack(c: Call) -> str:
    axis = int(c.kwargs.get("axis", 0))
    return c.g.op("Concat", *(c.g.op("Unsqueeze", x, c.g.ints([axis])) for x in c.inputs), axis=axis)


# ------------------------------------------------------------------------------ linear
@converts(L.MatMul)
def matmul(c: Call) -> str:
    return c.g.op("MatMul", c.inputs[0], c.inputs[1])


@converts(L.Linear)
def linear(c: Call) -> str:
    g, (x, w), b = c.g, c.inputs[:2], c.inputs[2] if len(c.inputs) > 2 else None
    if len(c.in_shape(0)) == 2:
        return g.op("Gemm", x, w, b, transB=1)
    y = g.op("MatMul", x, g.op("Transpose", w, perm=[1, 0]))
    return g.op("Add", y, b) if b is not None else y


# -------------------------------------------------------------------------- convolution
@converts(CV.ConvNd)
def conv(c: Call) -> str:
    kw = c.kwargs
    x, w = c.inputs[:2]
    b = c.inputs[2] if len(c.inputs) > 2 else None
    return c.g.op("Conv", x, w, b, kernel_shape=list(c.in_shape(1)[2:]), strides=list(kw["stride"]),
                  pads=_pads(kw["padding"]), dilations=list(kw["dilation"]), group=int(kw["groups"]))


@converts(CV.ConvTransposeNd)
def conv_transpose(c: Call) -> str:
    kw = c.kwargs
    x, w = c.inputs[:2]
    b = c.inputs[2] if len(c.inputs) > 2 else None
    kernel, size = c.in_shape(1)[2:], c.in_shape(0)[2:]
    # ONNX: out = S(H - 1) + output_padding + D(K - 1) + 1 - pad_lo - pad_hi; solve for output_padding
    extra = [o - (s * (h - 1) + d * (k - 1) + 1 - lo - hi)
             for o, s, h, d, k, (lo, hi) in zip(kw["out"], kw["stride"], size, kw["dilation"], kernel, kw["padding"])]
    return c.g.op("ConvTranspose", x, w, b, kernel_shape=list(kernel), strides=list(kw["stride"]),
                  pads=_pads(kw["padding"]), dilations=list(kw["dilation"]), group=int(kw["groups"]),
                  output_padding=extra if any(extra) else None)


# ------------------------------------------------------------------------------ pooling
def _pool_pads(c: Call) -> list[int]:
    """The padding before the input, and after it what every window needs (ceil_mode windows
    included: ops/pool.py pads that much), so no ONNX window is clipped."""
    (ph, pw), (ah, aw) = c.kwargs["padding"], c.ctx.shapes[1]
    return [int(ph), int(pw), int(ah), int(aw)]


@converts(P.MaxPool2d)
def max_pool(c: Call) -> str:
    kw = c.kwargs
    return c.g.op("MaxPool", c.inputs[0], kernel_shape=list(kw["kernel"]), strides=list(kw["stride"]),
                  pads=_pool_pads(c), dilations=list(kw["dilation"]))


@converts(P.AvgPool2d)
def avg_pool(c: Call) -> str:
    """AveragePool over the padded windows divides by KH*KW; ops/pool.py's divisor (ceil_mode
    overhang, count_include_pad=False, divisor_override) differs per window, so multiply by
    KH*KW / divisor where it is not 1."""
    kw, g = c.kwargs, c.g
    kernel = list(kw["kernel"])
    y = g.op("AveragePool", c.inputs[0], kernel_shape=kernel, strides=list(kw["stride"]),
             pads=_pool_pads(c), count_include_pad=1)
    correction = kernel[0] * kernel[1] / np.asarray(c.ctx.div, np.float64)
    if np.allclose(correction, 1.0, rtol=0, atol=1e-12):
        return y
    return g.op("Mul", y, g.const(correction, c.dtype, hint="avg_pool_divisor"))


def _static_spatial(c: Call, op: str) -> tuple[int, int]:
    size = c.in_shape(0)[2:]
    if size != c.in_shape_b(0)[2:]:
        raise c.fail(f"{op} over a dynamic spatial axis is not exported (its windows depend on the "
                     f"input size); keep H and W static in dynamic_axes")
    return size


def _tiling_kernel(c: Call, op: str) -> tuple[int, int] | None:
    """The kernel (= stride) of an adaptive pool whose windows tile the input, else None."""
    (h, w), (oh, ow) = _static_spatial(c, op), c.kwargs["out"]
    return (h // oh, w // ow) if h % oh == 0 and w % ow == 0 else None


def _adaptive(c: Call, kind: str, otherwise: Converter) -> str:
    """Global{kind}Pool for a 1×1 output, {kind}Pool with kernel = stride where the windows
    tile the input, else `otherwise`."""
    if tuple(c.kwargs["out"]) == (1, 1):
        return c.g.op(f"Global{kind}Pool", c.inputs[0])
    k = _tiling_kernel(c, c.name)
    if k is None:
        return otherwise(c)
    return c.g.op(f"{kind}Pool", c.inputs[0], kernel_shape=list(k), strides=list(k))


@converts(P.AdaptiveAvgPool2d)
def adaptive_avg_pool(c: Call) -> str:
    return _adaptive(c, "Average", separable)


def _overlapping_max_windows(c: Call) -> str:
    raise c.fail(f"adaptive max pooling to {tuple(c.kwargs['out'])} from {c.in_shape(0)[2:]} has "
                 f"overlapping windows, which ONNX has no op for; use a size that divides the input")


@converts(P.AdaptiveMaxPool2d)
def adaptive_max_pool(c: Call) -> str:
    return _adaptive(c, "Max", _overlapping_max_windows)


def separable(c: Call) -> str:
    """y = A_H · x · A_Wᵀ with the op's own matrices (ops/resample.py), as two MatMuls."""
    _static_spatial(c, c.name)
    a_h, a_w = c.ctx.mats
    g = c.g
    rows = g.op("MatMul", g.const(a_h, c.dtype, hint="rows"), c.inputs[0])       # (OH, H) @ (N, C, H, W)
    return g.op("MatMul", rows, g.const(np.ascontiguousarray(a_w.T), c.dtype, hint="cols"))  # @ (W, OW)


@converts(RS.Interpolate2d)
def interpolate(c: Call) -> str:
    """Resize. PyTorch's nearest is floor(i·in/out): 'asymmetric' + 'floor'. Bilinear without
    align_corners is 'pytorch_half_pixel' (source clamped at 0 like PyTorch). With a
    scale_factor whose output size is not exactly in·factor, the scale itself goes to Resize
    (PyTorch uses it for the coordinates); otherwise the output size does."""
    kw, g = c.kwargs, c.g
    mode, out, scales = kw["mode"], tuple(kw["out"]), kw["scales"]
    size = c.in_shape(0)[2:]
    factors = [None if s is None else 1.0 / s for s in scales]
    exact = all(f is None or o == h * f for f, o, h in zip(factors, out, size))
    attrs = ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
             if mode == "nearest" else
             {"mode": "linear", "coordinate_transformation_mode":
              "align_corners" if kw["align_corners"] else "pytorch_half_pixel"})
    if not exact:
        return g.op("Resize", c.inputs[0], None, g.const([1.0, 1.0] + factors, np.float32), **attrs)
    lead = g.op("Slice", g.op("Shape", c.inputs[0]), g.ints([0]), g.ints([2]))    # (N, C) at run time
    sizes = g.op("Concat", lead, g.ints(out), axis=0)
    return g.op("Resize", c.inputs[0], None, None, sizes, **attrs)


# ------------------------------------------------------------------------ normalisation
@converts(NM.BatchNorm)
def batch_norm(c: Call) -> str:
    g, kw = c.g, c.kwargs
    if kw["training"]:
        raise c.fail("batch norm in training mode uses the batch's statistics; export runs the "
                     "model in eval mode, so this call passed training=True explicitly")
    channels = c.in_shape(0)[1]
    x, w, b, mean, var = (c.inputs + [None] * 5)[:5]
    w = w if w is not None else g.const(np.ones(channels), c.dtype)
    b = b if b is not None else g.const(np.zeros(channels), c.dtype)
    to = onnx_dtype(c.dtype)
    mean, var = (v if c.ctx.inputs[i].dtype == c.dtype else g.op("Cast", v, to=to)
                 for i, v in ((3, mean), (4, var)))
    return g.op("BatchNormalization", x, w, b, mean, var, epsilon=float(kw["eps"]))


def _standardize(c: Call, x: str, axes, eps: float) -> str:
    g = c.g
    centred = g.op("Sub", x, g.reduce("ReduceMean", x, axes, True))
    var = g.reduce("ReduceMean", g.op("Mul", centred, centred), axes, True)
    return g.op("Div", centred, g.op("Sqrt", g.op("Add", var, g.const(eps, c.dtype))))


@converts(NM.Standardize)
def standardize(c: Call) -> str:
    return _standardize(c, c.inputs[0], c.kwargs["axes"], float(c.kwargs["eps"]))


# --------------------------------------------------------------------------- reductions
_REDUCE = {R.Sum: "ReduceSum", R.Mean: "ReduceMean", R.Amax: "ReduceMax", R.Amin: "ReduceMin"}


@converts(*_REDUCE)
def reduce(c: Call) -> str:
    axes, keepdims = tuple(c.arg(1, "axes")), bool(c.arg(2, "keepdims", False))
    if not axes:                                   # nothing reduced (0-d input); ONNX would reduce all
        return c.g.op("Identity", c.inputs[0])
    return c.g.reduce(_REDUCE[c.fn], c.inputs[0], axes, keepdims)


@converts(R.MaxDim)
def max_dim(c: Call) -> list[str]:
    """The values only: the indices are not differentiable, so ops reading them saw a constant
    (which the export rejects when it depends on the input)."""
    op = "ReduceMax" if c.arg(3, "largest", True) else "ReduceMin"
    return [c.g.reduce(op, c.inputs[0], [int(c.arg(1, "axis"))], bool(c.arg(2, "keepdims", False)))]


@converts(R.Var)
def var(c: Call) -> str:
    g = c.g
    axes, keepdims = tuple(c.arg(1, "axes")), bool(c.arg(3, "keepdims", False))
    if c.other is not None and c.other.denominator != c.ctx.denominator:
        raise c.fail("a variance over a dynamic axis is not exported (its n - correction changes)")
    x = c.inputs[0]
    centred = g.op("Sub", x, g.reduce("ReduceMean", x, axes, True))
    squares = g.reduce("ReduceSum", g.op("Mul", centred, centred), axes, keepdims)
    return g.op("Div", squares, g.const(c.ctx.denominator, c.dtype))
