"""The conv algorithms of ops/conv_algorithms.py (pointwise 1×1, depthwise, Winograd F(2×2, 3×3))
against the im2col reference path and PyTorch: forward, grad_input, grad_weight, grad_bias, on
edge shapes and Hypothesis shapes; Winograd's float32 error against float64; the selection
(tc.backends.conv_algorithm)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops import conv_algorithms as CA
from tinygrad_cnn.ops import conv_depthwise, conv_geometry
from tinygrad_cnn.ops import parallel


class algorithm:
    """Force tc.backends.conv_algorithm inside the block."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.old = tc.backends.conv_algorithm
        tc.backends.conv_algorithm = self.name

    def __exit__(self, *exc):
        tc.backends.conv_algorithm = self.old


def _run(name, x, w, b, g, kw, x_grad=True):
    """(algorithm used, [output, grad_input, grad_weight, grad_bias]) under algorithm `name`."""
    X = tc.tensor(x, requires_grad=x_grad)
    W = tc.tensor(w, requires_grad=True)
    B = tc.tensor(b, requires_grad=True) if b is not None else None
    with algorithm(name):
        y = F.conv2d(X, W, B, **kw)
        chosen = y.grad_fn.__dict__.get("algorithm")
        y.backward(tc.tensor(g))
    used = chosen[0].name if chosen else "im2col"
    return used, [y.numpy(), None if X.grad is None else X.grad.numpy(), W.grad.numpy(),
                  None if B is None else B.grad.numpy()]


def _case(x_shape, w_shape, kw, seed=0, dtype=np.float64, bias=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    with tc.no_grad():
        out = F.conv2d(tc.tensor(x), tc.tensor(w), **kw).shape
    return x, w, b, rng.standard_normal(out).astype(dtype)


def _assert_same(got, expected, rtol, atol):
    for name, a, e in zip(("output", "grad_input", "grad_weight", "grad_bias"), got, expected):
        if e is None:
            assert a is None, name
        else:
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=name)


EDGE = {
    "pointwise": [
        ((2, 4, 5, 7), (6, 4, 1, 1), {}),
        ((1, 3, 7, 7), (5, 3, 1, 1), dict(stride=2)),                # batch 1, odd size, stride
        ((3, 4, 6, 5), (4, 4, 1, 1), dict(stride=(2, 3))),
        ((2, 6, 4, 4), (4, 3, 1, 1), dict(groups=2)),
        ((2, 6, 5, 5), (6, 1, 1, 1), dict(groups=6, stride=2)),
        ((2, 4, 3, 3), (4, 4, 1, 1), dict(dilation=3)),              # dilation is moot for 1×1
        ((1, 1, 1, 1), (1, 1, 1, 1), {}),
    ],
    "depthwise": [
        ((2, 4, 7, 7), (4, 1, 3, 3), dict(groups=4, padding=1)),
        ((1, 3, 8, 9), (3, 1, 3, 3), dict(groups=3, padding=1, stride=2)),
        ((2, 5, 9, 8), (5, 1, 5, 3), dict(groups=5, padding=(2, 0), stride=(1, 2))),
        ((2, 4, 9, 9), (4, 1, 3, 3), dict(groups=4, padding=2, dilation=2)),
        ((1, 2, 4, 4), (2, 1, 3, 3), dict(groups=2, padding=3, stride=3)),   # windows over padding only
        ((3, 6, 5, 6), (6, 1, 1, 1), dict(groups=6)),
        ((1, 3, 3, 3), (3, 1, 3, 3), dict(groups=3)),                # one output per channel
    ],
    "winograd": [
        ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=1)),
        ((1, 2, 7, 9), (3, 2, 3, 3), dict(padding=1)),              # odd output: partial tiles
        ((2, 3, 5, 6), (2, 3, 3, 3), {}),
        ((1, 1, 3, 3), (1, 1, 3, 3), {}),                            # one output, one tile
        ((2, 4, 6, 5), (3, 4, 3, 3), dict(padding=(2, 0))),
        ((1, 2, 4, 4), (2, 2, 3, 3), dict(padding=3)),               # padding beyond the kernel
        ((3, 5, 10, 3), (6, 5, 3, 3), dict(padding="same")),
    ],
}


@pytest.mark.parametrize("name, x_shape, w_shape, kw",
                         [(n, *c) for n, cases in EDGE.items() for c in cases])
