"""The conv workspace limit within one image: bands of output rows (ops/conv.py, _row_bands),
forward and backward equal to the unlimited conv, memory bounded, WorkspaceError when not even
one output row's columns fit."""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class limit:
    def __init__(self, nbytes):
        self.nbytes = nbytes

    def __enter__(self):
        self.old = tc.set_workspace_limit(self.nbytes)

    def __exit__(self, *exc):
        tc.set_workspace_limit(self.old)


def _row_bytes(x_shape, w_shape, out_shape, itemsize=8):
    """One output row's columns: C*prod(kernel) values per position of out's trailing dims."""
    return x_shape[1] * int(np.prod(w_shape[2:])) * int(np.prod(out_shape[3:])) * itemsize


def _run(x, w, b, g, kw, nbytes=None):
    d = x.ndim - 2
    X, W = tc.tensor(x, requires_grad=True), tc.tensor(w, requires_grad=True)
    B = tc.tensor(b, requires_grad=True)
    old = tc.backends.conv_algorithm
    tc.backends.conv_algorithm = "im2col"         # the bands are im2col's (depthwise convs included)
    try:
        with limit(nbytes):
            y = CONV[d](X, W, B, **kw)
            banded = "bands" in y.grad_fn.__dict__
            y.backward(tc.tensor(g))
    finally:
        tc.backends.conv_algorithm = old
    return banded, [t.numpy().copy() for t in (y, X.grad, W.grad, B.grad)]


GEOMETRIES = [
    ((2, 3, 9, 8), (4, 3, 3, 3), dict(padding=1)),
    ((1, 3, 11, 7), (4, 3, 3, 2), dict(padding=(5, 1), stride=(2, 1))),   # bands inside the padding
    ((2, 4, 13, 9), (6, 2, 3, 3), dict(padding=2, dilation=2, groups=2, stride=(3, 2))),
    ((1, 2, 6, 6), (2, 2, 2, 2), dict(padding=4)),                       # rows that see only padding
    ((2, 3, 5, 5), (4, 3, 5, 5), dict(padding=2)),                       # 'same': rotated-kernel grad_input
    ((1, 6, 7, 7), (6, 1, 3, 3), dict(padding=1, groups=6)),             # depthwise
    ((2, 3, 10), (4, 3, 3), dict(padding=1, stride=2)),                  # conv1d: a row is one position
    ((1, 2, 5, 4, 4), (3, 2, 2, 3, 3), dict(padding=1)),                 # conv3d: a row is one depth slice
]


@pytest.mark.parametrize("rows", [1, 2])
@pytest.mark.parametrize("x_shape, w_shape, kw", GEOMETRIES)
def test_bands_of_rows_equal_the_unlimited_conv(x_shape, w_shape, kw, rows):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    with tc.no_grad():
        out_shape = CONV[len(x_shape) - 2](tc.tensor(x), tc.tensor(w), **kw).shape
    g = rng.standard_normal(out_shape)
    _, expected = _run(x, w, b, g, kw)
    banded, got = _run(x, w, b, g, kw, rows * _row_bytes(x_shape, w_shape, out_shape))
    assert banded
    for name, a, e in zip(("output", "grad_input", "grad_weight", "grad_bias"), got, expected):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12, err_msg=name)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_bands_hypothesis_shapes(data):
    k = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    s = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2)))
    dl = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    p = (data.draw(st.integers(0, 3)), data.draw(st.integers(0, 2)))
    groups = data.draw(st.integers(1, 2))
    c, co = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    hw = [max(1, d_ * (kk - 1) + 1 - 2 * pp) + data.draw(st.integers(0, 6)) for kk, d_, pp in zip(k, dl, p)]
    x_shape, w_shape = (data.draw(st.integers(1, 2)), c, *hw), (co, c // groups, *k)
    kw = dict(stride=s, padding=p, dilation=dl, groups=groups)
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(co)
    with tc.no_grad():
        out_shape = F.conv2d(tc.tensor(x), tc.tensor(w), **kw).shape
    g = rng.standard_normal(out_shape)
    _, expected = _run(x, w, b, g, kw)
    rows = data.draw(st.integers(1, 3))
    nbytes = rows * _row_bytes(x_shape, w_shape, out_shape)
    banded, got = _run(x, w, b, g, kw, nbytes)
    assert banded == (nbytes < _row_bytes(x_shape, w_shape, out_shape) * out_shape[2])
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-11)


def test_issue_case_builds_no_more_than_the_limit_of_columns():
    """F.conv2d(randn(1, 64, 360, 360), randn(1, 64, 9, 9)) under a 64 MiB limit: 2.4 GiB of
    columns unbanded; banded, the peak stays below input + output + limit + a band's input."""
    x, w = tc.randn(1, 64, 360, 360), tc.randn(1, 64, 9, 9)
    tracemalloc.start()
    try:
        with limit(64 << 20):
            y = F.conv2d(x, w)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y.shape == (1, 1, 352, 352)
    assert peak < (64 << 20) + 2 * x.numpy().nbytes, peak
    # spot-check a few outputs against the direct sum
    xa, wa = x.numpy().astype(np.float64), w.numpy().astype(np.float64)
    for oh, ow in ((0, 0), (100, 351), (351, 7)):
        ref = (xa[0, :, oh:oh + 9, ow:ow + 9] * wa[0]).sum()
        assert abs(y.numpy()[0, 0, oh, ow] - ref) < 1e-3 * (1 + abs(ref))


def test_backward_memory_stays_bounded_in_bands():
    x = tc.randn(1, 16, 64, 64, requires_grad=True)
    w = tc.randn(8, 16, 5, 5, requires_grad=True)
    unbanded = 16 * 25 * 64 * 64 * 4                       # 6.5 MB of columns for the image
    nbytes = unbanded // 16
    with limit(nbytes):
        y = F.conv2d(x, w, padding=2)
        tracemalloc.start()
        try:
            y.backward(tc.ones(*y.shape))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # grad_input, grad_weight, the contiguous grad_output and, per band, its columns, the
    # columns' gradient and its input rows: far below one image's columns
    assert peak < 3 * x.numpy().nbytes + 3 * nbytes + (256 << 10), peak
    assert peak < unbanded


def test_workspace_error_when_one_row_does_not_fit():
    x, w = tc.randn(1, 64, 40, 40), tc.randn(2, 64, 9, 9)
    row = 64 * 81 * 32 * 4                                 # C*KH*KW * OW positions * 4 bytes
    with limit(row - 1), pytest.raises(tc.WorkspaceError) as info:
        F.conv2d(x, w)
    message = str(info.value)
    for part in (f"{row:,} bytes", f"{row - 1:,} bytes", "(1, 64, 40, 40)", "(2, 64, 9, 9)",
                 "tc.set_workspace_limit"):
        assert part in message, (part, message)
    with limit(row):                                       # exactly one row fits: it runs
        assert F.conv2d(x, w).shape == (1, 2, 32, 32)
