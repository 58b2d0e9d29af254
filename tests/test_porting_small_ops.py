"""Factories and small ops real PyTorch scripts touch (issue 12 item 5): size= keywords, dtype
aliases, NumPy-style axis=/keepdims= aliases, sin/cos, linspace/logspace/meshgrid/normal,
grad_fn.next_functions, tc.jit no-ops. Compared with torch where it has an answer."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn

RNG = np.random.default_rng(3)


def test_dtype_aliases_are_the_numpy_dtypes(torch):
    pairs = {"long": "int64", "int": "int32", "float": "float32", "double": "float64", "half": "float16",
             "bool": "bool", "short": "int16", "int16": "int16", "int8": "int8", "uint8": "uint8"}
    for alias, np_name in pairs.items():
        assert getattr(tc, alias) == np.dtype(np_name), alias
        assert str(getattr(torch, alias)).endswith(np_name if np_name != "bool" else "bool")
    assert tc.tensor([1, 2], dtype=tc.long).dtype == np.int64
    assert tc.ones(2).to(tc.double).dtype == np.float64
    assert (tc.tensor([1.0, 0.0]) > 0.5).dtype == tc.bool


def test_rand_and_randn_take_size_keyword():
    tc.manual_seed(7)
    a, b = tc.rand(size=(2, 3)), tc.randn(size=[4])
    tc.manual_seed(7)
    c, d = tc.rand(2, 3), tc.randn(4)
    assert a.shape == (2, 3) and b.shape == (4,)
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    np.testing.assert_array_equal(b.numpy(), d.numpy())
    assert tc.randn(size=(2,), dtype=tc.float64, requires_grad=True).requires_grad
    assert tc.zeros(size=(2, 2)).shape == (2, 2) and tc.ones(size=[3]).shape == (3,)
    assert tc.empty(size=(1,)).shape == (1,) and tc.zeros(size=(2, 2)).dtype == np.float32
    with pytest.raises(tc.ArgumentError, match="size"):
        tc.rand(2, size=(2,))


AXIS_CASES = [("sum", dict(axis=1)), ("sum", dict(axis=(0, 1), keepdims=True)), ("mean", dict(axis=0, keepdims=True)),
              ("argmax", dict(axis=1)), ("argmin", dict(axis=0, keepdims=True)), ("amax", dict(axis=1, keepdims=True)),
              ("amin", dict(axis=0)), ("std", dict(axis=1)), ("var", dict(axis=0, keepdims=True)),
              ("softmax", dict(axis=1)), ("log_softmax", dict(axis=0)), ("unsqueeze", dict(axis=1))]


@pytest.mark.parametrize("name, kw", AXIS_CASES)
def test_numpy_style_axis_and_keepdims_match_torch(torch, name, kw):
    x = RNG.standard_normal((3, 4))
    ours, theirs = getattr(tc.tensor(x), name)(**kw), getattr(torch.tensor(x), name)(**kw)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    ours_fn = getattr(tc, name, None)
    if ours_fn is not None:
        np.testing.assert_allclose(ours_fn(tc.tensor(x), **kw).numpy(), theirs.numpy(), rtol=1e-12)


def test_axis_alias_on_max_min_cat_stack_squeeze(torch):
    x = RNG.standard_normal((3, 1, 4))
    v, i = tc.tensor(x).max(axis=2, keepdims=True)
    tv, ti = torch.tensor(x).max(axis=2, keepdims=True)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert tc.tensor(x).min(axis=0).values.shape == (1, 4)
    assert tc.cat([tc.tensor(x)] * 2, axis=2).shape == (3, 1, 8)
    assert tc.stack([tc.tensor(x)] * 2, axis=0).shape == (2, 3, 1, 4)
    assert tc.tensor(x).squeeze(axis=1).shape == (3, 4)
    with pytest.raises(tc.ArgumentError, match="both dim and axis"):
        tc.tensor(x).sum(dim=1, axis=1)
    with pytest.raises(TypeError, match="dim"):
        tc.tensor(x).sum(1, axis=1)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_cos_match_torch_and_gradcheck(torch, name):
    x = RNG.standard_normal((3, 4)) * 3
    X, T = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = getattr(tc, name)(X), getattr(torch, name)(T)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-14)
    g = RNG.standard_normal(y.shape)
    y.backward(g), ty.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), T.grad.numpy(), rtol=1e-13, atol=1e-15)
    assert getattr(X, name)().shape == (3, 4)
    assert tc.gradcheck_suite.check(name).passed
    assert getattr(tc.tensor([0, 1]), name)().dtype == np.float32     # ints compute as floats


@pytest.mark.parametrize("start, end, steps", [(0, 1, 5), (-2.5, 7, 11), (3, -1, 4), (1, 1, 3), (0, 10, 1),
                                               (0, 1, 0), (-1e3, 1e3, 1000)])
def test_linspace_and_logspace_match_torch(torch, start, end, steps):
    ours = tc.linspace(start, end, steps, dtype=tc.float64).numpy()
    theirs = torch.linspace(start, end, steps, dtype=torch.float64).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=4e-16 * max(abs(start), abs(end), 1))  # 1 ulp
    assert ours[:1].tolist() == theirs[:1].tolist() and ours[-1:].tolist() == theirs[-1:].tolist()
    np.testing.assert_allclose(tc.linspace(start, end, steps).numpy(),
                               torch.linspace(start, end, steps).numpy(), rtol=1e-6, atol=1e-6)
    if abs(start) < 100 and abs(end) < 100:
        np.testing.assert_allclose(tc.logspace(start / 4, end / 4, steps, base=2.0, dtype=tc.float64).numpy(),
                                   torch.logspace(start / 4, end / 4, steps, base=2.0, dtype=torch.float64).numpy(),
                                   rtol=1e-14)
    assert tc.linspace(start, end, steps, device="cpu").dtype == np.float32


def test_linspace_errors():
    with pytest.raises(tc.ArgumentError, match="steps"):
        tc.linspace(0, 1, -1)
    with pytest.raises(tc.ArgumentError, match="steps"):
        tc.linspace(0, 1, 2.5)
    with pytest.raises(tc.ArgumentError, match="end"):
        tc.linspace(0, float("nan"), 3)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch_and_is_differentiable(torch, indexing):
    a, b, c = RNG.standard_normal(3), RNG.standard_normal(4), RNG.standard_normal(2)
    ours = tc.meshgrid(tc.tensor(a, requires_grad=True), tc.tensor(b), tc.tensor(c), indexing=indexing)
    theirs = torch.meshgrid(torch.tensor(a), torch.tensor(b), torch.tensor(c), indexing=indexing)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    A = tc.tensor(a, requires_grad=True)
    X, Y = tc.meshgrid([A, tc.tensor(b)], indexing=indexing)    # a list works too
    (X * Y).sum().backward()
    np.testing.assert_allclose(A.grad.numpy(), np.full(3, b.sum()), rtol=1e-12)
    with pytest.raises(tc.ArgumentError, match="indexing"):
        tc.meshgrid(A, A, indexing="yx")
    with pytest.raises(tc.ShapeError, match="1-D"):
        tc.meshgrid(tc.ones(2, 2))


def test_normal_forms_shapes_statistics_and_seeding(torch):
    tc.manual_seed(1)
    a = tc.normal(2.0, 3.0, size=(20000,))
    assert a.shape == (20000,) and a.dtype == np.float32
    assert abs(float(a.numpy().mean()) - 2.0) < 0.1 and abs(float(a.numpy().std()) - 3.0) < 0.1
    mean, std = tc.tensor(RNG.standard_normal((3, 1))), tc.tensor(np.full((1, 4), 1e-9))
    b = tc.normal(mean, std)
    assert b.shape == (3, 4) and b.dtype == np.float64
    np.testing.assert_allclose(b.numpy(), np.broadcast_to(mean.numpy(), (3, 4)), atol=1e-7)
    assert tc.normal(0.0, tc.ones(5)).shape == (5,) and tc.normal(tc.zeros(2, 2), 1.0).shape == (2, 2)
    tc.manual_seed(1)
    np.testing.assert_array_equal(tc.normal(2.0, 3.0, size=(20000,)).numpy(), a.numpy())
    assert tuple(torch.normal(2.0, 3.0, size=(5,)).shape) == tuple(tc.normal(2.0, 3.0, (5,)).shape)
    with pytest.raises(tc.ArgumentError, match="std"):
        tc.normal(0.0, -1.0, size=(2,))
    with pytest.raises(tc.ArgumentError, match="size"):
        tc.normal(0.0, 1.0)


def _structure(fn, seen=None):
    """grad_fn graph as nested (name, [children]) for torch and ours alike."""
    if fn is None:
        return None
    name = type(fn).__name__ if hasattr(fn, "variable") else fn.name() if callable(getattr(fn, "name", None)) else fn.name
    name = name.replace("Backward0", "").replace("Backward", "")
    return (name, [(_structure(f), nr) for f, nr in fn.next_functions])


def test_next_functions_mirror_torch(torch):
    x = RNG.standard_normal((2, 3))
    w = RNG.standard_normal((3, 3))
    X, W = tc.tensor(x), tc.tensor(w, requires_grad=True)
    TX, TW = torch.tensor(x), torch.tensor(w, requires_grad=True)
    y, ty = (X @ W).relu().sum(), (TX @ TW).relu().sum()
    ours, theirs = _structure(y.grad_fn), _structure(ty.grad_fn)
    assert ours[0] == "Sum" and theirs[0] == "Sum"
    relu, trelu = ours[1][0][0], theirs[1][0][0]
    assert relu[0] == trelu[0] == "Relu" or relu[0].lower() == trelu[0].lower()
    mm, tmm = relu[1][0][0], trelu[1][0][0]
    # the matmul's inputs: the constant X (None) and the leaf W (AccumulateGrad), in order
    assert [c for c, _ in mm[1]] == [None, ("AccumulateGrad", [])]
    assert [c for c, _ in tmm[1]] == [None, ("AccumulateGrad", [])]
    acc = y.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[1][0]
    assert acc.variable is W and acc.next_functions == ()


def test_next_functions_give_output_numbers_of_multi_output_ops():
    x = tc.randn(3, 4, requires_grad=True)
    values, _ = x.max(dim=1)
    fn, nr = (values * 2).grad_fn.next_functions[0]
    assert fn is values.grad_fn and nr == 0


def test_jit_entry_points_are_no_ops():
    model = nn.Linear(2, 2)
    assert tc.jit.script(model) is model and tc.jit.trace(model, tc.randn(1, 2)) is model
    assert not tc.jit.is_scripting() and not tc.jit.is_tracing()

    class Net(nn.Module):
        @tc.jit.unused
        def helper(self, x):
            return x + 1

        @tc.jit.ignore
        def other(self, x):
            return x * 2

        @tc.jit.ignore(drop=True)
        def third(self, x):
            return x * 3

        @tc.jit._overload_method
        def forward(self, x):
            return self.third(self.other(self.helper(x)))

    assert Net()(tc.ones(1)).item() == 12
    assert tc.jit.annotate(list, [1]) == [1]


def test_type_without_argument_names_the_legacy_type_and_casts_by_name(torch):
    """d2l's `y_hat.type(y.dtype)`, `X.type()` checks and `net.type(torch.float64)`."""
    for dt in ("float32", "float64", "int64", "int32", "uint8", "bool"):
        ours, theirs = tc.zeros(2).to(getattr(tc, dt if dt != "bool" else "bool_")), \
            torch.zeros(2).to(getattr(torch, dt))
        assert ours.type() == theirs.type(), dt
    x = tc.tensor([1.5, 2.5])
    assert x.type(tc.int64).tolist() == [1, 2]
    assert x.type("torch.DoubleTensor").dtype == np.float64
    assert x.type(x.dtype) is x                               # same dtype: the tensor itself
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert net.type(tc.float64) is net
    assert net[0].weight.dtype == np.float64 and net[1].running_var.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64       # integer buffers keep theirs
    net.type("torch.FloatTensor")
    assert net[0].bias.dtype == np.float32
    with pytest.raises(tc.DTypeError):
        x.type("torch.cuda.FloatTensor")
