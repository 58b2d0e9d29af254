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


# ------------------------------------------------ the blocked array paths (ops/norm.py)
def _torch_batch_norm(torch, x, w, b, g, training, rm=None, rv=None, momentum=0.1, eps=1e-5):
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    c = x.shape[1]
    trm = torch.tensor(np.zeros(c, x.dtype) if rm is None else rm)
    trv = torch.tensor(np.ones(c, x.dtype) if rv is None else rv)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training, momentum, eps)
    ty.backward(torch.tensor(g))
    return [t.detach().numpy() for t in (ty, tx.grad, tw.grad, tb.grad, trm, trv)]


def _ours_batch_norm(x, w, b, g, training, rm=None, rv=None, momentum=0.1, eps=1e-5):
    X, W, B = (tc.tensor(a, requires_grad=True) for a in (x, w, b))
    c = x.shape[1]
    RM = tc.tensor(np.zeros(c, x.dtype) if rm is None else rm)
    RV = tc.tensor(np.ones(c, x.dtype) if rv is None else rv)
    y = F.batch_norm(X, RM, RV, W, B, training, momentum, eps)
    y.backward(tc.tensor(g))
    return [t.numpy() for t in (y, X.grad, W.grad, B.grad, RM, RV)]


def _relative(a, ref):
    return np.abs(a.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30)


# shapes: both block layouts (columns: N >= 4 or L <= 256; rows: N < 4 and L > 256), one and
# several channel blocks, BatchNorm1d (N, C)
SHAPES = [(16, 8, 12, 12), (64, 16), (2, 3, 40, 40), (8, 64, 32, 32), (2, 40, 60, 60), (32, 24, 4, 4)]


@pytest.mark.parametrize("shape", SHAPES)
def test_float32_large_mean_matches_torch_float32_and_float64(torch, shape):
    """x = 1000 + randn in float32: the corrected two-pass statistics keep every output within
    ~1e-6 of the float64 result (torch's own float32 error is ~1e-5), and close to torch's."""
    rng = np.random.default_rng(1)
    c = shape[1]
    x = (1000 + rng.standard_normal(shape)).astype(np.float32)
    w, b = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    ours = _ours_batch_norm(x, w, b, g, True, momentum=0.5)
    theirs = _torch_batch_norm(torch, x, w, b, g, True, momentum=0.5)
    exact = _torch_batch_norm(torch, *(a.astype(np.float64) for a in (x, w, b, g)), True, momentum=0.5)
    for name, o, t, e in zip(("y", "grad_x", "grad_w", "grad_b", "running_mean", "running_var"),
                             ours, theirs, exact):
        assert o.dtype == np.float32, name
        assert _relative(o, e) < 2e-6, (name, _relative(o, e), _relative(t, e))
        assert _relative(o, t) < 1e-4 + 2 * _relative(t, e), name


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_blocked_paths_match_torch_float64(torch, shape, training):
    rng = np.random.default_rng(2)
    c = shape[1]
    x = rng.standard_normal(shape) * 3 + 1
    w, b, g = rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(shape)
    rm, rv = rng.standard_normal(c), rng.random(c) + 0.5
    ours = _ours_batch_norm(x, w, b, g, training, rm, rv, 0.2, 1e-4)
    theirs = _torch_batch_norm(torch, x, w, b, g, training, rm, rv, 0.2, 1e-4)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("blas", [True, False])
@pytest.mark.parametrize("block", [None, 60])
@pytest.mark.parametrize("shape", SHAPES + [(1, 5, 7, 3), (5, 7, 1, 3), (3, 2, 17, 17), (4, 1, 5)])
def test_forced_blocks_and_reductions_match_torch(torch, monkeypatch, shape, block, blas):
    """Every block layout with many small blocks (block=60 elements) or the shape's own, the
    column sums as BLAS products or as np.add.reduce (no thread-local BLAS setter): float64
    against torch, float32 with a large mean against float64."""
    from tinygrad_cnn.ops import norm as NM
    if block is not None:
        monkeypatch.setattr(NM, "_BLOCK_ELEMENTS", block)
    if not blas:
        monkeypatch.setattr(NM, "_set_blas_local", None)
    rng = np.random.default_rng(7)
    c = shape[1]
    x = rng.standard_normal(shape) * 3 + 1
    w, b, g = rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(shape)
    ours = _ours_batch_norm(x, w, b, g, True, momentum=0.3)
    theirs = _torch_batch_norm(torch, x, w, b, g, True, momentum=0.3)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-10)
    x32, w32, b32, g32 = ((1000 + x).astype(np.float32), w.astype(np.float32), b.astype(np.float32),
                          g.astype(np.float32))
    ours = _ours_batch_norm(x32, w32, b32, g32, True, momentum=0.5)
    exact = _torch_batch_norm(torch, *(a.astype(np.float64) for a in (x32, w32, b32, g32)), True, momentum=0.5)
    for name, o, e in zip(("y", "grad_x", "grad_w", "grad_b", "running_mean", "running_var"), ours, exact):
        assert o.dtype == np.float32, name
        assert _relative(o, e) < 2e-6, (name, _relative(o, e))


