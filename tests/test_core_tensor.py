"""Tensor basics (issue 2, item 3): dtype rules, autograd attributes, grad modes, conversions,
factories, seeding, dispatch of reflected operators and NumPy operands, and the repr."""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc


# ------------------------------------------------------------------------------------ dtypes
DTYPE_CASES = [1.5, 3.0, [1.0, 2.0], [1, 2.5], 7, [1, 2, 3], [[1, 2], [3, 4]], True, [True, False],
               np.float64(2.5), np.ones(3, np.float64), np.ones(3, np.float32),
               np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int64)]


@pytest.mark.parametrize("data", DTYPE_CASES, ids=lambda d: f"{type(d).__name__}:{getattr(d, 'dtype', d)}")
def test_dtype_rules_match_torch(data, torch):
    """Python floats -> float32, Python ints -> int64, NumPy arrays keep their dtype."""
    ours = tc.tensor(data)
    theirs = torch.tensor(data)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_dtype_rules_without_torch():
    assert tc.tensor(1.5).dtype == np.float32
    assert tc.tensor([1, 2.5]).dtype == np.float32
    assert tc.tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert tc.tensor(3).dtype == np.int64
    assert tc.tensor([[1, 2], [3, 4]]).dtype == np.int64
    assert tc.tensor(True).dtype == np.bool_
    assert tc.tensor([1, 2], dtype=tc.float64).dtype == np.float64
    assert tc.Tensor([1.0]).dtype == np.float32          # the class constructor, same rules


def test_dtype_names_are_numpy_dtypes():
    assert (tc.float32, tc.float64, tc.int64) == (np.dtype("float32"), np.dtype("float64"), np.dtype("int64"))
    assert tc.zeros(2, dtype=tc.float64).dtype == np.float64
    assert tc.zeros(2, dtype=np.int64).dtype == tc.int64   # NumPy dtypes are accepted too
    assert tc.ones(2).to(tc.float64).dtype == tc.float64


def test_tensor_copies_its_data_and_from_numpy_shares():
    a = np.zeros(3)
    t = tc.tensor(a)
    a[0] = 5
    assert t.numpy()[0] == 0
    s = tc.from_numpy(a)
    a[1] = 7
    assert s.numpy()[1] == 7


# ------------------------------------------------------------------------- autograd attributes
def test_leaf_and_non_leaf_attributes():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None and x.grad is None
    y = x * 2
    assert y.requires_grad and not y.is_leaf
    assert y.grad_fn is not None and y.grad_fn.name == "Mul"
    c = tc.tensor([1.0, 2.0])                       # no grad: a leaf, as in PyTorch
    assert not c.requires_grad and c.is_leaf
    z = c * 2
    assert not z.requires_grad and z.is_leaf and z.grad_fn is None


def test_grad_is_a_tensor_and_non_leaves_keep_none():
    x = tc.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * x
    y.sum().backward()
    assert isinstance(x.grad, tc.Tensor)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy())
    assert y.grad is None                            # non-leaf: no .grad unless retain_grad()


def test_backward_with_gradient_for_non_scalar_output():
    x = tc.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    g = np.linspace(-1, 1, 6).reshape(2, 3)
    (x * 3).backward(gradient=g)
    np.testing.assert_allclose(x.grad.numpy(), 3 * g)
    x.grad = None
    (x * 3).backward(tc.tensor(g))                    # a Tensor gradient works the same
    np.testing.assert_allclose(x.grad.numpy(), 3 * g)


def test_backward_retain_graph_allows_a_second_pass():
    x = tc.tensor(2.0, requires_grad=True)
    y = x ** 3
    y.backward(retain_graph=True)
    assert x.grad.item() == pytest.approx(12.0)
    y.backward()
    assert x.grad.item() == pytest.approx(24.0)       # accumulated: 12 + 12


def test_requires_grad_():
    x = tc.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(tc.DTypeError, match="int64"):
        tc.tensor([1, 2]).requires_grad_()


def test_detach_shares_memory_and_leaves_the_graph():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.numpy())
    assert (d * 5).grad_fn is None                   # ops on it record nothing
    (y * d).sum().backward()                         # d is a constant in y's graph
    np.testing.assert_array_equal(x.grad.numpy(), 2 * d.numpy())


