"""conv_transpose1d/2d/3d and nn.ConvTranspose*: a scatter-loop reference and the adjoint
identity (hypothesis shapes), PyTorch forward/backward, gradcheck, workspace chunking, empty
batches, modules, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from training_loop import adam_losses

RNG = np.random.default_rng(11)


def _scatter_reference(x, w, stride, padding, output_padding, dilation, groups):
    """y[n, g·COg + co, h·S − P + kh·D, …] += x[n, g·Cig + ci, h, …] · w[g·Cig + ci, co, kh, …]:
    every input element scattered through its kernel, element by element (2-D)."""
    n, cin, h, wd = x.shape
    cig, cog, kh_, kw_ = cin // groups, w.shape[1], w.shape[2], w.shape[3]
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    oh = (h - 1) * sh - 2 * ph + dh * (kh_ - 1) + oph + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw_ - 1) + opw + 1
    y = np.zeros((n, groups * cog, oh, ow))
    for b, ci, i, j in np.ndindex(n, cin, h, wd):
        g = ci // cig
        for co, ki, kj in np.ndindex(cog, kh_, kw_):
            r, c = i * sh - ph + ki * dh, j * sw - pw + kj * dw
            if 0 <= r < oh and 0 <= c < ow:
                y[b, g * cog + co, r, c] += x[b, ci, i, j] * w[ci, co, ki, kj]
    return y


geometry = st.fixed_dictionaries({
    "n": st.integers(1, 2), "cig": st.integers(1, 2), "cog": st.integers(1, 2),
    "groups": st.integers(1, 2), "h": st.integers(1, 4), "w": st.integers(1, 4),
    "k": st.tuples(st.integers(1, 3), st.integers(1, 3)), "s": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "d": st.tuples(st.integers(1, 2), st.integers(1, 2)), "p": st.tuples(st.integers(0, 2), st.integers(0, 2)),
    "op": st.tuples(st.integers(0, 2), st.integers(0, 2)),
})


def _valid(g, below_stride=False):
    """Clip output_padding to what PyTorch accepts (below max(stride, dilation); below the
    stride if asked); None if the output would be empty."""
    op = tuple(min(o, (s if below_stride else max(s, d)) - 1) for o, s, d in zip(g["op"], g["s"], g["d"]))
    out = [(h - 1) * s - 2 * p + d * (k - 1) + o + 1
           for h, s, p, d, k, o in zip((g["h"], g["w"]), g["s"], g["p"], g["d"], g["k"], op)]
    return None if min(out) < 1 else op


@given(geometry)
def test_forward_matches_the_scatter_loop(g):
    op = _valid(g)
    if op is None:
        return
    x = RNG.standard_normal((g["n"], g["cig"] * g["groups"], g["h"], g["w"]))
    w = RNG.standard_normal((g["cig"] * g["groups"], g["cog"]) + g["k"])
    y = F.conv_transpose2d(tc.tensor(x), tc.tensor(w), None, g["s"], g["p"], op, g["groups"], g["d"])
    expected = _scatter_reference(x, w, g["s"], g["p"], op, g["d"], g["groups"])
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@given(geometry)
def test_conv_transpose_is_the_adjoint_of_conv(g):
    """<conv(a, W), b> = <a, conv_transpose(b, W)> for the same stride, padding, dilation and
    groups: the identity that makes conv_transpose conv's input gradient."""
    op = _valid(g, below_stride=True)   # then the conv of the larger map has exactly b's size
    if op is None:
        return
    groups, cin = g["groups"], g["cig"] * g["groups"]
    b = RNG.standard_normal((g["n"], cin, g["h"], g["w"]))                # conv's output side
    w = RNG.standard_normal((cin, g["cog"]) + g["k"])                     # conv weight (C_out=cin, C_in/G, K)
    up = F.conv_transpose2d(tc.tensor(b), tc.tensor(w), None, g["s"], g["p"], op, groups, g["d"])
    a = RNG.standard_normal(up.shape)                                     # conv's input side
    down = F.conv2d(tc.tensor(a), tc.tensor(w), None, g["s"], g["p"], g["d"], groups)
    assert down.shape == b.shape
    assert np.isclose((down.numpy() * b).sum(), (a * up.numpy()).sum(), rtol=1e-10, atol=1e-10)


