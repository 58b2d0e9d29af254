"""tc.gradcheck (issue 2, item 7): passes correct ops, rejects wrong backwards in both modes
with a message that locates the error, honours its tolerances, warns on float32."""
import re
import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.autograd import Function


def f64(a, requires_grad=True):
    return tc.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


class ScaleWithBug(Function):
    """y = 3·a, whose backward is wrong at one element: 5 instead of 3 at `bad`."""

    @staticmethod
    def forward(ctx, a, bad):
        ctx.shape, ctx.bad = a.shape, bad
        return 3 * a

    @staticmethod
    def backward(ctx, g):
        factor = np.full(ctx.shape, 3.0)
        if ctx.bad is not None:
            factor[ctx.bad] = 5.0
        return g * factor, None


class MulWithBug(Function):
    """y = a·b with a wrong gradient for b (a + b instead of a)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * (a + b)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_passes_correct_ops(fast_mode):
    a = f64(np.linspace(-1, 1, 6).reshape(2, 3))
    b = f64(np.linspace(0.5, 2, 3))
    assert tc.gradcheck(lambda x, y: (x * y).exp() / (1 + y), (a, b), fast_mode=fast_mode) is True
    assert tc.gradcheck(lambda x: (x @ x.T).tanh(), (a,), fast_mode=fast_mode) is True
    assert tc.gradcheck(lambda x: ScaleWithBug.apply(x, None), (a,), fast_mode=fast_mode) is True


def worst_row(msg, index):
    """The report's row for input element `index`: (analytic, numerical, abs err, rel err)."""
    m = re.search(r"^\s+" + re.escape(index) + r"\s+out\d*\[[^\]]*\]\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)",
                  msg, flags=re.M)
    assert m, msg
    return tuple(map(float, m.groups()))


@pytest.mark.parametrize("fast_mode", [False, True])
def test_rejects_wrong_backward_and_locates_the_element(fast_mode):
    x = f64(np.arange(12.0).reshape(3, 4) / 10)
    with pytest.raises(tc.GradcheckError) as e:
        tc.gradcheck(lambda t: ScaleWithBug.apply(t, (1, 2)), (x,), fast_mode=fast_mode)
    msg = str(e.value)
    # names the input and its max abs / rel errors
    m = re.search(r"input 0 \(3, 4\): FAILED, max abs error (\S+), max rel error (\S+),", msg)
    assert m, msg
    assert float(m.group(1)) == pytest.approx(2.0, rel=1e-3)
    assert float(m.group(2)) == pytest.approx(2 / 5, rel=1e-2)      # |5 - 3| / max(|5|, |3|)
    # the worst element: input [1, 2], where analytic d y[1,2]/d x[1,2] is the buggy 5 and the
    # true (numerical) value is 3; it is the only element out of tolerance
    analytic, numerical, abs_err, _ = worst_row(msg, "[1, 2]")
    assert analytic == 5.0 and numerical == pytest.approx(3.0, rel=1e-6)
    assert abs_err == pytest.approx(2.0, rel=1e-3)
    assert "1 Jacobian entries out of tolerance" in msg
    if fast_mode:
        assert "fast mode" in msg


