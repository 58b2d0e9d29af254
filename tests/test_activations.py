"""linear, relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, dropout, batch_norm:
PyTorch comparison, gradcheck, stability, seeded randomness, running statistics, errors."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

RNG = np.random.default_rng(7)


def _away_from_zero(*shape):
    """Normal samples pushed at least 0.1 away from 0, so finite differences never cross
    relu's kink."""
    x = RNG.standard_normal(shape)
    return x + np.where(x >= 0, 0.1, -0.1)


def _check(torch, ours, theirs, arrays, grad=True, tol=1e-12, **kw):
    ins = [tc.tensor(a, requires_grad=grad) for a in arrays]
    tins = [torch.tensor(a, requires_grad=grad) for a in arrays]
    y, ty = ours(*ins, **kw), theirs(*tins, **kw)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    if grad:
        g = RNG.standard_normal(y.shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
        for a, b in zip(ins, tins):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


ELEMENTWISE = [("relu", {}), ("leaky_relu", {}), ("leaky_relu", dict(negative_slope=0.2)),
               ("sigmoid", {}), ("tanh", {})]


@pytest.mark.parametrize("name, kw", ELEMENTWISE)
def test_elementwise_activations_match_torch(torch, name, kw):
    _check(torch, getattr(F, name), getattr(torch.nn.functional, name) if name not in ("sigmoid", "tanh")
           else getattr(torch, name), [_away_from_zero(3, 4, 5)], **kw)


@pytest.mark.parametrize("name, kw", ELEMENTWISE)
def test_elementwise_activations_gradcheck(name, kw):
    x = tc.tensor(_away_from_zero(2, 5), requires_grad=True)
    assert tc.gradcheck(lambda x: getattr(F, name)(x, **kw), (x,))


def test_sigmoid_and_tanh_are_stable_at_extremes():
    x = tc.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    (F.sigmoid(x).sum() + F.tanh(x).sum()).backward()
    assert np.isfinite(F.sigmoid(x).data).all() and np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("shape, w_shape, bias", [((4, 5), (3, 5), True), ((2, 3, 5), (6, 5), True),
                                                   ((5,), (2, 5), False), ((2, 2, 2, 5), (4, 5), True)])
def test_linear_matches_torch_for_any_leading_dims(torch, shape, w_shape, bias):
    arrays = [RNG.standard_normal(shape), RNG.standard_normal(w_shape)]
    if bias:
        arrays.append(RNG.standard_normal(w_shape[0]))
    _check(torch, F.linear, torch.nn.functional.linear, arrays)


def test_linear_gradcheck():
    x, w, b = (tc.tensor(RNG.standard_normal(s), requires_grad=True) for s in ((2, 3, 4), (5, 4), (5,)))
    assert tc.gradcheck(F.linear, (x, w, b))


def test_linear_errors():
    with pytest.raises(tc.ShapeError, match=r"4 features.*expects 5.*\(3, 4\).*\(2, 5\)"):
        F.linear(tc.zeros(3, 4), tc.zeros(2, 5))
    with pytest.raises(tc.ShapeError, match="bias"):
        F.linear(tc.zeros(3, 5), tc.zeros(2, 5), tc.zeros(3))
    with pytest.raises(tc.DTypeError, match="float64"):
        F.linear(tc.zeros(3, 5), tc.zeros(2, 5, dtype=tc.float64))


# ------------------------------------------------------------------ softmax & log_softmax
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((4, 6), 1), ((4, 6), 0), ((2, 3, 4), -1), ((2, 3, 4), 1), ((5,), 0)])
def test_softmax_family_matches_torch(torch, name, shape, dim):
    _check(torch, getattr(F, name), getattr(torch.nn.functional, name), [RNG.standard_normal(shape)], dim=dim)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_gradcheck(name):
    x = tc.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert tc.gradcheck(lambda x: getattr(F, name)(x, dim=1), (x,))
    x = tc.tensor(RNG.standard_normal((2, 3, 2)), requires_grad=True)
    assert tc.gradcheck(lambda x: getattr(F, name)(x, dim=1), (x,))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_stable_at_1000(torch, name):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0], [1000.0, 1000.0, 1000.0]])
    X = tc.tensor(x, requires_grad=True)
    y = getattr(F, name)(X, dim=1)
    assert np.isfinite(y.numpy()).all()
    ty = getattr(torch.nn.functional, name)(torch.tensor(x), dim=1)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-12, atol=1e-12)
    y.backward(np.ones(y.shape))
    assert np.isfinite(X.grad.numpy()).all()


def test_softmax_float32_stays_float32_and_tensor_methods_agree():
    x = tc.randn(3, 5, requires_grad=True)
    y = F.softmax(x, dim=1)
    assert y.dtype == tc.float32
    np.testing.assert_allclose(x.softmax(1).data, y.numpy())
    np.testing.assert_allclose(x.log_softmax(1).data, F.log_softmax(x, 1).data)
    y.sum().backward()
    assert x.grad.dtype == tc.float32