@given(geometry)
def test_gradients_pass_gradcheck_on_any_geometry(g):
    op = _valid(g)                       # output_padding up to max(stride, dilation) - 1
    if op is None:
        return
    groups = g["groups"]
    x = tc.tensor(RNG.standard_normal((g["n"], g["cig"] * groups, g["h"], g["w"])), requires_grad=True)
    w = tc.tensor(RNG.standard_normal((g["cig"] * groups, g["cog"]) + g["k"]), requires_grad=True)
    b = tc.tensor(RNG.standard_normal(g["cog"] * groups), requires_grad=True)
    assert tc.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, g["s"], g["p"], op, groups, g["d"]),
                        (x, w, b))


CASES = [
    ((2, 4, 5, 5), (4, 3, 3, 3), dict()),
    ((2, 4, 5, 6), (4, 3, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 5, 5), (4, 2, 3, 3), dict(stride=(2, 3), padding=(1, 0), groups=2, dilation=(1, 2))),
    ((1, 2, 3, 3), (2, 5, 1, 1), dict(stride=2, output_padding=1)),
    ((3, 6, 4, 4), (6, 1, 4, 4), dict(stride=2, padding=1, groups=6)),        # depthwise upsampling
    ((4, 5, 5), (4, 3, 3, 3), dict(stride=2)),                                # unbatched
    ((2, 3, 4, 5), (3, 2, 3, 2), dict(dilation=2, output_padding=(1, 0))),    # output_padding >= stride
]


@pytest.mark.parametrize("x_shape, w_shape, kw", CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_like_torch(torch, x_shape, w_shape, kw, dtype, bias):
    x, w = RNG.standard_normal(x_shape).astype(dtype), RNG.standard_normal(w_shape).astype(dtype)
    b = RNG.standard_normal(w_shape[1] * kw.get("groups", 1)).astype(dtype) if bias else None
    ours = [tc.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    y = F.conv_transpose2d(*ours, **kw)
    ty = torch.nn.functional.conv_transpose2d(*theirs, **kw)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    assert y.shape == tuple(ty.shape) and y.dtype == ours[0].dtype
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    g = RNG.standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **tol)


@pytest.mark.parametrize("d, x_shape, w_shape, kw", [
    (1, (2, 3, 7), (3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    (3, (1, 2, 3, 3, 2), (2, 2, 2, 2, 2), dict(stride=2, dilation=(1, 1, 2))),
])
def test_conv_transpose_1d_3d_like_torch(torch, d, x_shape, w_shape, kw):
    x, w = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    X, W = tc.tensor(x, requires_grad=True), tc.tensor(w, requires_grad=True)
    T, TW = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    name = f"conv_transpose{d}d"
    y, ty = getattr(F, name)(X, W, **kw), getattr(torch.nn.functional, name)(T, TW, **kw)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = RNG.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(W.grad.numpy(), TW.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(groups=2, dilation=2), dict(dilation=2, output_padding=1)])
def test_gradcheck(kw):
    groups = kw.get("groups", 1)
    x = tc.tensor(RNG.standard_normal((2, 4, 3, 4)), requires_grad=True)
    w = tc.tensor(RNG.standard_normal((4, 3, 3, 2)), requires_grad=True)
    b = tc.tensor(RNG.standard_normal(3 * groups), requires_grad=True)
    assert tc.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), (x, w, b))