@pytest.mark.parametrize("fast_mode", [False, True])
def test_names_the_input_whose_gradient_is_wrong(fast_mode):
    a, b = f64([0.5, 1.5, -1.0]), f64([2.0, -0.5, 1.0])
    with pytest.raises(tc.GradcheckError) as e:
        tc.gradcheck(MulWithBug.apply, (a, b), fast_mode=fast_mode)
    msg = str(e.value)
    assert "input 1 (3,): FAILED" in msg and "input 0 (3,): ok" in msg
    # the gradient for b is a + b instead of a: off by |b|, largest at index 0 (b = 2)
    rows = re.findall(r"^\s+(\[\d\])\s+out", msg, flags=re.M)
    assert rows[0] == "[0]", msg
    analytic, numerical, abs_err, _ = worst_row(msg, "[0]")
    assert (analytic, abs_err) == (pytest.approx(2.5), pytest.approx(2.0, rel=1e-6))
    assert numerical == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_raise_exception_false_returns_false(fast_mode):
    x = f64(np.ones((2, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                # and no warning for float64 inputs
        assert tc.gradcheck(lambda t: ScaleWithBug.apply(t, (0, 0)), (x,),
                            raise_exception=False, fast_mode=fast_mode) is False


def test_tolerances_are_atol_plus_rtol_times_numerical():
    class Slightly(Function):             # relative error 1e-4 in the gradient
        @staticmethod
        def forward(ctx, a):
            return 2 * a

        @staticmethod
        def backward(ctx, g):
            return g * 2 * (1 + 1e-4)

    x = f64([1.0, 2.0])
    assert tc.gradcheck(Slightly.apply, (x,))                     # rtol=1e-3 default
    assert not tc.gradcheck(Slightly.apply, (x,), atol=0, rtol=1e-5, raise_exception=False)
    assert tc.gradcheck(Slightly.apply, (x,), atol=1e-3, rtol=0)  # |err| = 2e-4 <= atol


def test_warns_on_float32_inputs():
    x = tc.randn(3, requires_grad=True)                           # float32
    with pytest.warns(UserWarning, match="input 0 is float32"):
        assert tc.gradcheck(lambda t: (t * t).exp(), (x,))       # checked as a float64 copy
    assert x.dtype == np.float32


def test_outputs_of_any_shape_and_tuples():
    a = f64(np.linspace(-1, 1, 6).reshape(1, 2, 3))
    b = f64([0.5, -2.0, 1.0])
    assert tc.gradcheck(lambda x: (x * x).sum(), (a,))                       # 0-d output
    assert tc.gradcheck(lambda x: x.exp(), (a,))                             # 3-d output
    assert tc.gradcheck(lambda x, y: (x * y, (x - y).sum(dim=2), y.tanh()), (a, b))   # tuple
    # integer outputs (argmax) are ignored, the float one is checked
    assert tc.gradcheck(lambda x: (x.argmax(), x * 3), (a,))
    # and a wrong gradient in the second output of a tuple is still caught
    with pytest.raises(tc.GradcheckError, match="input 0"):
        tc.gradcheck(lambda x: (x * 2, ScaleWithBug.apply(x, (0, 1, 1))), (a,))


def test_only_inputs_that_require_grad_are_checked_and_mixed_args_work():
    a = f64([1.0, 2.0])
    c = f64([3.0, 4.0], requires_grad=False)
    assert tc.gradcheck(lambda x, const, k: x * const * k, (a, c, 2.5))
    with pytest.raises(tc.GradcheckError, match="no input has requires_grad"):
        tc.gradcheck(lambda x: x * 2, (c,))


def test_single_tensor_input_without_tuple():
    assert tc.gradcheck(lambda t: t.sigmoid(), f64([0.1, -0.3]))


def test_does_not_disturb_inputs_or_their_grads():
    a = np.array([[0.5, 1.0], [1.5, 2.0]])
    x = f64(a)
    (x * 7).sum().backward()
    before = x.grad
    tc.gradcheck(lambda t: t.log(), (x,))
    tc.gradcheck(lambda t: t.log(), (x,), fast_mode=True)
    np.testing.assert_array_equal(x.numpy(), a)               # perturbations undone
    assert x.grad is before                                     # the user's .grad is kept


def test_input_that_is_not_c_contiguous():
    """A transposed (Fortran-ordered) leaf: perturbing must reach the actual array."""
    x = f64(np.arange(6.0).reshape(2, 3).T)
    assert not x.numpy().flags["C_CONTIGUOUS"]
    assert tc.gradcheck(lambda t: t * t, (x,))
    with pytest.raises(tc.GradcheckError) as e:
        tc.gradcheck(lambda t: ScaleWithBug.apply(t, (2, 1)), (x,))
    assert worst_row(str(e.value), "[2, 1]")[:2] == (5.0, pytest.approx(3.0))


def test_input_left_intact_when_fn_raises():
    a = np.array([1.0, 2.0])
    x = f64(a)
    calls = {"n": 0}

    def fn(t):
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("boom")
        return t * 2

    with pytest.raises(RuntimeError, match="boom"):
        tc.gradcheck(fn, (x,))
    np.testing.assert_array_equal(x.numpy(), a)
