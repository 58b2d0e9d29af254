"""layer_norm / group_norm (one Standardize Function + affine ops) and nn.LayerNorm /
nn.GroupNorm: PyTorch forward and backward for input, weight and bias; a loop reference;
gradcheck; modules; errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

RNG = np.random.default_rng(13)

CASES = [("layer_norm", (6,), (3, 4, 5, 6)), ("layer_norm", (5, 6), (3, 4, 5, 6)),
         ("layer_norm", (8,), (2, 8)), ("group_norm", 2, (3, 4, 5, 6)), ("group_norm", 4, (3, 4, 5)),
         ("group_norm", 1, (2, 6, 3, 3)), ("group_norm", 3, (2, 6))]


def _param_shape(name, arg, x_shape):
    return tuple(arg) if name == "layer_norm" else (x_shape[1],)


@pytest.mark.parametrize("name, arg, x_shape", CASES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_like_torch(torch, name, arg, x_shape, affine, dtype):
    x = (RNG.standard_normal(x_shape) * 3 + 1).astype(dtype)
    params = [RNG.standard_normal(_param_shape(name, arg, x_shape)).astype(dtype) for _ in range(2)] if affine else []
    ours = [tc.tensor(a, requires_grad=True) for a in [x] + params]
    theirs = [torch.tensor(a, requires_grad=True) for a in [x] + params]
    y = getattr(F, name)(ours[0], arg, *ours[1:])
    ty = getattr(torch.nn.functional, name)(theirs[0], arg, *theirs[1:])
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    assert y.dtype == ours[0].dtype
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    g = RNG.standard_normal(x_shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **tol)


@given(n=st.integers(1, 3), groups=st.integers(1, 3), per_group=st.integers(1, 3), length=st.integers(1, 4))
def test_group_norm_matches_a_loop_reference(n, groups, per_group, length):
    x = RNG.standard_normal((n, groups * per_group, length)) * 2
    expected = np.empty_like(x)
    for i in range(n):
        for gi in range(groups):
            block = x[i, gi * per_group:(gi + 1) * per_group]
            expected[i, gi * per_group:(gi + 1) * per_group] = (block - block.mean()) / np.sqrt(block.var() + 1e-5)
    np.testing.assert_allclose(F.group_norm(tc.tensor(x), groups).data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, arg, x_shape", CASES)
def test_gradcheck(name, arg, x_shape):
    x = tc.tensor(RNG.standard_normal(x_shape), requires_grad=True)
    w, b = (tc.tensor(RNG.standard_normal(_param_shape(name, arg, x_shape)), requires_grad=True) for _ in range(2))
    assert tc.gradcheck(lambda x, w, b: getattr(F, name)(x, arg, w, b), (x, w, b))


def test_modules_like_torch(torch):
    x = RNG.standard_normal((2, 4, 5)).astype(np.float32)
    for ours, theirs in [(nn.LayerNorm(5), torch.nn.LayerNorm(5)),
                         (nn.LayerNorm((4, 5), elementwise_affine=False), torch.nn.LayerNorm((4, 5), elementwise_affine=False)),
                         (nn.LayerNorm(5, bias=False), torch.nn.LayerNorm(5, bias=False)),
                         (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
                         (nn.GroupNorm(2, 4, affine=False), torch.nn.GroupNorm(2, 4, affine=False))]:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        with torch.no_grad():
            for p in theirs.parameters():
                p.uniform_(-1, 1)
        ours.load_state_dict(theirs.state_dict())
        np.testing.assert_allclose(ours(tc.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.layer_norm(tc.randn(2, 3, 4), (3,)), tc.ShapeError, ["normalized_shape (3,)", "(2, 3, 4)"]),
    (lambda: F.layer_norm(tc.randn(2, 4), (4,), tc.randn(3)), tc.ShapeError, ["weight must have shape (4,)", "(3,)"]),
    (lambda: F.group_norm(tc.randn(2, 6, 3), 4), tc.ArgumentError, ["num_groups", "C=6", "4"]),
    (lambda: F.group_norm(tc.randn(6), 2), tc.ShapeError, ["(N, C, ...)"]),
    (lambda: nn.GroupNorm(4, 6), tc.ArgumentError, ["num_channels (6)", "num_groups (4)"]),
    (lambda: nn.LayerNorm(4)(tc.randn(2, 5)), tc.ShapeError, ["LayerNorm", "normalized_shape (4,)"]),
    (lambda: F.layer_norm(tc.randn(2, 4), (float("nan"),)), tc.ArgumentError, ["normalized_shape"]),   # fuzz
    (lambda: F.layer_norm(tc.randn(4), (2, 4)), tc.ShapeError, ["normalized_shape (2, 4)"]),
])
def test_errors(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert all(w in str(e.value) for w in words), str(e.value)