def test_non_contiguous_input_and_gradient_and_partial_needs(torch):
    """A transposed input and gradient, no weight/bias, and only some inputs needing grad."""
    rng = np.random.default_rng(3)
    x = np.transpose(rng.standard_normal((10, 12, 6, 5)), (0, 3, 2, 1))   # (10, 5, 6, 12), strided
    g = np.transpose(rng.standard_normal((10, 12, 6, 5)), (0, 3, 2, 1))
    X = tc.tensor(x, requires_grad=True)
    y = F.batch_norm(X, None, None, training=True)
    y.backward(tc.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.batch_norm(tx, None, None, training=True)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    for training in (True, False):    # weight only (x frozen): grad_w alone, eval reads x - μ
        w = tc.tensor(rng.standard_normal(5), requires_grad=True)
        tw = torch.tensor(w.numpy(), requires_grad=True)
        rm, rv = rng.standard_normal(5), rng.random(5) + 0.5
        F.batch_norm(tc.tensor(x), tc.tensor(rm), tc.tensor(rv), w, None, training).backward(tc.tensor(g))
        torch.nn.functional.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv), tw, None,
                                       training).backward(torch.tensor(g))
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    from tinygrad_cnn.ops import norm as NM
    from tinygrad_cnn.ops import parallel
    rng = np.random.default_rng(4)
    shape = (8, 64, 32, 32)
    monkeypatch.setattr(NM, "_BLOCK_ELEMENTS", 1 << 16)
    assert len(NM._channels(shape).channels) > 1          # several blocks to share
    x = rng.standard_normal(shape).astype(np.float32) + 5
    w, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        monkeypatch.setitem(parallel._state, "threads", threads)
        results.append(_ours_batch_norm(x, w, b, g, True))
        X = tc.tensor(x.reshape(8, 4, -1), requires_grad=True)       # Standardize (group norm rows)
        y = F.group_norm(X, 4)
        y.backward(tc.tensor(g.reshape(8, 4, -1)))
        results[-1] += [y.numpy(), X.grad.numpy()]
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


def test_batch_norm_saves_no_activation_sized_copy():
    """Backward recomputes x - μ per block in cache: the node keeps x (an input, no copy) and
    per-channel vectors only."""
    x = tc.randn(4, 3, 8, 8, requires_grad=True)
    y = F.batch_norm(x, None, None, tc.ones(3, requires_grad=True), tc.zeros(3), training=True)
    ctx = y.grad_fn
    stored = [a for a in ctx.saved if isinstance(a, np.ndarray)]
    stored += [a for v in vars(ctx).values() for a in (v if isinstance(v, tuple) else (v,))
               if isinstance(a, np.ndarray)]
    big = [a for a in stored if a.size > 3]
    assert len(big) == 1 and big[0] is x.numpy() or np.shares_memory(big[0], x.numpy())


def test_array_and_graph_backward_agree():
    """The same coefficients on arrays (blocked) and on Tensors (create_graph=True)."""
    rng = np.random.default_rng(5)
    for training in (True, False):
        x = tc.tensor(rng.standard_normal((6, 4, 5, 5)) + 3, requires_grad=True)
        w, b = (tc.tensor(rng.standard_normal(4), requires_grad=True) for _ in range(2))
        rm, rv = tc.tensor(rng.standard_normal(4)), tc.tensor(rng.random(4) + 0.5)
        g = tc.tensor(rng.standard_normal((6, 4, 5, 5)))
        plain = tc.autograd.grad(F.batch_norm(x, rm, rv, w, b, training, 0.0), (x, w, b), g)
        graph = tc.autograd.grad(F.batch_norm(x, rm, rv, w, b, training, 0.0), (x, w, b), g,
                                 create_graph=True)
        for p, q in zip(plain, graph):
            np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", ["group_norm", "layer_norm", "instance_norm"])
def test_standardize_float32_large_mean_matches_float64(torch, fn):
    rng = np.random.default_rng(6)
    x = (1000 + rng.standard_normal((4, 8, 9, 10))).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    call = {"group_norm": lambda F_, t: F_.group_norm(t, 4),
            "layer_norm": lambda F_, t: F_.layer_norm(t, (9, 10)),
            "instance_norm": lambda F_, t: F_.instance_norm(t)}[fn]
    X = tc.tensor(x, requires_grad=True)
    y = call(F, X)
    y.backward(tc.tensor(g))
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = call(torch.nn.functional, tx)
    ty.backward(torch.tensor(g.astype(np.float64)))
    assert y.dtype == tc.float32 and X.grad.dtype == tc.float32
    assert _relative(y.numpy(), ty.detach().numpy()) < 1e-5
    assert _relative(X.grad.numpy(), tx.grad.numpy()) < 1e-5
