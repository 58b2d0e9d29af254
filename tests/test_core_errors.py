"""Errors a user meets instead of a NumPy traceback (issue 2, item 8): each test checks the
exception type (tinygrad_cnn.errors) and that the message names what was wrong."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.autograd import Function


def test_error_types_derive_from_the_builtin_a_user_expects():
    assert issubclass(tc.ShapeError, ValueError)
    assert issubclass(tc.ArgumentError, ValueError)
    assert issubclass(tc.DTypeError, TypeError)
    assert issubclass(tc.BackwardError, RuntimeError)


# -------------------------------------------------------------------------- backward misuse
def test_backward_on_non_scalar_without_gradient():
    x = tc.ones(2, 3, requires_grad=True)
    with pytest.raises(tc.BackwardError) as e:
        (x * 2).backward()
    msg = str(e.value)
    assert "(2, 3)" in msg and "gradient" in msg and "scalar" in msg


def test_second_backward_through_a_freed_graph_says_retain_graph():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(tc.BackwardError) as e:
        y.backward()
    assert "retain_graph=True" in str(e.value) and "second time" in str(e.value)


def test_backward_gradient_of_the_wrong_shape():
    x = tc.ones(2, 3, requires_grad=True)
    with pytest.raises(tc.BackwardError) as e:
        (x * 2).backward(np.ones((3, 2)))
    assert "(3, 2)" in str(e.value) and "(2, 3)" in str(e.value)


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(tc.BackwardError, match="does not require grad"):
        (tc.ones(2) * 2).sum().backward()
    x = tc.ones(2, requires_grad=True)
    with tc.no_grad():
        y = (x * 2).sum()
    with pytest.raises(tc.BackwardError, match="no_grad"):
        y.backward()


def test_function_backward_returning_wrong_number_of_gradients_names_the_op():
    class Pair(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return (g,)

    a, b = tc.ones(2, requires_grad=True), tc.ones(2, requires_grad=True)
    with pytest.raises(tc.BackwardError) as e:
        Pair.apply(a, b).sum().backward()
    msg = str(e.value)
    assert "Pair.backward" in msg and "1 gradient" in msg and "2 positional input" in msg


def test_function_backward_returning_wrong_shape_names_the_op_and_shapes():
    class Broadcasty(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b                       # NumPy broadcasting inside a custom op

        @staticmethod
        def backward(ctx, g):
            return g, g                        # forgot to sum b's gradient back

    a = tc.ones(2, 3, requires_grad=True)
    b = tc.ones(3, requires_grad=True)
    with pytest.raises(tc.BackwardError) as e:
        Broadcasty.apply(a, b).sum().backward()
    msg = str(e.value)
    assert "Broadcasty.backward" in msg and "input 1" in msg and "(2, 3)" in msg and "(3,)" in msg


# ------------------------------------------------------------------------------ shapes
def test_matmul_shape_mismatch_names_both_shapes():
    a, b = tc.ones(2, 3), tc.ones(4, 5)
    with pytest.raises(tc.ShapeError) as e:
        a @ b
    assert "(2, 3)" in str(e.value) and "(4, 5)" in str(e.value)
    with pytest.raises(tc.ShapeError, match=r"\(2, 3, 4\).*\(5, 4, 2\)"):
        tc.ones(2, 3, 4) @ tc.ones(5, 4, 2)               # batch dims 2 and 5 do not broadcast
    with pytest.raises(tc.ShapeError, match=r"\(3,\).*\(4,\)"):
        tc.ones(3) @ tc.ones(4)
    with pytest.raises(tc.ShapeError, match=r"\(\)"):
        tc.tensor(2.0) @ tc.ones(2)


@pytest.mark.parametrize("expr", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
    lambda a, b: a ** b, lambda a, b: tc.maximum(a, b), lambda a, b: tc.minimum(a, b),
    lambda a, b: tc.where(a > 0, a, b), lambda a, b: a < b,
])
def test_broadcasting_mismatch_names_both_shapes(expr):
    a, b = tc.ones(2, 3), tc.ones(4)
    with pytest.raises(tc.ShapeError) as e:
        expr(a, b)
    assert "(2, 3)" in str(e.value) and "(4,)" in str(e.value)


def test_broadcasting_mismatch_with_an_ndarray_operand():
    with pytest.raises(tc.ShapeError, match=r"\(2, 3\).*\(4,\)"):
        tc.ones(2, 3) + np.ones(4)


@pytest.mark.parametrize("make, names", [
    (lambda: tc.ones(2, 3).reshape(4, 2), ["(2, 3)", "(4, 2)"]),
    (lambda: tc.ones(2, 3).view(-1, 4), ["(2, 3)", "(-1, 4)"]),
    (lambda: tc.ones(2, 3).expand(4, 3, 2), ["(2, 3)", "(4, 3, 2)"]),
    (lambda: tc.ones(2, 3).expand(3), ["(2, 3)"]),
    (lambda: tc.cat([tc.ones(2, 3), tc.ones(2, 4)], dim=0), ["(2, 3)", "(2, 4)"]),
    (lambda: tc.stack([tc.ones(2, 3), tc.ones(3, 2)]), ["(2, 3)", "(3, 2)"]),
    (lambda: tc.ones(2, 3).item(), ["(2, 3)"]),
])
def test_other_shape_errors_name_the_shapes(make, names):
    with pytest.raises(tc.ShapeError) as e:
        make()
    assert all(n in str(e.value) for n in names), str(e.value)


@pytest.mark.parametrize("make, names", [
    (lambda: tc.ones(2, 3).sum(dim=2), ["dim 2", "[-2, 1]"]),
    (lambda: tc.ones(2, 3).max(dim=-3), ["dim -3"]),
    (lambda: tc.ones(2, 3).permute(0, 0), ["(0, 0)", "(2, 3)"]),
    (lambda: tc.ones(2, 3).mean(dim=(1, -1)), ["same axis"]),
    (lambda: tc.ones(2).clamp(), ["min", "max"]),
    (lambda: F.pad(tc.ones(2), (1, 1, 1, 1)), ["pad=(1, 1, 1, 1)"]),
    (lambda: tc.cat([]), ["cat"]),
    (lambda: tc.ones(2, 3).view(2, 3.5), ["3.5"]),           # not silently truncated to 3
])
def test_argument_errors_name_the_argument(make, names):
    with pytest.raises(tc.ArgumentError) as e:
        make()
    assert all(n in str(e.value) for n in names), str(e.value)


def test_index_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=r"\(2, 3\)"):
        tc.ones(2, 3)[5]


# ------------------------------------------------------------------------------ dtypes
@pytest.mark.parametrize("make", [
    lambda: tc.tensor([1, 2], requires_grad=True),
    lambda: tc.Tensor([1, 2], requires_grad=True),
    lambda: tc.zeros(3, dtype=tc.int64, requires_grad=True),
    lambda: tc.arange(3, requires_grad=True),
    lambda: tc.tensor([1, 2]).requires_grad_(),
    lambda: tc.tensor([True, False], requires_grad=True),
])
def test_requires_grad_on_a_non_float_tensor(make):
    with pytest.raises(tc.DTypeError) as e:
        make()
    assert "floating point" in str(e.value)
    assert "int64" in str(e.value) or "bool" in str(e.value)


def test_non_numeric_data():
    with pytest.raises(tc.DTypeError, match="not numeric"):
        tc.tensor(["a", "b"])
