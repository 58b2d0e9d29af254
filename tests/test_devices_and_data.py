"""Devices (everything on the CPU; other devices refused clearly) and `.data` as in PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn


def test_the_usual_device_boilerplate_picks_the_cpu():
    device = tc.device("cuda" if tc.cuda.is_available() else "cpu")
    assert device == tc.device("cpu") and str(device) == "cpu" and repr(device) == "device(type='cpu')"
    assert tc.cuda.device_count() == 0 and not tc.accelerator.is_available()
    tc.backends.cudnn.benchmark = True                     # the conv algorithms timed per shape
    assert tc.backends.cudnn.benchmark is True and not tc.backends.mps.is_available()
    model = nn.Linear(3, 2).to(device)
    x = tc.randn(4, 3, device=device).to(device)
    assert all(p.device == device for p in model.parameters())
    assert x.device == device and not x.is_cuda and x.cpu() is x
    assert x.to(device, tc.float64).dtype == tc.float64
    assert x.to(dtype=tc.float64, device="cpu").dtype == tc.float64
    assert x.to(tc.zeros(1, dtype=tc.float64)).dtype == tc.float64
    assert x.to("cpu", copy=True) is not x


@pytest.mark.parametrize("factory", [
    lambda d: tc.zeros(2, device=d), lambda d: tc.ones(2, device=d), lambda d: tc.randn(2, device=d),
    lambda d: tc.rand(2, device=d), lambda d: tc.full((2,), 1.0, device=d),
    lambda d: tc.arange(3, device=d), lambda d: tc.eye(2, device=d), lambda d: tc.tensor([1.0], device=d),
    lambda d: tc.randint(0, 3, (2,), device=d), lambda d: tc.randperm(3, device=d),
    lambda d: tc.zeros_like(tc.ones(2), device=d), lambda d: tc.empty(2, device=d)])
def test_every_factory_takes_device(factory):
    assert factory("cpu").device == tc.device("cpu")
    assert factory(tc.device("cpu")).device.type == "cpu"
    with pytest.raises(tc.DeviceError, match="computes on the CPU with NumPy"):
        factory("cuda")


@pytest.mark.parametrize("call", [
    lambda x, m: x.to("cuda"), lambda x, m: x.to("mps"), lambda x, m: x.to(tc.device("cuda", 0)),
    lambda x, m: x.cuda(), lambda x, m: m.cuda(), lambda x, m: m.to("cuda:1"),
    lambda x, m: x.to(0)])
def test_other_devices_raise_one_clear_error(call):
    with pytest.raises(tc.DeviceError, match=r"device '(cuda|mps)(:\d)?' is not available.*CPU"):
        call(tc.ones(2), nn.Linear(2, 2))


def test_bad_device_arguments_name_the_problem():
    with pytest.raises(tc.ArgumentError, match="unknown device type 'gpu'"):
        tc.device("gpu")
    with pytest.raises(tc.ArgumentError, match="invalid device string"):
        tc.device("cuda:x")
    with pytest.raises(tc.DTypeError, match="neither a dtype nor a device"):
        tc.ones(2).to("float99")


def test_data_is_a_detached_tensor_sharing_memory():
    x = tc.tensor([1.0, -2.0, 3.0], requires_grad=True)
    d = x.data
    assert isinstance(d, tc.Tensor) and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), x.numpy())
    out = tc.tensor([[0.1, 0.9], [0.8, 0.2]])
    _, predicted = tc.max(out.data, 1)                      # the classic accuracy line
    assert predicted.tolist() == [1, 0]
    d.mul_(2)                                               # an update through .data
    np.testing.assert_array_equal(x.numpy(), [2.0, -4.0, 6.0])
    assert x.data.abs().sqrt().shape == (3,)


def test_assigning_data_replaces_the_values():
    p = nn.Parameter(tc.zeros(2, 2))
    p.data = tc.ones(3)                                    # PyTorch allows another shape
    assert p.shape == (3,) and p.requires_grad
    p.data = np.full(3, 5.0, np.float32)
    assert p.tolist() == [5.0, 5.0, 5.0]
