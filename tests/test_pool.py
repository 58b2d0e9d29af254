"""max_pool2d and avg_pool2d: PyTorch comparison (values, indices, gradients), ties, NaN,
gradcheck, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from torch_compare import assert_like_torch

RNG = np.random.default_rng(99)


@pytest.fixture(params=["auto", "threads"])
def threads(request, monkeypatch):
    """Each pooling test also runs split over 3 threads, one image range each."""
    if request.param == "threads":
        from tinygrad_cnn.ops import parallel, pool
        monkeypatch.setattr(pool, "MIN_PARALLEL_BYTES", 1)
        monkeypatch.setitem(parallel._state, "threads", 3)
    return request.param


def _distinct(*shape):
    """Values spaced >= 0.01 apart in random order: no ties, and finite differences with
    eps=1e-6 never change which element is the maximum."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) * 0.01 - n * 0.005).reshape(shape).astype(np.float64)


MAX_GRID = [
    dict(kernel_size=2),
    dict(kernel_size=2, stride=1),
    dict(kernel_size=3, stride=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=2, ceil_mode=True),                # overhanging last window
    dict(kernel_size=3, stride=1, dilation=2),
    dict(kernel_size=(2, 3), stride=(3, 2), padding=(1, 1), dilation=(2, 1), ceil_mode=True),
    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
]


def _compare(torch, ours, theirs, x, **kw):
    X = tc.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, ty = ours(X, **kw), theirs(tx, **kw)
    if kw.get("return_indices"):
        (y, idx), (ty, tidx) = y, ty
        assert idx.dtype == tc.int64
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    g = RNG.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", MAX_GRID)
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 9, 7)])
def test_max_pool2d_matches_torch(torch, threads, shape, kw):
    _compare(torch, F.max_pool2d, torch.nn.functional.max_pool2d, RNG.standard_normal(shape),
             return_indices=True, **kw)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_ties_go_to_the_first_maximum_like_torch(torch, threads, kw):
    x = RNG.integers(0, 3, size=(2, 3, 8, 8)).astype(np.float64)     # many ties
    _compare(torch, F.max_pool2d, torch.nn.functional.max_pool2d, x, return_indices=True, **kw)


def test_max_pool2d_first_maximum_in_row_major_window_order():
    x = tc.tensor([[[[5.0, 5.0], [5.0, 5.0]]]], requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.item() == 0
    y.sum().backward()
    assert x.grad.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


def test_max_pool2d_nan_and_minus_inf_like_torch(torch, threads):
    x = RNG.standard_normal((1, 2, 6, 6))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan              # two NaNs in one window: the last wins
    x[0, 1, 2:4, 2:4] = -np.inf                          # a window of -inf
    x[0, 1, 0, 0] = -np.inf                              # -inf next to padding
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)):
        X, tx = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (y, i), (ty, ti) = F.max_pool2d(X, return_indices=True, **kw), \
            torch.nn.functional.max_pool2d(tx, return_indices=True, **kw)
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        y.backward(np.ones(y.shape))
        ty.backward(torch.ones_like(ty))
        np.testing.assert_array_equal(X.grad.numpy(), tx.grad.numpy())



@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_pool2d_routes_inf_and_nan_gradients_only_to_the_switch(kw, threads):
    """Positions that are not a window's argmax get exactly 0, even when the incoming gradient
    is inf or NaN (0 * inf would be NaN)."""
    x = _distinct(2, 3, 6, 6)
    X = tc.tensor(x, requires_grad=True)
    y = F.max_pool2d(X, **kw)
    g = RNG.standard_normal(y.shape)
    g[0, 0, 0, 0], g[1, 2, 1, 1] = np.inf, np.nan
    y.backward(g)
    expected = np.zeros_like(x)                          # loop reference: each switch gets its g
    k, s, p = kw["kernel_size"], kw.get("stride", kw["kernel_size"]), kw.get("padding", 0)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    for n, c, i, j in np.ndindex(*y.shape):
        win = xp[n, c, i * s:i * s + k, j * s:j * s + k]
        r, q = np.unravel_index(np.argmax(win), win.shape)
        expected[n, c, i * s + r - p, j * s + q - p] += g[n, c, i, j]
    np.testing.assert_allclose(X.grad.numpy(), expected, rtol=1e-12)   # overlapping: sum order may differ
    assert np.array_equal(X.grad.numpy() == 0, expected == 0)             # exact zeros, no stray NaN
    assert np.isinf(X.grad.numpy()).sum() == 1 and np.isnan(X.grad.numpy()).sum() == 1

