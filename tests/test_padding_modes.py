"""F.pad's reflect / replicate / circular modes, Conv padding_mode, and the padding modules:
PyTorch forward and backward, np.pad as a reference on hypothesis shapes, gradcheck, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from torch_compare import assert_like_torch

RNG = np.random.default_rng(17)
MODES = ["reflect", "replicate", "circular"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, pad", [((2, 3, 5, 6), (1, 2, 3, 0)), ((2, 3, 5, 6), (2, 2, 2, 2)),
                                        ((2, 3, 7), (3, 1)), ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2))])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pad_modes_like_torch(torch, mode, shape, pad, dtype):
    x = RNG.standard_normal(shape).astype(dtype)
    assert_like_torch(torch, lambda t: F.pad(t, pad, mode=mode),
                      lambda t: torch.nn.functional.pad(t, pad, mode=mode), x, RNG)


@given(h=st.integers(1, 6), w=st.integers(1, 6), pads=st.tuples(*[st.integers(0, 7)] * 4),
       mode=st.sampled_from(MODES))
def test_pad_modes_match_np_pad(h, w, pads, mode):
    left, right, top, bottom = pads
    limit = {"reflect": (h - 1, w - 1), "replicate": (99, 99), "circular": (h, w)}[mode]
    if max(top, bottom) > limit[0] or max(left, right) > limit[1]:
        with pytest.raises(tc.ArgumentError, match=mode):
            F.pad(tc.randn(1, h, w), pads, mode=mode)
        return
    x = RNG.standard_normal((2, h, w))
    expected = np.pad(x, ((0, 0), (top, bottom), (left, right)),
                      mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode])
    np.testing.assert_array_equal(F.pad(tc.tensor(x), pads, mode=mode).data, expected)


@pytest.mark.parametrize("mode", MODES)
def test_pad_modes_gradcheck(mode):
    x = tc.tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    assert tc.gradcheck(lambda t: F.pad(t, (2, 3, 1, 2), mode=mode), (x,))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=(2, 1), stride=2),
                                dict(padding="same", dilation=2)])
def test_conv_padding_mode_like_torch(torch, mode, kw):
    ours, theirs = nn.Conv2d(3, 4, 3, padding_mode=mode, **kw).double(), \
        torch.nn.Conv2d(3, 4, 3, padding_mode=mode, **kw).double()
    assert repr(ours) == repr(theirs)
    ours.load_state_dict(theirs.state_dict())
    x = RNG.standard_normal((2, 3, 7, 8))
    X, T = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(X), theirs(T)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_padding_modules_like_torch(torch):
    x = RNG.standard_normal((2, 3, 5, 6)).astype(np.float32)
    x1 = RNG.standard_normal((2, 3, 6)).astype(np.float32)
    for name, args, inp in [("ReflectionPad2d", (1,), x), ("ReplicationPad2d", ((1, 2, 3, 4),), x),
                            ("ZeroPad2d", (2,), x), ("ConstantPad2d", (1, 0.5), x),
                            ("CircularPad2d", (1,), x), ("ReflectionPad1d", (2,), x1),
                            ("ReplicationPad1d", (1,), x1), ("ConstantPad1d", ((1, 2), 3.0), x1),
                            ("ZeroPad1d", (1,), x1), ("CircularPad1d", (2,), x1)]:
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(ours) == repr(theirs)
        np.testing.assert_array_equal(ours(tc.tensor(inp)).data, theirs(torch.tensor(inp)).numpy())


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.pad(tc.randn(2, 3), (3, 0), mode="reflect"), tc.ArgumentError, ["reflect", "(2, 3)"]),
    (lambda: F.pad(tc.randn(2, 3), (4, 0), mode="circular"), tc.ArgumentError, ["circular"]),
    (lambda: F.pad(tc.randn(2, 3), (1, 1), mode="mirror"), tc.ArgumentError, ["mode must be one of", "'mirror'"]),
    (lambda: nn.Conv2d(1, 1, 3, padding_mode="mirror"), tc.ArgumentError, ["padding_mode", "'mirror'"]),
    (lambda: nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect"), tc.ArgumentError, ["padding_mode", "('zeros',)"]),
    (lambda: nn.ReflectionPad2d(3)(tc.randn(1, 1, 3, 3)), tc.ArgumentError, ["ReflectionPad2d", "reflect"]),
])
def test_errors(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert all(w in str(e.value) for w in words), str(e.value)
