"""In-place ops, version counters and the errors that keep them from corrupting gradients."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.errors import BackwardError, ShapeError


def leaf(*shape):
    return tc.randn(*shape, dtype=tc.float64, requires_grad=True)


@pytest.mark.parametrize("name, call, reference", [
    ("add_", lambda t: t.add_(2.0), lambda a: a + 2),
    ("add_ alpha", lambda t: t.add_(tc.ones(3, dtype=tc.float64), alpha=3), lambda a: a + 3),
    ("sub_", lambda t: t.sub_(0.5), lambda a: a - 0.5),
    ("mul_", lambda t: t.mul_(3.0), lambda a: a * 3),
    ("div_", lambda t: t.div_(4.0), lambda a: a / 4),
    ("clamp_", lambda t: t.clamp_(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5)),
    ("relu_", lambda t: t.relu_(), lambda a: np.maximum(a, 0)),
    ("zero_", lambda t: t.zero_(), lambda a: a * 0),
    ("fill_", lambda t: t.fill_(7.0), lambda a: np.full_like(a, 7)),
    ("iadd", lambda t: t.__iadd__(1.0), lambda a: a + 1),
    ("imul", lambda t: t.__imul__(2.0), lambda a: a * 2),
])
def test_inplace_ops_write_into_the_same_array_and_bump_the_version(name, call, reference):
    t = tc.randn(3, dtype=tc.float64)
    before = t.numpy().copy()
    array = t.numpy()
    out = call(t)
    assert out is t and t.numpy() is array                  # same tensor, same memory
    np.testing.assert_allclose(t.numpy(), reference(before))
    assert t._version == 1


def test_inplace_on_a_view_shares_memory_like_numpy():
    base = tc.zeros(4)
    view = tc.from_numpy(base.numpy()[1:3])
    view.fill_(5.0)
    assert base.tolist() == [0, 5, 5, 0]


def test_inplace_on_a_non_leaf_is_recorded_and_gradients_stay_exact():
    w = leaf(5)
    y = w.exp() * 2
    y.add_(1)
    y.mul_(w)                                 # y = (2 e^w + 1) w
    y.sum().backward()
    a = w.numpy()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.exp(a) * a + 2 * np.exp(a) + 1)


def test_earlier_consumers_keep_their_edges_after_an_inplace_rebind():
    w = leaf(3)
    y = w * 3
    z = y * 2                                  # consumes the OLD y
    y.add_(w)                                  # y now means 3w + w, with a new grad_fn
    (z.sum() + y.sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), np.full(3, 6 + 4.0))


def test_modifying_a_saved_tensor_then_backward_names_the_op_and_versions():
    w = leaf(3)
    y = w.exp()                                # Exp saves its output y
    loss = (y * y).sum()                       # Mul saves y too
    with tc.no_grad():
        y.add_(1)
    with pytest.raises(BackwardError) as err:
        loss.backward()
    msg = str(err.value)
    assert "Mul" in msg and "version 1" in msg and "version 0" in msg


def test_ops_save_only_what_their_backward_reads():
    w = leaf(4, 3)
    x = tc.randn(2, 4, dtype=tc.float64)       # an input batch: no gradient wanted
    loss = (x @ w).sum()                       # dL/dw = xᵀG does not read w, so w is not saved
    with tc.no_grad():
        w.sub_(1.0)
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), x.numpy().T @ np.ones((2, 3)))


def test_optimizer_style_update_before_backward_is_caught():
    w = leaf(4, 3)
    x = leaf(2, 4)                             # a hidden activation: its gradient needs w
    loss = (x @ w).sum()                       # so MatMul saved w
    with tc.no_grad():
        w.sub_(0.1 * tc.ones(4, 3, dtype=tc.float64))
    with pytest.raises(BackwardError, match="MatMul"):
        loss.backward()


def test_inplace_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = leaf(3)
    with pytest.raises(BackwardError, match="leaf tensor that requires grad"):
        w.add_(1.0)
    with pytest.raises(BackwardError, match="leaf"):
        w += 1.0
    with tc.no_grad():
        w.add_(1.0)                            # allowed: this is how optimizers update
    assert w._version == 1


def test_inplace_cannot_grow_the_tensor_by_broadcasting():
    t = tc.zeros(3)
    with pytest.raises(ShapeError, match=r"in-place op must keep the tensor's shape \(3,\)"):
        t.add_(tc.ones(2, 3))


def test_setitem_basic_advanced_and_broadcast_values():
    t = tc.zeros(3, 4)
    t[0] = 1.0
    t[1, 1:3] = tc.tensor([2.0, 3.0])
    t[[2, 2], [0, 3]] = 9.0
    expected = np.zeros((3, 4), np.float32)
    expected[0] = 1
    expected[1, 1:3] = [2, 3]
    expected[2, [0, 3]] = 9
    np.testing.assert_array_equal(t.numpy(), expected)
    t[t > 2] = 0.0                             # boolean mask
    expected[expected > 2] = 0
    np.testing.assert_array_equal(t.numpy(), expected)


def test_setitem_gradients_flow_to_the_value_and_around_the_hole():
    a = leaf(2, 3)
    v = leaf(3)
    b = a * 1
    b[1] = v * 2
    weights = tc.tensor(np.arange(6.0).reshape(2, 3))
    (b * weights).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [[0, 1, 2], [0, 0, 0]])
    np.testing.assert_allclose(v.grad.numpy(), 2 * np.array([3.0, 4, 5]))


def test_setitem_matches_torch(torch):
    a = np.random.default_rng(1).standard_normal((3, 4))
    v = np.random.default_rng(2).standard_normal(4)
    ta, tv = torch.tensor(a, requires_grad=True), torch.tensor(v, requires_grad=True)
    tb = ta * 2
    tb[1] = tv.exp()
    tb[:, 0] = 0.0
    (tb ** 2).sum().backward()
    ca, cv = tc.tensor(a, requires_grad=True), tc.tensor(v, requires_grad=True)
    cb = ca * 2
    cb[1] = cv.exp()
    cb[:, 0] = 0.0
    (cb ** 2).sum().backward()
    np.testing.assert_allclose(cb.numpy(), tb.detach().numpy())
    np.testing.assert_allclose(ca.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(cv.grad.numpy(), tv.grad.numpy())


def test_setitem_shape_mismatch_is_a_clear_error():
    t = tc.zeros(3, 4)
    with pytest.raises(ShapeError, match="shape"):
        t[0] = tc.ones(5)


def test_inplace_on_read_only_memory_is_refused():
    t = tc.ones(3).expand(2, 3)                # a broadcast view
    with pytest.raises(BackwardError, match="read-only"):
        t.add_(1.0)


def test_uniform_and_normal_fill_in_place_from_the_seeded_generator():
    tc.manual_seed(5)
    a = tc.zeros(1000).uniform_(-2, 2)
    tc.manual_seed(5)
    b = tc.zeros(1000).uniform_(-2, 2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert -2 <= a.numpy().min() and a.numpy().max() < 2 and abs(a.numpy().mean()) < 0.2
    n = tc.zeros(20000, dtype=tc.float64).normal_(3.0, 0.5)
    assert abs(n.numpy().mean() - 3.0) < 0.02 and abs(n.numpy().std() - 0.5) < 0.02


def test_setitem_with_a_repeated_index_gives_gradient_only_to_the_surviving_write():
    v = tc.tensor([1.0, 2.0, 3.0], dtype=tc.float64, requires_grad=True)
    c = tc.zeros(2, dtype=tc.float64)
    c[[0, 0, 1]] = v                          # v[0] is overwritten by v[1]
    assert c.tolist() == [2.0, 3.0]
    (c * tc.tensor([10.0, 20.0], dtype=tc.float64)).sum().backward()
    assert v.grad.tolist() == [0.0, 10.0, 20.0]


def test_integer_pow_negative_and_int_randn_are_clear_errors():
    from tinygrad_cnn.errors import ArgumentError, DTypeError
    with pytest.raises(ArgumentError, match="negative integer power"):
        tc.arange(3) ** -1
    with pytest.raises(DTypeError, match="randn: dtype must be float32 or float64, got int64"):
        tc.randn(2, dtype=tc.int64)