AVG_GRID = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
    dict(kernel_size=2, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, divisor_override=5),
]


@pytest.mark.parametrize("kw", AVG_GRID)
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 9, 7)])
def test_avg_pool2d_matches_torch(torch, threads, shape, kw):
    x = RNG.standard_normal(shape)
    assert_like_torch(torch, lambda t: F.avg_pool2d(t, **kw),
                      lambda t: torch.nn.functional.avg_pool2d(t, **kw), x, RNG,
                      tol=dict(rtol=1e-12, atol=1e-12))


@given(h=st.integers(1, 10), w=st.integers(1, 10), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), dl=st.integers(1, 2), ceil=st.booleans())
def test_pooling_hypothesis_shapes_match_torch(h, w, k, s, p, dl, ceil):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((1, 2, h, w))
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil)
    try:
        ty = torch.nn.functional.max_pool2d(torch.tensor(x), dilation=dl, **kw)
    except RuntimeError:
        with pytest.raises((tc.ShapeError, tc.ArgumentError)):
            F.max_pool2d(tc.tensor(x), dilation=dl, **kw)
        return
    np.testing.assert_array_equal(F.max_pool2d(tc.tensor(x), dilation=dl, **kw).data, ty.numpy())
    ta = torch.nn.functional.avg_pool2d(torch.tensor(x), **kw)
    np.testing.assert_allclose(F.avg_pool2d(tc.tensor(x), **kw).data, ta.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True)])
def test_max_pool2d_gradcheck(kw):
    x = tc.tensor(_distinct(1, 2, 5, 6), requires_grad=True)
    assert tc.gradcheck(lambda x: F.max_pool2d(x, **kw), (x,))


@pytest.mark.parametrize("kw", AVG_GRID[1:6])
def test_avg_pool2d_gradcheck(kw):
    x = tc.tensor(RNG.standard_normal((1, 2, 5, 6)), requires_grad=True)
    assert tc.gradcheck(lambda x: F.avg_pool2d(x, **kw), (x,))


def test_unbatched_input_and_float32():
    x = tc.randn(3, 6, 6, requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert y.shape == (3, 3, 3) and y.dtype == tc.float32
    a = F.avg_pool2d(x, 2)
    (y.sum() + a.sum()).backward()
    assert x.grad.dtype == tc.float32


def test_max_pool2d_default_stride_is_the_kernel():
    assert F.max_pool2d(tc.zeros(1, 1, 6, 6), 3).shape == (1, 1, 2, 2)
    assert F.avg_pool2d(tc.zeros(1, 1, 6, 6), 3).shape == (1, 1, 2, 2)


def test_error_padding_above_half_the_kernel():
    with pytest.raises(tc.ArgumentError) as e:
        F.max_pool2d(tc.zeros(1, 1, 8, 8), 3, padding=2)
    assert "PH=2" in str(e.value) and "KH=3" in str(e.value) and "(1, 1, 8, 8)" in str(e.value)
    with pytest.raises(tc.ArgumentError):
        F.avg_pool2d(tc.zeros(1, 1, 8, 8), (2, 4), padding=(1, 3))


def test_error_output_below_one_and_bad_input():
    with pytest.raises(tc.ShapeError) as e:
        F.max_pool2d(tc.zeros(1, 1, 2, 8), 3)
    assert "H=2" in str(e.value) and "KH=3" in str(e.value)
    with pytest.raises(tc.ShapeError, match="4-D"):
        F.max_pool2d(tc.zeros(8, 8), 2)
    with pytest.raises(tc.ArgumentError, match="stride"):
        F.avg_pool2d(tc.zeros(1, 1, 8, 8), 2, stride=0)
    with pytest.raises(tc.DTypeError):
        F.max_pool2d(tc.tensor(np.zeros((1, 1, 4, 4), np.int64)), 2)
