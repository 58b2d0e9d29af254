"""Every built-in op of issue 2, one row each: gradchecked on Hypothesis-drawn shapes (with
broadcasting for the binary ops) and compared with PyTorch, forward and backward, in float64.

A row is `Op(name, fn, gen, ...)`: `fn(L, *tensors, **params)` is written once against a tiny
library adapter `L` (tinygrad_cnn or torch), so the same expression runs in both frameworks;
`torch_fn` overrides it where the spellings differ. `gen` is a Hypothesis strategy for
`(shapes, params)`: one shape per differentiable input, and the op's non-tensor arguments.
Adding an op is adding a row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops.linalg import Linear

# The torch fixture is function-scoped; it only imports torch, so reusing it across
# Hypothesis examples is fine.
with_fixtures = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------------------ input domains
# Values are drawn from numpy with a Hypothesis-drawn seed. Ops with kinks or ties get inputs
# at least 0.05 away from them, so central differences (eps = 1e-6) never straddle one.
def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):                   # log, sqrt, pow bases
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng, shape):                    # denominators
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


def _grid(rng, shape, lo, hi):
    """(k + u) / 4 with u in [lo, hi]: never within 0.05 of a multiple of 0.25."""
    return (rng.integers(-8, 8, shape) + rng.uniform(lo, hi, shape)) / 4


def kinkfree(rng, shape):                   # relu, abs, clamp bounds, masks: away from k/4
    return _grid(rng, shape, 0.2, 0.8)


def cell_low(rng, shape):                   # maximum/minimum: a from [.2,.4] cells, b from
    return _grid(rng, shape, 0.2, 0.4)      # [.6,.8] cells, so |a - b| >= 0.05 everywhere


def cell_high(rng, shape):
    return _grid(rng, shape, 0.6, 0.8)


def distinct(rng, shape):                   # max/min/argmax: all values >= 0.1 apart
    n = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(n).reshape(shape) - n / 2) * 0.1 + rng.uniform(0, 0.01, shape)


# ----------------------------------------------------------------------------- shape strategies
def shapes_st(min_dims=0, max_dims=3, min_side=1, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def unary(params: Callable[[tuple], st.SearchStrategy] | None = None, **shape_kw):
    """One input; params may depend on its shape."""
    return shapes_st(**shape_kw).flatmap(
        lambda s: st.tuples(st.just((s,)), params(s) if params else st.just({})))


def binary(params: st.SearchStrategy | None = None, n=2):
    """n inputs whose shapes broadcast together (equal shapes included)."""
    shapes = hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3, max_side=4)
    return st.tuples(shapes.map(lambda r: tuple(r.input_shapes)), params or st.just({}))


def one_dim(ndim):
    return st.integers(-ndim, ndim - 1)


def dims(ndim, allow_none=True):
    """None, one dim, or a tuple of distinct dims (negative ones included)."""
    options = [st.none()] if allow_none else []
    if ndim:
        options.append(one_dim(ndim))
        options.append(st.lists(one_dim(ndim), min_size=1, max_size=ndim,
                                unique_by=lambda d: d % ndim).map(tuple))
    return st.one_of(options)


def reduce_params(shape):
    return st.fixed_dictionaries({"dim": dims(len(shape)), "keepdim": st.booleans()})


def reduced_count(shape, dim):
    if dim is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = dim if isinstance(dim, tuple) else (dim,)
    return int(np.prod([shape[d] for d in axes], dtype=np.int64))


@st.composite
def var_gen(draw):
    shape = draw(shapes_st(min_dims=1))
    p = draw(reduce_params(shape))
    p["correction"] = draw(st.sampled_from([0, 1]))
    # at least two reduced elements, else the unbiased variance is 0/0 in both frameworks
    if reduced_count(shape, p["dim"]) < 2:
        shape = tuple(max(n, 2) for n in shape)
    return (shape,), p


@st.composite
def matmul_gen(draw):
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    ba, bb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2,
                                                    max_side=3)).input_shapes
    a = (k,) if draw(st.booleans()) else tuple(ba) + (n, k)
    b = (k,) if draw(st.booleans()) else tuple(bb) + (k, m)
    return (a, b), {}


@st.composite
def linear_gen(draw):
    batch = draw(shapes_st(min_dims=0, max_dims=2, max_side=3))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    shapes = (batch + (n_in,), (n_out, n_in)) + (((n_out,),) if draw(st.booleans()) else ())
    return shapes, {}


@st.composite
def cat_gen(draw):
    base = list(draw(shapes_st(min_dims=1)))
    dim = draw(one_dim(len(base)))
    shapes = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(base)
        s[dim] = draw(st.integers(1, 3))
        shapes.append(tuple(s))
    return tuple(shapes), {"dim": dim}


@st.composite
def stack_gen(draw):
    shape = draw(shapes_st())
    k = draw(st.integers(1, 3))
    return (shape,) * k, {"dim": draw(one_dim(len(shape) + 1))}


@st.composite
def expand_gen(draw):
    target = draw(shapes_st(max_dims=4))
    lead = draw(st.integers(0, len(target)))
    shape = tuple(1 if draw(st.booleans()) else n for n in target[lead:])
    # -1 keeps a dim's size (only allowed on the input's own dims)
    sizes = tuple(-1 if i >= lead and draw(st.booleans()) else n for i, n in enumerate(target))
    return (shape,), {"sizes": sizes}


@st.composite
def reshape_gen(draw):
    shape = draw(shapes_st())
    n = int(np.prod(shape, dtype=np.int64))
    target = draw(st.sampled_from([(n,), (-1,), shape[::-1], (1, n, 1), (n, -1), (-1, 1)]))
    return (shape,), {"shape": target}


@st.composite
def pad_gen(draw):
    shape = draw(shapes_st(min_dims=1))
    k = draw(st.integers(1, len(shape)))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(2 * k))
    return (shape,), {"pad": pad, "value": draw(st.sampled_from([0.0, 1.5]))}


@st.composite
def squeeze_gen(draw):
    shape = tuple(1 if draw(st.booleans()) else n for n in draw(shapes_st(min_dims=1)))
    return (shape,), {"dim": draw(dims(len(shape)))}


@st.composite
def flatten_gen(draw):
    shape = draw(shapes_st(min_dims=1))
    a, b = sorted(draw(st.lists(st.integers(0, len(shape) - 1), min_size=2, max_size=2)))
    neg = draw(st.booleans())
    return (shape,), {"start_dim": a, "end_dim": b - len(shape) if neg else b}


@st.composite
def transpose_gen(draw):
    shape = draw(shapes_st(min_dims=1))
    return (shape,), {"dim0": draw(one_dim(len(shape))), "dim1": draw(one_dim(len(shape)))}


# ------------------------------------------------------------------------------ the op table
@dataclass
class Op:
    name: str
    fn: Callable[..., Any]                          # fn(L, *tensors, **params)
    gen: st.SearchStrategy                          # -> (shapes, params)
    domain: Callable | tuple = normal               # one for all inputs, or one per input
    torch_fn: Callable[..., Any] | None = None      # when torch spells it differently
    marks: list = field(default_factory=list)

    def domains(self, n):
        return self.domain if isinstance(self.domain, tuple) else (self.domain,) * n

    def __repr__(self):
        return self.name


def _max_any(L, x, dim, keepdim):
    if dim is None:
        return x.max()
    return x.max(dim, keepdim)            # int dim -> (values, indices); tuple dim -> values


def _max_any_torch(L, x, dim, keepdim):
    if dim is None:
        return x.max()
    return x.max(dim, keepdim) if isinstance(dim, int) else x.amax(dim, keepdim)


def _min_any(L, x, dim, keepdim):
    if dim is None:
        return x.min()
    return x.min(dim, keepdim)


def _min_any_torch(L, x, dim, keepdim):
    if dim is None:
        return x.min()
    return x.min(dim, keepdim) if isinstance(dim, int) else x.amin(dim, keepdim)


def _reduce(method):
    def fn(L, x, dim, keepdim, **kw):
        if dim is None and not keepdim:
            return getattr(x, method)(**kw)
        return getattr(x, method)(dim, keepdim=keepdim, **kw)
    return fn


CLAMPS = st.sampled_from([{"min": -0.5, "max": 0.75}, {"min": None, "max": 0.25},
                          {"min": -0.25, "max": None}])
EXPONENTS = st.sampled_from([2, 3, 0.5, -1.5, 0, 1])

OPS = [
    # ---- arithmetic (binary ops broadcast through Expand)
    Op("add", lambda L, a, b: a + b, binary()),
    Op("sub", lambda L, a, b: a - b, binary()),
    Op("mul", lambda L, a, b: a * b, binary()),
    Op("div", lambda L, a, b: a / b, binary(), domain=(normal, nonzero)),
    Op("neg", lambda L, a: -a, unary()),
    Op("pow_scalar", lambda L, a, p: a ** p, unary(lambda s: st.fixed_dictionaries({"p": EXPONENTS})),
       domain=positive),
    Op("pow_tensor", lambda L, a, b: a ** b, binary(), domain=(positive, normal)),
    Op("radd", lambda L, a: 2.5 + a, unary()),
    Op("rsub", lambda L, a: 2 - a, unary()),
    Op("rmul", lambda L, a: 3 * a, unary()),
    Op("rdiv", lambda L, a: 1 / a, unary(), domain=nonzero),
    Op("rpow", lambda L, a: 2.5 ** a, unary()),
    Op("ndarray_op_tensor", lambda L, a, c: c * a - c, unary(
        lambda s: st.fixed_dictionaries({"c": hnp.arrays(np.float64, s, elements=st.floats(-2, 2))})),
       torch_fn=lambda L, a, c: L.tensor(c) * a - L.tensor(c)),   # torch has no ndarray * Tensor
    Op("matmul", lambda L, a, b: a @ b, matmul_gen()),
    Op("linear", lambda L, x, w, *b: L.linear(x, w, *b), linear_gen()),
    # ---- unary math
    Op("exp", lambda L, a: a.exp(), unary()),
    Op("log", lambda L, a: a.log(), unary(), domain=positive),
    Op("sqrt", lambda L, a: a.sqrt(), unary(), domain=positive),
    Op("abs", lambda L, a: a.abs(), unary(), domain=kinkfree),
    Op("tanh", lambda L, a: a.tanh(), unary()),
    Op("sigmoid", lambda L, a: a.sigmoid(), unary()),
    Op("relu", lambda L, a: a.relu(), unary(), domain=kinkfree),
    Op("clamp", lambda L, a, **kw: a.clamp(**kw), unary(lambda s: CLAMPS), domain=kinkfree),
    Op("maximum", lambda L, a, b: L.maximum(a, b), binary(), domain=(cell_low, cell_high)),
    Op("minimum", lambda L, a, b: L.minimum(a, b), binary(), domain=(cell_low, cell_high)),
    Op("where", lambda L, a, b: L.where(a > 0, a, b), binary(), domain=(kinkfree, normal)),
    # ---- reductions over None, a dim, or a tuple of dims, with keepdim
    Op("sum", _reduce("sum"), unary(reduce_params)),
    Op("mean", _reduce("mean"), unary(reduce_params)),
    Op("var", _reduce("var"), var_gen()),
    Op("std", _reduce("std"), var_gen()),
    Op("max", _max_any, unary(reduce_params, min_dims=1), domain=distinct, torch_fn=_max_any_torch),
    Op("min", _min_any, unary(reduce_params, min_dims=1), domain=distinct, torch_fn=_min_any_torch),
    Op("amax", lambda L, a, dim, keepdim: a.amax() if dim is None else a.amax(dim, keepdim),
       unary(reduce_params, min_dims=1), domain=distinct),
    # ---- movement
    Op("reshape", lambda L, a, shape: a.reshape(shape), reshape_gen()),
    Op("view", lambda L, a, shape: a.view(*shape) if shape else a.view(shape), reshape_gen()),
    Op("permute", lambda L, a, dims: a.permute(dims), unary(
        lambda s: st.fixed_dictionaries({"dims": st.permutations(range(len(s))).map(tuple)}))),
    Op("transpose", lambda L, a, dim0, dim1: a.transpose(dim0, dim1), transpose_gen()),
    Op("T", lambda L, a: a.T, unary(min_dims=2, max_dims=2)),
    Op("flatten", lambda L, a, **kw: a.flatten(**kw), flatten_gen()),
    Op("unsqueeze", lambda L, a, d: a.unsqueeze(d), unary(
        lambda s: st.fixed_dictionaries({"d": st.integers(-len(s) - 1, len(s))}))),
    Op("squeeze", lambda L, a, dim: a.squeeze() if dim is None else a.squeeze(dim), squeeze_gen()),
    Op("expand", lambda L, a, sizes: a.expand(sizes), expand_gen()),
    Op("pad", lambda L, a, pad, value: L.pad(a, pad, value=value), pad_gen()),
    Op("cat", lambda L, *ts, dim: L.cat(list(ts), dim), cat_gen()),
    Op("stack", lambda L, *ts, dim: L.stack(list(ts), dim), stack_gen()),
    # ---- __getitem__: ints, slices, None, Ellipsis, integer arrays (repeats), boolean masks
    Op("index_int", lambda L, a, i: a[i], unary(
        lambda s: st.fixed_dictionaries({"i": st.integers(-s[0], s[0] - 1)}), min_dims=1)),
    Op("index_slices", lambda L, a: a[1:, ::2], unary(min_dims=2)),
    Op("index_int_slice", lambda L, a: a[-1, :2], unary(min_dims=2)),
    Op("index_none_ellipsis", lambda L, a: a[None, ..., -1, None], unary(min_dims=1)),
    Op("index_negative_step", lambda L, a: a[::-1], unary(min_dims=1),
       torch_fn=lambda L, a: a.flip(0)),                  # torch has no negative-step slices
    Op("index_repeated_list", lambda L, a: a[[0, 0, -1, 0]], unary(min_dims=1)),
    Op("index_2d_int_array", lambda L, a: a[L.tensor(np.array([[0, -1], [0, 0]]))], unary(min_dims=1)),
    Op("index_mixed_arrays", lambda L, a: a[[0, -1, 0], ..., [0, 0, -1]], unary(min_dims=2)),
    Op("index_array_and_slice", lambda L, a: a[1:, [0, 0]], unary(min_dims=2)),
    Op("index_bool_mask", lambda L, a: a[a > 0], unary(), domain=kinkfree),
    Op("index_bool_rows", lambda L, a: a[L.tensor(np.arange(a.shape[0]) % 2 == 0)], unary(min_dims=1)),
]


TC = SimpleNamespace(tensor=tc.tensor, cat=tc.cat, stack=tc.stack, where=tc.where,
                     maximum=tc.maximum, minimum=tc.minimum, pad=F.pad, linear=Linear.apply)


def torch_lib(torch):
    return SimpleNamespace(tensor=torch.tensor, cat=torch.cat, stack=torch.stack, where=torch.where,
                           maximum=torch.maximum, minimum=torch.minimum,
                           pad=torch.nn.functional.pad, linear=torch.nn.functional.linear)


def make_arrays(op: Op, shapes: tuple, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.asarray(d(rng, s), dtype=np.float64) for d, s in zip(op.domains(len(shapes)), shapes)]


def outputs(result) -> list:
    return list(result) if isinstance(result, tuple) else [result]


def draw_case(op: Op, data):
    shapes, params = data.draw(op.gen, label="shapes, params")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    return make_arrays(op, shapes, seed), params, seed


def test_table_covers_issue_2_ops():
    """The table names every op issue 2 lists (so a missing row is a failing test)."""
    names = {op.name for op in OPS}
    required = {"add", "sub", "mul", "div", "neg", "pow_scalar", "pow_tensor", "matmul", "exp",
                "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clamp", "maximum", "minimum",
                "where", "sum", "mean", "max", "min", "var", "reshape", "view", "permute",
                "transpose", "T", "flatten", "unsqueeze", "squeeze", "expand", "pad", "cat",
                "stack", "index_int", "index_slices", "index_none_ellipsis", "index_repeated_list",
                "index_bool_mask", "rsub", "rdiv"}
    assert required <= names, required - names
    assert {op.name for op in MULTI_INPUT} <= names
    assert len(names) == len(OPS), "duplicate row names"


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=st.data())
def test_gradcheck(op: Op, data):
    arrays, params, _ = draw_case(op, data)
    xs = [tc.tensor(a, requires_grad=True) for a in arrays]
    assert all(x.dtype == tc.float64 for x in xs)
    assert tc.gradcheck(lambda *t: op.fn(TC, *t, **params), xs)


@pytest.mark.parametrize("op", OPS, ids=repr)
@with_fixtures
@given(data=st.data())
def test_matches_torch(op: Op, data, torch):
    arrays, params, seed = draw_case(op, data)
    xs = [tc.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = outputs(op.fn(TC, *xs, **params))
    theirs = outputs((op.torch_fn or op.fn)(torch_lib(torch), *ts, **params))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):                 # forward: shape, dtype and values
        assert o.shape == tuple(t.shape)
        assert str(o.dtype) == str(t.dtype).replace("torch.", "")
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)
    # backward: the same random upstream gradient into every float output
    rng = np.random.default_rng(seed + 1)
    ups = [rng.standard_normal(o.shape) for o in ours]
    pairs = [(o, t, g) for o, t, g in zip(ours, theirs, ups) if o.requires_grad]
    assert pairs, "no differentiable output"
    sum((o * tc.tensor(g)).sum() for o, _, g in pairs).backward()
    sum((t * torch.tensor(g)).sum() for _, t, g in pairs).backward()
    for x, t in zip(xs, ts):
        expected = t.grad.numpy() if t.grad is not None else np.zeros(x.shape)
        got = x.grad.numpy() if x.grad is not None else np.zeros(x.shape)
        assert got.shape == x.shape
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


# Ops with several tensor inputs, run with only some of them requiring grad: backward must
# cope with what forward chose not to save (ops save only what the needed gradients read).
MULTI_INPUT = [op for op in OPS if op.name in {
    "add", "sub", "mul", "div", "pow_tensor", "matmul", "linear", "maximum", "minimum", "where",
    "cat", "stack"}]


@pytest.mark.parametrize("op", MULTI_INPUT, ids=repr)
@given(data=st.data())
def test_gradcheck_with_some_inputs_constant(op: Op, data):
    arrays, params, _ = draw_case(op, data)
    n = len(arrays)
    mask = data.draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any), label="requires_grad")
    xs = [tc.tensor(a, requires_grad=m) for a, m in zip(arrays, mask)]
    assert tc.gradcheck(lambda *t: op.fn(TC, *t, **params), xs)
    out = outputs(op.fn(TC, *xs, **params))[0]
    out.sum().backward()
    for x, m in zip(xs, mask):
        assert (x.grad is not None) == m or x.numel() == 0


# ------------------------------------------------------- kinks and ties: PyTorch's conventions
# Central differences mean nothing at a kink, so these are compared with PyTorch only.
TIE_CASES = {
    "relu_at_0": (lambda L, a: a.relu(), [[0.0, -1.0, 2.0]]),
    "abs_at_0": (lambda L, a: a.abs(), [[0.0, -1.0, 2.0]]),
    "clamp_at_bounds": (lambda L, a: a.clamp(-1.0, 1.0), [[-1.0, 1.0, 0.5, 2.0]]),
    "max_all_ties": (lambda L, a: a.max(), [[[3.0, 1.0], [3.0, 3.0]]]),
    "amax_dim_ties": (lambda L, a: a.amax(1), [[[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]]]),
    "max_dim_ties": (lambda L, a: a.max(1), [[[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]]]),
    "min_dim_ties": (lambda L, a: a.min(0), [[[2.0, 1.0], [2.0, 1.0]]]),
    "maximum_ties": (lambda L, a, b: L.maximum(a, b), [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    "minimum_ties": (lambda L, a, b: L.minimum(a, b), [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    "pow_zero_base": (lambda L, a, b: a ** b, [[0.0, 0.0, 2.0], [0.0, 2.0, 0.0]]),
    "pow_zero_exponent": (lambda L, a: a ** 0, [[0.0, 1.5]]),
    "sqrt_then_mul_zero": (lambda L, a: a.sqrt() * 0 + a, [[1.0, 4.0]]),
}


@pytest.mark.parametrize("name", sorted(TIE_CASES))
def test_kinks_and_ties_match_torch(name, torch):
    fn, values = TIE_CASES[name]
    arrays = [np.array(v, dtype=np.float64) for v in values]
    xs = [tc.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours, theirs = outputs(fn(TC, *xs)), outputs(fn(torch_lib(torch), *ts))
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.detach().numpy())
    ours[0].sum().backward()
    theirs[0].sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=0)


def test_argmax_argmin_match_torch(torch):
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, -1.0, 5.0, 5.0]])    # ties: first index wins
    x, t = tc.tensor(a), torch.tensor(a)
    cases = [((), {}), ((1,), {}), ((0,), {}), ((-1,), {"keepdim": True})]
    for args, kw in cases:
        for name in ("argmax", "argmin"):
            o, r = getattr(x, name)(*args, **kw), getattr(t, name)(*args, **kw)
            assert o.dtype == np.int64 and not o.requires_grad
            np.testing.assert_array_equal(o.numpy(), r.numpy())
    assert x.max(1).indices.tolist() == t.max(1).indices.tolist()


def test_repeated_indices_accumulate_in_backward():
    x = tc.tensor(np.arange(4.0), requires_grad=True)
    idx = [0, 2, 0, 0, 3]
    (x[idx] * tc.tensor([1.0, 10.0, 100.0, 1000.0, 5.0])).sum().backward()
    expected = np.zeros(4)
    np.add.at(expected, idx, [1.0, 10.0, 100.0, 1000.0, 5.0])          # 1101 at index 0
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    y = tc.tensor(np.ones((2, 3)), requires_grad=True)
    y[[1, 1], [2, 2]].sum().backward()
    assert y.grad.numpy()[1, 2] == 2 and y.grad.numpy().sum() == 2


def test_max_dim_returns_values_and_indices_like_torch():
    x = tc.tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]), requires_grad=True)
    r = x.max(dim=1)
    values, indices = r                                 # unpacks like torch.return_types.max
    assert r.values is values and r.indices is indices
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert values.requires_grad and not indices.requires_grad and indices.dtype == np.int64
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    k = x.max(dim=0, keepdim=True)
    assert k.values.shape == (1, 3) and k.indices.shape == (1, 3)
    s = tc.tensor(3.0).max(0)                           # 0-d input, as torch allows
    assert s.values.item() == 3.0 and s.indices.item() == 0