@pytest.mark.parametrize("threads", [1, 3])
def test_algorithm_equals_im2col_on_edge_shapes(name, x_shape, w_shape, kw, threads, monkeypatch):
    monkeypatch.setitem(parallel._state, "threads", threads)
    monkeypatch.setattr(conv_geometry, "MIN_PARALLEL_MACS", 0 if threads > 1 else conv_geometry.MIN_PARALLEL_MACS)
    for module, setting in ((conv_geometry, "CHUNK_OUTPUT_BYTES"), (conv_depthwise, "CHUNK_INPUT_BYTES")):
        monkeypatch.setattr(module, setting, 1 if threads > 1 else 1 << 30)   # 1 or all images per chunk
    # the layout moves: threaded, without OpenBLAS's transpose, in blocks of one plane at a time
    # (every block boundary); else through it (test_layout_moves checks both on their own)
    if threads > 1:
        monkeypatch.setattr(conv_geometry, "_OMATCOPY", {})
    monkeypatch.setattr(conv_geometry, "TRANSPOSE_BLOCK_ELEMENTS", 1 if threads > 1 else 1 << 30)
    monkeypatch.setattr(conv_geometry, "TRANSPOSE_MIN_ROWS", 1 if threads > 1 else 1 << 30)
    # pointwise: 3 threads also take the one-GEMM-per-image path (else only maps of >= 256)
    monkeypatch.setattr(CA, "PER_IMAGE_GEMM_MIN_POSITIONS", 0 if threads > 1 else 1 << 30)
    x, w, b, g = _case(x_shape, w_shape, kw)
    _, expected = _run("im2col", x, w, b, g, kw)
    used, got = _run(name, x, w, b, g, kw)
    assert used == name
    _assert_same(got, expected, 1e-11, 1e-11)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
@pytest.mark.parametrize("blas", [True, False])
@pytest.mark.parametrize("shape", [(6, 5, 7), (1, 1, 1), (64, 3, 2), (0, 2, 3)])
def test_layout_moves(dtype, blas, shape, monkeypatch):
    """to_channels_last/first equal NumPy's transposes: whole arrays, into a padded buffer's
    interior, out of a cropped view; through OpenBLAS's omatcopy (float32/64) or the blocked
    copies (other dtypes, or without it)."""
    if not blas:
        monkeypatch.setattr(conv_geometry, "_OMATCOPY", {})
    monkeypatch.setattr(conv_geometry, "TRANSPOSE_BLOCK_ELEMENTS", 4)   # several blocks
    monkeypatch.setattr(conv_geometry, "TRANSPOSE_MIN_ROWS", 2)
    m, a, b = shape
    src = (np.arange(m * a * b) * 7 % 11 - 5).astype(dtype).reshape(shape)
    dst = np.full((a, b, m), -1, dtype)
    conv_geometry.to_channels_last(dst, src)
    np.testing.assert_array_equal(dst, src.transpose(1, 2, 0))
    padded = np.full((a + 3, b + 2, m), 9, dtype)                    # interior [1:a+1, 2:b+2]
    conv_geometry.to_channels_last(padded[1:a + 1, 2:b + 2], src)
    np.testing.assert_array_equal(padded[1:a + 1, 2:b + 2], src.transpose(1, 2, 0))
    frame = padded.copy()
    frame[1:a + 1, 2:b + 2] = 9
    assert (frame == 9).all()                                        # nothing written outside
    back = np.full(shape, -1, dtype)
    conv_geometry.to_channels_first(back, dst)
    np.testing.assert_array_equal(back, src)
    back[...] = -1
    conv_geometry.to_channels_first(back, padded[1:a + 1, 2:b + 2])  # a cropped source
    np.testing.assert_array_equal(back, src)
    planes = np.full((m, a + 1, b), -1, dtype)                       # a dst that is a crop too
    conv_geometry.to_channels_first(planes[:, 1:], dst)
    np.testing.assert_array_equal(planes[:, 1:], src)
    assert (planes[:, 0] == -1).all()
    # 4-D, as the batch-last im2col path moves (N, C, H, W) <-> (C, H, W, N), padded inside
    src4 = (np.arange(m * a * b * 3) % 13).astype(dtype).reshape(m, 3, a, b)
    padded4 = np.zeros((3, a + 2, b + 2, m), dtype)
    conv_geometry.to_channels_last(padded4[:, 1:a + 1, 1:b + 1], src4)
    np.testing.assert_array_equal(padded4[:, 1:a + 1, 1:b + 1], np.moveaxis(src4, 0, -1))
    assert not padded4[:, 0].any() and not padded4[:, :, 0].any()
    back4 = np.empty_like(src4)
    conv_geometry.to_channels_first(back4, padded4[:, 1:a + 1, 1:b + 1])
    np.testing.assert_array_equal(back4, src4)


