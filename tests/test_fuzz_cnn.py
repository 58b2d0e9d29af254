"""Fuzzing the CNN ops (ops/conv.py, pool.py, loss.py, activation.py, norm.py, linalg.Linear),
through tinygrad_cnn.nn.functional as users call them (issue 6 item 4).

For random shapes and hyper-parameters (stride, padding incl. 'same'/'valid', dilation,
groups, ceil_mode, count_include_pad, weights, ignore_index, label smoothing, reductions,
unbatched inputs, an empty batch, float32 and float64, and a workspace limit small enough to
force the chunked conv path):
  (a) the forward matches the loop references of tests/naive_reference.py (seed 004's loop
      Conv/Pool/Softmax; a direct 6-nested-loop convolution; a loop max-pool with -inf padding
      and first-max ties; a loop cross-entropy);
  (b) gradients pass tc.gradcheck in float64, inputs away from relu kinks and pooling ties (and,
      with ties, max-pool's backward routes each gradient to the first maximum, by loops);
  (c) invalid arguments raise the documented error type; garbage arguments never let a NumPy
      exception escape (tests/fuzz_support.py).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import naive_reference as ref
import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from fuzz_support import (assert_close, distinct, expect_error, garbage_st, gradcheck, leaf,
                          normal, returns_or_documented_error, rng_st, time_limit)
from tinygrad_cnn.errors import ArgumentError, DTypeError, ShapeError

dtypes = st.sampled_from([np.float64, np.float32])


class workspace_limit:
    """Temporarily set tc.set_workspace_limit (None in the draw: leave the default)."""

    def __init__(self, limit):
        self.limit = limit

    def __enter__(self):
        if self.limit is not None:
            self.old = tc.set_workspace_limit(self.limit)

    def __exit__(self, *exc):
        if self.limit is not None:
            tc.set_workspace_limit(self.old)


# ------------------------------------------------------------------------------ convolution
@st.composite
def conv_case(draw, d):
    """Arguments of an N-d conv (d spatial dims) whose output has every size >= 1."""
    groups = draw(st.integers(1, 3))
    cg, cog = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kmax, smax = (3, 3) if d < 3 else (2, 2)
    kernel = tuple(draw(st.integers(1, kmax)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    style = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    stride = (1,) * d if style == "same" else tuple(draw(st.integers(1, smax)) for _ in range(d))
    if style == "same":
        pads = tuple((dl * (k - 1) // 2, dl * (k - 1) - dl * (k - 1) // 2) for k, dl in zip(kernel, dilation))
        padding = "same"
    elif style == "valid":
        pads, padding = ((0, 0),) * d, "valid"
    elif style == "int":
        p = draw(st.integers(0, 2))
        pads, padding = ((p, p),) * d, p
    else:
        padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
        pads = tuple((p, p) for p in padding)
    smax_side = 7 if d < 3 else 4
    spatial = tuple(draw(st.integers(max(1, dl * (k - 1) + 1 - lo - hi), max(1, dl * (k - 1) + 1 - lo - hi) + smax_side - 3))
                    for k, dl, (lo, hi) in zip(kernel, dilation, pads))
    n = draw(st.sampled_from([0, 1, 1, 2, 2]))
    c, co = groups * cg, groups * cog
    return dict(x_shape=(n, c) + spatial, w_shape=(co, cg) + kernel,
                bias=draw(st.booleans()), unbatched=draw(st.booleans()) and n == 1,
                kw=dict(stride=stride if draw(st.booleans()) or d == 1 else stride, padding=padding,
                        dilation=dilation if len(set(dilation)) > 1 or draw(st.booleans()) else dilation[0],
                        groups=groups),
                ref_kw=dict(stride=stride, padding=pads, dilation=dilation, groups=groups),
                limit=draw(st.sampled_from([None, None, 1, 2])),   # None, or output rows per band
                needs=draw(st.sampled_from(["x w b", "w b", "x", "x w"])))


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@pytest.mark.parametrize("d", [1, 2, 3])
@given(data=st.data(), rng=rng_st(), dtype=dtypes)
def test_conv_matches_the_direct_loop_convolution_and_gradcheck(d, data, rng, dtype):
    case = data.draw(conv_case(d), label="case")
    conv, kw = CONV[d], case["kw"]
    x = normal(rng, case["x_shape"])
    w = normal(rng, case["w_shape"])
    b = normal(rng, case["w_shape"][:1]) if case["bias"] else None
    expected = (ref.conv2d if d == 2 else ref.conv_nd)(x, w, b, **case["ref_kw"])
    if case["limit"] is not None:          # a workspace limit of that many output rows' columns
        row = case["x_shape"][1] * int(np.prod(case["w_shape"][2:])) * int(np.prod(expected.shape[3:]))
        case["limit"] = case["limit"] * row * 8          # float64 (gradcheck): float32 gets twice the rows
    xin = x[0] if case["unbatched"] else x
    with workspace_limit(case["limit"]), time_limit():
        out = conv(tc.tensor(xin.astype(dtype)), tc.tensor(w.astype(dtype)),
                   None if b is None else tc.tensor(b.astype(dtype)), **kw)
    assert out.dtype == dtype
    assert_close(out, expected[0] if case["unbatched"] else expected, dtype, f"conv{d}d {case}")
    # gradients: only the inputs drawn as requiring grad (the first-layer path skips grad_input)
    needs = case["needs"].split()
    tx = leaf(xin) if "x" in needs else tc.tensor(xin)
    tw = leaf(w) if "w" in needs else tc.tensor(w)
    tb = None if b is None else (leaf(b) if "b" in needs else tc.tensor(b))
    inputs = [t for t in (tx, tw, tb) if t is not None and t.requires_grad]
    assume(inputs)

    def fn(*ts):
        it = iter(ts)
        args = [next(it) if t is not None and t.requires_grad else t for t in (tx, tw, tb)]
        return conv(*args, **kw)
    with workspace_limit(case["limit"]):
        gradcheck(fn, tuple(inputs))


@st.composite
def unfold_case(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = tuple(draw(st.integers(max(1, dl * (k - 1) + 1 - 2 * p), max(1, dl * (k - 1) + 1 - 2 * p) + 4))
                 for k, dl, p in zip(kernel, dilation, padding))
    return dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride), size


@given(case=unfold_case(), n=st.integers(0, 2), c=st.integers(1, 3), rng=rng_st(), dtype=dtypes)
def test_unfold_and_fold_match_loops_and_gradcheck(case, n, c, rng, dtype):
    kw, size = case
    x = normal(rng, (n, c) + size)
    expected = ref.unfold(x, kw["kernel_size"], kw["dilation"], kw["padding"], kw["stride"])
    with time_limit():
        cols = F.unfold(tc.tensor(x.astype(dtype)), **kw)
    assert cols.dtype == dtype
    assert_close(cols, expected, dtype, f"unfold {kw} on {x.shape}")
    gradcheck(lambda t: F.unfold(t, **kw), (leaf(x),))
    y = normal(rng, expected.shape)
    with time_limit():
        folded = F.fold(tc.tensor(y.astype(dtype)), size, **kw)
    assert_close(folded, ref.fold(y, size, kw["kernel_size"], kw["dilation"], kw["padding"], kw["stride"]),
                 dtype, f"fold {kw} to {size}")
    gradcheck(lambda t: F.fold(t, size, **kw), (leaf(y),))


# ----------------------------------------------------------------------------------- pooling
@st.composite
def pool_case(draw, dilated=True):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    size = tuple(draw(st.integers(max(1, dl * (k - 1) + 1 - 2 * p), max(1, dl * (k - 1) + 1 - 2 * p) + 5))
                 for k, dl, p in zip(kernel, dilation, padding))
    n, c = draw(st.sampled_from([0, 1, 2, 2])), draw(st.integers(1, 3))
    kw = dict(kernel_size=kernel if draw(st.booleans()) or kernel[0] != kernel[1] else kernel[0],
              stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if dilated:
        kw["dilation"] = dilation
    real_stride = stride or kernel
    return kw, (n, c) + size, dict(kernel=kernel, stride=real_stride, padding=padding, dilation=dilation), \
        draw(st.booleans()) and n == 1


@given(case=pool_case(), rng=rng_st(), dtype=dtypes, ties=st.booleans())
def test_max_pool2d_matches_the_loop_pool_with_first_max_ties_and_gradcheck(case, rng, dtype, ties):
    kw, shape, r, unbatched = case
    x = np.round(normal(rng, shape)) if ties else distinct(rng, shape)   # ties: small ints
    values, indices = ref.max_pool2d(x, r["kernel"], r["stride"], r["padding"], r["dilation"], kw["ceil_mode"])
    xin = x[0] if unbatched else x
    with time_limit():
        out, idx = F.max_pool2d(tc.tensor(xin.astype(dtype)), return_indices=True, **kw)
    assert out.dtype == dtype and idx.dtype == np.int64
    assert_close(out, values[0] if unbatched else values, dtype, f"max_pool2d {kw} on {shape}")
    np.testing.assert_array_equal(idx.numpy(), indices[0] if unbatched else indices, err_msg=f"indices {kw}")
    # backward routes each output's gradient to its window's (first) maximum, by loops
    g = normal(rng, values.shape)
    t = leaf(xin)
    F.max_pool2d(t, **kw).backward(g[0] if unbatched else g)
    expected = np.zeros(shape)
    for i in np.ndindex(values.shape):
        n, c = i[:2]
        if indices[i] >= 0:                                # -1: a window of padding only
            expected[n, c].reshape(-1)[indices[i]] += g[i]
    assert_close(t.grad, expected[0] if unbatched else expected, what=f"max_pool2d backward {kw}")
    if not ties and np.isfinite(values).all():
        gradcheck(lambda u: F.max_pool2d(u, **kw), (leaf(xin),))


@given(case=pool_case(dilated=False), rng=rng_st(), dtype=dtypes, count_include_pad=st.booleans(),
       divisor=st.sampled_from([None, None, 1, 3]))
def test_avg_pool2d_matches_the_loop_pool_and_gradcheck(case, rng, dtype, count_include_pad, divisor):
    kw, shape, r, unbatched = case
    kw = dict(kw, count_include_pad=count_include_pad, divisor_override=divisor)
    x = normal(rng, shape)
    expected = ref.avg_pool2d(x, r["kernel"], r["stride"], r["padding"], kw["ceil_mode"], count_include_pad, divisor)
    xin = x[0] if unbatched else x
    with time_limit():
        out = F.avg_pool2d(tc.tensor(xin.astype(dtype)), **kw)
    assert out.dtype == dtype
    assert_close(out, expected[0] if unbatched else expected, dtype, f"avg_pool2d {kw} on {shape}")
    gradcheck(lambda u: F.avg_pool2d(u, **kw), (leaf(xin),))


# ---------------------------------------------------------------------- linear, softmax, etc.
@given(lead=st.lists(st.integers(1, 3), max_size=2).map(tuple) | st.just((0,)), fin=st.integers(1, 5),
       fout=st.integers(1, 4), rng=rng_st(), dtype=dtypes)
def test_linear_matches_loops_and_gradcheck(lead, fin, fout, rng, dtype):
    x, w = normal(rng, lead + (fin,)), normal(rng, (fout, fin))
    for b in (None, normal(rng, (fout,))):
        with time_limit():
            out = F.linear(tc.tensor(x.astype(dtype)), tc.tensor(w.astype(dtype)),
                           None if b is None else tc.tensor(b.astype(dtype)))
        assert out.dtype == dtype
        assert_close(out, ref.linear(x.astype(dtype), w.astype(dtype), b), dtype, "linear")
        inputs = (leaf(x), leaf(w)) + (() if b is None else (leaf(b),))
        gradcheck(lambda *ts: F.linear(*ts), inputs)


@given(data=st.data(), rng=rng_st(), dtype=dtypes, log=st.booleans(), scale=st.sampled_from([1.0, 1.0, 50.0, 1000.0]))
def test_softmax_and_log_softmax_match_seed_004_loops_and_gradcheck(data, rng, dtype, log, scale):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), label="shape")
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1), label="dim")
    fn = F.log_softmax if log else F.softmax
    x = normal(rng, shape, scale)
    with time_limit():
        out = fn(tc.tensor(x.astype(dtype)), dim)
    assert out.dtype == dtype
    xr = x.reshape(1) if x.ndim == 0 else x
    expected = (ref.log_softmax if log else ref.softmax)(xr.astype(dtype), dim).reshape(shape)
    assert np.isfinite(out.numpy()).all(), f"{fn.__name__} overflowed at scale {scale}"
    assert_close(out, expected, dtype, f"{fn.__name__} dim={dim}")
    gradcheck(lambda t: fn(t, dim), (leaf(normal(rng, shape)),))


@st.composite
def ce_case(draw):
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    probs = draw(st.booleans())
    ignore = -100 if probs else draw(st.sampled_from([-100, -100, 0, c - 1, 7]))
    return dict(shape=(n, c) + spatial, probs=probs, ignore_index=ignore,
                weight=draw(st.booleans()), reduction=draw(st.sampled_from(["mean", "sum", "none"])),
                label_smoothing=draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0])),
                unbatched=draw(st.booleans()) and n == 1 and not spatial)


@given(case=ce_case(), rng=rng_st(), dtype=dtypes, scale=st.sampled_from([1.0, 1.0, 100.0]))
def test_cross_entropy_matches_the_loop_loss_and_gradcheck(case, rng, dtype, scale):
    shape, c = case["shape"], case["shape"][1]
    x = normal(rng, shape, scale)
    if case["probs"]:
        target = ref.softmax(normal(rng, shape), 1)
    else:
        target = rng.integers(0, c, (shape[0],) + shape[2:])
        if case["ignore_index"] != -100 or rng.random() < 0.3:
            target = np.where(rng.random(target.shape) < 0.3, case["ignore_index"], target)
    weight = rng.uniform(0.2, 2.0, c) if case["weight"] else None
    kw = dict(ignore_index=case["ignore_index"], reduction=case["reduction"], label_smoothing=case["label_smoothing"])
    expected = ref.cross_entropy(x, target, weight, **kw)
    xin, tin = (x[0], target[0]) if case["unbatched"] else (x, target)
    if case["unbatched"] and case["reduction"] == "none":
        expected = expected[0]
    tt = tc.tensor(tin.astype(dtype)) if case["probs"] else tc.tensor(tin)
    tw = None if weight is None else tc.tensor(weight.astype(dtype))
    with time_limit():
        out = F.cross_entropy(tc.tensor(xin.astype(dtype)), tt, tw, **kw)
    assert out.dtype == dtype
    assert_close(out, expected, dtype, f"cross_entropy {case}")
    if not np.isfinite(expected).all():                  # everything ignored: NaN, as PyTorch
        return
    wt = None if weight is None else tc.tensor(weight)
    if case["probs"]:
        gradcheck(lambda a, b: F.cross_entropy(a, b, wt, **kw), (leaf(xin), leaf(tin)))
    else:
        gradcheck(lambda a: F.cross_entropy(a, tc.tensor(tin), wt, **kw), (leaf(xin),))


@given(case=ce_case().filter(lambda c: not c["probs"]), rng=rng_st(), dtype=dtypes)
def test_nll_and_mse_losses_match_loops_and_gradcheck(case, rng, dtype):
    shape, c = case["shape"], case["shape"][1]
    x = normal(rng, shape)
    target = rng.integers(0, c, (shape[0],) + shape[2:])
    target = np.where(rng.random(target.shape) < 0.2, case["ignore_index"], target)
    weight = rng.uniform(0.2, 2.0, c) if case["weight"] else None
    kw = dict(ignore_index=case["ignore_index"], reduction=case["reduction"])
    with time_limit():
        out = F.nll_loss(tc.tensor(x.astype(dtype)), tc.tensor(target),
                         None if weight is None else tc.tensor(weight.astype(dtype)), **kw)
    assert out.dtype == dtype
    expected = ref.nll_loss(x, target, weight, **kw)
    assert_close(out, expected, dtype, f"nll_loss {case}")
    if np.isfinite(expected).all():
        wt = None if weight is None else tc.tensor(weight)
        gradcheck(lambda a: F.nll_loss(a, tc.tensor(target), wt, **kw), (leaf(x),))
    y = normal(rng, shape)
    with time_limit():
        out = F.mse_loss(tc.tensor(x.astype(dtype)), tc.tensor(y.astype(dtype)), reduction=case["reduction"])
    assert out.dtype == dtype
    assert_close(out, ref.mse_loss(x, y, case["reduction"]), dtype, "mse_loss")
    gradcheck(lambda a, b: F.mse_loss(a, b, reduction=case["reduction"]), (leaf(x), leaf(y)))


@given(n=st.integers(1, 3), c=st.integers(1, 3), spatial=st.lists(st.integers(1, 3), max_size=2).map(tuple),
       training=st.booleans(), affine=st.booleans(), momentum=st.sampled_from([0.1, 0.5, 1.0]),
       eps=st.sampled_from([1e-5, 1e-3]), rng=rng_st(), dtype=dtypes)
def test_batch_norm_matches_loops_and_gradcheck(n, c, spatial, training, affine, momentum, eps, rng, dtype):
    shape = (n, c) + spatial
    assume(not training or n * int(np.prod(spatial)) > 1)
    x = normal(rng, shape, 2.0) + 1.0
    rm, rv = normal(rng, (c,)), rng.uniform(0.5, 2.0, c)
    w, b = (normal(rng, (c,)), normal(rng, (c,))) if affine else (None, None)
    y, rm2, rv2 = ref.batch_norm(x.astype(dtype), rm, rv, w, b, training, momentum, eps)
    trm, trv = tc.tensor(rm.astype(dtype)), tc.tensor(rv.astype(dtype))
    t = lambda a: None if a is None else tc.tensor(a.astype(dtype))  # noqa: E731
    with time_limit():
        out = F.batch_norm(tc.tensor(x.astype(dtype)), trm, trv, t(w), t(b), training, momentum, eps)
    assert out.dtype == dtype
    assert_close(out, y, dtype, f"batch_norm training={training}")
    assert_close(trm, rm2, dtype, "running_mean")
    assert_close(trv, rv2, dtype, "running_var")
    stats = (None, None) if training else (tc.tensor(rm), tc.tensor(rv))
    inputs = (leaf(x),) + ((leaf(w), leaf(b)) if affine else ())
    gradcheck(lambda a, *wb: F.batch_norm(a, *stats, *(wb or (None, None)), training=training,
                                          momentum=momentum, eps=eps), inputs)


@given(shape=st.lists(st.integers(0, 4), max_size=3).map(tuple), p=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]),
       training=st.booleans(), rng=rng_st(), dtype=dtypes)
def test_dropout_zeroes_or_rescales_each_element_and_gradcheck(shape, p, training, rng, dtype):
    x = normal(rng, shape).astype(dtype)
    with time_limit():
        out = F.dropout(tc.tensor(x), p, training).numpy()
    assert out.dtype == dtype and out.shape == x.shape
    if not training or p == 0:
        np.testing.assert_array_equal(out, x)
    else:
        kept = out != 0
        scaled = (x / (1 - p)).astype(dtype) if p < 1 else np.zeros_like(x)
        assert_close(np.where(kept, out, 0), np.where(kept, scaled, 0), dtype, "kept elements are x/(1-p)")
        if p == 1:
            assert not kept.any()
    gradcheck(lambda t: F.dropout(t, p, training), (leaf(x),))


# -------------------------------------------------------------------- (c) invalid arguments
def _x(*shape, dtype=np.float64):
    return tc.tensor(np.ones(shape, dtype))


CONV_ERRORS = [   # (description, call, expected type)
    ("channels", lambda: F.conv2d(_x(1, 3, 5, 5), _x(2, 2, 3, 3)), ShapeError),
    ("groups do not divide C", lambda: F.conv2d(_x(1, 3, 5, 5), _x(2, 1, 3, 3), groups=2), ArgumentError),
    ("groups do not divide C_out", lambda: F.conv2d(_x(1, 4, 5, 5), _x(3, 2, 3, 3), groups=2), ArgumentError),
    ("groups 0", lambda: F.conv2d(_x(1, 4, 5, 5), _x(4, 4, 3, 3), groups=0), ArgumentError),
    ("input too small", lambda: F.conv2d(_x(1, 1, 2, 2), _x(1, 1, 3, 3)), ShapeError),
    ("dilated kernel too big", lambda: F.conv1d(_x(1, 1, 4), _x(1, 1, 3), dilation=2), ShapeError),
    ("input ndim", lambda: F.conv2d(_x(5, 5), _x(1, 1, 3, 3)), ShapeError),
    ("weight ndim", lambda: F.conv2d(_x(1, 1, 5, 5), _x(1, 3, 3)), ShapeError),
    ("bias shape", lambda: F.conv2d(_x(1, 1, 5, 5), _x(2, 1, 3, 3), _x(3)), ShapeError),
    ("int input", lambda: F.conv2d(_x(1, 1, 5, 5, dtype=np.int64), _x(1, 1, 3, 3)), DTypeError),
    ("dtype mismatch", lambda: F.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3, dtype=np.float32)), DTypeError),
    ("same with stride", lambda: F.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), stride=2, padding="same"), ArgumentError),
    ("unfold kernel", lambda: F.unfold(_x(1, 1, 3, 3), 4), ShapeError),
    ("fold L mismatch", lambda: F.fold(_x(1, 4, 5), (3, 3), 2), ShapeError),
    ("fold K not divisible", lambda: F.fold(_x(1, 5, 4), (3, 3), 2), ShapeError),
    ("max_pool padding > k/2", lambda: F.max_pool2d(_x(1, 1, 5, 5), 2, padding=2), ArgumentError),
    ("avg_pool padding > k/2", lambda: F.avg_pool2d(_x(1, 1, 5, 5), 3, padding=2), ArgumentError),
    ("pool too small", lambda: F.max_pool2d(_x(1, 1, 2, 2), 3), ShapeError),
    ("pool ndim", lambda: F.max_pool2d(_x(2, 2), 2), ShapeError),
    ("pool int input", lambda: F.avg_pool2d(_x(1, 1, 4, 4, dtype=np.int64), 2), DTypeError),
    ("divisor_override 0", lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2, divisor_override=0), ArgumentError),
    ("linear features", lambda: F.linear(_x(2, 3), _x(4, 5)), ShapeError),
    ("linear bias", lambda: F.linear(_x(2, 3), _x(4, 3), _x(3)), ShapeError),
    ("linear weight ndim", lambda: F.linear(_x(2, 3), _x(3)), ShapeError),
    ("ce target range", lambda: F.cross_entropy(_x(2, 3), tc.tensor([0, 3])), ArgumentError),
    ("ce target shape", lambda: F.cross_entropy(_x(2, 3), tc.tensor([0, 1, 2])), ShapeError),
    ("ce float target shape", lambda: F.cross_entropy(_x(2, 3), _x(2, 4)), DTypeError),
    ("ce reduction", lambda: F.cross_entropy(_x(2, 3), tc.tensor([0, 1]), reduction="avg"), ArgumentError),
    ("ce smoothing", lambda: F.cross_entropy(_x(2, 3), tc.tensor([0, 1]), label_smoothing=1.5), ArgumentError),
    ("ce weight shape", lambda: F.cross_entropy(_x(2, 3), tc.tensor([0, 1]), _x(2)), ShapeError),
    ("ce int input", lambda: F.cross_entropy(_x(2, 3, dtype=np.int64), tc.tensor([0, 1])), DTypeError),
    ("ce 0-d input", lambda: F.cross_entropy(_x(), tc.tensor(0)), ShapeError),
    ("nll target range", lambda: F.nll_loss(_x(2, 3), tc.tensor([-1, 0])), ArgumentError),
    ("mse shapes", lambda: F.mse_loss(_x(2, 3), _x(3, 2)), ShapeError),
    ("softmax dim", lambda: F.softmax(_x(2, 3), 2), ArgumentError),
    ("softmax no dim", lambda: F.log_softmax(_x(2, 3)), ArgumentError),
    ("dropout p", lambda: F.dropout(_x(2, 3), 1.5), ArgumentError),
    ("bn channels", lambda: F.batch_norm(_x(2, 3), _x(2), _x(2)), ShapeError),
    ("bn eval without stats", lambda: F.batch_norm(_x(2, 3), None, None), ArgumentError),
    ("bn one value per channel", lambda: F.batch_norm(_x(1, 3), None, None, training=True), ShapeError),
]


@pytest.mark.parametrize("case", CONV_ERRORS, ids=[c[0] for c in CONV_ERRORS])
def test_known_invalid_cnn_arguments_raise_the_documented_type(case):
    _, call, expected = case
    expect_error(call, expected)


BAD_HYPER = st.one_of(st.integers(-3, 0), st.floats(-2, 3).filter(lambda v: v != int(v)),
                      st.sampled_from(["1", None, (1, 2, 3), (), (1, 0), (1, -1), (1.5, 1), [0, 1]]))


@given(op=st.sampled_from(["conv1d", "conv2d", "conv3d", "max_pool2d", "avg_pool2d", "unfold"]),
       arg=st.sampled_from(["stride", "dilation", "kernel_size"]), value=BAD_HYPER)
def test_non_positive_or_non_int_hyperparameters_raise_argument_error(op, arg, value):
    assume(not (op == "avg_pool2d" and arg == "dilation"))
    if op.startswith("conv"):
        d = int(op[4])
        assume(arg != "kernel_size")
        # (1, 2, 3) is a valid 3-tuple for conv3d, and (1, 2) for conv2d only when 2-D; skip those
        assume(not (isinstance(value, tuple) and len(value) == d and all(isinstance(v, int) and v > 0 for v in value)))
        call = lambda: getattr(F, op)(_x(1, 1, *(6,) * d), _x(1, 1, *(2,) * d), **{arg: value})  # noqa: E731
    elif op == "unfold":
        kw = {"kernel_size": 2, arg: value}
        call = lambda: F.unfold(_x(1, 1, 6, 6), **kw)  # noqa: E731
    else:
        kw = {"kernel_size": 2, arg: value}
        call = lambda: getattr(F, op)(_x(1, 1, 6, 6), **kw)  # noqa: E731
    assume(not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value)))
    if value in (None, ()) and arg == "stride" and op in ("max_pool2d", "avg_pool2d"):
        return                                  # stride=None or () means the kernel size, as torch
    expect_error(call, ArgumentError)


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "avg_pool2d", "unfold"])
@pytest.mark.parametrize("padding", [-1, -3, "full", "SAME", (1, -1), (0, 0, 0), 1.5, None])
def test_bad_padding_raises_argument_error(op, padding):
    if op == "conv2d":
        call = lambda: F.conv2d(_x(1, 1, 6, 6), _x(1, 1, 3, 3), padding=padding)  # noqa: E731
    else:
        call = lambda: getattr(F, op)(_x(1, 1, 6, 6), 3, padding=padding)  # noqa: E731
    expect_error(call, ArgumentError)


# Every CNN function with one argument replaced by a garbage value: it works or raises a
# documented error from tinygrad_cnn's own code, and backward through the result works.
def _g(*shape):
    return tc.tensor(np.random.default_rng(len(shape)).standard_normal(shape), requires_grad=True)


def _cnn_calls():
    x4, w4 = lambda: _g(2, 2, 6, 6), lambda: _g(2, 2, 3, 3)
    logits, labels = lambda: _g(3, 4), lambda: tc.tensor([0, 1, 3])
    return {
        "conv2d(stride)": lambda g: F.conv2d(x4(), w4(), stride=g),
        "conv2d(padding)": lambda g: F.conv2d(x4(), w4(), padding=g),
        "conv2d(dilation)": lambda g: F.conv2d(x4(), w4(), dilation=g),
        "conv2d(groups)": lambda g: F.conv2d(x4(), _g(2, 1, 3, 3), groups=g),
        "conv2d(bias)": lambda g: F.conv2d(x4(), w4(), g),
        "conv2d(weight)": lambda g: F.conv2d(x4(), g),
        "conv1d(padding)": lambda g: F.conv1d(_g(1, 2, 6), _g(2, 2, 3), padding=g),
        "unfold(kernel)": lambda g: F.unfold(x4(), g),
        "unfold(padding)": lambda g: F.unfold(x4(), 2, padding=g),
        "fold(output_size)": lambda g: F.fold(_x(1, 4, 4), g, 2),
        "fold(kernel)": lambda g: F.fold(_x(1, 4, 4), (3, 3), g),
        "max_pool2d(kernel)": lambda g: F.max_pool2d(x4(), g),
        "max_pool2d(stride)": lambda g: F.max_pool2d(x4(), 2, g),
        "max_pool2d(padding)": lambda g: F.max_pool2d(x4(), 3, 1, g),
        "max_pool2d(dilation)": lambda g: F.max_pool2d(x4(), 2, 1, 0, g),
        "avg_pool2d(kernel)": lambda g: F.avg_pool2d(x4(), g),
        "avg_pool2d(divisor)": lambda g: F.avg_pool2d(x4(), 2, divisor_override=g),
        "linear(weight)": lambda g: F.linear(_g(2, 3), g),
        "linear(bias)": lambda g: F.linear(_g(2, 3), _g(4, 3), g),
        "softmax(dim)": lambda g: F.softmax(logits(), g),
        "log_softmax(dtype)": lambda g: F.log_softmax(logits(), 1, dtype=g),
        "dropout(p)": lambda g: F.dropout(logits(), g),
        "leaky_relu(slope)": lambda g: F.leaky_relu(logits(), g),
        "cross_entropy(target)": lambda g: F.cross_entropy(logits(), g),
        "cross_entropy(weight)": lambda g: F.cross_entropy(logits(), labels(), g),
        "cross_entropy(ignore_index)": lambda g: F.cross_entropy(logits(), labels(), ignore_index=g),
        "cross_entropy(reduction)": lambda g: F.cross_entropy(logits(), labels(), reduction=g),
        "cross_entropy(label_smoothing)": lambda g: F.cross_entropy(logits(), labels(), label_smoothing=g),
        "nll_loss(target)": lambda g: F.nll_loss(logits(), g),
        "nll_loss(weight)": lambda g: F.nll_loss(logits(), labels(), g),
        "mse_loss(target)": lambda g: F.mse_loss(logits(), g),
        "batch_norm(momentum)": lambda g: F.batch_norm(_x(3, 2), _x(2), _x(2), training=True, momentum=g),
        "batch_norm(eps)": lambda g: F.batch_norm(_x(3, 2), _x(2), _x(2), eps=g),
        "batch_norm(weight)": lambda g: F.batch_norm(_x(3, 2), _x(2), _x(2), g),
        "pad(pad)": lambda g: F.pad(logits(), g),
        "conv_transpose2d(stride)": lambda g: F.conv_transpose2d(x4(), w4(), stride=g),
        "conv_transpose2d(padding)": lambda g: F.conv_transpose2d(x4(), w4(), padding=g),
        "conv_transpose2d(output_padding)": lambda g: F.conv_transpose2d(x4(), w4(), stride=2, output_padding=g),
        "conv_transpose2d(dilation)": lambda g: F.conv_transpose2d(x4(), w4(), dilation=g),
        "conv_transpose2d(groups)": lambda g: F.conv_transpose2d(x4(), w4(), groups=g),
        "conv_transpose2d(bias)": lambda g: F.conv_transpose2d(x4(), w4(), g),
        "adaptive_avg_pool2d(size)": lambda g: F.adaptive_avg_pool2d(x4(), g),
        "adaptive_max_pool2d(size)": lambda g: F.adaptive_max_pool2d(x4(), g),
        "max_pool1d(kernel)": lambda g: F.max_pool1d(_g(2, 2, 6), g),
        "max_pool1d(padding)": lambda g: F.max_pool1d(_g(2, 2, 6), 3, 1, g),
        "avg_pool1d(stride)": lambda g: F.avg_pool1d(_g(2, 2, 6), 2, g),
        "adaptive_avg_pool1d(size)": lambda g: F.adaptive_avg_pool1d(_g(2, 2, 6), g),
        "interpolate(size)": lambda g: F.interpolate(x4(), size=g),
        "interpolate(scale_factor)": lambda g: F.interpolate(x4(), scale_factor=g),
        "interpolate(mode)": lambda g: F.interpolate(x4(), size=3, mode=g),
        "interpolate(align_corners)": lambda g: F.interpolate(x4(), size=3, mode="bilinear", align_corners=g),
        "gelu(approximate)": lambda g: F.gelu(logits(), g),
        "elu(alpha)": lambda g: F.elu(logits(), g),
        "softplus(beta)": lambda g: F.softplus(logits(), g),
        "softplus(threshold)": lambda g: F.softplus(logits(), 1.0, g),
        "hardtanh(min_val)": lambda g: F.hardtanh(logits(), g),
        "dropout2d(p)": lambda g: F.dropout2d(x4(), g),
        "layer_norm(normalized_shape)": lambda g: F.layer_norm(logits(), g),
        "layer_norm(weight)": lambda g: F.layer_norm(logits(), (4,), g),
        "group_norm(num_groups)": lambda g: F.group_norm(x4(), g),
        "group_norm(eps)": lambda g: F.group_norm(x4(), 2, eps=g),
        "pad(mode)": lambda g: F.pad(x4(), (1, 1), mode=g),
        "pad(reflect pad)": lambda g: F.pad(x4(), g, mode="reflect"),
        "pad(circular pad)": lambda g: F.pad(x4(), g, mode="circular"),
    }


CNN_CALLS = _cnn_calls()


@given(g=garbage_st())
def test_garbage_cnn_arguments_work_or_raise_documented_errors(g):
    for name, fn in CNN_CALLS.items():                  # every call, for each drawn value
        def call():
            out = fn(g)
            for t in out if isinstance(out, tuple) else (out,):
                if isinstance(t, tc.Tensor) and t.requires_grad:
                    t.sum().backward()
            return out
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)     # np.dtype("a") on dtype="a"
            returns_or_documented_error(call, what=name)