def test_mixed_precision_gradients_come_back_in_the_leaf_dtype():
    x = tc.tensor([1.0, 2.0], requires_grad=True)                    # float32
    w = tc.tensor(np.array([3.0, 4.0]), requires_grad=True)          # float64
    y = x * w
    assert y.dtype == np.float64                                     # as torch promotes
    (y.double() * x.double()).sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * w.numpy())
    np.testing.assert_allclose(w.grad.numpy(), x.numpy() ** 2)


# ---------------------------------------------------------------------------------- grad modes
def test_no_grad_context_manager_and_nesting():
    x = tc.ones(2, requires_grad=True)
    assert tc.is_grad_enabled()
    with tc.no_grad():
        assert not tc.is_grad_enabled()
        assert not (x * 2).requires_grad
        with tc.enable_grad():
            assert tc.is_grad_enabled()
            assert (x * 2).requires_grad
            with tc.no_grad():
                assert not (x * 2).requires_grad
            assert tc.is_grad_enabled()
        assert not tc.is_grad_enabled()
    assert tc.is_grad_enabled()
    assert (x * 2).requires_grad


def test_grad_mode_decorators_with_and_without_parentheses():
    x = tc.ones(2, requires_grad=True)

    @tc.no_grad()
    def f(t):
        return t * 2

    @tc.no_grad
    def g(t):
        return t * 2

    @tc.enable_grad()
    def h(t):
        return t * 2

    @tc.enable_grad
    def k(t):
        return t * 2

    assert f.__name__ == "f"                          # functools.wraps
    assert not f(x).requires_grad and not g(x).requires_grad
    with tc.no_grad():
        assert h(x).requires_grad and k(x).requires_grad
        assert not tc.is_grad_enabled()               # restored after the decorated call
    assert tc.is_grad_enabled()


def test_grad_mode_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with tc.no_grad():
            1 / 0
    assert tc.is_grad_enabled()

    @tc.no_grad()
    def boom():
        raise KeyError

    with pytest.raises(KeyError):
        boom()
    assert tc.is_grad_enabled()


def test_set_grad_enabled_as_call_context_and_decorator():
    x = tc.ones(2, requires_grad=True)
    try:
        tc.set_grad_enabled(False)                     # a plain call switches, as in torch
        assert not tc.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        tc.set_grad_enabled(True)
    assert tc.is_grad_enabled()
    with tc.set_grad_enabled(False):
        assert not tc.is_grad_enabled()
    assert tc.is_grad_enabled()

    @tc.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert tc.is_grad_enabled()                        # decorating does not switch
    assert not f(x).requires_grad
    assert tc.is_grad_enabled()


# ----------------------------------------------------------------------------- conversions
def test_numpy_item_tolist_shape_ndim_dtype_size():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = tc.tensor(a)
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), a)
    assert t.tolist() == a.tolist()
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dtype == np.float64
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and len(t) == 2
    s = tc.tensor(2.5)
    assert s.item() == 2.5 and isinstance(s.item(), float)
    assert isinstance(tc.tensor(3).item(), int)
    assert tc.tensor([[4.0]]).item() == 4.0            # any one-element tensor
    with pytest.raises(tc.ShapeError, match=r"\(2, 3, 4\)"):
        t.item()


