"""Anomaly detection (NaN/Inf with the op and the user's call site) and gradient hooks."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.errors import AnomalyError, BackwardError


def test_anomaly_mode_names_the_op_and_the_users_line_for_a_forward_nan():
    x = tc.tensor([-1.0, 1.0], requires_grad=True)
    with tc.autograd.detect_anomaly():
        with np.errstate(invalid="ignore"):
            with pytest.raises(AnomalyError) as err:
                x.log()
    msg = str(err.value)
    assert "Log.forward" in msg and "NaN" in msg
    assert f"{__file__}:" in msg              # the call site is this test file, not the package


def test_anomaly_mode_catches_a_backward_inf_and_points_at_the_forward_call():
    x = tc.tensor([0.0, 4.0], requires_grad=True)
    with tc.autograd.detect_anomaly():
        y = x.sqrt()                           # finite forward, d/dx sqrt at 0 is inf
        line = y.grad_fn.forward_site
        with np.errstate(divide="ignore"):
            with pytest.raises(AnomalyError) as err:
                y.sum().backward()
    assert "Sqrt.backward" in str(err.value) and "Inf" in str(err.value)
    assert line in str(err.value) and line.startswith(__file__)


def test_anomaly_mode_is_off_by_default_and_restored_after_the_block():
    assert not tc.autograd.is_anomaly_enabled()
    with tc.autograd.detect_anomaly():
        assert tc.autograd.is_anomaly_enabled()
    assert not tc.autograd.is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        out = tc.tensor([-1.0]).log()          # no check: NaN passes through silently, like torch
    assert np.isnan(out.item())


def test_detect_anomaly_as_decorator():
    @tc.autograd.detect_anomaly()
    def f(t):
        return t / 0.0

    with np.errstate(divide="ignore"):
        with pytest.raises(AnomalyError, match="Div"):
            f(tc.tensor([1.0]))


def test_hook_on_a_leaf_sees_and_can_replace_the_gradient():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    assert x.grad.tolist() == [30.0, 30.0]
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_hook_on_a_non_leaf_replaces_the_gradient_flowing_upstream():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g + 1)
    (y * y).sum().backward()                   # dL/dy = 2y = [4, 8] -> hooked [5, 9]
    assert x.grad.tolist() == [10.0, 18.0]


def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = y * 2
    assert z.grad is None and not z.retains_grad
    (y * y).sum().backward()
    assert y.retains_grad and y.grad.tolist() == [4.0, 8.0]


def test_hook_that_changes_the_shape_is_rejected():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g.sum())
    with pytest.raises(BackwardError, match="hook"):
        y.sum().backward()


def test_hook_on_a_tensor_without_grad_is_an_error():
    with pytest.raises(BackwardError, match="does not require grad"):
        tc.ones(2).register_hook(lambda g: g)
