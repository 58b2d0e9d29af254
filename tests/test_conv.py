"""Convolution (conv1d/2d/3d by im2col), unfold and fold: PyTorch comparison, gradcheck, the
rotated-kernel identity of grad_input, the workspace limit, errors."""
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops import conv as CV
from tinygrad_cnn.ops import workspace

RNG = np.random.default_rng(1234)


def _rand(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.fixture(params=["auto", "batch_major", "batch_last", "rows", "threads", "serial",
                        "weight_grad_untransposed"])
def layout(request, monkeypatch):
    """Run a test under each code path of ConvNd: the automatic choice, each layout forced,
    one image and one output row at a time (a workspace limit below one image's columns),
    many one-image steps over 3 threads, serial, and grad_weight summed untransposed. "auto" is the library's default (1×1 and
    depthwise convs by ops/conv_algorithms.py); the others force the im2col path they test."""
    from tinygrad_cnn.ops import parallel
    if request.param != "auto":
        monkeypatch.setattr(tc.backends, "conv_algorithm", "im2col")
    if request.param == "batch_major":
        monkeypatch.setattr(CV, "BATCH_LAST_MAX_POSITIONS", -1)
    elif request.param == "batch_last":
        monkeypatch.setattr(CV, "BATCH_LAST_MAX_POSITIONS", 1 << 30)
        monkeypatch.setattr(CV, "MIN_PARALLEL_FLOPS", 0)
    elif request.param == "threads":
        monkeypatch.setattr(CV, "COLUMN_CHUNK_BYTES", 1)
        monkeypatch.setattr(CV, "MIN_PARALLEL_FLOPS", 0)
        monkeypatch.setitem(parallel._state, "threads", 3)
    elif request.param == "serial":
        monkeypatch.setitem(parallel._state, "threads", 1)
    elif request.param == "weight_grad_untransposed":    # big kernels' grad_weight sum, many steps
        monkeypatch.setattr(CV, "TRANSPOSED_WEIGHT_GRAD_MAX", 0)
        monkeypatch.setattr(CV, "COLUMN_CHUNK_BYTES", 1)
    elif request.param == "rows":
        monkeypatch.setattr(CV, "_rows_per_band", lambda *args: 1)
        old = workspace.set_workspace_limit(1)
        yield request.param
        workspace.set_workspace_limit(old)
        return
    yield request.param


def _torch_conv(torch, d):
    return {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
            3: torch.nn.functional.conv3d}[d]


def _ours(d):
    return {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[d]


def _compare_with_torch(torch, x_shape, w_shape, bias=True, x_grad=True, **kw):
    d = len(x_shape) - 2
    x, w = _rand(*x_shape), _rand(*w_shape)
    b = _rand(w_shape[0]) if bias else None
    X = tc.tensor(x, requires_grad=x_grad)
    Wt = tc.tensor(w, requires_grad=True)
    B = tc.tensor(b, requires_grad=True) if bias else None
    y = _ours(d)(X, Wt, B, **kw)
    tx = torch.tensor(x, requires_grad=x_grad)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    with warnings.catch_warnings():      # torch notes it pads 'same' even kernels by a copy
        warnings.simplefilter("ignore", UserWarning)
        ty = _torch_conv(torch, d)(tx, tw, tb, **kw)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = _rand(*y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(Wt.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    if bias:
        np.testing.assert_allclose(B.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-10)
    if x_grad:
        np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    else:
        assert X.grad is None


CONV2D_GRID = [
    # (x shape, w shape, kwargs)
    ((2, 3, 7, 7), (4, 3, 3, 3), {}),
    ((2, 3, 7, 7), (4, 3, 3, 3), dict(padding=1)),
    ((2, 3, 8, 7), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((2, 3, 9, 8), (5, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0))),
    ((2, 3, 9, 9), (4, 3, 3, 3), dict(dilation=2)),
    ((2, 3, 10, 9), (4, 3, 3, 2), dict(stride=(1, 2), padding=(2, 1), dilation=(2, 3))),
    ((2, 4, 7, 7), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((2, 6, 7, 7), (6, 1, 3, 3), dict(groups=6, padding=1)),          # depthwise
    ((2, 4, 6, 6), (4, 4, 1, 1), {}),                                 # 1×1 conv (seed 002 §4)
    ((2, 3, 7, 8), (4, 3, 3, 4), dict(padding="same")),               # even kernel: odd padding at the end
    ((2, 3, 7, 8), (4, 3, 3, 3), dict(padding="same", dilation=2)),
    ((2, 3, 7, 8), (4, 3, 3, 3), dict(padding="valid")),
    ((1, 1, 5, 5), (1, 1, 5, 5), {}),                                 # kernel as large as the map
    ((3, 2, 4, 4), (2, 2, 2, 2), dict(stride=3, padding=2)),          # windows that see only padding
    ((3, 4, 2, 2), (5, 4, 3, 3), dict(padding=1)),                    # map no bigger than the kernel: col2im
]


@pytest.mark.parametrize("x_shape, w_shape, kw", CONV2D_GRID)
def test_conv2d_matches_torch(torch, layout, x_shape, w_shape, kw):
    _compare_with_torch(torch, x_shape, w_shape, **kw)


@pytest.mark.parametrize("bias, x_grad", [(False, True), (True, False), (False, False)])
def test_conv2d_without_bias_or_input_grad(torch, layout, bias, x_grad):
    _compare_with_torch(torch, (2, 3, 6, 6), (4, 3, 3, 3), bias=bias, x_grad=x_grad, padding=1)


@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((2, 3, 11), (4, 3, 3), {}),
    ((2, 3, 11), (4, 3, 4), dict(stride=2, padding=2, dilation=2)),
    ((2, 4, 10), (4, 2, 3), dict(groups=2, padding="same")),
])
def test_conv1d_matches_torch(torch, layout, x_shape, w_shape, kw):
    _compare_with_torch(torch, x_shape, w_shape, **kw)


@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((2, 2, 5, 6, 5), (3, 2, 3, 3, 3), {}),
    ((2, 2, 6, 5, 7), (4, 1, 2, 3, 2), dict(stride=(1, 2, 2), padding=1, dilation=(2, 1, 1), groups=2)),
])
def test_conv3d_matches_torch(torch, layout, x_shape, w_shape, kw):
    _compare_with_torch(torch, x_shape, w_shape, **kw)


def test_unbatched_input_matches_torch(torch):
    x, w, b = _rand(3, 6, 6), _rand(2, 3, 3, 3), _rand(2)
    y = F.conv2d(tc.tensor(x), tc.tensor(w), tc.tensor(b), padding=1)
    ty = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=1)
    assert y.shape == (2, 6, 6)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-12, atol=1e-12)