def test_layout_move_refuses_read_only_or_aliased_destinations():
    """OpenBLAS's transpose writes through a raw pointer: it is never handed a read-only or
    overlapping destination (the NumPy fallback then raises or copies as NumPy does)."""
    src = np.arange(12, dtype=np.float32).reshape(3, 4)
    dst = np.zeros((4, 3), np.float32)
    dst.flags.writeable = False
    assert not conv_geometry._transpose_2d(dst, src)
    with pytest.raises(ValueError):
        conv_geometry.to_channels_last(dst.reshape(2, 2, 3), src.reshape(3, 2, 2))
    square = np.arange(16, dtype=np.float32).reshape(4, 4)
    assert not conv_geometry._transpose_2d(square, square)          # in place: refused
    assert conv_geometry._transpose_2d(np.empty((4, 3), np.float32), src)


@pytest.mark.parametrize("name", list(EDGE))
def test_algorithm_without_bias_or_input_grad(name):
    x_shape, w_shape, kw = EDGE[name][0]
    x, w, _, g = _case(x_shape, w_shape, kw, bias=False)
    _, expected = _run("im2col", x, w, None, g, kw, x_grad=False)
    used, got = _run(name, x, w, None, g, kw, x_grad=False)
    assert used == name and got[1] is None and got[3] is None
    _assert_same(got, expected, 1e-11, 1e-11)


@pytest.mark.parametrize("name", list(EDGE))
def test_algorithm_matches_torch(name):
    torch = pytest.importorskip("torch")
    for x_shape, w_shape, kw in EDGE[name]:
        x, w, b, g = _case(x_shape, w_shape, kw, seed=7)
        used, got = _run(name, x, w, b, g, kw)
        assert used == name
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
        ty.backward(torch.tensor(g))
        _assert_same(got, [ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()],
                     1e-10, 1e-10)


