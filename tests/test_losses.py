"""cross_entropy, nll_loss, mse_loss: PyTorch comparison over every option, gradcheck,
stability at ±1000, errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F

RNG = np.random.default_rng(2024)
REDUCTIONS = ["mean", "sum", "none"]


def _targets(shape_no_class, n_classes, ignore=True):
    t = RNG.integers(0, n_classes, shape_no_class)
    if ignore:
        t.reshape(-1)[::3] = -100                      # every third element ignored
    return t


def _compare(torch, fn, tfn, x, target, weight=None, prob_grad=False, **kw):
    X, tx = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if target.dtype.kind == "f":
        T, tt = tc.tensor(target, requires_grad=prob_grad), torch.tensor(target, requires_grad=prob_grad)
    else:
        T, tt = tc.tensor(target), torch.tensor(target)
    W = None if weight is None else tc.tensor(weight)
    tw = None if weight is None else torch.tensor(weight)
    y, ty = fn(X, T, weight=W, **kw), tfn(tx, tt, weight=tw, **kw)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    if prob_grad:
        np.testing.assert_allclose(T.grad.numpy(), tt.grad.numpy(), rtol=1e-12, atol=1e-12)


CE_GRID = list(itertools.product(REDUCTIONS, [0.0, 0.25], [False, True], [(6, 5), (3, 4, 2, 3)]))


@pytest.mark.parametrize("reduction, smoothing, weighted, shape", CE_GRID)
def test_cross_entropy_class_indices_match_torch(torch, reduction, smoothing, weighted, shape):
    x = RNG.standard_normal(shape) * 2
    t = _targets((shape[0],) + shape[2:], shape[1])
    w = RNG.random(shape[1]) + 0.5 if weighted else None
    _compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, x, t, w,
             reduction=reduction, label_smoothing=smoothing)


@pytest.mark.parametrize("reduction, smoothing, weighted, shape", CE_GRID)
def test_cross_entropy_class_probabilities_match_torch(torch, reduction, smoothing, weighted, shape):
    x = RNG.standard_normal(shape) * 2
    q = RNG.random(shape)
    q /= q.sum(axis=1, keepdims=True)
    w = RNG.random(shape[1]) + 0.5 if weighted else None
    _compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, x, q, w, prob_grad=True,
             reduction=reduction, label_smoothing=smoothing)


def test_cross_entropy_custom_ignore_index_and_unbatched(torch):
    x = RNG.standard_normal((5, 4))
    t = np.array([0, 3, 2, 3, 1])
    _compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, x, t, ignore_index=3)
    for red in REDUCTIONS:
        _compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, RNG.standard_normal(4),
                 np.array(2), reduction=red)


def test_cross_entropy_everything_ignored_is_nan_like_torch(torch):
    x = RNG.standard_normal((3, 4))
    t = np.full(3, -100)
    X, tx = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = F.cross_entropy(X, tc.tensor(t)), torch.nn.functional.cross_entropy(tx, torch.tensor(t))
    assert np.isnan(y.item()) and np.isnan(ty.item())
    y.backward()
    ty.backward()
    assert np.array_equal(X.grad.numpy(), tx.grad.numpy()) and not X.grad.numpy().any()   # no NaN gradient
    assert F.cross_entropy(tc.tensor(x), tc.tensor(t), reduction="sum").item() == 0.0


def test_cross_entropy_stable_at_plus_minus_1000(torch):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
    for t in (np.array([0, 0, 1]), np.array([2, 1, 0])):
        for dtype in (np.float64, np.float32):
            X = tc.tensor(x.astype(dtype), requires_grad=True)
            y = F.cross_entropy(X, tc.tensor(t), label_smoothing=0.1)
            y.backward()
            assert np.isfinite(y.item()) and np.isfinite(X.grad.numpy()).all()
            ty = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), label_smoothing=0.1)
            np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-6)


def test_cross_entropy_backward_is_softmax_minus_one_hot_over_n():
    """seed 004 Softmax.cal_loss: delta = softmax - label (the /batch is applied by the caller)."""
    x = RNG.standard_normal((8, 10))
    t = RNG.integers(0, 10, 8)
    X = tc.tensor(x, requires_grad=True)
    F.cross_entropy(X, tc.tensor(t)).backward()
    softmax = np.exp(x - x.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(X.grad.numpy(), (softmax - np.eye(10)[t]) / 8, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum", label_smoothing=0.3),
                                dict(reduction="none", ignore_index=1)])
def test_cross_entropy_gradcheck(kw):
    x = tc.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    w = tc.tensor(RNG.random(3) + 0.5)
    t = tc.tensor(np.array([0, 1, 2, 1]))
    assert tc.gradcheck(lambda x: F.cross_entropy(x, t, weight=w, **kw), (x,))
    q = tc.tensor(RNG.dirichlet(np.ones(3), size=4), requires_grad=True)
    kw.pop("ignore_index", None)
    assert tc.gradcheck(lambda x, q: F.cross_entropy(x, q, weight=w, **kw), (x, q))


@pytest.mark.parametrize("reduction, weighted, shape", list(itertools.product(
    REDUCTIONS, [False, True], [(6, 5), (3, 4, 2)])))
def test_nll_loss_matches_torch(torch, reduction, weighted, shape):
    x = torch.log_softmax(torch.tensor(RNG.standard_normal(shape)), 1).numpy()
    t = _targets((shape[0],) + shape[2:], shape[1])
    w = RNG.random(shape[1]) + 0.5 if weighted else None
    _compare(torch, F.nll_loss, torch.nn.functional.nll_loss, x, t, w, reduction=reduction)


def test_nll_of_log_softmax_is_cross_entropy_and_gradcheck():
    x = tc.tensor(RNG.standard_normal((5, 4)), requires_grad=True)
    t = tc.tensor(RNG.integers(0, 4, 5))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, 1), t).data, F.cross_entropy(x, t).data, rtol=1e-12)
    assert tc.gradcheck(lambda x: F.nll_loss(x, t, reduction="sum"), (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch_and_gradcheck(torch, reduction):
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    A, B = tc.tensor(a, requires_grad=True), tc.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    y = F.mse_loss(A, B, reduction=reduction)
    ty = torch.nn.functional.mse_loss(ta, tb, reduction=reduction)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    g = RNG.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(A.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(B.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    A2, B2 = tc.tensor(a, requires_grad=True), tc.tensor(b, requires_grad=True)
    assert tc.gradcheck(lambda u, v: F.mse_loss(u, v, reduction=reduction), (A2, B2))


def test_losses_keep_float32():
    x = tc.randn(4, 3, requires_grad=True)
    for loss in (F.cross_entropy(x, tc.tensor([0, 1, 2, 0])), F.mse_loss(x, tc.zeros(4, 3)),
                 F.nll_loss(x, tc.tensor([0, 1, 2, 0]))):
        assert loss.dtype == tc.float32
        x.grad = None
        loss.backward()
        assert x.grad.dtype == tc.float32


# ------------------------------------------------------------------------------ errors
def test_error_target_out_of_range_names_value_position_and_classes():
    with pytest.raises(tc.ArgumentError) as e:
        F.cross_entropy(tc.zeros(3, 4), tc.tensor([0, 7, 1]))
    msg = str(e.value)
    assert "target 7" in msg and "(1,)" in msg and "4 classes" in msg and "(3, 4)" in msg
    with pytest.raises(tc.ArgumentError, match="target -1"):
        F.nll_loss(tc.zeros(3, 4), tc.tensor([0, -1, 1]))


def test_error_target_shape_and_dtype():
    with pytest.raises(tc.ShapeError, match=r"\(3,\).*\(3, 4\).*\(4,\)"):
        F.cross_entropy(tc.zeros(3, 4), tc.tensor([0, 1, 2, 3]))
    with pytest.raises(tc.DTypeError, match="class indices"):
        F.cross_entropy(tc.zeros(3, 4), tc.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(tc.ArgumentError, match="ignore_index"):
        F.cross_entropy(tc.zeros(3, 4), tc.zeros(3, 4), ignore_index=1)
    with pytest.raises(tc.ShapeError, match="weight"):
        F.cross_entropy(tc.zeros(3, 4), tc.tensor([0, 1, 2]), weight=tc.ones(3))
    with pytest.raises(tc.ShapeError, match="target shape"):
        F.mse_loss(tc.zeros(3, 4), tc.zeros(4))


def test_error_bad_reduction_and_smoothing():
    with pytest.raises(tc.ArgumentError, match="reduction"):
        F.cross_entropy(tc.zeros(3, 4), tc.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(tc.ArgumentError, match="label_smoothing"):
        F.cross_entropy(tc.zeros(3, 4), tc.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(tc.ArgumentError, match="reduction"):
        F.mse_loss(tc.zeros(3), tc.zeros(3), reduction="max")


@given(n=st.integers(1, 5), c=st.integers(1, 6), extra=st.lists(st.integers(1, 3), max_size=2),
       reduction=st.sampled_from(REDUCTIONS), smoothing=st.sampled_from([0.0, 0.1]),
       weighted=st.booleans(), probs=st.booleans(), scale=st.sampled_from([1.0, 30.0]))
def test_cross_entropy_hypothesis_matches_torch(n, c, extra, reduction, smoothing, weighted, probs, scale):
    torch = pytest.importorskip("torch")
    shape = (n, c, *extra)
    x = RNG.standard_normal(shape) * scale
    w = RNG.random(c) + 0.5 if weighted else None
    if probs:
        t = RNG.random(shape)
        t /= t.sum(axis=1, keepdims=True)
    else:
        t = _targets((n, *extra), c)
    _compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, x, t, w,
             reduction=reduction, label_smoothing=smoothing)
