"""F.interpolate (nearest, bilinear with and without align_corners) and nn.Upsample:
PyTorch forward and backward, loop references, gradcheck, errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from torch_compare import assert_like_torch

RNG = np.random.default_rng(9)

CASES = [dict(scale_factor=2), dict(size=(9, 4)), dict(size=(3, 11)), dict(scale_factor=(1.5, 0.7)),
         dict(scale_factor=2, mode="bilinear"), dict(size=(9, 4), mode="bilinear"),
         dict(size=(9, 4), mode="bilinear", align_corners=True),
         dict(scale_factor=(1.5, 0.7), mode="bilinear"),
         dict(size=(1, 1), mode="bilinear", align_corners=True),
         dict(scale_factor=3.3, mode="bilinear", align_corners=True),
         dict(size=(2, 3), mode="bilinear")]                     # downsampling


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_like_torch(torch, kw, dtype):
    x = RNG.standard_normal((2, 3, 5, 7)).astype(dtype)
    assert_like_torch(torch, lambda t: F.interpolate(t, **kw),
                      lambda t: torch.nn.functional.interpolate(t, **kw), x, RNG)


@given(h=st.integers(1, 6), w=st.integers(1, 6), oh=st.integers(1, 9), ow=st.integers(1, 9))
def test_nearest_and_bilinear_match_loop_references(h, w, oh, ow):
    x = RNG.standard_normal((1, 2, h, w))
    near = np.empty((1, 2, oh, ow))
    bil = np.empty((1, 2, oh, ow))
    for i in range(oh):
        for j in range(ow):
            near[..., i, j] = x[..., min(i * h // oh, h - 1), min(j * w // ow, w - 1)]
            sy, sx = max((i + 0.5) * h / oh - 0.5, 0.0), max((j + 0.5) * w / ow - 0.5, 0.0)
            y0, x0 = min(int(sy), h - 1), min(int(sx), w - 1)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            ly, lx = sy - y0, sx - x0
            bil[..., i, j] = ((1 - ly) * ((1 - lx) * x[..., y0, x0] + lx * x[..., y0, x1])
                              + ly * ((1 - lx) * x[..., y1, x0] + lx * x[..., y1, x1]))
    np.testing.assert_allclose(F.interpolate(tc.tensor(x), size=(oh, ow)).data, near, rtol=0, atol=0)
    np.testing.assert_allclose(F.interpolate(tc.tensor(x), size=(oh, ow), mode="bilinear").data, bil,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=(7, 3), mode="bilinear"),
                                dict(size=(7, 3), mode="bilinear", align_corners=True)])
def test_gradcheck(kw):
    x = tc.tensor(RNG.standard_normal((2, 2, 4, 5)), requires_grad=True)
    assert tc.gradcheck(lambda t: F.interpolate(t, **kw), (x,))


def test_upsample_module_like_torch(torch):
    x = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    for args in [dict(scale_factor=2), dict(size=(4, 5), mode="bilinear"),
                 dict(scale_factor=2, mode="bilinear", align_corners=True), dict(size=4)]:
        ours, theirs = nn.Upsample(**args), torch.nn.Upsample(**args)
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tc.tensor(x)).data, theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.interpolate(tc.randn(1, 2, 4), scale_factor=2), tc.ShapeError, ["4-D", "(1, 2, 4)"]),
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4), scale_factor=2, mode="bicubic"), tc.ArgumentError, ["'bicubic'"]),
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4)), tc.ArgumentError, ["exactly one of size and scale_factor"]),
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4), size=3, scale_factor=2), tc.ArgumentError, ["exactly one"]),
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4), scale_factor=-1), tc.ArgumentError, ["positive", "-1"]),
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4), scale_factor=0.1), tc.ShapeError, ["empty output"]),
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4), scale_factor=2, align_corners=True), tc.ArgumentError,
     ["align_corners", "bilinear"]),
    (lambda: nn.Upsample(scale_factor=2)(tc.randn(2, 4)), tc.ShapeError, ["Upsample", "4-D"]),
    # found by the garbage-argument fuzz (tests/test_fuzz_cnn.py)
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4), scale_factor=float("inf")), tc.ArgumentError, ["finite"]),
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4), scale_factor=1e300), tc.ShapeError, ["more than 1 TiB"]),
    (lambda: F.interpolate(tc.randn(1, 2, 4, 4), size=3, mode=tc.ones(1)), tc.ArgumentError, ["mode"]),
])
def test_errors(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert all(w in str(e.value) for w in words), str(e.value)