def test_softmax_requires_dim():
    with pytest.raises(tc.ArgumentError, match="dim"):
        F.softmax(tc.zeros(2, 3))
    with pytest.raises(tc.ArgumentError, match="out of range"):
        F.log_softmax(tc.zeros(2, 3), dim=2)


# --------------------------------------------------------------------------------- dropout
def test_dropout_scales_kept_units_and_backward_uses_the_same_mask():
    tc.manual_seed(3)
    x = tc.ones(200, 100, requires_grad=True)
    y = F.dropout(x, p=0.3)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    assert y.dtype == tc.float32
    y.backward(np.full(y.shape, 2.0, np.float32))
    np.testing.assert_allclose(x.grad.numpy(), 2 * y.numpy(), rtol=1e-6)


def test_dropout_is_reproducible_with_manual_seed():
    tc.manual_seed(11)
    a = F.dropout(tc.ones(50, 50), 0.5).data
    tc.manual_seed(11)
    b = F.dropout(tc.ones(50, 50), 0.5).data
    c = F.dropout(tc.ones(50, 50), 0.5).data
    assert np.array_equal(a, b) and not np.array_equal(b, c)


def test_dropout_eval_zero_and_one():
    x = tc.randn(4, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    assert np.all(y.numpy() == 0)
    y.sum().backward()
    assert np.all(x.grad.numpy() == 0)
    with pytest.raises(tc.ArgumentError, match="probability"):
        F.dropout(x, 1.5)


def test_dropout_gradcheck_with_a_fixed_mask():
    x = tc.tensor(RNG.standard_normal((4, 5)), requires_grad=True)

    def fn(x):
        tc.manual_seed(5)                   # the same mask on every call
        return F.dropout(x, 0.4)
    assert tc.gradcheck(fn, (x,))


@pytest.mark.parametrize("shape", [(40, 30, 4, 5), (300, 4, 5)])        # batched, unbatched (C, H, W)
def test_dropout2d_zeroes_whole_channels(shape):
    tc.manual_seed(7)
    x = tc.ones(*shape, requires_grad=True)
    y = F.dropout2d(x, p=0.25)
    maps = y.numpy().reshape(-1, shape[-2] * shape[-1])
    assert np.all((maps == 0).all(axis=1) | np.isclose(maps, 1 / 0.75).all(axis=1))   # all or nothing
    assert abs((maps[:, 0] == 0).mean() - 0.25) < 0.06
    y.backward(np.full(shape, 3.0, np.float32))
    np.testing.assert_allclose(x.grad.numpy(), 3 * y.numpy(), rtol=1e-6)   # the same mask
    assert F.dropout2d(x, 0.25, training=False) is x
    m = nn.Dropout2d(0.25)
    assert repr(m) == "Dropout2d(p=0.25, inplace=False)"
    m.eval()
    assert m(x) is x
    with pytest.raises(tc.ShapeError, match=r"dropout2d: expected a 4-D input"):
        F.dropout2d(tc.ones(3, 4), 0.5)
    with pytest.raises(tc.ArgumentError, match="probability"):
        nn.Dropout2d(1.5)


def test_dropout2d_gradcheck_with_a_fixed_mask():
    x = tc.tensor(RNG.standard_normal((3, 4, 2, 2)), requires_grad=True)

    def fn(x):
        tc.manual_seed(2)
        return F.dropout2d(x, 0.5)
    assert tc.gradcheck(fn, (x,))


# ------------------------------------------------------------------------------ batch_norm
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 5, 2), (2, 3, 2, 3, 2)])
def test_batch_norm_matches_torch_including_running_stats(torch, training, affine, shape):
    x = RNG.standard_normal(shape) * 3 + 1
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    rm, rv = RNG.standard_normal(3), RNG.random(3) + 0.5
    X, W, B = tc.tensor(x, requires_grad=True), tc.tensor(w, requires_grad=True), tc.tensor(b, requires_grad=True)
    RM, RV = tc.tensor(rm), tc.tensor(rv)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    y = F.batch_norm(X, RM, RV, W if affine else None, B if affine else None, training, 0.2, 1e-4)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw if affine else None, tb if affine else None,
                                        training, 0.2, 1e-4)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(RM.numpy(), trm.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(RV.numpy(), trv.numpy(), rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    if affine:
        np.testing.assert_allclose(W.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(B.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training):
    x, w, b = (tc.tensor(RNG.standard_normal(s), requires_grad=True) for s in ((3, 2, 2, 2), (2,), (2,)))
    rm, rv = tc.tensor(RNG.standard_normal(2)), tc.tensor(RNG.random(2) + 0.5)
    assert tc.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training, 0.0), (x, w, b))


def test_batch_norm_training_without_running_stats_and_errors():
    x = tc.randn(4, 3, 2, 2)
    y = F.batch_norm(x, None, None, training=True)
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 2, 3)), 0, atol=1e-5)
    with pytest.raises(tc.ArgumentError, match="running_mean"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(tc.ShapeError, match=r"running_mean must have shape \(3,\)"):
        F.batch_norm(x, tc.zeros(4), tc.ones(3))
    with pytest.raises(tc.ShapeError, match="more than 1 value per channel"):
        F.batch_norm(tc.randn(1, 3), None, None, training=True)
