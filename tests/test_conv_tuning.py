"""tc.backends.cudnn.benchmark = True (ops/conv_tuning.py): under 'auto', the conv algorithms
are timed once per configuration on the call's arrays and the fastest is kept. A fake clock,
advanced by each candidate's forward by a cost the test sets, makes the timing deterministic."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.ops import conv as conv_module
from tinygrad_cnn.ops import conv_algorithms as CA
from tinygrad_cnn.ops import conv_tuning


class _Clock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


@pytest.fixture
def costs(monkeypatch):
    """Set costs['im2col'] / costs['winograd'] / ...: the seconds one ConvNd forward by that
    algorithm takes on the fake clock; costs['calls'] counts those forwards."""
    clock, costs, calls = _Clock(), {}, {}
    monkeypatch.setattr(conv_tuning, "time", clock)

    conv_by = conv_module._conv_by

    def timed(algo, *args):                      # every conv ConvNd runs, timing runs included
        name = "im2col" if algo is None else algo.name
        calls[name] = calls.get(name, 0) + 1
        clock.now += costs.get(name, 1.0)
        return conv_by(algo, *args)

    monkeypatch.setattr(conv_module, "_conv_by", timed)
    costs["calls"] = calls
    tc.backends.cudnn.benchmark = True
    return costs


def _used(y):
    chosen = y.grad_fn.__dict__.get("algorithm")
    return chosen[0].name if chosen else "im2col"


WINO_RULE = ((4, 64, 16, 16), (64, 64, 3, 3))    # the rule picks Winograd (256 tiles, h 32)
IM2COL_RULE = ((2, 64, 16, 16), (64, 64, 3, 3))  # the rule picks im2col (128 tiles, h 32)


def test_the_fastest_candidate_wins_against_the_rule(costs):
    costs.update(im2col=1.0, winograd=5.0)
    x = tc.randn(*WINO_RULE[0], requires_grad=True)
    assert _used(F.conv2d(x, tc.randn(*WINO_RULE[1]), padding=1)) == "im2col"
    costs.update(im2col=5.0, winograd=1.0)
    x = tc.randn(*IM2COL_RULE[0], requires_grad=True)
    assert _used(F.conv2d(x, tc.randn(*IM2COL_RULE[1]), padding=1)) == "winograd"
    assert sorted(conv_tuning.tuned().values()) == ["im2col", "winograd"]


def test_each_configuration_is_timed_once(costs):
    calls = costs["calls"]
    costs.update(im2col=5.0, winograd=1.0)
    w = tc.randn(*IM2COL_RULE[1])
    F.conv2d(tc.randn(*IM2COL_RULE[0], requires_grad=True), w, padding=1)
    rounds = conv_tuning.ROUNDS
    assert calls == {"im2col": rounds, "winograd": rounds + 1}     # the timings, then the call itself
    calls.clear()
    y = F.conv2d(tc.randn(*IM2COL_RULE[0], requires_grad=True), w, padding=1)
    assert calls == {"winograd": 1} and _used(y) == "winograd"
    calls.clear()                                   # no gradient needed: another configuration
    F.conv2d(tc.randn(*IM2COL_RULE[0]), w, padding=1)
    assert calls == {"im2col": rounds, "winograd": rounds + 1}
    calls.clear()
    F.conv2d(tc.randn(*IM2COL_RULE[0], dtype=tc.float64, requires_grad=True),
             w.double(), padding=1)                 # another dtype
    assert calls == {"im2col": rounds, "winograd": rounds + 1}
    conv_tuning.clear()
    calls.clear()
    F.conv2d(tc.randn(*IM2COL_RULE[0], requires_grad=True), w, padding=1)
    assert calls == {"im2col": rounds, "winograd": rounds + 1}


def test_nothing_is_timed_where_only_im2col_applies_or_an_algorithm_is_forced(costs):
    calls = costs["calls"]
    F.conv2d(tc.randn(2, 3, 9, 9, requires_grad=True), tc.randn(4, 3, 5, 5))   # 5×5: im2col only
    assert calls == {"im2col": 1}
    calls.clear()
    old = tc.backends.conv_algorithm
    try:
        tc.backends.conv_algorithm = "im2col"
        F.conv2d(tc.randn(*WINO_RULE[0], requires_grad=True), tc.randn(*WINO_RULE[1]), padding=1)
        assert calls == {"im2col": 1}
    finally:
        tc.backends.conv_algorithm = old
    assert conv_tuning.tuned() == {}
    tc.backends.cudnn.benchmark = False
    calls.clear()
    F.conv2d(tc.randn(*WINO_RULE[0], requires_grad=True), tc.randn(*WINO_RULE[1]), padding=1)
    assert calls == {"winograd": 1}                 # the rule again


@pytest.mark.parametrize("pick", ["im2col", "winograd"])
def test_timing_leaves_the_call_exact(costs, pick):
    """The timing runs read the call's arrays; what the call returns, and its gradients, are the
    picked algorithm's, bit for bit."""
    costs.update(im2col=1.0 if pick == "im2col" else 9.0, winograd=9.0 if pick == "im2col" else 1.0)
    rng = np.random.default_rng(1)
    xs, ws = rng.standard_normal(WINO_RULE[0]), rng.standard_normal(WINO_RULE[1])
    b = rng.standard_normal(64)
    x, w, bias = (tc.tensor(a, requires_grad=True) for a in (xs, ws, b))
    y = F.conv2d(x, w, bias, padding=1)
    assert _used(y) == pick
    y.backward(tc.tensor(np.cos(y.numpy())))
    np.testing.assert_array_equal(x.numpy(), xs)
    tc.backends.cudnn.benchmark = False
    old = tc.backends.conv_algorithm
    try:
        tc.backends.conv_algorithm = pick
        x2, w2, b2 = (tc.tensor(a, requires_grad=True) for a in (xs, ws, b))
        y2 = F.conv2d(x2, w2, b2, padding=1)
        y2.backward(tc.tensor(np.cos(y2.numpy())))
    finally:
        tc.backends.conv_algorithm = old
    for got, want in ((y, y2), (x.grad, x2.grad), (w.grad, w2.grad), (bias.grad, b2.grad)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_real_timing_picks_a_candidate_that_computes_the_conv():
    tc.backends.cudnn.benchmark = True
    rng = np.random.default_rng(2)
    cases = [(WINO_RULE[0], WINO_RULE[1], dict(padding=1)),
             ((4, 16, 8, 8), (16, 1, 3, 3), dict(padding=1, groups=16)),
             ((4, 16, 8, 8), (8, 16, 1, 1), {})]
    for x_shape, w_shape, kw in cases:
        xs, ws = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        x, w = tc.tensor(xs, requires_grad=True), tc.tensor(ws, requires_grad=True)
        y = F.conv2d(x, w, **kw)
        y.sum().backward()
        assert _used(y) in {"im2col", "winograd", "depthwise", "pointwise"}
        tc.backends.cudnn.benchmark = False
        x2, w2 = tc.tensor(xs, requires_grad=True), tc.tensor(ws, requires_grad=True)
        old = tc.backends.conv_algorithm
        tc.backends.conv_algorithm = "im2col"
        try:
            y2 = F.conv2d(x2, w2, **kw)
            y2.sum().backward()
        finally:
            tc.backends.conv_algorithm = old
            tc.backends.cudnn.benchmark = True
        for got, want in ((y, y2), (x.grad, x2.grad), (w.grad, w2.grad)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-10)
    assert len(conv_tuning.tuned()) == len(cases)


def test_the_flag_is_validated_and_shown():
    for bad in (1, "yes", None):
        with pytest.raises(tc.ArgumentError, match=r"cudnn.benchmark must be True or False, got"):
            tc.backends.cudnn.benchmark = bad
    assert tc.backends.cudnn.benchmark is False
    tc.backends.cudnn.benchmark = True
    assert "'benchmark': True" in repr(tc.backends.cudnn)
