"""BatchNorm's float32 statistics stay accurate with a large mean (two-pass variance), and
residual adds and concatenations pass gradients on as views (no copies)."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops import elementwise as E
from tinygrad_cnn.ops import movement as MV


def _reference(x, w, b, g, eps=1e-5):
    """Batch norm and its gradients in float64 from the textbook formulas."""
    x, w, b, g = (a.astype(np.float64) for a in (x, w, b, g))
    axes = (0, 2, 3)
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    wr = w.reshape(1, -1, 1, 1)
    y = xhat * wr + b.reshape(1, -1, 1, 1)
    dxhat = g * wr
    dx = (dxhat - dxhat.mean(axis=axes, keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) / np.sqrt(var + eps)
    return y, dx, (g * xhat).sum(axis=axes), g.sum(axis=axes), var.reshape(-1)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_float32_statistics_and_gradients_against_float64(offset):
    rng = np.random.default_rng(0)
    x = (offset + rng.standard_normal((8, 5, 6, 7))).astype(np.float32)
    w, b = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    X, W, B = (tc.tensor(a, requires_grad=True) for a in (x, w, b))
    rv = tc.zeros(5)
    y = F.batch_norm(X, tc.zeros(5), rv, W, B, training=True, momentum=1.0)
    y.backward(tc.tensor(g))
    ry, rdx, rdw, rdb, rvar = _reference(x, w, b, g)
    m = x.size // 5
    # a mean of 1000 with unit variance: E[x²] - E[x]² in float32 would lose every digit
    np.testing.assert_allclose(rv.numpy(), rvar * m / (m - 1), rtol=1e-4)
    for got, ref in ((y, ry), (X.grad, rdx), (W.grad, rdw), (B.grad, rdb)):
        assert got.dtype == tc.float32
        np.testing.assert_allclose(got.numpy(), ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())


def test_residual_add_and_cat_backward_return_views():
    g = np.arange(24.0).reshape(2, 3, 4)
    for out in E.Add.backward(None, g):
        assert out is g or np.shares_memory(out, g)
    ctx = type("Ctx", (), {"axis": 1, "splits": np.array([1])})()
    parts = MV.Cat.backward(ctx, g)
    assert [p.shape for p in parts] == [(2, 1, 4), (2, 2, 4)]
    assert all(np.shares_memory(p, g) for p in parts)
