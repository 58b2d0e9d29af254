"""Ops that move data without arithmetic: reshape, permute, expand (broadcasting), indexing,
padding, concatenation. `Expand` is the one op whose backward sums gradients back."""
from __future__ import annotations

import numpy as np

from ..autograd import Function


class Reshape(Function):
    """z = a viewed with another shape (also view/flatten/squeeze/unsqueeze);  dz/da = reshape back."""

    @staticmethod
    def view(a, shape):
        return a.reshape(shape)

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.reshape(ctx.in_shape), None


class Permute(Function):
    """z = a with axes reordered by `dims` (also transpose/.T);  dz/da = the inverse permutation."""

    @staticmethod
    def view(a, dims):
        return np.transpose(a, dims)

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return np.transpose(a, dims)

    @staticmethod
    def backward(ctx, grad_output):
        return np.transpose(grad_output, np.argsort(ctx.dims)), None


class Expand(Function):
    """z = a broadcast to `shape`;  dz/da = the gradient summed over every broadcast axis.

    This is the only place in the framework where gradients are summed back to a smaller shape.
    """

    @staticmethod
    def view(a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad_output):
        in_shape = ctx.in_shape
        lead = grad_output.ndim - len(in_shape)
        # (leading new axes) + (axes where the input had size 1 and the output does not)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(in_shape) if n == 1 and grad_output.shape[lead + i] != 1)
        grad = grad_output.sum(axis=axes, keepdims=True) if axes else grad_output
        return grad.reshape(in_shape), None