# -------------------------------------------------------------------------------- factories
@pytest.mark.parametrize("name, args, kwargs", [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("zeros", ([4],), {"dtype": "float64"}),
    ("ones", (3,), {}), ("ones", (2, 2), {"dtype": "int64"}),
    ("full", ((2, 3), 1.5), {}), ("full", ((2,), 7), {}), ("full", ((2,), True), {}),
    ("arange", (5,), {}), ("arange", (1, 7, 2), {}), ("arange", (0, 1, 0.25), {}),
    ("arange", (5.0,), {}), ("arange", (2, 8), {"dtype": "float64"}),
    ("eye", (3,), {}), ("eye", (2, 4), {}),
])
def test_factories_match_torch(name, args, kwargs, torch):
    ours = getattr(tc, name)(*args, **{k: np.dtype(v) for k, v in kwargs.items()})
    theirs = getattr(torch, name)(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_like_factories_and_requires_grad():
    x = tc.tensor(np.ones((2, 3), np.float64))
    for f, v in ((tc.zeros_like, 0), (tc.ones_like, 1)):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == np.float64 and np.all(y.numpy() == v)
        assert f(x, dtype=tc.float32).dtype == np.float32
    assert tc.zeros(2, requires_grad=True).requires_grad
    assert tc.randn(2, requires_grad=True).is_leaf
    with pytest.raises(tc.DTypeError, match="int64"):
        tc.zeros(2, dtype=tc.int64, requires_grad=True)
    with pytest.raises(tc.DTypeError):
        tc.arange(3, requires_grad=True)


def test_random_factories_dtype_range_and_statistics():
    r = tc.rand(10000)
    assert r.dtype == np.float32 and 0 <= r.numpy().min() and r.numpy().max() < 1
    n = tc.randn(10000, dtype=tc.float64)
    assert n.dtype == np.float64 and n.shape == (10000,)
    # N(0, 1): the sample mean has std 0.01 and the sample std about 0.007; allow 5 sigma
    assert abs(n.numpy().mean()) < 0.05 and abs(n.numpy().std() - 1) < 0.035
    assert abs(r.numpy().mean() - 0.5) < 5 * math.sqrt(1 / 12 / 10000)


def test_manual_seed_reproducibility():
    tc.manual_seed(123)
    a = (tc.randn(4, 3).numpy(), tc.rand(5).numpy())
    tc.manual_seed(123)
    b = (tc.randn(4, 3).numpy(), tc.rand(5).numpy())
    tc.manual_seed(124)
    c = tc.randn(4, 3).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c)
    with pytest.raises(tc.ArgumentError):
        tc.manual_seed(-1)


# ----------------------------------------------------------------- reflected ops & NumPy operands
def test_reflected_scalar_operators_values_and_gradients():
    a = np.array([0.5, -1.25, 2.0])
    cases = [  # (expression, value, derivative) as closed forms in a
        (lambda x: 2 - x, 2 - a, -np.ones(3)),
        (lambda x: 1 / x, 1 / a, -1 / a ** 2),
        (lambda x: 3 * x, 3 * a, 3 * np.ones(3)),
        (lambda x: 4 + x, 4 + a, np.ones(3)),
        (lambda x: 2 ** x, 2 ** a, 2 ** a * np.log(2)),
    ]
    for f, value, deriv in cases:
        x = tc.tensor(a, requires_grad=True)
        y = f(x)
        assert isinstance(y, tc.Tensor) and y.dtype == np.float64
        y.sum().backward()
        np.testing.assert_allclose(y.numpy(), value)
        np.testing.assert_allclose(x.grad.numpy(), deriv)


def test_scalar_operands_keep_float32():
    x = tc.ones(3)
    for y in (x + 1.5, 2.0 * x, x / 3, 1 - x, x ** 2.0, x * np.float64(2)):
        assert y.dtype == np.float32
    assert (tc.tensor([1, 2]) * 1.5).dtype == np.float32    # int tensor with a float scalar
    assert (tc.tensor([1, 2]) / 2).dtype == np.float32


@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv", "matmul"])
def test_ndarray_on_the_left_dispatches_to_tensor(op):
    import operator
    a = np.arange(1.0, 5.0).reshape(2, 2)
    x = tc.tensor(np.array([[0.5, 1.5], [-1.0, 2.0]]), requires_grad=True)
    f = getattr(operator, op)
    y = f(a, x)
    assert isinstance(y, tc.Tensor) and y.requires_grad
    np.testing.assert_allclose(y.numpy(), f(a, x.numpy()))
    y.sum().backward()
    assert x.grad.shape == (2, 2)


def test_ndarray_plus_tensor_gradient_with_broadcasting():
    a = np.arange(6.0).reshape(2, 3)
    x = tc.tensor(np.ones(3), requires_grad=True)
    (a * x).sum().backward()                          # dx = column sums of a
    np.testing.assert_allclose(x.grad.numpy(), a.sum(axis=0))


