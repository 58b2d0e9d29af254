"""SiLU, GELU (exact and tanh), ELU, Softplus, Hardtanh, ReLU6, Hardsigmoid, Hardswish:
PyTorch values and gradients (including exactly at the kinks), erf against math.erf,
gradcheck, dtypes, modules, errors."""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.ops.nonlinear import erf
from torch_compare import assert_like_torch

RNG = np.random.default_rng(3)
KINKS = [-20.0, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 20.0, 25.0]
X = np.concatenate([RNG.standard_normal(300) * 4, KINKS, [-700.0, 700.0]])

CASES = [("silu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("elu", {}),
         ("elu", {"alpha": 0.7}), ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 10.0}),
         ("hardtanh", {}), ("hardtanh", {"min_val": -3.0, "max_val": 3.0}), ("relu6", {}),
         ("hardsigmoid", {}), ("hardswish", {})]


def test_erf_matches_math_erf():
    xs = np.concatenate([np.linspace(-8, 8, 100_001), RNG.standard_normal(10_000) * 3, [0.0, -0.0]])
    expected = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(erf(xs), expected, rtol=0, atol=1e-15)
    assert erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]


@pytest.mark.parametrize("name, kw", CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_like_torch_including_the_kinks(torch, name, kw, dtype):
    x = X.astype(dtype)
    assert np.isfinite(getattr(F, name)(tc.tensor(x), **kw).data).all()   # ±700: no overflow
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    # PyTorch's hardsigmoid gradient multiplies by 1/6 rounded to float32 (relative error 3e-8)
    grad_tol = dict(rtol=1e-7, atol=1e-14) if (name, dtype) == ("hardsigmoid", "float64") else tol
    assert_like_torch(torch, lambda t: getattr(F, name)(t, **kw),
                      lambda t: getattr(torch.nn.functional, name)(t, **kw), x, RNG, tol, grad_tol)


@pytest.mark.parametrize("name, kw", CASES)
def test_gradcheck_off_the_kinks(name, kw):
    x = RNG.uniform(-7, 7, (4, 5))
    for k in KINKS:                                        # keep finite differences off the kinks
        x[np.abs(x - k) < 0.01] += 0.05
    assert tc.gradcheck(lambda t: getattr(F, name)(t, **kw), (tc.tensor(x, requires_grad=True),))


def test_modules_repr_and_values_like_torch(torch):
    pairs = [(nn.SiLU(), torch.nn.SiLU()), (nn.GELU(), torch.nn.GELU()),
             (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.ELU(0.5), torch.nn.ELU(0.5)),
             (nn.Softplus(2.0, 5.0), torch.nn.Softplus(2.0, 5.0)), (nn.Hardtanh(-2.0, 2.0), torch.nn.Hardtanh(-2.0, 2.0)),
             (nn.ReLU6(inplace=True), torch.nn.ReLU6(inplace=True)), (nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
             (nn.Hardswish(), torch.nn.Hardswish())]
    x = RNG.standard_normal((3, 4)).astype(np.float32) * 4
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tc.tensor(x)).data, theirs(torch.tensor(x.copy())).numpy(),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.gelu(tc.randn(3), approximate="erf"), tc.ArgumentError, ["'none' or 'tanh'", "'erf'"]),
    (lambda: F.softplus(tc.randn(3), beta=0), tc.ArgumentError, ["beta", "non-zero"]),
    (lambda: F.hardtanh(tc.randn(3), 1.0, -1.0), tc.ArgumentError, ["min_val (1.0)", "max_val (-1.0)"]),
    (lambda: F.silu(tc.tensor([1, 2])), tc.DTypeError, ["silu", "floating point"]),
])
def test_errors(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert all(w in str(e.value) for w in words), str(e.value)
