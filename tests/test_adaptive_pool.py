"""adaptive_avg_pool2d / adaptive_max_pool2d: loop references (hypothesis shapes), PyTorch
comparison (values, indices, gradients, NaN), gradcheck, modules, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.ops.pool import adaptive_windows
from torch_compare import assert_like_torch

RNG = np.random.default_rng(7)
SIZES = [(1, 1), (3, 4), (7, 10), (5, 3), (9, 12), (2, 10), (None, 4), 2]


def _loop_reference(x, out, reduce):
    """Output (i, j) = reduce over rows [floor(i*H/OH), ceil((i+1)*H/OH)) and likewise columns,
    written out element by element."""
    n, c, h, w = x.shape
    y = np.empty((n, c) + out)
    for i in range(out[0]):
        h0, h1 = (i * h) // out[0], -(-((i + 1) * h) // out[0])
        for j in range(out[1]):
            w0, w1 = (j * w) // out[1], -(-((j + 1) * w) // out[1])
            y[:, :, i, j] = reduce(x[:, :, h0:h1, w0:w1], axis=(2, 3))
    return y


def test_adaptive_windows_are_pytorchs():
    assert adaptive_windows(10, 4) == [(0, 3), (2, 5), (5, 8), (7, 10)]   # overlapping
    assert adaptive_windows(6, 3) == [(0, 2), (2, 4), (4, 6)]             # tiling
    assert adaptive_windows(2, 3) == [(0, 1), (0, 2), (1, 2)]             # larger than the input


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       oh=st.integers(1, 10), ow=st.integers(1, 10))
def test_forward_and_backward_match_loop_references(n, c, h, w, oh, ow):
    x = RNG.standard_normal((n, c, h, w))
    g = RNG.standard_normal((n, c, oh, ow))
    for fn, reduce in ((F.adaptive_avg_pool2d, np.mean), (F.adaptive_max_pool2d, np.max)):
        X = tc.tensor(x, requires_grad=True)
        y = fn(X, (oh, ow))
        np.testing.assert_allclose(y.numpy(), _loop_reference(x, (oh, ow), reduce), rtol=1e-12, atol=1e-14)
        y.backward(g)
        # the gradient is the transposed Jacobian applied to g: check it against finite
        # differences of the loop reference in one random direction
        v = RNG.standard_normal(x.shape)
        eps = 1e-6
        directional = ((_loop_reference(x + eps * v, (oh, ow), reduce)
                        - _loop_reference(x - eps * v, (oh, ow), reduce)) / (2 * eps) * g).sum()
        assert np.isclose((X.grad.numpy() * v).sum(), directional, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_like_torch(torch, size, dtype):
    x = RNG.standard_normal((2, 3, 7, 10)).astype(dtype)
    for name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        assert_like_torch(torch, lambda t: getattr(F, name)(t, size),
                          lambda t: getattr(torch.nn.functional, name)(t, size), x, RNG)


def test_max_indices_ties_and_nan_like_torch(torch):
    x = np.zeros((1, 2, 5, 7))                             # all ties: the first element wins
    x[0, 1] = RNG.standard_normal((5, 7))
    x[0, 1, 0, 0] = x[0, 1, 1, 1] = np.nan                 # two NaNs in one window: the last wins
    X, T = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (y, i), (ty, ti) = F.adaptive_max_pool2d(X, (2, 3), True), \
        torch.nn.functional.adaptive_max_pool2d(T, (2, 3), True)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert i.dtype == tc.int64 and not i.requires_grad
    y.backward(np.ones(y.shape))
    ty.backward(torch.ones_like(ty))
    np.testing.assert_array_equal(X.grad.numpy(), T.grad.numpy())


def test_editing_the_returned_indices_does_not_change_backward():
    x = tc.tensor(RNG.standard_normal((1, 1, 4, 4)), requires_grad=True)
    y, idx = F.adaptive_max_pool2d(x, 2, return_indices=True)
    expected = np.zeros(16)
    expected[idx.numpy().ravel()] = 1.0
    idx.numpy()[...] = 0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy().ravel(), expected)


@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
@pytest.mark.parametrize("size", [(3, 4), (1, 1), (9, 12)])
def test_gradcheck(name, size):
    x = tc.tensor(RNG.standard_normal((2, 2, 7, 10)), requires_grad=True)
    assert tc.gradcheck(lambda t: getattr(F, name)(t, size), (x,))


def test_unbatched_input_and_global_average():
    x = RNG.standard_normal((3, 6, 5))
    y = F.adaptive_avg_pool2d(tc.tensor(x), 1)
    assert y.shape == (3, 1, 1)
    np.testing.assert_allclose(y.numpy()[:, 0, 0], x.mean(axis=(1, 2)), rtol=1e-12)
    values, idx = F.adaptive_max_pool2d(tc.tensor(x), (1, 1), return_indices=True)
    assert values.shape == idx.shape == (3, 1, 1)
    np.testing.assert_array_equal(idx.numpy().ravel(), x.reshape(3, -1).argmax(axis=1))


def test_modules_in_a_model():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                          nn.Flatten(), nn.Linear(4, 2))
    for size in (8, 13):                                   # any input size gives (N, 4) features
        model(tc.randn(2, 3, size, size)).sum().backward()
    assert model[0].weight.grad is not None
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    pool = nn.AdaptiveMaxPool2d(2, return_indices=True)
    values, idx = pool(tc.randn(1, 2, 5, 5))
    assert values.shape == idx.shape == (1, 2, 2, 2)


@pytest.mark.parametrize("args, error, words", [
    (((1, 3, 4, 4), (0, 2)), tc.ArgumentError, ["output_size OH", "positive int", "got 0"]),
    (((1, 3, 4, 4), (2, 2, 2)), tc.ArgumentError, ["output_size", "pair"]),
    (((1, 3, 4, 4), 1.5), tc.ArgumentError, ["output_size OH", "1.5"]),
    (((3, 4), 2), tc.ShapeError, ["4-D", "(3, 4)"]),
    (((1, 3, 0, 4), 2), tc.ShapeError, ["empty", "(1, 3, 0, 4)"]),
])
def test_errors_name_the_argument_and_shape(args, error, words):
    shape, size = args
    for fn in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        with pytest.raises(error) as e:
            fn(tc.zeros(*shape), size)
        assert all(w in str(e.value) for w in words), str(e.value)
    with pytest.raises(tc.ArgumentError, match=r"AdaptiveAvgPool2d\(output_size=\(0, 2\)\)"):
        nn.AdaptiveAvgPool2d((0, 2))(tc.zeros(1, 3, 4, 4))


def test_integer_input_is_refused():
    with pytest.raises(tc.DTypeError, match="floating point"):
        F.adaptive_avg_pool2d(tc.tensor([[[[1, 2], [3, 4]]]]), 1)
