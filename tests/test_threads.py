"""Grad mode, anomaly mode and the module stack are per thread, as in PyTorch."""
from __future__ import annotations

import threading

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim
import tinygrad_cnn.nn.functional as F


def small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def train(model: nn.Module, x: tc.Tensor, y: tc.Tensor, steps: int = 20) -> list[float]:
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)   # step() runs under no_grad
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with tc.no_grad():          # interleaved no_grad blocks in every thread
            losses.append(float(F.cross_entropy(model(x), y).item()))
    return losses


def test_sixteen_threads_training_equal_sequential_runs():
    tc.manual_seed(0)
    jobs = [(small_cnn(), tc.randn(6, 1, 8, 8), tc.randint(0, 3, (6,))) for _ in range(16)]
    sequential = []
    for model, x, y in jobs:
        twin = small_cnn()
        twin.load_state_dict(model.state_dict())
        sequential.append((train(twin, x, y), twin))

    results: list = [None] * 16
    errors: list = []
    start = threading.Barrier(16)

    def work(i: int) -> None:
        try:
            start.wait()
            model, x, y = jobs[i]
            results[i] = train(model, x, y)
        except BaseException as e:      # noqa: BLE001 - reported below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for i, ((losses, twin), (model, _, _)) in enumerate(zip(sequential, jobs)):
        assert results[i] == losses, f"thread {i}"
        for (name, p), q in zip(model.named_parameters(), twin.parameters()):
            np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=f"thread {i} {name}")
    assert tc.is_grad_enabled()


def test_no_grad_in_one_thread_does_not_reach_another():
    inside, checked = threading.Event(), threading.Event()
    seen = {}

    def other() -> None:
        inside.wait(10)
        x = tc.ones(2, requires_grad=True)
        seen["enabled"] = tc.is_grad_enabled()
        seen["records"] = (x * 2).requires_grad
        with tc.autograd.detect_anomaly():
            seen["anomaly"] = tc.autograd.is_anomaly_enabled()
        checked.set()

    t = threading.Thread(target=other)
    t.start()
    with tc.no_grad():
        inside.set()
        checked.wait(10)
        assert not tc.is_grad_enabled()
        assert not tc.autograd.is_anomaly_enabled()    # the other thread's anomaly block
    t.join(10)
    assert seen == {"enabled": True, "records": True, "anomaly": True}
    assert tc.is_grad_enabled()


def test_a_new_thread_starts_with_grad_on_even_if_its_parent_had_it_off():
    seen = []
    with tc.no_grad():
        t = threading.Thread(target=lambda: seen.append(tc.is_grad_enabled()))
        t.start()
        t.join(10)
    assert seen == [True]


def test_module_stack_is_per_thread():
    """Graph scopes (which module made an op) do not leak between threads."""
    model = nn.Sequential(nn.Linear(3, 3))
    scopes = {}

    def run(name: str) -> None:
        out = model(tc.ones(1, 3, requires_grad=True))
        scopes[name] = [type(m).__name__ for m in out.grad_fn.scope]

    threads = [threading.Thread(target=run, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert all(s == ["Sequential", "Linear"] for s in scopes.values()), scopes
