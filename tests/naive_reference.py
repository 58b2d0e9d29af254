"""Naive references for the fuzz tests: every op written again with explicit Python loops over
output elements, the way the seeds write them (seed 004's Conv/Pool/Softmax, seed 000's and
003's loop convolutions), and sharing no code with tinygrad_cnn.

They are slow on purpose and only used on small inputs. Conventions follow PyTorch: NCHW,
weights (C_out, C_in/groups, KH, KW), pooling/conv output sizes
floor((H + 2P - D(K-1) - 1) / S) + 1, max-pool padding is -inf and ties go to the first
maximum in row-major window order, cross-entropy weights and ignore_index as torch.

Each function takes and returns NumPy float64 arrays (indices: int64).
"""
from __future__ import annotations

import itertools
import math

import numpy as np


def _idx(shape):
    """Every multi-index of `shape`, row-major (a 0-d shape yields the single index ())."""
    return itertools.product(*(range(n) for n in shape))


# ------------------------------------------------------------------------------ elementwise
def _sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


UNARY = {
    "neg": lambda v: -v,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
    "tanh": math.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda v: v if v > 0 else 0.0,
}

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "maximum": max,
    "minimum": min,
}


def unary(name, a, **kw):
    a = np.asarray(a, np.float64)
    out = np.empty(a.shape)
    for i in _idx(a.shape):
        v = float(a[i])
        if name == "clamp":
            lo, hi = kw.get("min"), kw.get("max")
            if lo is not None and v < lo:
                v = lo
            if hi is not None and v > hi:
                v = hi
            out[i] = v
        elif name == "leaky_relu":
            out[i] = v if v > 0 else v * kw["negative_slope"]
        else:
            out[i] = UNARY[name](v)
    return out


def broadcast_shape(*shapes):
    nd = max(len(s) for s in shapes)
    out = []
    for k in range(nd):
        sizes = [s[len(s) - nd + k] for s in shapes if len(s) - nd + k >= 0]
        big = [n for n in sizes if n != 1]
        if len(set(big)) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
        out.append(big[0] if big else 1)
    return tuple(out)


def _bcast_index(i, shape):
    """The element of an array of `shape` that broadcasts to output index i."""
    lead = len(i) - len(shape)
    return tuple(0 if n == 1 else i[lead + k] for k, n in enumerate(shape))


def binary(name, a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    shape = broadcast_shape(a.shape, b.shape)
    out = np.empty(shape)
    for i in _idx(shape):
        out[i] = BINARY[name](float(a[_bcast_index(i, a.shape)]), float(b[_bcast_index(i, b.shape)]))
    return out


def where(cond, a, b):
    cond, a, b = np.asarray(cond), np.asarray(a, np.float64), np.asarray(b, np.float64)
    shape = broadcast_shape(cond.shape, a.shape, b.shape)
    out = np.empty(shape)
    for i in _idx(shape):
        src = a if cond[_bcast_index(i, cond.shape)] else b
        out[i] = src[_bcast_index(i, src.shape)]
    return out


# -------------------------------------------------------------------------------- reductions
def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted(d % ndim for d in dims)) if ndim else ()


def reduce(name, a, dim=None, keepdim=False, correction=1):
    """sum, mean, var, amax, amin over `dim` (None, an int or a tuple)."""
    a = np.asarray(a, np.float64)
    axes = _axes(dim, a.ndim)
    kept_shape = tuple(1 if k in axes else n for k, n in enumerate(a.shape))
    out = np.empty(kept_shape)
    for o in _idx(kept_shape):
        vals = []
        for r in _idx([a.shape[k] for k in axes]):
            full = list(o)
            for k, v in zip(axes, r):
                full[k] = v
            vals.append(float(a[tuple(full)]))
        if name == "sum":
            out[o] = sum(vals)
        elif name == "mean":
            out[o] = sum(vals) / len(vals)
        elif name == "var":
            m = sum(vals) / len(vals)
            out[o] = sum((v - m) ** 2 for v in vals) / (len(vals) - correction)
        elif name == "amax":
            out[o] = max(vals)
        elif name == "amin":
            out[o] = min(vals)
    if keepdim:
        return out
    return out.reshape(tuple(n for k, n in enumerate(a.shape) if k not in axes))