@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 9), w=st.integers(1, 9),
       k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), dl=st.integers(1, 2),
       co=st.integers(1, 4), groups=st.sampled_from([1, 2]))
def test_conv2d_hypothesis_shapes_match_torch(n, c, h, w, k, s, p, dl, co, groups):
    torch = pytest.importorskip("torch")
    c, co = c * groups, co * groups
    if (h + 2 * p - dl * (k - 1) - 1) < 0 or (w + 2 * p - dl * (k - 1) - 1) < 0:
        with pytest.raises(tc.ShapeError):
            F.conv2d(tc.zeros(n, c, h, w), tc.zeros(co, c // groups, k, k), stride=s, padding=p,
                     dilation=dl, groups=groups)
        return
    _compare_with_torch(torch, (n, c, h, w), (co, c // groups, k, k), stride=s, padding=p,
                        dilation=dl, groups=groups)


# --------------------------------------------------------------------------- gradcheck
GRADCHECK_GRID = [
    ((1, 2, 5, 5), (2, 2, 3, 3), dict(padding=1)),
    ((2, 2, 5, 4), (3, 2, 2, 3), dict(stride=2, padding=(1, 0))),
    ((1, 2, 6, 6), (2, 2, 2, 2), dict(dilation=2, stride=(1, 2))),
    ((1, 4, 4, 4), (4, 2, 3, 3), dict(groups=2, padding="same")),
]


@pytest.mark.parametrize("x_shape, w_shape, kw", GRADCHECK_GRID)
def test_conv2d_gradcheck(layout, x_shape, w_shape, kw):
    x = tc.tensor(_rand(*x_shape), requires_grad=True)
    w = tc.tensor(_rand(*w_shape), requires_grad=True)
    b = tc.tensor(_rand(w_shape[0]), requires_grad=True)
    assert tc.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, b))


