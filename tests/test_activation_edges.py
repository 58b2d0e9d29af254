"""The where-free activation paths (ops/elementwise.py, ops/nonlinear.py) give PyTorch's values
and gradients on edge inputs: ±inf, both NaNs, ±0, the kinks and their neighbouring floats,
huge and tiny values — each met by ordinary, zero, ±inf and NaN incoming gradients (a masked
gradient is 0 even where g is inf or NaN, as PyTorch selects rather than multiplies)."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops.elementwise import keep, select

CASES = [("relu", {}, ()), ("relu6", {}, (0.0, 6.0)), ("hardtanh", {}, (-1.0, 1.0)),
         ("hardtanh", {"min_val": -3.0, "max_val": 2.5}, (-3.0, 2.5)),
         ("elu", {}, (0.0,)), ("elu", {"alpha": 0.5}, (0.0,)), ("elu", {"alpha": 1.7}, (0.0,)),
         ("softplus", {}, (20.0,)), ("softplus", {"beta": 2.0, "threshold": 10.0}, (5.0,)),
         ("sigmoid", {}, ()), ("tanh", {}, ()), ("hardsigmoid", {}, (-3.0, 3.0))]
GRADS = [1.0, -2.5, 0.0, -0.0, np.inf, -np.inf, np.nan]


def _edge_values(dtype, kinks):
    neg_nan = np.copysign(np.array(np.nan, dtype), -1)
    vals = [np.nan, neg_nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1.0, -1.0, 700.0, -700.0,
            90.0, -90.0, 1e-45, -1e-45]
    for k in kinks:
        k = np.array(k, dtype)
        vals += [k, np.nextafter(k, dtype.type(np.inf)), np.nextafter(k, dtype.type(-np.inf))]
    return np.array(vals, dtype)


def _inputs(dtype, kinks):
    """Every edge value with every gradient, padded with random values to a multiple of 64
    elements (PyTorch's vectorised loop handles all of them; its scalar tail may differ at NaN)."""
    dtype = np.dtype(dtype)
    xs = _edge_values(dtype, kinks)
    x = np.repeat(xs, len(GRADS))
    g = np.tile(np.array(GRADS, dtype), len(xs))
    rng = np.random.default_rng(0)
    pad = (-len(x)) % 64 + 64
    x = np.concatenate([x, (rng.standard_normal(pad) * 5).astype(dtype)])
    g = np.concatenate([g, rng.standard_normal(pad).astype(dtype)])
    return x, g


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # inf·0 and the like, as NumPy reports them
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, kw, kinks", CASES)
def test_values_and_gradients_like_torch_on_edge_values(torch, name, kw, kinks, dtype):
    x, g = _inputs(dtype, kinks)
    fn = getattr(F, name) if hasattr(F, name) else getattr(tc, name)
    X = tc.tensor(x, requires_grad=True)
    y = fn(X, **kw)
    y.backward(tc.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = (getattr(torch.nn.functional, name, None) or getattr(torch, name))(tx, **kw)
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-13, atol=0) if dtype == "float64" else dict(rtol=2e-6, atol=0)
    eps = np.finfo(dtype).eps
    if name == "hardsigmoid":      # forward: PyTorch clips a + 3 before dividing by 6
        tol["atol"] = 2 * eps
    if name in ("tanh", "sigmoid"):   # 1 - z² and 1 - z round at |z| near 1 (np.tanh is not torch's)
        tol["atol"] = 8 * eps
    for ours, theirs in ((y.numpy(), ty.detach().numpy()), (X.grad.numpy(), tx.grad.numpy())):
        assert ours.dtype == theirs.dtype == np.dtype(dtype)
        # same NaNs, same infinities (with sign), values to rounding
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(theirs))
        np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs))
        np.testing.assert_allclose(ours, theirs, equal_nan=True, **tol)


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh"])
def test_masked_gradients_are_exact(torch, name):
    """Where the derivative is 0 or 1 the gradient is g itself or exactly 0: compare bits."""
    x, g = _inputs("float64", (-1.0, 0.0, 1.0, 6.0))
    X = tc.tensor(x, requires_grad=True)
    getattr(F, name)(X).backward(tc.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    getattr(torch.nn.functional, name)(tx).backward(torch.tensor(g))
    ours, theirs = X.grad.numpy(), tx.grad.numpy()
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    assert same.all(), x[~same]


def test_keep_and_select_on_odd_layouts():
    rng = np.random.default_rng(1)
    for dtype in (np.float16, np.float32, np.float64):
        g = rng.standard_normal((5, 7)).astype(dtype)[:, ::2].T      # non-contiguous
        g[0, 0], g[1, 1] = np.inf, np.nan
        m = rng.random(g.shape) > 0.5
        m[0, 0] = m[1, 1] = False
        out = keep(m, g)
        assert out.dtype == dtype and out.shape == g.shape
        np.testing.assert_array_equal(out, np.where(m, g, 0))
        x = rng.standard_normal(g.shape).astype(dtype)
        np.testing.assert_array_equal(select(m, x, g, dtype), np.where(m, x, g))
        np.testing.assert_array_equal(select(m, 1.0, g, dtype), np.where(m, dtype(1), g))
    assert keep(np.array(True), np.array(2.5)).tolist() == 2.5           # 0-d


@pytest.mark.parametrize("name, kw", [("elu", {"alpha": 0.7}), ("elu", {}), ("softplus", {"beta": 2.0}),
                                      ("sigmoid", {}), ("tanh", {}), ("relu", {}), ("relu6", {}),
                                      ])
def test_second_derivatives_like_torch(torch, name, kw):
    """create_graph runs the Tensor branch of each backward: double backward against torch."""
    x = np.random.default_rng(2).uniform(-4, 4, 64)
    x[np.abs(x) < 0.05] += 0.1
    fn = getattr(F, name) if hasattr(F, name) else getattr(tc, name)
    X = tc.tensor(x, requires_grad=True)
    (gx,) = tc.autograd.grad(fn(X, **kw).sum(), (X,), create_graph=True)
    (ggx,) = tc.autograd.grad((gx * X * X).sum(), (X,))     # through gx and through X
    tx = torch.tensor(x, requires_grad=True)
    tf = getattr(torch.nn.functional, name, None) or getattr(torch, name)
    (tgx,) = torch.autograd.grad(tf(tx, **kw).sum(), (tx,), create_graph=True)
    (tggx,) = torch.autograd.grad((tgx * tx * tx).sum(), (tx,))
    np.testing.assert_allclose(gx.numpy(), tgx.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ggx.numpy(), tggx.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name, kw, kinks", CASES)
def test_zero_dim_and_strided_inputs_like_torch(torch, name, kw, kinks):
    """0-d tensors (ufuncs return scalars there) and transposed, non-contiguous inputs."""
    fn = getattr(F, name) if hasattr(F, name) else getattr(tc, name)
    tf = getattr(torch.nn.functional, name, None) or getattr(torch, name)
    rng = np.random.default_rng(3)
    for x in [np.array(v) for v in (0.7, -2.0, 30.0)] + [(rng.standard_normal((6, 5)) * 4).T]:
        g = rng.standard_normal(x.shape).T.copy().T if x.ndim else np.array(1.5)
        X = tc.tensor(x, requires_grad=True)
        y = fn(X, **kw)
        y.backward(tc.tensor(g))
        tx = torch.tensor(x, requires_grad=True)
        ty = tf(tx, **kw)
        ty.backward(torch.tensor(g))
        assert y.shape == tuple(ty.shape) and X.grad.shape == x.shape
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-13, atol=1e-15)