def _is_basic_index(index: object) -> bool:
    """True for NumPy basic indexing (ints, slices, None, Ellipsis), which never repeats an
    element. A bare index (x[0], x[1:3], x[array]) is one item, not a sequence to iterate:
    iterating an integer array would see its np.integer elements and call it basic."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


class Index(Function):
    """z = a[index];  dz/da = zeros with the gradient scattered back; repeated integer-array
    indices accumulate (np.add.at), as each use of an element adds its gradient."""

    @staticmethod
    def view(a, index):
        return a[index]

    @staticmethod
    def forward(ctx, a, index):
        ctx.in_shape, ctx.index = a.shape, index
        out = a[index]
        return out if isinstance(out, np.ndarray) else np.asarray(out)

    @staticmethod
    def backward(ctx, grad_output):
        # zeros of grad_output's kind (an array, or a Tensor under create_graph)
        grad = np.zeros_like(grad_output, shape=ctx.in_shape)
        if _is_basic_index(ctx.index):
            grad[ctx.index] = grad_output           # basic slices never repeat an element
        else:
            np.add.at(grad, ctx.index, grad_output)
        return grad, None


class IndexAdd(Function):
    """z = a with v added at `index` (np.add.at: repeated indices accumulate) — the scatter
    that Index's backward does, as an op of its own so that it is differentiable;
    dz/da = 1, dz/dv = the gradient gathered at `index` (an Index)."""

    @staticmethod
    def forward(ctx, a, values, index):
        ctx.index = index
        out = a.copy()
        np.add.at(out, index, values)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        need_a, need_v = ctx.needs_input_grad[:2]
        return (grad_output if need_a else None), (grad_output[ctx.index] if need_v else None), None


class IndexPut(Function):
    """z = a with z[index] = v (out-of-place form of `a[index] = v`; v already broadcast to the
    indexed shape);  dz/da = 1 outside the written positions, 0 inside;  dz/dv = the gradient
    read at the written positions."""

    @staticmethod
    def forward(ctx, a, values, index):
        ctx.index = index
        out = a.copy()
        out[index] = values
        return out

    @staticmethod
    def backward(ctx, grad_output):
        need_a, need_v = ctx.needs_input_grad[:2]
        grad_a = grad_v = None
        if need_a:
            grad_a = grad_output.copy()
            grad_a[ctx.index] = 0
        if need_v:
            grad_v = grad_output[ctx.index]
            if not _is_basic_index(ctx.index):
                # a repeated integer index is written several times and the last write wins:
                # only that write's value reaches the output, so only it gets a gradient
                ids = np.arange(int(np.prod(grad_v.shape))).reshape(grad_v.shape)
                owner = np.full(grad_output.shape, -1)
                owner[ctx.index] = ids
                grad_v = grad_v * (owner[ctx.index] == ids)
        return grad_a, grad_v, None


def replay_view(array: np.ndarray, replay: tuple) -> np.ndarray:
    """The same view of `array` that `replay` ((view op, args), ...) made of its base."""
    for fn, args in replay:
        array = fn.view(array, *args)
    return array


class CopySlices(Function):
    """z = base with the region a view selects replaced by `src` — what an in-place write
    through a view (`y[0:2].mul_(3)`, `x.view(-1)[k] = v`) does to the base. `replay` re-derives
    the view from the base. dz/dbase = 1 outside the region, 0 inside; dz/dsrc = the gradient
    read through the view.

    forward does not copy: the write already happened in the base's memory, which the output
    shares; only the graph edge is new (the base takes this op as its grad_fn)."""

    @staticmethod
    def forward(ctx, base, src, replay):
        ctx.replay = replay
        return base

    @staticmethod
    def backward(ctx, grad_output):
        need_base, need_src = ctx.needs_input_grad[:2]
        grad_base = grad_src = None
        if need_base:
            grad_base = grad_output.copy()
            replay_view(grad_base, ctx.replay)[...] = 0
        if need_src:
            grad_src = replay_view(grad_output, ctx.replay)
        return grad_base, grad_src, None


class Pad(Function):
    """z = a with constant borders (`pad_width` as for np.pad);  dz/da = the interior of the gradient."""

    @staticmethod
    def forward(ctx, a, pad_width, value=0.0):
        ctx.pad_width = pad_width
        return np.pad(a, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad_output):
        interior = tuple(slice(lo, n - hi) for (lo, hi), n in zip(ctx.pad_width, grad_output.shape))
        return grad_output[interior], None


class GatherPad(Function):
    """z = a padded by copies of its own elements (mode 'reflect', 'replicate' or 'circular',
    np.pad's 'reflect', 'edge', 'wrap'): along each padded axis z = take(a, idx), with idx =
    np.pad(arange(n), (lo, hi), mode) the source index of every output position.
    dz/da: each gradient entry is added back to its source, dL/da[i] = Σ_{j: idx[j] = i} g[j],
    axis by axis in reverse order."""

    @staticmethod
    def forward(ctx, a, *, pad_width, mode):
        numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        ctx.gathers = []
        for axis, (lo, hi) in enumerate(pad_width):
            if lo or hi:
                idx = np.pad(np.arange(a.shape[axis]), (lo, hi), mode=numpy_mode)
                ctx.gathers.append((axis, idx, a.shape[axis]))
                a = np.take(a, idx, axis=axis)
        return a

    @staticmethod
    def backward(ctx, grad_output):
        g = grad_output
        for axis, idx, size in reversed(ctx.gathers):
            moved = np.moveaxis(g, axis, 0)                       # the padded axis first
            out = np.zeros_like(moved, shape=(size,) + moved.shape[1:])
            np.add.at(out, idx, moved)                            # repeated sources accumulate
            g = np.moveaxis(out, 0, axis)
        return g


class Cat(Function):
    """z = concatenate(a_1, …, a_k) along `axis`;  dz/da_i = the i-th block of the gradient."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad_output):
        return tuple(np.split(grad_output, ctx.splits, axis=ctx.axis))


class Stack(Function):
    """z = stack(a_1, …, a_k) along a new `axis`;  dz/da_i = the i-th slice of the gradient."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad_output):
        return tuple(np.moveaxis(grad_output, ctx.axis, 0))