def test_conv1d_and_conv3d_gradcheck():
    x = tc.tensor(_rand(2, 2, 6), requires_grad=True)
    w = tc.tensor(_rand(3, 2, 3), requires_grad=True)
    assert tc.gradcheck(lambda x, w: F.conv1d(x, w, stride=2, padding=1), (x, w))
    x = tc.tensor(_rand(1, 2, 3, 4, 3), requires_grad=True)
    w = tc.tensor(_rand(2, 2, 2, 2, 2), requires_grad=True)
    assert tc.gradcheck(lambda x, w: F.conv3d(x, w, padding=(0, 1, 0)), (x, w))


# ------------------------------------------------------------- rotated-kernel identity
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", [
    ((2, 3, 7, 7), (4, 3, 3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((2, 3, 8, 7), (4, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),
    ((2, 3, 9, 10), (4, 3, 2, 3), (3, 2), ((2, 2), (0, 1)), (2, 1), 1),
    ((2, 4, 7, 7), (6, 2, 3, 3), (1, 2), ((1, 1), (1, 1)), (1, 2), 2),
    ((2, 2, 9), (3, 2, 3), (2,), ((1, 2),), (2,), 1),
])
def test_col2im_equals_full_correlation_with_rotated_kernel(x_shape, w_shape, stride, padding,
                                                            dilation, groups):
    """grad_input = col2im(W2ᵀ G) (what ConvNd computes) equals the full correlation of the
    stride-dilated grad_output with the 180°-rotated kernel (seed 004's k_180 derivation)."""
    x = tc.tensor(_rand(*x_shape), requires_grad=True)
    w = tc.tensor(_rand(*w_shape))
    y = CV.ConvNd.apply(x, w, None, stride=stride, padding=padding, dilation=dilation, groups=groups)
    g = _rand(*y.shape)
    y.backward(g)
    by_rotation = CV.grad_input_by_rotated_kernel(g, w.numpy(), x_shape, stride, padding, dilation, groups)
    np.testing.assert_allclose(x.grad.numpy(), by_rotation, rtol=1e-12, atol=1e-12)



@pytest.mark.parametrize("x_shape, w_shape, kw", [
    ((2, 3, 7, 7), (4, 3, 3, 3), dict(padding=1)),
    ((2, 3, 7, 8), (4, 3, 3, 4), dict(padding="same")),                 # asymmetric padding
    ((2, 4, 9, 9), (6, 2, 3, 3), dict(padding="same", dilation=2, groups=2)),
    ((3, 2, 5, 5), (3, 2, 1, 1), dict()),                               # 1x1: output = input size
])
def test_grad_input_by_rotated_kernel_equals_col2im_path(monkeypatch, x_shape, w_shape, kw):
    """Stride-1 'same' convs compute grad_input as a conv with the rotated kernel; forcing the
    col2im path must give the same gradient (both im2col paths: 1×1 convs would go to
    ops/conv_algorithms.py)."""
    monkeypatch.setattr(tc.backends, "conv_algorithm", "im2col")
    x = tc.tensor(RNG.standard_normal(x_shape), requires_grad=True)
    w = tc.tensor(RNG.standard_normal(w_shape))
    g = RNG.standard_normal(F.conv2d(x, w, **kw).shape)
    calls = []
    real = CV._grad_input_by_conv
    monkeypatch.setattr(CV, "_grad_input_by_conv", lambda *a: (calls.append(1), real(*a))[1])
    F.conv2d(x, w, **kw).backward(g)
    by_rotation, x.grad = x.grad.numpy(), None
    assert calls == [1]                                   # the rotated-kernel path was taken
    monkeypatch.setattr(CV._Plan, "rotated_padding", lambda self, x_shape: None)
    F.conv2d(x, w, **kw).backward(g)
    assert calls == [1]                                   # now col2im
    np.testing.assert_allclose(x.grad.numpy(), by_rotation, rtol=1e-12, atol=1e-12)

# --------------------------------------------------------------------- first layer, dtypes
def test_grad_input_skipped_for_first_layer(monkeypatch):
    calls = []
    for name in ("_col2im_into", "_grad_input_by_conv"):    # the two ways grad_input is computed
        real = getattr(CV, name)
        monkeypatch.setattr(CV, name, lambda *a, real=real, **k: (calls.append(1), real(*a, **k))[1])
    x = tc.randn(2, 3, 6, 6)                               # data: no grad wanted
    w = tc.randn(4, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert calls == [] and x.grad is None and w.grad is not None
    x.requires_grad_()
    F.conv2d(x, w, padding=1).sum().backward()
    assert calls and x.grad is not None


@pytest.mark.parametrize("layout_shape", [(2, 3, 20, 20), (8, 3, 6, 6)])
def test_float32_stays_float32(layout_shape):
    x = tc.randn(*layout_shape, requires_grad=True)
    w = tc.randn(4, 3, 3, 3, requires_grad=True)
    b = tc.randn(4, requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert y.dtype == tc.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == tc.float32


def test_no_grad_mode_records_nothing():
    w = tc.randn(4, 3, 3, 3, requires_grad=True)
    with tc.no_grad():
        y = F.conv2d(tc.randn(2, 3, 5, 5), w)
    assert y.grad_fn is None and not y.requires_grad


# ---------------------------------------------------------------------- workspace limit
def test_workspace_limit_chunks_with_identical_results():
    x = tc.randn(7, 3, 9, 9, requires_grad=True)
    w = tc.randn(5, 3, 3, 3, requires_grad=True)
    b = tc.randn(5, requires_grad=True)
    g = tc.randn(7, 5, 9, 9)
    y_full = F.conv2d(x, w, b, padding=1)
    y_full.backward(g)
    grads = [t.grad.numpy().copy() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    per_image = 3 * 9 * 81 * 4                               # one image's columns, bytes
    old = tc.set_workspace_limit(2 * per_image + 5)          # -> chunks of <= 2 images
    try:
        y = F.conv2d(x, w, b, padding=1)
        assert y.grad_fn.plan.steps[0][1] <= 2 and not y.grad_fn.plan.keep_columns
        y.backward(g)
    finally:
        tc.set_workspace_limit(old)
    assert np.array_equal(y.numpy(), y_full.numpy())               # forward: bit for bit
    # grad_input and grad_weight: GEMMs over other column counts may round differently
    np.testing.assert_allclose(x.grad.numpy(), grads[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), grads[1], rtol=1e-5, atol=1e-5)   # sum order differs
    assert np.array_equal(b.grad.numpy(), grads[2])


def test_workspace_limit_bounds_peak_memory():
    x = tc.randn(16, 8, 32, 32)
    w = tc.randn(8, 8, 3, 3, requires_grad=True)
    out_bytes = 16 * 8 * 32 * 32 * 4
    col_bytes = 16 * 8 * 9 * 32 * 32 * 4                     # 4.7 MB unchunked
    limit = col_bytes // 8
    old = tc.set_workspace_limit(limit)
    try:
        tracemalloc.start()
        tracemalloc.reset_peak()
        y = F.conv2d(x, w, padding=1)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        tc.set_workspace_limit(old)
    step = y.grad_fn.plan.steps[0][1]
    assert y.shape == (16, 8, 32, 32) and 1 <= step <= 2
    # the output, the column buffer (<= limit) and, per step of <= 2 images, the padded input
    # and the GEMM result before it is reordered into the output: never the full 4.7 MB
    padded_chunk, gemm_chunk = step * 8 * 34 * 34 * 4, step * 8 * 32 * 32 * 4
    assert peak <= out_bytes + limit + padded_chunk + gemm_chunk + 64 * 1024, (peak, limit)
    assert peak < col_bytes / 3


def test_set_workspace_limit_validates():
    with pytest.raises(tc.ArgumentError):
        tc.set_workspace_limit(0)
    with pytest.raises(tc.ArgumentError):
        tc.set_workspace_limit("1GB")
    old = tc.set_workspace_limit(None)
    assert tc.get_workspace_limit() is None
    tc.set_workspace_limit(old)
    assert tc.get_workspace_limit() == old


# ---------------------------------------------------------------------- unfold / fold
@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=1, dilation=(1, 2)),
])
def test_unfold_fold_match_torch(torch, kw):
    x = _rand(2, 3, 6, 7)
    X = tc.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    cols = F.unfold(X, **kw)
    tcols = torch.nn.functional.unfold(tx, **kw)
    np.testing.assert_array_equal(cols.numpy(), tcols.detach().numpy())
    g = _rand(*cols.shape)
    cols.backward(g)
    tcols.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    # fold: col2im of arbitrary columns
    c = tc.tensor(g, requires_grad=True)
    tcg = torch.tensor(g, requires_grad=True)
    y = F.fold(c, (6, 7), **kw)
    ty = torch.nn.functional.fold(tcg, (6, 7), **kw)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    gy = _rand(*y.shape)
    y.backward(gy)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(c.grad.numpy(), tcg.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_unfold_fold_gradcheck_and_fold_of_unfold_counts_windows():
    x = tc.tensor(_rand(1, 2, 4, 4), requires_grad=True)
    assert tc.gradcheck(lambda x: F.unfold(x, 3, padding=1, stride=2), (x,))
    c = tc.tensor(_rand(1, 8, 4), requires_grad=True)
    assert tc.gradcheck(lambda c: F.fold(c, (3, 3), 2), (c,))
    # fold(unfold(x)) multiplies each pixel by the number of windows covering it
    ones = tc.ones(1, 1, 4, 4, dtype=tc.float64)
    count = F.fold(F.unfold(ones, 2), (4, 4), 2)
    x2 = tc.tensor(_rand(1, 1, 4, 4))
    np.testing.assert_allclose(F.fold(F.unfold(x2, 2), (4, 4), 2).data, x2.numpy() * count.numpy())
    assert count.numpy()[0, 0].tolist() == [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]


def test_unfold_times_weight_is_conv2d():
    """seed 001 §2.1.7: np.dot(W_row, X_col) is the convolution."""
    x, w = tc.randn(2, 3, 8, 8, dtype=tc.float64), tc.randn(5, 3, 3, 3, dtype=tc.float64)
    cols = F.unfold(x, 3, padding=1, stride=2)                      # (2, 27, 16)
    y = (w.reshape(5, 27) @ cols).reshape(2, 5, 4, 4)
    np.testing.assert_allclose(y.numpy(), F.conv2d(x, w, padding=1, stride=2).data, rtol=1e-12)


# ------------------------------------------------------------------------------ errors
def _conv_error(exc, *args, **kw):
    with pytest.raises(exc) as info:
        F.conv2d(*args, **kw)
    return str(info.value)


def test_error_channel_mismatch():
    msg = _conv_error(tc.ShapeError, tc.zeros(1, 3, 8, 8), tc.zeros(8, 4, 3, 3))
    assert "conv2d" in msg and "C=3" in msg and "expects 4" in msg and "(8, 4, 3, 3)" in msg


def test_error_output_size_below_one_names_every_argument():
    msg = _conv_error(tc.ShapeError, tc.zeros(1, 1, 3, 3), tc.zeros(1, 1, 5, 5), stride=2, dilation=1)
    for part in ("conv2d", "H=3", "KH=5", "SH=2", "PH=0", "DH=1", "(1, 1, 3, 3)", "(1, 1, 5, 5)"):
        assert part in msg, (part, msg)
    msg = _conv_error(tc.ShapeError, tc.zeros(1, 1, 9, 3), tc.zeros(1, 1, 2, 2), padding=0, dilation=3)
    assert "W=3" in msg and "DW=3" in msg


def test_error_groups_not_dividing_channels():
    msg = _conv_error(tc.ArgumentError, tc.zeros(1, 4, 5, 5), tc.zeros(6, 2, 3, 3), groups=3)
    assert "groups=3" in msg and "C=4" in msg
    msg = _conv_error(tc.ArgumentError, tc.zeros(1, 4, 5, 5), tc.zeros(5, 2, 3, 3), groups=2)
    assert "groups=2" in msg and "C_out=5" in msg


def test_error_same_padding_with_stride():
    msg = _conv_error(tc.ArgumentError, tc.zeros(1, 1, 5, 5), tc.zeros(1, 1, 3, 3), stride=2, padding="same")
    assert "'same'" in msg and "stride=(2, 2)" in msg


@pytest.mark.parametrize("kw, exc, part", [
    (dict(stride=0), tc.ArgumentError, "stride"),
    (dict(padding=-1), tc.ArgumentError, "padding"),
    (dict(padding="full"), tc.ArgumentError, "padding"),
    (dict(dilation=(1, 2, 3)), tc.ArgumentError, "dilation"),
    (dict(groups=0), tc.ArgumentError, "groups"),
])
def test_error_bad_hyperparameters(kw, exc, part):
    assert part in _conv_error(exc, tc.zeros(1, 2, 5, 5), tc.zeros(2, 2, 3, 3), **kw)


def test_error_shapes_and_dtypes():
    assert "bias" in _conv_error(tc.ShapeError, tc.zeros(1, 2, 5, 5), tc.zeros(3, 2, 3, 3), tc.zeros(2))
    assert "4-D" in _conv_error(tc.ShapeError, tc.zeros(5, 5), tc.zeros(3, 2, 3, 3))
    assert "weight" in _conv_error(tc.ShapeError, tc.zeros(1, 2, 5, 5), tc.zeros(3, 2, 3))
    assert "float64" in _conv_error(tc.DTypeError, tc.zeros(1, 2, 5, 5), tc.zeros(3, 2, 3, 3, dtype=tc.float64))
    assert "int64" in _conv_error(tc.DTypeError, tc.tensor(np.zeros((1, 2, 5, 5), np.int64)), tc.zeros(3, 2, 3, 3))
    assert "Tensor" in _conv_error(tc.ArgumentError, np.zeros((1, 2, 5, 5)), tc.zeros(3, 2, 3, 3))


def test_error_fold_and_unfold():
    with pytest.raises(tc.ShapeError, match="divisible by KH\\*KW"):
        F.fold(tc.zeros(1, 5, 4), (3, 3), 2)
    with pytest.raises(tc.ShapeError, match="L=5 columns"):
        F.fold(tc.zeros(1, 8, 5), (3, 3), 2)
    with pytest.raises(tc.ShapeError, match="H=2"):
        F.unfold(tc.zeros(1, 1, 2, 5), 3)


# ------------------------------------------------------------------------- threading
def test_run_parallel_runs_every_item_once_and_keeps_their_order(monkeypatch):
    from tinygrad_cnn.ops import parallel
    import threading
    import time
    seen = []
    caller = threading.current_thread()
    pool_joined = threading.Event()

    def fn(i):
        seen.append((i, threading.current_thread().name))
        if threading.current_thread() is caller:
            pool_joined.wait(timeout=10)                    # let a pool thread take an item
        else:
            pool_joined.set()
        time.sleep(0.001)
        return i * i
    monkeypatch.setitem(parallel._state, "threads", 3)
    if not parallel.parallel_available():
        pool_joined.set()                                   # serial: no pool thread will come
    assert parallel.run_parallel(fn, 10) == [i * i for i in range(10)]
    assert sorted(i for i, _ in seen) == list(range(10))
    if parallel.parallel_available():
        names = {name for _, name in seen}
        assert threading.current_thread().name in names and len(names) >= 2   # caller + pool
    seen.clear()
    pool_joined.set()                                       # one thread: nobody to wait for
    assert parallel.run_parallel(fn, 10, threads=1) == [i * i for i in range(10)]
    assert {name for _, name in seen} == {threading.current_thread().name}     # one thread asked
    monkeypatch.setitem(parallel._state, "threads", 1)
    assert parallel.run_parallel(fn, 3) == [0, 1, 4]
    with pytest.raises(tc.ArgumentError):
        parallel.set_num_threads(0)


def test_run_parallel_does_not_wait_for_a_worker_that_never_starts(monkeypatch):
    """A busy machine may not schedule a pool thread: the caller does all the items instead."""
    from tinygrad_cnn.ops import parallel
    import threading
    if not parallel.parallel_available():
        pytest.skip("no thread-local BLAS control: the ops run serially")
    monkeypatch.setitem(parallel._state, "threads", 2)
    pool = parallel._pool(1)
    gate = threading.Event()
    blocker = pool.submit(gate.wait)                        # occupy the only pool thread
    try:
        assert parallel.run_parallel(lambda i: i + 1, 5) == [1, 2, 3, 4, 5]
    finally:
        gate.set()
        blocker.result()


def test_run_parallel_propagates_errors(monkeypatch):
    from tinygrad_cnn.ops import parallel
    monkeypatch.setitem(parallel._state, "threads", 2)

    def fn(i):
        if i == 3:
            raise ValueError("item 3")
        return i
    with pytest.raises(ValueError, match="item 3"):
        parallel.run_parallel(fn, 6)


@pytest.mark.parametrize("size", [10, 14])                  # batch-last (L = 100), batch-major (196)
def test_threaded_conv_equals_serial_conv(monkeypatch, size):
    from tinygrad_cnn.ops import parallel
    x = tc.randn(9, 3, size, size, requires_grad=True)
    w = tc.randn(4, 3, 3, 3, requires_grad=True)
    g = tc.randn(9, 4, size, size)
    results = []
    for threads in (1, 3):
        monkeypatch.setitem(parallel._state, "threads", threads)
        monkeypatch.setattr(CV, "COLUMN_CHUNK_BYTES", 1)
        monkeypatch.setattr(CV, "MIN_PARALLEL_FLOPS", 0)
        x.grad = w.grad = None
        y = F.conv2d(x, w, padding=1)
        y.backward(g)
        results.append((y.numpy(), x.grad.numpy(), w.grad.numpy()))
    (y1, gx1, gw1), (y3, gx3, gw3) = results
    # the same numbers whatever the thread count: grad_weight is summed in fixed step groups
    assert np.array_equal(y1, y3) and np.array_equal(gx1, gx3) and np.array_equal(gw1, gw3)


def test_conv_works_in_a_forked_child_after_the_parent_used_threads(monkeypatch):
    import multiprocessing as mp
    import os
    from tinygrad_cnn.ops import parallel
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    monkeypatch.setitem(parallel._state, "threads", 2)
    monkeypatch.setattr(CV, "MIN_PARALLEL_FLOPS", 0)
    x, w = tc.randn(4, 2, 6, 6), tc.randn(3, 2, 3, 3)
    expected = F.conv2d(x, w).data                       # the parent's pool now exists
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_conv_in_child, (x.numpy(), w.numpy())).get(timeout=60)
    assert np.array_equal(got, expected)


def _conv_in_child(x, w):
    from tinygrad_cnn.ops import parallel
    parallel._state["threads"] = 2
    CV.MIN_PARALLEL_FLOPS = 0
    return F.conv2d(tc.tensor(x), tc.tensor(w)).data
