"""Custom ops (issue 2, item 6): `tc.autograd.Function` written as PyTorch users write one."""
import numpy as np
import pytest

import tinygrad_cnn as tc


class Cube(tc.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a ** 3

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 3 * a ** 2 * g


def test_cube_value_gradient_and_gradcheck():
    a = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = tc.tensor(a, requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name == "Cube" and repr(y.grad_fn) == "<CubeBackward>"
    np.testing.assert_allclose(y.numpy(), a ** 3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * a ** 2)
    assert tc.gradcheck(Cube.apply, (tc.randn(3, 4, dtype=tc.float64, requires_grad=True),))


def test_forward_and_backward_see_numpy_arrays_and_saved_tensors_round_trip():
    seen = {}

    class Probe(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["forward"] = (type(a), type(b))
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen["backward"] = type(g)
            a, b = ctx.saved_tensors
            seen["saved"] = (a, b)
            return g * b, g * a

    x = tc.tensor([1.0, 2.0], requires_grad=True)
    w = tc.tensor([3.0, 4.0], requires_grad=True)
    Probe.apply(x, w).sum().backward()
    assert seen["forward"] == (np.ndarray, np.ndarray) and seen["backward"] is np.ndarray
    assert seen["saved"][0] is x.numpy() and seen["saved"][1] is w.numpy()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0])


def test_needs_input_grad_flags_and_skipping_work():
    calls = {"grad_b": 0}
    flags = []

    class Scale(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            ctx.save_for_backward(a, b)
            ctx.k = k
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            flags.append(ctx.needs_input_grad)
            a, b = ctx.saved_tensors
            grad_a = g * b * ctx.k if ctx.needs_input_grad[0] else None
            grad_b = None
            if ctx.needs_input_grad[1]:               # the expensive branch is skipped
                calls["grad_b"] += 1
                grad_b = g * a * ctx.k
            return grad_a, grad_b, None

    x = tc.tensor([1.0, 2.0], requires_grad=True)
    w = tc.tensor([3.0, 4.0])                         # a constant
    Scale.apply(x, w, 2.0).sum().backward()
    assert flags[-1] == (True, False, False)
    assert calls["grad_b"] == 0 and w.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0])
    w.requires_grad_()
    Scale.apply(x, w, 2.0).sum().backward()
    assert flags[-1] == (True, True, False) and calls["grad_b"] == 1
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])


def test_non_tensor_arguments_pass_through_unchanged():
    got = {}

    class Reshaper(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a, shape, scale, *, label="x"):
            got.update(shape=shape, scale=scale, label=label)
            ctx.in_shape = a.shape
            return a.reshape(shape) * scale

        @staticmethod
        def backward(ctx, g):
            return g.reshape(ctx.in_shape) * got["scale"], None, None

    x = tc.tensor(np.arange(6.0), requires_grad=True)
    y = Reshaper.apply(x, (2, 3), 0.5, label="my op")
    assert got == {"shape": (2, 3), "scale": 0.5, "label": "my op"}
    assert y.shape == (2, 3)
    assert y.grad_fn.args == {"arg1": (2, 3), "arg2": 0.5, "label": "my op"}
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(6, 0.5))


def test_keyword_tensor_that_requires_grad_is_rejected():
    class Mul(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a, b=None):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    a, b = tc.ones(2, requires_grad=True), tc.ones(2, requires_grad=True)
    with pytest.raises(tc.ArgumentError, match="'b'.*positional"):
        Mul.apply(a, b=b)


def test_multiple_outputs_and_non_differentiable_outputs():
    class SortWithIndex(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            idx = np.argsort(a)
            ctx.idx = idx
            return a[idx], idx.astype(np.int64)       # an int output never requires grad

        @staticmethod
        def backward(ctx, g_values, g_idx):
            grad = np.zeros_like(g_values)
            grad[ctx.idx] = g_values
            return grad

    a = np.array([3.0, 1.0, 2.0])
    x = tc.tensor(a, requires_grad=True)
    values, idx = SortWithIndex.apply(x)
    assert values.requires_grad and not idx.requires_grad and idx.dtype == np.int64
    np.testing.assert_array_equal(values.numpy(), np.sort(a))
    (values * tc.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])
    assert tc.gradcheck(lambda t: SortWithIndex.apply(t), (tc.tensor(a, requires_grad=True),))


def test_apply_under_no_grad_records_nothing():
    x = tc.ones(2, requires_grad=True)
    with tc.no_grad():
        y = Cube.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    y = Cube.apply(tc.ones(2))                        # no input requires grad
    assert not y.requires_grad and y.grad_fn is None


def test_backward_may_return_tensors_and_other_float_dtypes():
    class Twice(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return 2 * a

        @staticmethod
        def backward(ctx, g):
            return tc.tensor((2 * g).astype(np.float32))   # cast back to the input's dtype

    x = tc.tensor(np.array([1.0, 2.0]), requires_grad=True)
    Twice.apply(x).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_custom_op_composes_with_builtin_ops():
    x = tc.tensor(np.array([0.5, -0.25, 1.5]), requires_grad=True)
    assert tc.gradcheck(lambda t: (Cube.apply(t.tanh()) * t).sum(), (x,))


def test_builtin_ops_are_functions_too():
    from tinygrad_cnn.ops import elementwise, linalg, movement, reduce
    for cls in (elementwise.Mul, elementwise.Exp, reduce.Sum, movement.Expand, linalg.MatMul):
        assert issubclass(cls, tc.autograd.Function)
    x = tc.ones(2, requires_grad=True)
    y = elementwise.Mul.apply(x, x)                    # the public API, directly
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def _one_output_ops(general: bool):
    """Functions of one output in the forms apply handles: a new float array (saved or not), a
    new int array, an input returned as it is, a saved output. `general` marks an unrelated
    array non-differentiable, which sends apply through its general loop over outputs."""
    def op(make, save_out=False):
        class Op(tc.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                if general:
                    ctx.mark_non_differentiable(np.empty(0))
                out = make(a, b)
                ctx.save_for_backward(out if save_out else a)
                return out

            @staticmethod
            def backward(ctx, g):
                ctx.saved_tensors                          # the in-place check
                return g * 2, g
        return Op
    return {"new float": op(lambda a, b: a * 2 + b), "new int": op(lambda a, b: (a > 0).astype(np.int64)),
            "input as is": op(lambda a, b: a), "saved output": op(lambda a, b: a * 2 + b, save_out=True)}


def test_one_output_fast_path_matches_the_general_loop():
    """apply's short path for one new array gives what its general loop gives: requires_grad,
    grad_fn, output index, outputs_meta, version sharing with an input returned as is, the
    in-place check on a saved output, and the gradients."""
    for name in _one_output_ops(False):
        seen = []
        for general in (False, True):
            a = tc.tensor([1.0, -2.0, 3.0], requires_grad=True)
            b = tc.tensor([0.5, 0.5, 0.5], requires_grad=True)
            y = _one_output_ops(general)[name].apply(a, b)
            state = (y.requires_grad, y.grad_fn is not None, y._output_nr, y._vc is a._vc,
                     y.grad_fn.outputs_meta if y.grad_fn is not None else None)
            if y.requires_grad:
                y.sum().backward()
                state += (a.grad.numpy().tolist(), b.grad.numpy().tolist())
            seen.append(state)
        assert seen[0] == seen[1], name
    for general in (False, True):                         # a saved output written in place
        a = tc.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = _one_output_ops(general)["saved output"].apply(a, tc.ones(3))
        y.data.add_(1.0)
        with pytest.raises(tc.autograd.BackwardError, match="modified by an in-place operation"):
            y.sum().backward()