def test_workspace_limit_chunks_with_the_same_results():
    x = tc.tensor(RNG.standard_normal((5, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = tc.tensor(RNG.standard_normal((3, 4, 3, 3)).astype(np.float32), requires_grad=True)
    g = RNG.standard_normal((5, 4, 13, 13)).astype(np.float32)
    y = F.conv_transpose2d(x, w, stride=2)
    y.backward(g)
    full = (y.numpy().copy(), x.grad.numpy().copy(), w.grad.numpy().copy())
    x.grad = w.grad = None
    old = tc.get_workspace_limit()
    tc.set_workspace_limit(4 * 36 * 9 * 4 * 2)              # two images' columns per chunk
    try:
        y = F.conv_transpose2d(x, w, stride=2)
        y.backward(g)
    finally:
        tc.set_workspace_limit(old)
    np.testing.assert_array_equal(y.numpy(), full[0])           # forward: the same sums per image
    np.testing.assert_allclose(x.grad.numpy(), full[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), full[2], rtol=1e-5, atol=1e-5)


def test_empty_batch(torch):
    x = tc.zeros(0, 3, 4, 4, requires_grad=True)
    w = tc.randn(3, 2, 3, 3, requires_grad=True)
    b = tc.randn(2, requires_grad=True)
    y = F.conv_transpose2d(x, w, b, stride=2)
    assert y.shape == tuple(torch.nn.functional.conv_transpose2d(
        torch.zeros(0, 3, 4, 4), torch.zeros(3, 2, 3, 3), stride=2).shape)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 4, 4) and not w.grad.numpy().any() and not b.grad.numpy().any()


def test_modules_like_torch(torch):
    for ours_cls, theirs_cls, args, kw, x_shape in [
        (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (4, 6, 3), dict(stride=2, padding=1, output_padding=1), (2, 4, 5, 5)),
        (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (4, 6, (3, 2)), dict(groups=2, bias=False, dilation=2), (2, 4, 5, 5)),
        (nn.ConvTranspose1d, torch.nn.ConvTranspose1d, (2, 3, 4), dict(stride=2), (2, 2, 6)),
        (nn.ConvTranspose3d, torch.nn.ConvTranspose3d, (2, 2, 2), dict(stride=2), (1, 2, 2, 3, 3)),
    ]:
        ours, theirs = ours_cls(*args, **kw), theirs_cls(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
               {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        ours.load_state_dict(theirs.state_dict())
        x = RNG.standard_normal(x_shape).astype(np.float32)
        np.testing.assert_allclose(ours(tc.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_default_init_bound_is_pytorchs():
    """kaiming_uniform_(a=√5) on (C_in, C_out/G, K...) uses fan_in = C_out/G·KK, as PyTorch."""
    tc.manual_seed(0)
    m = nn.ConvTranspose2d(64, 32, 3)
    bound = 1 / np.sqrt(32 * 9)
    assert m.weight.shape == (64, 32, 3, 3)
    assert np.abs(m.weight.numpy()).max() <= bound and np.abs(m.weight.numpy()).max() > 0.95 * bound
    assert np.abs(m.bias.numpy()).max() <= bound


def test_an_autoencoder_trains_and_summary_counts_its_macs():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                          nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1))
    table = nn.utils.summary(model, (1, 1, 8, 8), print_fn=lambda *_: None)
    assert [r["macs"] for r in table.rows[1:]] == [4 * 4 * 4 * 9, 0, 4 * 4 * 4 * 9]   # adjoint: same count
    x = tc.randn(8, 1, 8, 8)
    losses = adam_losses(model, lambda m: F.mse_loss(m(x), x), steps=60, lr=0.01)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.conv_transpose2d(tc.randn(1, 3, 4, 4), tc.randn(4, 2, 3, 3)), tc.ShapeError,
     ["C=3", "expects 4", "(C_in, C_out/groups"]),
    (lambda: F.conv_transpose2d(tc.randn(1, 4, 4, 4), tc.randn(4, 2, 3, 3), tc.randn(3)), tc.ShapeError,
     ["bias must have shape (2,)"]),
    (lambda: F.conv_transpose2d(tc.randn(1, 4, 4, 4), tc.randn(4, 2, 3, 3), padding="same"), tc.ArgumentError,
     ["'same'"]),
    (lambda: F.conv_transpose2d(tc.randn(1, 4, 4, 4), tc.randn(4, 2, 3, 3), stride=2, output_padding=2),
     tc.ArgumentError, ["output_padding", "smaller than stride or dilation"]),
    (lambda: F.conv_transpose2d(tc.randn(1, 4, 2, 2), tc.randn(4, 2, 1, 1), padding=1), tc.ShapeError,
     ["H size 0 < 1", "padding PH=1", "output_padding=0"]),
    (lambda: F.conv_transpose2d(tc.randn(1, 4, 4, 4), tc.randn(4, 2, 3, 3), groups=3), tc.ArgumentError,
     ["groups=3", "C=4"]),
    (lambda: nn.ConvTranspose2d(4, 2, 3, padding="same"), tc.ArgumentError, ["'same'"]),
    (lambda: nn.ConvTranspose2d(4, 2, 3)(tc.randn(1, 3, 5, 5)), tc.ShapeError,
     ["ConvTranspose2d(4→2, kernel 3×3)", "3 channels"]),
])
def test_errors_name_the_argument(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert all(w in str(e.value) for w in words), str(e.value)