def max_dim(a, dim, keepdim=False, largest=True):
    """(values, indices) along one dim; the first extreme wins ties."""
    a = np.asarray(a, np.float64)
    d = dim % a.ndim
    kept_shape = tuple(1 if k == d else n for k, n in enumerate(a.shape))
    values, indices = np.empty(kept_shape), np.empty(kept_shape, np.int64)
    for o in _idx(kept_shape):
        best, where_ = None, 0
        for j in range(a.shape[d]):
            full = list(o)
            full[d] = j
            v = float(a[tuple(full)])
            if best is None or (v > best if largest else v < best):
                best, where_ = v, j
        values[o], indices[o] = best, where_
    if not keepdim:
        values, indices = values.reshape(values.shape[:d] + values.shape[d + 1:]), \
            indices.reshape(indices.shape[:d] + indices.shape[d + 1:])
    return values, indices


# ---------------------------------------------------------------------------------- movement
def reshape(a, shape):
    a = np.asarray(a, np.float64)
    flat = [float(a[i]) for i in _idx(a.shape)]
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        shape = tuple(len(flat) // known if s == -1 else s for s in shape)
    out = np.empty(shape)
    for k, i in enumerate(_idx(shape)):
        out[i] = flat[k]
    return out


def permute(a, dims):
    a = np.asarray(a, np.float64)
    dims = tuple(d % a.ndim for d in dims)
    shape = tuple(a.shape[d] for d in dims)
    out = np.empty(shape)
    for i in _idx(shape):
        src = [0] * a.ndim
        for k, d in enumerate(dims):
            src[d] = i[k]
        out[i] = a[tuple(src)]
    return out


def expand(a, shape):
    a = np.asarray(a, np.float64)
    lead = len(shape) - a.ndim
    shape = tuple(a.shape[k - lead] if s == -1 else s for k, s in enumerate(shape))
    out = np.empty(shape)
    for i in _idx(shape):
        out[i] = a[_bcast_index(i, a.shape)]
    return out


def basic_index(a, index):
    """a[index] for an index tuple of ints and slices (one entry per leading dim)."""
    a = np.asarray(a, np.float64)
    per_dim = []
    for k, n in enumerate(a.shape):
        it = index[k] if k < len(index) else slice(None)
        if isinstance(it, slice):
            per_dim.append(list(range(*it.indices(n))))
        else:
            per_dim.append(it % n)           # an int: the dim disappears
    kept = [p for p in per_dim if isinstance(p, list)]
    out = np.empty(tuple(len(p) for p in kept))
    for i in _idx(out.shape):
        src, j = [], 0
        for p in per_dim:
            if isinstance(p, list):
                src.append(p[i[j]])
                j += 1
            else:
                src.append(p)
        out[i] = a[tuple(src)]
    return out


def set_basic_index(a, index, value):
    """A copy of a with a[index] = value (value broadcast to the indexed shape), by loops."""
    a = np.array(a, np.float64)
    per_dim = []
    for k, n in enumerate(a.shape):
        it = index[k] if k < len(index) else slice(None)
        per_dim.append(list(range(*it.indices(n))) if isinstance(it, slice) else it % n)
    kept = tuple(len(p) for p in per_dim if isinstance(p, list))
    value = np.asarray(value, np.float64)
    for i in _idx(kept):
        dst, j = [], 0
        for p in per_dim:
            if isinstance(p, list):
                dst.append(p[i[j]])
                j += 1
            else:
                dst.append(p)
        a[tuple(dst)] = value[_bcast_index(i, value.shape)]
    return a


def take(a, dim, indices):
    """a indexed by an integer list along `dim` (advanced indexing on one axis)."""
    a = np.asarray(a, np.float64)
    d = dim % a.ndim
    shape = a.shape[:d] + (len(indices),) + a.shape[d + 1:]
    out = np.empty(shape)
    for i in _idx(shape):
        src = list(i)
        src[d] = indices[i[d]] % a.shape[d]
        out[i] = a[tuple(src)]
    return out


def pad(a, pads, value=0.0):
    """F.pad: `pads` = (left, right) pairs starting from the last dim."""
    a = np.asarray(a, np.float64)
    before, after = [0] * a.ndim, [0] * a.ndim
    for k in range(len(pads) // 2):
        before[a.ndim - 1 - k], after[a.ndim - 1 - k] = pads[2 * k], pads[2 * k + 1]
    shape = tuple(n + b + e for n, b, e in zip(a.shape, before, after))
    out = np.empty(shape)
    for i in _idx(shape):
        src = tuple(v - b for v, b in zip(i, before))
        inside = all(0 <= s < n for s, n in zip(src, a.shape))
        out[i] = a[src] if inside else value
    return out


def cat(arrays, dim):
    arrays = [np.asarray(x, np.float64) for x in arrays]
    d = dim % arrays[0].ndim
    shape = list(arrays[0].shape)
    shape[d] = sum(x.shape[d] for x in arrays)
    out = np.empty(shape)
    for i in _idx(shape):
        j = i[d]
        for x in arrays:
            if j < x.shape[d]:
                out[i] = x[i[:d] + (j,) + i[d + 1:]]
                break
            j -= x.shape[d]
    return out


def stack(arrays, dim):
    arrays = [np.asarray(x, np.float64) for x in arrays]
    d = dim % (arrays[0].ndim + 1)
    shape = arrays[0].shape[:d] + (len(arrays),) + arrays[0].shape[d:]
    out = np.empty(shape)
    for i in _idx(shape):
        out[i] = arrays[i[d]][i[:d] + i[d + 1:]]
    return out


# ------------------------------------------------------------------------------------ linalg
def matmul(a, b):
    """NumPy/PyTorch matmul semantics, batch dims broadcast, 1-D operands promoted."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    batch = broadcast_shape(a2.shape[:-2], b2.shape[:-2])
    m, k, n = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    out = np.empty(batch + (m, n))
    for bi in _idx(batch):
        ai, bj = _bcast_index(bi, a2.shape[:-2]), _bcast_index(bi, b2.shape[:-2])
        for i in range(m):
            for j in range(n):
                out[bi + (i, j)] = sum(a2[ai + (i, t)] * b2[bj + (t, j)] for t in range(k))
    if a.ndim == 1:
        out = out.reshape(out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = out.reshape(out.shape[:-1])
    return out


def linear(x, w, b=None):
    """y[..., o] = Σ_i x[..., i] w[o, i] + b[o]   (seed 004's Linear.forward)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    out = np.empty(x.shape[:-1] + (w.shape[0],))
    for i in _idx(x.shape[:-1]):
        for o in range(w.shape[0]):
            s = sum(x[i + (k,)] * w[o, k] for k in range(w.shape[1]))
            out[i + (o,)] = s + (b[o] if b is not None else 0.0)
    return out


# ------------------------------------------------------------------------------- convolution
def conv_out_size(h, k, s, lo, hi, d):
    return (h + lo + hi - d * (k - 1) - 1) // s + 1


def conv2d(x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """The direct convolution: six nested loops over (n, co, oh, ow) and (ci, kh, kw), reading
    zero outside the input instead of padding it (seed 000's conv, with groups and dilation)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n_, c, h, wd = x.shape
    co, cg, kh_, kw_ = w.shape
    (sh, sw), ((ph, _), (pw, _)), (dh, dw) = stride, padding, dilation
    oh_ = conv_out_size(h, kh_, sh, *padding[0], dh)
    ow_ = conv_out_size(wd, kw_, sw, *padding[1], dw)
    cog = co // groups
    out = np.zeros((n_, co, oh_, ow_))
    for n in range(n_):
        for o in range(co):
            g = o // cog
            for oh in range(oh_):
                for ow in range(ow_):
                    acc = b[o] if b is not None else 0.0
                    for ci in range(cg):
                        for kh in range(kh_):
                            for kw in range(kw_):
                                r, q = oh * sh - ph + kh * dh, ow * sw - pw + kw * dw
                                if 0 <= r < h and 0 <= q < wd:
                                    acc += x[n, g * cg + ci, r, q] * w[o, ci, kh, kw]
                    out[n, o, oh, ow] = acc
    return out


def conv_nd(x, w, b=None, stride=None, padding=None, dilation=None, groups=1):
    """The same loop for any number of spatial dims (conv1d, conv3d)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    d = x.ndim - 2
    stride, dilation = stride or (1,) * d, dilation or (1,) * d
    padding = padding or ((0, 0),) * d
    co, cg, kernel = w.shape[0], w.shape[1], w.shape[2:]
    spatial = x.shape[2:]
    out_sp = tuple(conv_out_size(h, k, s, lo, hi, dl)
                   for h, k, s, (lo, hi), dl in zip(spatial, kernel, stride, padding, dilation))
    cog = co // groups
    out = np.zeros((x.shape[0], co) + out_sp)
    for n in range(x.shape[0]):
        for o in range(co):
            g = o // cog
            for pos in _idx(out_sp):
                acc = b[o] if b is not None else 0.0
                for ci in range(cg):
                    for off in _idx(kernel):
                        src = tuple(p * s - lo + k * dl for p, s, (lo, _), k, dl
                                    in zip(pos, stride, padding, off, dilation))
                        if all(0 <= v < h for v, h in zip(src, spatial)):
                            acc += x[(n, g * cg + ci) + src] * w[(o, ci) + off]
                out[(n, o) + pos] = acc
    return out


def _window_entries(n_, c_, size, kernel, dilation, padding, stride):
    """Every (n, c, column-matrix row, column, input row, input col) that im2col copies,
    element by element: row (c, kh, kw), column (oh, ow), input (oh*SH - PH + kh*DH, ...)."""
    h, w = size
    oh_ = conv_out_size(h, kernel[0], stride[0], padding[0], padding[0], dilation[0])
    ow_ = conv_out_size(w, kernel[1], stride[1], padding[1], padding[1], dilation[1])
    for n in range(n_):
        for c in range(c_):
            for kh in range(kernel[0]):
                for kw in range(kernel[1]):
                    row = (c * kernel[0] + kh) * kernel[1] + kw
                    for oh in range(oh_):
                        for ow in range(ow_):
                            r = oh * stride[0] - padding[0] + kh * dilation[0]
                            q = ow * stride[1] - padding[1] + kw * dilation[1]
                            if 0 <= r < h and 0 <= q < w:
                                yield n, c, row, oh * ow_ + ow, r, q


def unfold(x, kernel, dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
    """col[n, (c, kh, kw), (oh, ow)] = x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] (0 outside)."""
    x = np.asarray(x, np.float64)
    n_, c_, h, w = x.shape
    oh_ = conv_out_size(h, kernel[0], stride[0], padding[0], padding[0], dilation[0])
    ow_ = conv_out_size(w, kernel[1], stride[1], padding[1], padding[1], dilation[1])
    out = np.zeros((n_, c_ * kernel[0] * kernel[1], oh_ * ow_))
    for n, c, row, col, r, q in _window_entries(n_, c_, (h, w), kernel, dilation, padding, stride):
        out[n, row, col] = x[n, c, r, q]
    return out


def fold(cols, output_size, kernel, dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
    """The adjoint of unfold: every column entry is added back where unfold took it."""
    cols = np.asarray(cols, np.float64)
    n_, k_, _ = cols.shape
    c_ = k_ // (kernel[0] * kernel[1])
    out = np.zeros((n_, c_) + tuple(output_size))
    for n, c, row, col, r, q in _window_entries(n_, c_, output_size, kernel, dilation, padding, stride):
        out[n, c, r, q] += cols[n, row, col]
    return out


# ----------------------------------------------------------------------------------- pooling
def pool_out_size(h, k, s, p, d, ceil_mode):
    span = h + 2 * p - d * (k - 1) - 1
    o = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= h + p:      # the last window must start inside the input
        o -= 1
    return o


def max_pool2d(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """(values, flat indices h*W + w): loops over every window; padding is -inf so only input
    elements compete, and a later element must be strictly larger to win (first max on ties).
    A window with no input element (possible with dilation) gives -inf and index -1."""
    x = np.asarray(x, np.float64)
    n_, c_, h, w = x.shape
    oh_ = pool_out_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow_ = pool_out_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    out = np.empty((n_, c_, oh_, ow_))
    idx = np.empty((n_, c_, oh_, ow_), np.int64)
    for n in range(n_):
        for c in range(c_):
            for oh in range(oh_):
                for ow in range(ow_):
                    best, where_ = -math.inf, None
                    for kh in range(kernel[0]):
                        for kw in range(kernel[1]):
                            r = oh * stride[0] - padding[0] + kh * dilation[0]
                            q = ow * stride[1] - padding[1] + kw * dilation[1]
                            if 0 <= r < h and 0 <= q < w:
                                v = x[n, c, r, q]
                                if where_ is None or v > best:
                                    best, where_ = v, r * w + q
                    # a dilated window can miss the input entirely: -inf (as PyTorch), index -1
                    out[n, c, oh, ow], idx[n, c, oh, ow] = best, -1 if where_ is None else where_
    return out, idx


def avg_pool2d(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Window sums over the input, divided as PyTorch does: by the window clipped to the padded
    input (count_include_pad), by the number of input elements in it, or by divisor_override."""
    x = np.asarray(x, np.float64)
    n_, c_, h, w = x.shape
    oh_ = pool_out_size(h, kernel[0], stride[0], padding[0], 1, ceil_mode)
    ow_ = pool_out_size(w, kernel[1], stride[1], padding[1], 1, ceil_mode)
    out = np.empty((n_, c_, oh_, ow_))
    for n in range(n_):
        for c in range(c_):
            for oh in range(oh_):
                for ow in range(ow_):
                    r0, q0 = oh * stride[0] - padding[0], ow * stride[1] - padding[1]
                    r1, q1 = min(r0 + kernel[0], h + padding[0]), min(q0 + kernel[1], w + padding[1])
                    padded_count = (r1 - r0) * (q1 - q0)
                    total, inside = 0.0, 0
                    for r in range(max(r0, 0), min(r1, h)):
                        for q in range(max(q0, 0), min(q1, w)):
                            total += x[n, c, r, q]
                            inside += 1
                    if divisor_override is not None:
                        div = divisor_override
                    else:
                        div = padded_count if count_include_pad else inside
                    out[n, c, oh, ow] = total / div
    return out


# ------------------------------------------------------------------- softmax, norms, losses
def _lines(shape, dim):
    """For each position of the other dims, the list of indices along `dim`."""
    d = dim % len(shape)
    rest = shape[:d] + shape[d + 1:]
    for r in _idx(rest):
        yield [r[:d] + (j,) + r[d:] for j in range(shape[d])]


def softmax(x, dim):
    """seed 004's Softmax.predict, along any dim: subtract the max, exponentiate, normalise."""
    x = np.asarray(x, np.float64)
    out = np.empty(x.shape)
    for line in _lines(x.shape, dim):
        m = max(x[i] for i in line)
        e = [math.exp(x[i] - m) for i in line]
        s = sum(e)
        for i, v in zip(line, e):
            out[i] = v / s
    return out


def log_softmax(x, dim):
    x = np.asarray(x, np.float64)
    out = np.empty(x.shape)
    for line in _lines(x.shape, dim):
        m = max(x[i] for i in line)
        lse = m + math.log(sum(math.exp(x[i] - m) for i in line))
        for i in line:
            out[i] = x[i] - lse
    return out


def _reduce(losses, reduction, denominator):
    if reduction == "none":
        return losses
    total = float(losses.sum()) if losses.size else 0.0
    if reduction == "sum":
        return np.asarray(total)
    return np.asarray(total / denominator if denominator else math.nan)


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """seed 004's Softmax.cal_loss (loss -= Σ log(softmax) · label, / batch), with PyTorch's
    class weights, ignore_index, label smoothing and K-d inputs (N, C, d1, ...)."""
    x = np.asarray(x, np.float64)
    target = np.asarray(target)
    c_ = x.shape[1]
    w = np.ones(c_) if weight is None else np.asarray(weight, np.float64)
    eps = label_smoothing
    logp = log_softmax(x, 1)
    rest = (x.shape[0],) + x.shape[2:]
    losses = np.zeros(rest)
    if target.dtype.kind == "f":                     # class probabilities
        for i in _idx(rest):
            s = 0.0
            for c in range(c_):
                q = (1 - eps) * target[i[:1] + (c,) + i[1:]] + eps / c_
                s -= w[c] * q * logp[i[:1] + (c,) + i[1:]]
            losses[i] = s
        return _reduce(losses, reduction, losses.size)
    denominator = 0.0
    for i in _idx(rest):
        t = int(target[i])
        if t == ignore_index:
            continue
        nll = -w[t] * logp[i[:1] + (t,) + i[1:]]
        smooth = -sum(w[c] * logp[i[:1] + (c,) + i[1:]] for c in range(c_))
        losses[i] = (1 - eps) * nll + eps / c_ * smooth
        denominator += w[t]
    return _reduce(losses, reduction, denominator)


def nll_loss(x, target, weight=None, ignore_index=-100, reduction="mean"):
    x = np.asarray(x, np.float64)
    target = np.asarray(target)
    w = np.ones(x.shape[1]) if weight is None else np.asarray(weight, np.float64)
    rest = (x.shape[0],) + x.shape[2:]
    losses, denominator = np.zeros(rest), 0.0
    for i in _idx(rest):
        t = int(target[i])
        if t != ignore_index:
            losses[i] = -w[t] * x[i[:1] + (t,) + i[1:]]
            denominator += w[t]
    return _reduce(losses, reduction, denominator)


def mse_loss(x, y, reduction="mean"):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    losses = np.empty(x.shape)
    for i in _idx(x.shape):
        losses[i] = (x[i] - y[i]) ** 2
    return _reduce(losses, reduction, losses.size)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Per channel c over the N*H*W values: (x - μ)/sqrt(σ² + eps) * γ + β. Returns
    (y, new_running_mean, new_running_var); running stats use the unbiased batch variance."""
    x = np.asarray(x, np.float64)
    c_ = x.shape[1]
    y = np.empty(x.shape)
    rm = None if running_mean is None else np.array(running_mean, np.float64)
    rv = None if running_var is None else np.array(running_var, np.float64)
    for c in range(c_):
        pos = [i for i in _idx(x.shape) if i[1] == c]
        vals = [x[i] for i in pos]
        if training:
            m = sum(vals) / len(vals)
            v = sum((a - m) ** 2 for a in vals) / len(vals)
            if rm is not None:
                rm[c] = (1 - momentum) * rm[c] + momentum * m
            if rv is not None:
                rv[c] = (1 - momentum) * rv[c] + momentum * v * len(vals) / (len(vals) - 1)
        else:
            m, v = running_mean[c], running_var[c]
        for i in pos:
            z = (x[i] - m) / math.sqrt(v + eps)
            y[i] = z * (weight[c] if weight is not None else 1.0) + (bias[c] if bias is not None else 0.0)
    return y, rm, rv