def test_comparisons_return_bool_tensors_without_grad():
    a = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]])
    b = np.array([1.0, 0.0, -3.0])
    x = tc.tensor(a, requires_grad=True)
    y = tc.tensor(b, requires_grad=True)
    import operator
    for op in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne):
        for rhs, rhs_np in ((y, b), (0.5, 0.5), (b, b)):
            r = op(x, rhs)
            assert isinstance(r, tc.Tensor) and r.dtype == np.bool_
            assert not r.requires_grad and r.grad_fn is None
            np.testing.assert_array_equal(r.numpy(), op(a, rhs_np))


# ------------------------------------------------------------------------------------ repr
REPR_CASES = [
    lambda m: m.tensor([1.0, 2.0, 3.0]),
    lambda m: m.tensor([[1.5, -2.0], [3.25, 4.0]]),
    lambda m: m.tensor(3.5),
    lambda m: m.tensor([1, 2, 3]),
    lambda m: m.tensor([True, False]),
    lambda m: m.tensor([1e-5, 1.0]),
    lambda m: m.tensor([float("nan"), 1.0, float("inf")]),
    lambda m: m.ones(2, requires_grad=True),
    lambda m: m.zeros(0, 3),
    lambda m: m.arange(12).reshape(3, 4),
    lambda m: m.ones(2, 2, 2),
]


@pytest.mark.parametrize("make", REPR_CASES)
def test_repr_matches_torch(make, torch):
    assert repr(make(tc)) == repr(make(torch))


def test_repr_names_dtype_and_grad_fn():
    x = tc.ones(2, dtype=tc.float64, requires_grad=True)
    assert repr(x) == "tensor([1., 1.], dtype=tc.float64, requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 2.], dtype=tc.float64, grad_fn=<MulBackward>)"


@pytest.mark.parametrize("name", ["cat", "stack"])
def test_cat_and_stack_promote_like_torch(name, torch):
    pairs = [([1.0, 2.0], np.array([3, 4])), (np.array([1.0, 2.0]), [1.0, 2.0]), ([1, 2], [True, False])]
    for a, b in pairs:
        ours = getattr(tc, name)([tc.tensor(a), tc.tensor(b)])
        theirs = getattr(torch, name)([torch.tensor(a), torch.tensor(b)])
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_cat_of_one_dtype_and_of_mixed_inputs_like_torch(torch):
    """cat's fast path (Tensors of one dtype, no casts) and its general path (arrays, lists,
    mixed dtypes) give torch's values and dtypes; every shape mismatch is an error, also a
    tensor with fewer dims whose other sizes match (the dims around the axis alone would)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 5, 4)).astype(np.float32)
    for inputs in ([a, b], [a, b.astype(np.float64)], [a, b.astype(np.int64)]):
        ours = tc.cat([tc.tensor(v) for v in inputs], 1)
        theirs = torch.cat([torch.tensor(v) for v in inputs], 1)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ours = tc.cat([tc.tensor(a), b, b.tolist()], dim=-2)           # a Tensor first, then others
    np.testing.assert_array_equal(ours.numpy(), np.concatenate([a, b, b], 1))
    x = tc.tensor(a, requires_grad=True)
    tc.cat([x, x * 2], 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(a.shape, 3.0, np.float32))
    for bad in ([tc.zeros(2, 3), tc.zeros(2)], [tc.zeros(2, 3), tc.zeros(3, 3)],
                [tc.zeros(2, 3, 4), tc.zeros(2, 5, 4, 1)], [tc.zeros(2, 3), tc.tensor(1.0)]):
        with pytest.raises(ValueError, match="cat"):
            tc.cat(bad, 1)
        with pytest.raises(RuntimeError):
            torch.cat([torch.zeros(t.shape) for t in bad], 1)


def test_zero_dim_reductions_over_dim_0_like_torch(torch):
    for name in ("argmax", "argmin", "sum", "mean"):
        ours, theirs = getattr(tc.tensor(2.5), name)(0), getattr(torch.tensor(2.5), name)(0)
        assert ours.shape == () and ours.item() == theirs.item()
