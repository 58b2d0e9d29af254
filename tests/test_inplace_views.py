"""In-place writes through views and outputs never give a silently wrong gradient.

A view and its base share one version counter; an op that saved memory refuses to backward
once any alias wrote to it; a write through a view re-routes the base's gradient (CopySlices);
views of leaves and views made under no_grad refuse in-place writes while recording. The
random-program test is the proof: backward either raises BackwardError or equals the finite-
difference gradient of the same program (which sees every aliased write)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn.errors import BackwardError


def leaf(values, requires_grad=True):
    return tc.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ------------------------------------------------------------------ saved outputs (item 1)
@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp", "sqrt"])
def test_in_place_on_a_saved_output_raises(op):
    a = leaf([0.5, 1.0, 2.0])
    h = getattr(a, op)()
    h.add_(1)
    with pytest.raises(BackwardError, match=rf"{op.capitalize()}.*its output.*version 1.*version 0"):
        h.sum().backward()


def test_in_place_on_an_output_nothing_saved_is_exact():
    a = leaf([1.0, 2.0])
    h = a * 3                       # Mul saved a and the constant, not its output
    h.add_(1)
    h.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])


# ------------------------------------------------------------------ through views (item 2)
VIEWS = {
    "slice": lambda y: y[0:1],
    "view": lambda y: y.view(2, 1),
    "reshape": lambda y: y.reshape(1, 2),
    "unsqueeze": lambda y: y.unsqueeze(0),
    "detach": lambda y: y.detach(),
    "data": lambda y: y.data,
    "T": lambda y: y.reshape(1, 2).T,
    "view of a view": lambda y: y.view(2, 1)[1:],
}


@pytest.mark.parametrize("make_view", VIEWS.values(), ids=VIEWS.keys())
def test_in_place_through_any_alias_of_a_saved_tensor_raises(make_view):
    w = leaf([0.5, 1.0])
    y = w.exp()
    loss = (y * y).sum()            # Mul saved y
    make_view(y).add_(1)
    with pytest.raises(BackwardError, match="modified by an in-place operation"):
        loss.backward()


def test_error_names_where_the_op_was_created_in_anomaly_mode():
    w = leaf([0.5, 1.0])
    with tc.autograd.detect_anomaly():
        y = w.exp()
        loss = (y * y).sum()
    y[0:1].mul_(2)
    with pytest.raises(BackwardError, match=r"Mul was created at .*test_inplace_views.py:\d+"):
        loss.backward()


def test_write_through_a_view_reroutes_the_base():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    y[0:1].mul_(3)                   # y = [6 x0, 2 x1, 2 x2]
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 2.0, 2.0])


def test_view_taken_before_the_base_changed_follows_the_new_history():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    v = y[0:2]
    y.mul_(3)                        # v now reads 6 x[0:2]
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0, 0.0])


def test_setitem_through_a_reshaped_view_with_a_graph_value():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    y.view(3, 1)[1, 0] = x[0] * 10   # y = [x0, 10 x0, x2]
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [202.0, 0.0, 6.0])


def test_base_without_grad_gets_history_from_a_view_write():
    w = leaf([1.5, -2.0])
    buf = tc.zeros(4, dtype=tc.float64)
    buf[1:3].copy_(w * w)
    (buf * tc.tensor([1.0, 2.0, 3.0, 4.0], dtype=tc.float64)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2 * 1.5 * 2.0, 2 * -2.0 * 3.0])


# ------------------------------------------------------------------ leaves (item 3)
def test_in_place_on_a_leaf_that_requires_grad_raises():
    w = leaf([1.0, 2.0])
    with pytest.raises(BackwardError, match="leaf tensor that requires grad"):
        w.add_(1)


def test_in_place_on_a_view_of_such_a_leaf_raises():
    w = leaf([1.0, 2.0])
    with pytest.raises(BackwardError, match="view of a leaf tensor that requires grad"):
        w[0:1].add_(1)
    with pytest.raises(BackwardError, match="view of a leaf"):
        w.view(2, 1)[0] = 3.0


def test_under_no_grad_a_leaf_view_may_be_written_and_is_seen():
    w = leaf([1.0, 2.0])
    y = w * w                       # saved w
    with tc.no_grad():
        w[0:1].mul_(2)
    with pytest.raises(BackwardError, match="Mul"):
        y.sum().backward()


def test_view_made_under_no_grad_cannot_be_written_with_grad_on():
    x = leaf([1.0, 2.0])
    y = x * 2
    with tc.no_grad():
        v = y[0:1]
    with pytest.raises(BackwardError, match="made under no_grad"):
        v.mul_(2)


def test_optimizer_step_through_data_keeps_working():
    p = tc.nn.Parameter(tc.tensor([1.0, 2.0], dtype=tc.float64))
    (p * p).sum().backward()
    p.data.sub_(0.5 * p.grad)       # PyTorch's old-style manual update
    np.testing.assert_allclose(p.numpy(), [0.0, 0.0])
    assert p._version == 1
    assert isinstance(p.data, tc.Tensor) and not p.data.requires_grad


# --------------------------------------------------- random programs with aliasing (proof)
SMOOTH = [lambda t: t.tanh(), lambda t: t.sigmoid(), lambda t: t * t, lambda t: (t * 0.3).exp(),
          lambda t: t * 2.0 - 1.0]
VIEW_MAKERS = [lambda t: t[1:], lambda t: t[:, ::2] if t.ndim == 2 else t[::2],
               lambda t: t.T, lambda t: t.reshape(-1) if t.ndim else t.reshape(1),
               lambda t: t.unsqueeze(0), lambda t: t[0]]


def build_program(seed: int, steps: int = 7) -> list:
    """A program as a list of actions on a pool of tensors (pool[0] is the input)."""
    rng = random.Random(seed)
    actions = []
    for _ in range(steps):
        kind = rng.choice(["op", "op", "view", "inplace", "inplace", "mix"])
        actions.append((kind, rng.random(), rng.random(), rng.randrange(len(SMOOTH)),
                        rng.randrange(len(VIEW_MAKERS)), rng.random()))
    return actions


def run_program(x: tc.Tensor, actions: list) -> tc.Tensor:
    pool = [x * 1.0]                # never write the leaf itself (that raises, tested above)
    for kind, r1, r2, op, view, c in actions:
        t = pool[int(r1 * len(pool))]
        if kind == "op":
            pool.append(SMOOTH[op](t))
        elif kind == "view":
            if t.ndim:
                pool.append(VIEW_MAKERS[view](t))
        elif kind == "mix":
            u = pool[int(r2 * len(pool))]
            pool.append(t * (u.sum() * 0.1 + 1.0))
        else:                        # in-place through t (often a view) with a graph value
            u = pool[int(r2 * len(pool))]
            which = op % 3
            if which == 0:
                t.mul_(1.0 + 0.5 * c)
            elif which == 1:
                t.add_(u.sum() * c)
            else:
                t[...] = SMOOTH[view % len(SMOOTH)](t) + c
    total = 0.0
    for k, t in enumerate(pool):
        total = total + (t * t).sum() * (0.1 * (k + 1)) + t.sum()
    return total


def finite_difference(values: np.ndarray, actions: list, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(values)
    with tc.no_grad():
        for i in range(values.size):
            hi, lo = values.copy(), values.copy()
            hi.flat[i] += eps
            lo.flat[i] -= eps
            f_hi = run_program(tc.tensor(hi), actions).item()
            f_lo = run_program(tc.tensor(lo), actions).item()
            grad.flat[i] = (f_hi - f_lo) / (2 * eps)
    return grad


def outcome(seed: int, values: np.ndarray) -> str:
    actions = build_program(seed)
    x = tc.tensor(values, requires_grad=True)
    try:
        run_program(x, actions).backward()
    except BackwardError:
        return "raised"
    np.testing.assert_allclose(x.grad.numpy(), finite_difference(values, actions),
                               rtol=1e-5, atol=1e-6)
    return "exact"


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 10**9))
def test_random_aliasing_programs_raise_or_give_the_true_gradient(seed):
    values = np.random.default_rng(seed).uniform(-1, 1, (3, 4))
    outcome(seed, values)


def test_most_random_programs_do_compute_a_gradient():
    """The property above would pass vacuously if everything raised."""
    results = [outcome(seed, np.random.default_rng(seed).uniform(-1, 1, (3, 4)))
               for seed in range(60)]
    assert results.count("exact") >= 20, results
    assert results.count("raised") >= 3, results