@st.composite
def geometry(draw, name):
    n = draw(st.integers(1, 3))
    if name == "pointwise":
        groups = draw(st.integers(1, 3))
        c, co = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
        k, p, d = (1, 1), (0, 0), (1, 1)
        s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    elif name == "depthwise":
        c = co = groups = draw(st.integers(2, 5))
        k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        p = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    else:
        groups, c, co = 1, draw(st.integers(1, 4)), draw(st.integers(1, 4))
        k, s, d = (3, 3), (1, 1), (1, 1)
        p = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    hw = tuple(max(1, dl * (kk - 1) + 1 - 2 * pp) + draw(st.integers(0, 7)) for kk, dl, pp in zip(k, d, p))
    return (n, c) + hw, (co, c // groups) + k, dict(stride=s, padding=p, dilation=d, groups=groups)


@pytest.mark.parametrize("name", list(EDGE))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_algorithm_equals_im2col_on_random_shapes(name, data):
    x_shape, w_shape, kw = data.draw(geometry(name))
    x, w, b, g = _case(x_shape, w_shape, kw, seed=data.draw(st.integers(0, 1000)))
    _, expected = _run("im2col", x, w, b, g, kw)
    used, got = _run(name, x, w, b, g, kw)
    assert used == name
    _assert_same(got, expected, 1e-10, 1e-10)


@pytest.mark.parametrize("name", list(EDGE))
def test_algorithm_gradcheck(name):
    x_shape, w_shape, kw = EDGE[name][1]
    x, w, b, _ = _case(x_shape, w_shape, kw, seed=3)
    inputs = tuple(tc.tensor(a, requires_grad=True) for a in (x, w, b))
    with algorithm(name):
        assert tc.gradcheck(lambda *t: F.conv2d(*t, **kw), inputs)


def test_float32_stays_float32_in_every_algorithm():
    for name, cases in EDGE.items():
        x, w, b, g = _case(*cases[0], dtype=np.float32)
        used, got = _run(name, x, w, b, g, cases[0][2])
        assert used == name and all(a.dtype == np.float32 for a in got), name


def test_winograd_float32_error_is_bounded_against_float64():
    """F(2×2, 3×3)'s transforms add rounding: measured against the float64 conv, its float32
    error (relative to the output's scale) stays within 4× im2col's float32 error, and below
    1e-5 on these ResNet-like shapes (docs/derivations.md gives the measured numbers)."""
    for x_shape, w_shape in (((4, 64, 16, 16), (64, 64, 3, 3)), ((2, 128, 8, 8), (32, 128, 3, 3))):
        x, w, b, g = _case(x_shape, w_shape, dict(padding=1), seed=11)
        w *= np.sqrt(2 / (9 * x_shape[1]))                        # He-scaled weights
        _, ref = _run("im2col", x, w, b, g, dict(padding=1))
        x32, w32, b32, g32 = (a.astype(np.float32) for a in (x, w, b, g))
        _, im2col32 = _run("im2col", x32, w32, b32, g32, dict(padding=1))
        used, wino32 = _run("winograd", x32, w32, b32, g32, dict(padding=1))
        assert used == "winograd"
        for i, name in enumerate(("output", "grad_input", "grad_weight")):
            scale = np.abs(ref[i]).max()
            err_w = np.abs(wino32[i] - ref[i]).max() / scale
            err_i = np.abs(im2col32[i] - ref[i]).max() / scale
            assert err_w <= max(4 * err_i, 1e-7) and err_w < 1e-5, (name, x_shape, err_w, err_i)


def test_auto_picks_each_algorithm_by_shape():
    def used(x_shape, w_shape, kw):
        x = tc.randn(*x_shape, requires_grad=True)
        y = F.conv2d(x, tc.randn(*w_shape), **kw)
        chosen = y.grad_fn.__dict__.get("algorithm")
        return chosen[0].name if chosen else "im2col"
    with algorithm("auto"):
        assert used((2, 8, 6, 6), (4, 8, 1, 1), {}) == "pointwise"
        assert used((2, 8, 8, 8), (8, 1, 3, 3), dict(groups=8, padding=1)) == "depthwise"
        assert used((2, 8, 4, 4), (8, 1, 3, 3), dict(groups=8, padding=1)) == "depthwise"   # small map
        assert used((2, 8, 8, 8), (8, 1, 3, 3), dict(groups=8, padding=1, stride=2)) == "depthwise"
        assert used((2, 8, 8, 8), (16, 2, 3, 3), dict(groups=4, padding=1)) == "im2col"   # grouped, not depthwise
        assert used((2, 8, 6, 6), (4, 8, 5, 5), {}) == "im2col"
        assert used((2, 8, 6, 6), (4, 8, 1, 1), dict(padding=1)) == "im2col"   # padded 1×1
        # Winograd: >= 128 tiles, h = C·CO/(C + CO) >= 32 and tiles·h >= 6144 (CA.WINOGRAD_MIN_*)
        assert used((2, 96, 16, 16), (96, 96, 3, 3), dict(padding=1)) == "winograd"   # 128 tiles, h 48
        assert used((1, 96, 16, 16), (96, 96, 3, 3), dict(padding=1)) == "im2col"     # 64 tiles
        assert used((4, 64, 16, 16), (64, 64, 3, 3), dict(padding=1)) == "winograd"   # 256 tiles, h 32
        assert used((2, 64, 16, 16), (64, 64, 3, 3), dict(padding=1)) == "im2col"     # 128 tiles, h 32
        assert used((8, 128, 16, 16), (32, 128, 3, 3), dict(padding=1)) == "im2col"   # h 25.6
        assert used((16, 3, 32, 32), (64, 3, 3, 3), dict(padding=1)) == "im2col"      # a stem, h 2.9
        assert used((2, 96, 16, 16), (96, 96, 3, 3), dict(padding=1, stride=2)) == "im2col"
    with algorithm("im2col"):
        assert used((2, 8, 6, 6), (4, 8, 1, 1), {}) == "im2col"
    with algorithm("winograd"):                                    # forced where it applies only
        assert used((2, 8, 6, 6), (4, 8, 3, 3), dict(padding=1)) == "winograd"
        assert used((2, 8, 6, 6), (4, 8, 3, 3), dict(stride=2)) == "im2col"


def test_conv_algorithm_setting_is_validated():
    old = tc.backends.conv_algorithm
    for bad in ("fft", 3, None):
        with pytest.raises(tc.ArgumentError, match="conv_algorithm"):
            tc.backends.conv_algorithm = bad
    assert tc.backends.conv_algorithm == old
