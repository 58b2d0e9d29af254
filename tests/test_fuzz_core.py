"""Fuzzing the core ops (ops/elementwise.py, reduce.py, movement.py, linalg.py; issue 6 item 4).

Three properties per op family, on Hypothesis-drawn shapes (0-d and empty included) and
arguments:
  (a) the forward matches a naive loop reference (tests/naive_reference.py), in float64 and
      float32 (the dtype is kept);
  (b) the gradients pass tc.gradcheck in float64 (inputs drawn away from kinks and ties);
  (c) invalid arguments raise the documented error type, and arbitrary "garbage" arguments
      either work or raise a documented error from tinygrad_cnn's own code — never a NumPy
      exception from deep inside NumPy, never a hang (tests/fuzz_support.py).

The default suite runs the short profile of tests/conftest.py (20 derandomized examples per
property); TINYGRAD_CNN_FUZZ=N runs N random examples per property (the long campaign in
docs/safety.md).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

import naive_reference as ref
import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from fuzz_support import (assert_close, distinct, expect_error, garbage_st, gradcheck, kinkfree,
                          leaf, nonzero, normal, positive, returns_or_documented_error, rng_st,
                          time_limit)
from tinygrad_cnn.errors import ArgumentError, DTypeError, ShapeError

dtypes = st.sampled_from([np.float64, np.float32])


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


# ------------------------------------------------------------------------------ elementwise
def _clamp_bounds():
    lo = st.sampled_from([None, -1.0, -0.5, 0.0])
    hi = st.sampled_from([None, 0.25, 0.5, 1.0])
    return st.tuples(lo, hi).filter(lambda b: b != (None, None))


UNARY = {   # name -> (call, domain)
    "neg": (lambda t, kw: -t, normal),
    "exp": (lambda t, kw: t.exp(), normal),
    "log": (lambda t, kw: t.log(), positive),
    "sqrt": (lambda t, kw: t.sqrt(), positive),
    "abs": (lambda t, kw: t.abs(), kinkfree),
    "tanh": (lambda t, kw: F.tanh(t), lambda r, s: normal(r, s, 3.0)),
    "sigmoid": (lambda t, kw: F.sigmoid(t), lambda r, s: normal(r, s, 30.0)),
    "relu": (lambda t, kw: F.relu(t), kinkfree),
    "leaky_relu": (lambda t, kw: F.leaky_relu(t, kw["negative_slope"]), kinkfree),
    "clamp": (lambda t, kw: t.clamp(kw["min"], kw["max"]), None),
}


@given(name=st.sampled_from(sorted(UNARY)), shape=shapes(), dtype=dtypes, rng=rng_st(),
       bounds=_clamp_bounds(), slope=st.floats(0.0, 0.5))
def test_unary_ops_match_loops_and_gradcheck(name, shape, dtype, rng, bounds, slope):
    call, domain = UNARY[name]
    kw = {"min": bounds[0], "max": bounds[1], "negative_slope": slope}
    a = kinkfree(rng, shape, [b for b in bounds if b is not None]) if name == "clamp" else domain(rng, shape)
    with time_limit():
        out = call(tc.tensor(a.astype(dtype)), kw)
    assert out.dtype == dtype, f"{name} changed the dtype {np.dtype(dtype)} to {out.dtype}"
    assert_close(out, ref.unary(name, a.astype(dtype), **kw), dtype, name)
    gradcheck(lambda t: call(t, kw), (leaf(a),))


BINARY = {  # name -> (call, domain of a, domain of b)
    "add": (lambda a, b: a + b, normal, normal),
    "sub": (lambda a, b: a - b, normal, normal),
    "mul": (lambda a, b: a * b, normal, normal),
    "div": (lambda a, b: a / b, normal, nonzero),
    "pow": (lambda a, b: a ** b, positive, normal),
    "maximum": (lambda a, b: tc.maximum(a, b) if isinstance(a, tc.Tensor) else tc.maximum(b, a), None, None),
    "minimum": (lambda a, b: tc.minimum(a, b) if isinstance(a, tc.Tensor) else tc.minimum(b, a), None, None),
}


def _grid(rng, shape, lo, hi):
    """(k + u) / 4 with u in [lo, hi]: two grids with disjoint u ranges never tie."""
    return (rng.integers(-8, 8, shape) + rng.uniform(lo, hi, shape)) / 4


@given(name=st.sampled_from(sorted(BINARY)), dtype=dtypes, rng=rng_st(),
       shapes_=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4),
       scalar=st.sampled_from([None, "left", "right"]))
def test_binary_ops_broadcast_match_loops_and_gradcheck(name, dtype, rng, shapes_, scalar):
    call, dom_a, dom_b = BINARY[name]
    sa, sb = shapes_.input_shapes
    if dom_a is None:                                     # maximum/minimum: tie-free grids
        a, b = _grid(rng, sa, 0.2, 0.4), _grid(rng, sb, 0.6, 0.8)
    else:
        a, b = dom_a(rng, sa), dom_b(rng, sb)
    if scalar == "left":
        a = float(a.reshape(-1)[0]) if a.size else 1.5
    elif scalar == "right":
        b = float(b.reshape(-1)[0]) if b.size else 1.5
    ta = a if scalar == "left" else tc.tensor(np.asarray(a, dtype))
    tb = b if scalar == "right" else tc.tensor(np.asarray(b, dtype))
    if scalar == "left" and name in ("maximum", "minimum"):
        ta, tb = tb, ta                                   # tc.maximum takes the tensor first
        a, b = b, a
    with time_limit():
        out = call(ta, tb)
    assert out.dtype == dtype, f"{name}: {np.dtype(dtype)} operands gave {out.dtype}"
    expected = ref.binary(name, np.asarray(a, dtype) if not isinstance(a, float) else a,
                          np.asarray(b, dtype) if not isinstance(b, float) else b)
    assert_close(out, expected, dtype, name)
    if scalar is None:
        gradcheck(call, (leaf(a), leaf(b)))
    elif isinstance(a, float):
        gradcheck(lambda t: call(a, t) if name not in ("maximum", "minimum") else call(t, a), (leaf(b),))
    else:
        gradcheck(lambda t: call(t, b), (leaf(a),))


@given(rng=rng_st(), dtype=dtypes,
       shapes_=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, min_side=0, max_side=4))
def test_where_matches_loops_and_gradcheck(rng, dtype, shapes_):
    sc, sa, sb = shapes_.input_shapes
    cond, a, b = rng.random(sc) > 0.5, normal(rng, sa), normal(rng, sb)
    with time_limit():
        out = tc.where(tc.tensor(cond), tc.tensor(a.astype(dtype)), tc.tensor(b.astype(dtype)))
    assert out.dtype == dtype
    assert_close(out, ref.where(cond, a.astype(dtype), b.astype(dtype)), dtype, "where")
    gradcheck(lambda x, y: tc.where(tc.tensor(cond), x, y), (leaf(a), leaf(b)))


# -------------------------------------------------------------------------------- reductions
@st.composite
def dims_for(draw, ndim, allow_none=True):
    options = [st.none()] if allow_none else []
    if ndim:
        one = st.integers(-ndim, ndim - 1)
        options += [one, st.lists(one, min_size=1, max_size=ndim, unique_by=lambda d: d % ndim).map(tuple)]
    return draw(st.one_of(options)) if options else None


@given(data=st.data(), name=st.sampled_from(["sum", "mean", "var", "amax", "amin"]), dtype=dtypes,
       rng=rng_st(), keepdim=st.booleans(), correction=st.sampled_from([0, 1]))
def test_reductions_match_loops_and_gradcheck(data, name, dtype, rng, keepdim, correction):
    shape = data.draw(shapes(min_side=0 if name == "sum" else 1), label="shape")
    dim = data.draw(dims_for(len(shape)), label="dim")
    count = int(np.prod([shape[d] for d in ref._axes(dim, len(shape))], dtype=np.int64))
    if name == "var":
        assume(count > correction)
    a = distinct(rng, shape) if name in ("amax", "amin") else normal(rng, shape)
    if name == "var":
        call = lambda t: t.var(dim, keepdim=keepdim, correction=correction)  # noqa: E731
    else:
        call = lambda t: getattr(t, name)(dim, keepdim=keepdim)  # noqa: E731
    with time_limit():
        out = call(tc.tensor(a.astype(dtype)))
    assert out.dtype == dtype
    assert_close(out, ref.reduce(name, a.astype(dtype), dim, keepdim, correction), dtype, name)
    gradcheck(call, (leaf(a),))


@given(data=st.data(), largest=st.booleans(), keepdim=st.booleans(), rng=rng_st())
def test_max_min_along_a_dim_return_values_and_first_indices(data, largest, keepdim, rng):
    shape = data.draw(shapes(min_dims=1, min_side=1), label="shape")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    a = distinct(rng, shape)
    if data.draw(st.booleans(), label="with ties"):
        a = np.round(a)                                 # ties: the first extreme wins (values only)
    call = (lambda t: t.max(dim, keepdim)) if largest else (lambda t: t.min(dim, keepdim))
    with time_limit():
        values, indices = call(tc.tensor(a))
    ref_values, ref_indices = ref.max_dim(a, dim, keepdim, largest)
    assert_close(values, ref_values, what="values")
    np.testing.assert_array_equal(indices.numpy(), ref_indices)
    assert indices.dtype == np.int64
    a = distinct(rng, shape)
    gradcheck(lambda t: call(t)[0], (leaf(a),))


# ---------------------------------------------------------------------------------- movement
@st.composite
def reshape_target(draw, shape):
    n = int(np.prod(shape, dtype=np.int64))
    target, rest = [], n
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, 5) if rest % d == 0] if rest else [0, 1, 2]
        d = draw(st.sampled_from(divisors))
        target.append(d)
        rest = rest // d if d else rest
    known = int(np.prod(target, dtype=np.int64))
    if n == 0 and known != 0:
        target.append(0)
    elif known and n // known != 1 or not target:
        target.append(n // known if known else 0)
    if n and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


@given(data=st.data(), rng=rng_st(), dtype=dtypes)
def test_reshape_permute_transpose_match_loops_and_gradcheck(data, rng, dtype):
    shape = data.draw(shapes(), label="shape")
    a = normal(rng, shape).astype(dtype)
    target = data.draw(reshape_target(shape), label="target")
    perm = data.draw(st.permutations(range(len(shape))), label="perm")
    perm = tuple(p - len(shape) if data.draw(st.booleans()) else p for p in perm)
    with time_limit():
        r = tc.tensor(a).reshape(*target) if target else tc.tensor(a).reshape(())
        p = tc.tensor(a).permute(*perm)
    assert r.dtype == p.dtype == dtype
    assert_close(r, ref.reshape(a, target), dtype, f"reshape{target}")
    assert_close(p, ref.permute(a, perm), dtype, f"permute{perm}")
    calls = [lambda t: t.reshape(*target) if target else t.reshape(()), lambda t: t.permute(*perm)]
    if len(shape) >= 2:
        d0, d1 = data.draw(st.integers(-len(shape), len(shape) - 1)), data.draw(st.integers(-len(shape), len(shape) - 1))
        order = list(range(len(shape)))
        order[d0 % len(shape)], order[d1 % len(shape)] = order[d1 % len(shape)], order[d0 % len(shape)]
        assert_close(tc.tensor(a).transpose(d0, d1), ref.permute(a, order), dtype, "transpose")
        calls.append(lambda t: t.transpose(d0, d1))
    for call in calls:
        gradcheck(call, (leaf(a),))


@given(data=st.data(), rng=rng_st(), dtype=dtypes)
def test_expand_squeeze_unsqueeze_flatten_match_loops_and_gradcheck(data, rng, dtype):
    shape = data.draw(shapes(max_side=3), label="shape")
    a = normal(rng, shape).astype(dtype)
    lead = data.draw(st.lists(st.integers(0, 3), max_size=2), label="new leading dims")
    target = tuple(lead) + tuple(data.draw(st.sampled_from([-1, 1, 2, 3])) if n == 1 else
                                 data.draw(st.sampled_from([-1, n])) for n in shape)
    with time_limit():
        e = tc.tensor(a).expand(*target)
    assert e.dtype == dtype
    assert_close(e, ref.expand(a, target), dtype, f"expand{target}")
    d = data.draw(st.integers(-len(shape) - 1, len(shape)), label="unsqueeze dim")
    u = tc.tensor(a).unsqueeze(d)
    assert_close(u, a.reshape(shape[:d % (len(shape) + 1)] + (1,) + shape[d % (len(shape) + 1):]), dtype)
    s = tc.tensor(a).squeeze()
    assert s.shape == tuple(n for n in shape if n != 1)
    f = tc.tensor(a).flatten()
    assert_close(f, ref.reshape(a, (-1,)) if a.size else a.reshape(-1), dtype, "flatten")
    for call in (lambda t: t.expand(*target), lambda t: t.unsqueeze(d), lambda t: t.squeeze(),
                 lambda t: t.flatten()):
        gradcheck(call, (leaf(a),))


@st.composite
def basic_index(draw, shape):
    items = []
    for n in shape[:draw(st.integers(0, len(shape)))]:
        if n and draw(st.booleans()):
            items.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
            items.append(slice(start, stop, step))
    return tuple(items)


@given(data=st.data(), rng=rng_st(), dtype=dtypes)
def test_indexing_and_setitem_match_loops_and_gradcheck(data, rng, dtype):
    shape = data.draw(shapes(min_dims=1, min_side=1), label="shape")
    a = normal(rng, shape).astype(dtype)
    index = data.draw(basic_index(shape), label="index")
    with time_limit():
        out = tc.tensor(a)[index]
    assert out.dtype == dtype
    expected = ref.basic_index(a, index)
    assert_close(out, expected, dtype, f"getitem {index}")
    gradcheck(lambda t: t[index], (leaf(a),))
    # advanced indexing along one dim, repeated and negative indices included
    dim = data.draw(st.integers(0, len(shape) - 1), label="take dim")
    idx = data.draw(st.lists(st.integers(-shape[dim], shape[dim] - 1), min_size=1, max_size=5), label="take")
    adv = (slice(None),) * dim + (np.array(idx),)
    assert_close(tc.tensor(a)[adv], ref.take(a, dim, idx), dtype, f"take {idx} on dim {dim}")
    gradcheck(lambda t: t[adv], (leaf(a),))
    # setitem with a broadcast value: out-of-place semantics through IndexPut
    keep = data.draw(st.integers(0, len(expected.shape)), label="value dims")    # broadcasts TO it
    vshape = tuple(1 if data.draw(st.booleans()) else n for n in expected.shape[len(expected.shape) - keep:])
    v = normal(rng, vshape)
    target = tc.tensor(a.copy())
    with time_limit():
        target[index] = tc.tensor(v.astype(dtype))
    assert_close(target, ref.set_basic_index(a, index, v.astype(dtype)), dtype, f"setitem {index}")

    def setitem(x, val):
        y = x * 1.0
        y[index] = val
        return y
    gradcheck(setitem, (leaf(a), leaf(v)))


@given(data=st.data(), rng=rng_st(), dtype=dtypes, value=st.sampled_from([0.0, -1.5, 2.0]))
def test_pad_cat_stack_match_loops_and_gradcheck(data, rng, dtype, value):
    shape = data.draw(shapes(min_dims=1), label="shape")
    a = normal(rng, shape).astype(dtype)
    pads = tuple(data.draw(st.lists(st.integers(0, 2), max_size=2 * len(shape)).filter(lambda p: len(p) % 2 == 0), label="pad"))
    with time_limit():
        out = F.pad(tc.tensor(a), pads, value=value)
    assert out.dtype == dtype
    assert_close(out, ref.pad(a, pads, value), dtype, f"pad {pads}")
    gradcheck(lambda t: F.pad(t, pads, value=value), (leaf(a),))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="cat dim")
    sizes = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3), label="cat sizes")
    parts = [normal(rng, shape[:dim % len(shape)] + (k,) + shape[dim % len(shape) + 1:]) for k in sizes]
    assert_close(tc.cat([tc.tensor(p.astype(dtype)) for p in parts], dim), ref.cat([p.astype(dtype) for p in parts], dim), dtype, "cat")
    gradcheck(lambda *ts: tc.cat(list(ts), dim), tuple(leaf(p) for p in parts))
    sdim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="stack dim")
    parts = [normal(rng, shape) for _ in sizes]
    assert_close(tc.stack([tc.tensor(p.astype(dtype)) for p in parts], sdim), ref.stack([p.astype(dtype) for p in parts], sdim), dtype, "stack")
    gradcheck(lambda *ts: tc.stack(list(ts), sdim), tuple(leaf(p) for p in parts))


@given(shape=shapes(), rng=rng_st(), src=dtypes, dst=dtypes)
def test_cast_and_clone_copy_values_and_pass_gradients_back_in_the_input_dtype(shape, rng, src, dst):
    a = normal(rng, shape).astype(src)
    x = tc.tensor(a, requires_grad=True)
    for out, expected in ((x.to(dst), a.astype(dst)), (x.clone(), a)):
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out.numpy(), expected)
        g = normal(rng, shape).astype(out.dtype)
        x.grad = None
        out.backward(g)
        assert x.grad.dtype == src
        np.testing.assert_array_equal(x.grad.numpy(), g.astype(src))
    assert x.clone().numpy() is not x.numpy()
    gradcheck(lambda t: t.clone() * t.to(np.float64), (leaf(a),))


INPLACE = {   # name -> (in-place call on y, its loop reference)
    "add_": (lambda y, v, lo, hi: y.add_(v), lambda a, v, lo, hi: a + v),
    "sub_": (lambda y, v, lo, hi: y.sub_(v, alpha=2), lambda a, v, lo, hi: a - 2 * v),
    "mul_": (lambda y, v, lo, hi: y.mul_(v), lambda a, v, lo, hi: a * v),
    "div_": (lambda y, v, lo, hi: y.div_(v + 3.0), lambda a, v, lo, hi: a / (v + 3.0)),
    "clamp_": (lambda y, v, lo, hi: y.clamp_(lo, hi), lambda a, v, lo, hi: np.clip(a, lo, hi)),
    "setitem": (lambda y, v, lo, hi: y.__setitem__((slice(None), 0), v[:, 0] * 2),
                lambda a, v, lo, hi: np.concatenate([(v[:, :1] * 2), a[:, 1:]], axis=1)),
    "iadd": (lambda y, v, lo, hi: y.__iadd__(v * v), lambda a, v, lo, hi: a + v * v),
}


@given(ops=st.lists(st.sampled_from(sorted(INPLACE)), min_size=1, max_size=4),
       rows=st.integers(1, 3), cols=st.integers(1, 3), rng=rng_st())
def test_inplace_op_sequences_match_loops_and_gradcheck(ops, rows, cols, rng):
    """A chain of in-place ops on a non-leaf (y = 1 * x; y.add_(v); y.clamp_(...); ...) gives the
    values of the out-of-place chain and exact gradients for x and v (version counters allow it:
    nothing saved is overwritten)."""
    a, v = normal(rng, (rows, cols)), normal(rng, (rows, cols))
    lo, hi = -1.5, 1.5

    def chain(x, w):
        y = x * 1.0
        for name in ops:
            INPLACE[name][0](y, w, lo, hi)
        return y
    expected = a
    for name in ops:
        expected = INPLACE[name][1](expected, v, lo, hi)
    assert_close(chain(tc.tensor(a), tc.tensor(v)), expected, what=f"in-place chain {ops}")
    # keep clamp's inputs away from its bounds for the gradient check: evaluate the chain's
    # intermediate values and skip the draw if one sits within 0.05 of +-1.5
    inter, cur = [], a
    for name in ops:
        if name == "clamp_":
            inter.append(cur)
        cur = INPLACE[name][1](cur, v, lo, hi)
    assume(all(np.abs(np.abs(t) - 1.5).min() > 0.05 for t in inter))
    gradcheck(chain, (leaf(a), leaf(v)))


# ------------------------------------------------------------------------------------ linalg
@st.composite
def matmul_shapes(draw):
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(0, 4)), draw(st.integers(1, 4))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
    ba, bb = batch.input_shapes
    a_shape = (k,) if draw(st.booleans()) and not ba else ba + (m, k)
    b_shape = (k,) if draw(st.booleans()) and not bb else bb + (k, n)
    return a_shape, b_shape


@given(shapes_=matmul_shapes(), rng=rng_st(), dtype=dtypes)
def test_matmul_matches_loops_and_gradcheck(shapes_, rng, dtype):
    sa, sb = shapes_
    a, b = normal(rng, sa).astype(dtype), normal(rng, sb).astype(dtype)
    with time_limit():
        out = tc.tensor(a) @ tc.tensor(b)
    assert out.dtype == dtype
    assert_close(out, ref.matmul(a, b), dtype, f"matmul {sa} @ {sb}")
    gradcheck(lambda x, y: x @ y, (leaf(a), leaf(b)))


# -------------------------------------------------------------------- (c) invalid arguments
def _broadcasts(*shapes_) -> bool:
    try:
        np.broadcast_shapes(*shapes_)
        return True
    except ValueError:
        return False


BROADCAST_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "maximum": tc.maximum,
    "minimum": tc.minimum, "where": lambda a, b: tc.where(a > 0, a, b), "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b, "mse_loss": F.mse_loss, "add_": lambda a, b: a.clone().add_(b),
    "setitem": lambda a, b: a.clone().__setitem__(slice(None), b),
}


@given(name=st.sampled_from(sorted(BROADCAST_OPS)),
       sa=shapes(min_dims=1, min_side=1), sb=shapes(min_dims=1, min_side=1), rng=rng_st(),
       grad=st.booleans())
def test_shapes_that_do_not_broadcast_raise_shape_error(name, sa, sb, rng, grad):
    if name == "setitem":                       # leading size-1 dims of the value may go, as torch
        extra = len(sb) - len(sa)
        fits = (extra <= 0 or set(sb[:extra]) == {1}) and _broadcasts(sa, sb[max(extra, 0):]) and \
            np.broadcast_shapes(sa, sb[max(extra, 0):]) == sa
        assume(not fits)
    else:
        assume(not _broadcasts(sa, sb) or name in ("add_", "mse_loss") and np.broadcast_shapes(sa, sb) != sa)
    a = tc.tensor(normal(rng, sa), requires_grad=grad)
    b = tc.tensor(normal(rng, sb))
    exc = expect_error(lambda: BROADCAST_OPS[name](a, b), ShapeError)
    assert str(sa) in str(exc) or str(tuple(sa)) in str(exc), f"{name}: {exc} does not name {sa}"


DIM_OPS = {
    "sum": lambda t, d: t.sum(d), "mean": lambda t, d: t.mean(d), "var": lambda t, d: t.var(d),
    "amax": lambda t, d: t.amax(d), "amin": lambda t, d: t.amin(d), "max": lambda t, d: t.max(d),
    "min": lambda t, d: t.min(d), "argmax": lambda t, d: t.argmax(d), "argmin": lambda t, d: t.argmin(d),
    "softmax": lambda t, d: F.softmax(t, d), "log_softmax": lambda t, d: F.log_softmax(t, d),
    "unsqueeze": lambda t, d: t.unsqueeze(d + (1 if d >= 0 else -1)), "squeeze": lambda t, d: t.squeeze(d),
    "flatten": lambda t, d: t.flatten(d), "transpose": lambda t, d: t.transpose(0, d),
    "cat": lambda t, d: tc.cat([t, t], d), "stack": lambda t, d: tc.stack([t, t], d + (1 if d >= 0 else -1)),
    "size": lambda t, d: t.size(d), "permute": lambda t, d: t.permute(*range(t.ndim - 1), d),
}


@given(shape=shapes(min_dims=1, min_side=1), offset=st.integers(0, 3), negative=st.booleans())
def test_dims_out_of_range_raise_argument_error(shape, offset, negative):
    dim = -len(shape) - 1 - offset if negative else len(shape) + offset
    for name, call in DIM_OPS.items():                  # every op, for each drawn shape and dim
        exc = expect_error(lambda: call(tc.ones(*shape, dtype=tc.float64), dim), ArgumentError)
        assert "dim" in str(exc), f"{name}: {exc}"


@given(shape=shapes(min_dims=1), target=st.lists(st.integers(-3, 6), min_size=1, max_size=4))
def test_reshape_to_a_wrong_size_raises_shape_error(shape, target):
    n, known = int(np.prod(shape)), int(np.prod([t for t in target if t != -1]))
    fits = known == n if -1 not in target else (target.count(-1) == 1 and known and n % known == 0)
    fits = fits and min(target) >= -1
    assume(not fits)
    expect_error(lambda: tc.ones(*shape).reshape(*target), ShapeError)


@given(shapes_=st.tuples(shapes(min_dims=1, min_side=1), shapes(min_dims=1, min_side=1)))
def test_matmul_with_mismatched_dims_raises_shape_error(shapes_):
    sa, sb = shapes_
    ka, kb = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    batch_ok = _broadcasts(sa[:-2], sb[:-2])
    assume(ka != kb or not batch_ok)
    exc = expect_error(lambda: tc.ones(*sa) @ tc.ones(*sb), ShapeError)
    assert str(tuple(sa)) in str(exc) and str(tuple(sb)) in str(exc)


@given(dtype=st.sampled_from([np.int64, np.int32, np.uint8, np.bool_]), shape=shapes())
def test_requires_grad_on_integer_tensors_raises_dtype_error(dtype, shape):
    expect_error(lambda: tc.tensor(np.zeros(shape, dtype), requires_grad=True), DTypeError)
    expect_error(lambda: tc.tensor(np.zeros(shape, dtype)).requires_grad_(), DTypeError)


# Every core op with one argument replaced by a garbage value: it works or raises a documented
# error raised by tinygrad_cnn (IndexError only for indexing), and backward through whatever
# it returned works too.
GARBAGE_CALLS = {
    "sum(dim)": lambda x, g: x.sum(dim=g), "mean(dim)": lambda x, g: x.mean(dim=g),
    "var(dim)": lambda x, g: x.var(dim=g), "var(correction)": lambda x, g: x.var(0, correction=g),
    "amax(dim)": lambda x, g: x.amax(dim=g), "max(dim)": lambda x, g: x.max(dim=g),
    "argmax(dim)": lambda x, g: x.argmax(dim=g), "sum(keepdim)": lambda x, g: x.sum(0, keepdim=g),
    "reshape": lambda x, g: x.reshape(g), "view(*g)": lambda x, g: x.view(*g) if isinstance(g, tuple) else x.view(g),
    "permute": lambda x, g: x.permute(g), "transpose": lambda x, g: x.transpose(g, 0),
    "expand": lambda x, g: x.expand(g), "expand(*g)": lambda x, g: x.expand(*g) if isinstance(g, tuple) else x.expand(g, 3),
    "unsqueeze": lambda x, g: x.unsqueeze(g), "squeeze": lambda x, g: x.squeeze(g),
    "flatten": lambda x, g: x.flatten(g), "clamp(min)": lambda x, g: x.clamp(min=g),
    "clamp(max)": lambda x, g: x.clamp(-1.0, g), "add": lambda x, g: x + g, "mul": lambda x, g: g * x,
    "pow": lambda x, g: x ** g, "rpow": lambda x, g: g ** x, "div": lambda x, g: x / g,
    "maximum": lambda x, g: tc.maximum(x, g), "where": lambda x, g: tc.where(x > 0, x, g),
    "matmul": lambda x, g: x @ g, "cat": lambda x, g: tc.cat([x, g]), "cat(dim)": lambda x, g: tc.cat([x, x], g),
    "stack": lambda x, g: tc.stack(g), "getitem": lambda x, g: x[g], "setitem": lambda x, g: x.clone().__setitem__(0, g),
    "pad": lambda x, g: F.pad(x, g), "pad(value)": lambda x, g: F.pad(x, (1, 1), value=g),
    "softmax": lambda x, g: F.softmax(x, g), "add_": lambda x, g: x.clone().add_(g),
    "mul_": lambda x, g: x.clone().mul_(g), "clamp_": lambda x, g: x.clone().clamp_(g),
    "fill_": lambda x, g: x.clone().fill_(g), "tensor": lambda x, g: tc.tensor(g),
    "zeros": lambda x, g: tc.zeros(g), "full": lambda x, g: tc.full(g, 1.5), "arange": lambda x, g: tc.arange(g),
    "randn": lambda x, g: tc.randn(g), "eye": lambda x, g: tc.eye(g), "leaky_relu": lambda x, g: F.leaky_relu(x, g),
    "item": lambda x, g: x[g].item(), "mse_loss": lambda x, g: F.mse_loss(x, g),
    "to": lambda x, g: x.to(g), "std(dim)": lambda x, g: x.std(g), "flatten(end)": lambda x, g: x.flatten(0, g),
}

_slices = st.builds(slice, st.none() | st.integers(-4, 4), st.none() | st.integers(-4, 4),
                    st.none() | st.integers(-2, 2))
INDEX_GARBAGE = st.one_of(_slices, st.tuples(_slices, _slices), st.tuples(st.integers(-4, 4), _slices, _slices),
                          st.just(Ellipsis), st.just((None, Ellipsis)), st.lists(st.integers(-4, 4), max_size=3),
                          st.lists(st.booleans(), min_size=1, max_size=3), st.floats(-2, 2), st.just((0, 0, 0, 0)))


@given(g=garbage_st() | INDEX_GARBAGE, rng=rng_st(), shape=st.sampled_from([(3,), (2, 3), (1, 3, 1)]),
       grad=st.booleans())
def test_garbage_arguments_work_or_raise_documented_errors(g, rng, shape, grad):
    for name, fn in GARBAGE_CALLS.items():              # every call, for each drawn value
        x = tc.tensor(normal(rng, shape), requires_grad=grad)

        def call():
            out = fn(x, g)
            for t in out if isinstance(out, tuple) else (out,):
                if isinstance(t, tc.Tensor) and t.requires_grad:
                    t.sum().backward()
            return out
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)     # np.dtype("a") on to("a")
            returns_or_documented_error(call, allow_index_error=name in ("getitem", "setitem", "item"),
                                        what=name)
