"""max_pool1d, avg_pool1d, adaptive_*_pool1d and their modules: PyTorch forward, indices and
backward; loop references on hypothesis shapes; gradcheck; errors with 1-D names."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from training_loop import adam_losses

RNG = np.random.default_rng(5)

CASES = [
    ("max_pool1d", (3,), dict(stride=2, padding=1, return_indices=True)),
    ("max_pool1d", (2,), dict(ceil_mode=True)),
    ("max_pool1d", (3,), dict(dilation=2, stride=1)),
    ("avg_pool1d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("avg_pool1d", (4,), dict(ceil_mode=True)),
    ("avg_pool1d", ((3,),), dict(stride=(1,))),                 # 1-tuples, as PyTorch accepts
    ("adaptive_avg_pool1d", (4,), {}),
    ("adaptive_max_pool1d", (4,), dict(return_indices=True)),
    ("adaptive_max_pool1d", (13,), {}),                         # more outputs than inputs
]


@pytest.mark.parametrize("name, args, kw", CASES)
@pytest.mark.parametrize("shape", [(2, 3, 11), (3, 11)])          # batched and unbatched
def test_like_torch(torch, name, args, kw, shape):
    x = RNG.standard_normal(shape)
    X, T = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = getattr(F, name)(X, *args, **kw), getattr(torch.nn.functional, name)(T, *args, **kw)
    if kw.get("return_indices"):
        (ours, idx), (theirs, tidx) = ours, theirs
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = RNG.standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-12, atol=1e-14)


@given(n=st.integers(1, 2), c=st.integers(1, 3), length=st.integers(1, 12), k=st.integers(1, 4),
       s=st.integers(1, 3))
def test_max_and_avg_match_loop_references(n, c, length, k, s):
    if k > length:
        return
    x = RNG.standard_normal((n, c, length))
    out = (length - k) // s + 1
    windows = np.stack([x[:, :, i * s:i * s + k] for i in range(out)], axis=2)   # (N, C, OL, K)
    np.testing.assert_array_equal(F.max_pool1d(tc.tensor(x), k, s).data, windows.max(axis=3))
    np.testing.assert_allclose(F.avg_pool1d(tc.tensor(x), k, s).data, windows.mean(axis=3), rtol=1e-12)


@pytest.mark.parametrize("name, args, kw", [c for c in CASES if not c[2].get("return_indices")])
def test_gradcheck(name, args, kw):
    x = tc.tensor(RNG.standard_normal((2, 2, 9)), requires_grad=True)
    assert tc.gradcheck(lambda t: getattr(F, name)(t, *args, **kw), (x,))


def test_modules_like_torch(torch):
    x = RNG.standard_normal((2, 3, 11)).astype(np.float32)
    for ours, theirs in [(nn.MaxPool1d(3, 2, 1), torch.nn.MaxPool1d(3, 2, 1)),
                         (nn.AvgPool1d(3, 2, 1, count_include_pad=False),
                          torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False)),
                         (nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4)),
                         (nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4))]:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tc.tensor(x)).data, theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-6, atol=1e-6)


def test_a_1d_cnn_trains():
    model = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                          nn.Conv1d(4, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
                          nn.Flatten(), nn.Linear(4, 2))
    x = tc.randn(16, 1, 20)
    y = tc.tensor((x.numpy()[:, 0, :10].sum(axis=1) > x.numpy()[:, 0, 10:].sum(axis=1)).astype(np.int64))
    losses = adam_losses(model, lambda m: F.cross_entropy(m(x), y), steps=80, lr=0.02)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.max_pool1d(tc.randn(2, 3, 4, 5), 2), tc.ShapeError, ["max_pool1d", "3-D input (N, C, L)", "(2, 3, 4, 5)"]),
    (lambda: F.max_pool1d(tc.randn(2, 3, 4), (2, 2)), tc.ArgumentError, ["kernel_size", "(2, 2)"]),
    (lambda: F.avg_pool1d(tc.randn(2, 3, 4), 3, padding=2), tc.ArgumentError,
     ["avg_pool1d", "padding=2", "kernel_size=3", "(2, 3, 4)"]),
    (lambda: F.max_pool1d(tc.randn(2, 3, 4), 5), tc.ShapeError, ["size 0 < 1", "input W=4"]),
    (lambda: F.adaptive_avg_pool1d(tc.randn(2, 3, 4), 0), tc.ArgumentError, ["output_size", ">= 1"]),
    (lambda: nn.MaxPool1d(2)(tc.randn(2, 3, 4, 4)), tc.ShapeError, ["MaxPool1d(kernel_size=2, stride=2)", "(N, C, L)"]),
])
def test_errors(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert all(w in str(e.value) for w in words), str(e.value)
