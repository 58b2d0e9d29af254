"""nn.init: PyTorch's gains, fans and bounds; seeded, in place, dtype-preserving. Distribution
checks use closed forms (U(-b, b) has variance b²/3) on samples large enough for 3 % bounds."""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.nn import init


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                        ("selu", None)])
def test_calculate_gain_matches_torch(torch, name, param):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


@pytest.mark.parametrize("shape", [(7, 3), (6, 1, 5, 5), (16, 6, 5, 5), (4, 2, 3), (2, 3, 2, 2, 2)])
def test_fans_match_torch(torch, shape):
    ours = init._calculate_fan_in_and_fan_out(tc.zeros(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    assert ours == theirs


def _uniform_ok(x, bound):
    assert np.abs(x).max() <= bound * (1 + 1e-6)
    assert np.abs(x).max() > 0.99 * bound
    assert x.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert abs(x.mean()) < 0.03 * bound


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_uniform(mode):
    w = tc.empty(200, 100, 3)
    init.kaiming_uniform_(w, a=0, mode=mode, nonlinearity="relu")
    fan = 300 if mode == "fan_in" else 600
    _uniform_ok(w.numpy(), math.sqrt(2) * math.sqrt(3 / fan))


def test_kaiming_normal_and_xavier():
    w = tc.empty(300, 200)
    init.kaiming_normal_(w, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 200), rel=0.03)
    init.xavier_normal_(w, gain=2.0)
    assert w.numpy().std() == pytest.approx(2.0 * math.sqrt(2 / 500), rel=0.03)
    init.xavier_uniform_(w)
    _uniform_ok(w.numpy(), math.sqrt(6 / 500))


def test_trunc_normal_within_bounds():
    w = init.trunc_normal_(tc.empty(100, 100), std=1.0, a=-0.5, b=0.5)
    assert w.numpy().min() >= -0.5 and w.numpy().max() <= 0.5


def test_fills_in_place_keeping_dtype_and_identity():
    w = tc.empty(4, 5, dtype=tc.float64)
    arr = w.numpy()
    assert init.uniform_(w, -1, 1) is w and w.numpy() is arr and w.dtype == np.float64
    init.constant_(w, 0.5)
    assert np.all(w.numpy() == 0.5)
    init.zeros_(w)
    assert np.all(w.numpy() == 0)
    init.ones_(w)
    assert np.all(w.numpy() == 1)
    init.eye_(w)
    np.testing.assert_array_equal(w.numpy(), np.eye(4, 5))
    with pytest.raises(tc.ShapeError):
        init.kaiming_uniform_(tc.empty(5))


def test_seeded_and_explicit_generator():
    tc.manual_seed(123)
    a = nn.Linear(20, 10).weight.numpy().copy()
    tc.manual_seed(123)
    b = nn.Linear(20, 10).weight.numpy().copy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(init.normal_(tc.empty(3), generator=g1).data,
                                  init.normal_(tc.empty(3), generator=g2).data)


@pytest.mark.parametrize("make,torch_make,fan_in", [
    (lambda: nn.Linear(400, 120), lambda t: t.nn.Linear(400, 120), 400),
    (lambda: nn.Conv2d(6, 16, 5), lambda t: t.nn.Conv2d(6, 16, 5), 150),
    (lambda: nn.Conv2d(8, 16, 3, groups=4), lambda t: t.nn.Conv2d(8, 16, 3, groups=4), 18),
    (lambda: nn.Conv1d(4, 8, 3), lambda t: t.nn.Conv1d(4, 8, 3), 12),
    (lambda: nn.Conv3d(2, 4, 3), lambda t: t.nn.Conv3d(2, 4, 3), 54),
])
def test_default_layer_init_is_pytorchs(torch, make, torch_make, fan_in):
    """PyTorch's default: weight kaiming_uniform_(a=√5) = U(±1/√fan_in), bias U(±1/√fan_in).
    The bound is checked against torch's own layer (its weights never exceed ours) and the
    closed form; our weights must fill it uniformly."""
    bound = 1 / math.sqrt(fan_in)
    ours, theirs = make(), torch_make(torch)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert float(theirs.weight.detach().abs().max()) <= bound and float(theirs.bias.detach().abs().max()) <= bound
    w = ours.weight.numpy()
    assert np.abs(w).max() <= bound
    if w.size >= 2000:
        _uniform_ok(w, bound)
    assert np.abs(ours.bias.numpy()).max() <= bound
    assert ours.weight.dtype == np.float32


def test_batchnorm_init_matches_torch(torch):
    ours, theirs = nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k].data, v.numpy())
        assert ours.state_dict()[k].dtype == v.numpy().dtype
