"""gradcheck as a tool: modules, float32 upcasting, kinks/ties, reports, the op registry and CLI.
(The basic behaviour of tc.gradcheck is in tests/test_gradcheck.py.)"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.gradcheck_suite as suite
from tinygrad_cnn import nn
from tinygrad_cnn.cli import main
from tinygrad_cnn.gradcheck import GradcheckWarning, check_gradients


def f64(*shape, data=None):
    t = tc.tensor(np.asarray(data, dtype=np.float64)) if data is not None else tc.randn(*shape, dtype=tc.float64)
    return t.requires_grad_()


class ScaledGrad(tc.autograd.Function):
    """y = a * b with a backward that is wrong by `factor` for a (1 = correct)."""

    @staticmethod
    def forward(ctx, a, b, factor=1.0):
        ctx.save_for_backward(a, b)
        ctx.factor = factor
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b * ctx.factor, g * a, None


class BadReLU(tc.autograd.Function):
    """relu whose backward claims slope `slope` at x > 0 and `at_zero` at exactly 0."""

    @staticmethod
    def forward(ctx, a, slope=1.0, at_zero=0.0):
        ctx.save_for_backward(a)
        ctx.slope, ctx.at_zero = slope, at_zero
        return np.maximum(a, 0)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * np.where(a > 0, ctx.slope, np.where(a == 0, ctx.at_zero, 0.0)), None, None


class Block(nn.Module):
    def __init__(self, n_in, n_out, factor=1.0):
        super().__init__()
        self.weight = nn.Parameter(tc.randn(n_in, n_out) * 0.5)
        self.bias = nn.Parameter(tc.randn(n_out) * 0.1)
        self.factor = factor

    def forward(self, x):
        return ScaledGrad.apply(x @ self.weight, tc.ones(1).expand(x.shape[0], self.weight.shape[1]) * 1.0,
                                self.factor).tanh() + self.bias


class TwoBlocks(nn.Module):
    def __init__(self, factor=1.0):
        super().__init__()
        self.first = Block(3, 4)
        self.second = Block(4, 2, factor)

    def forward(self, x):
        return self.second(self.first(x))


# ------------------------------------------------------------------------------- modules
def test_module_checks_every_parameter_and_restores_the_module():
    tc.manual_seed(1)
    model = TwoBlocks()
    before = {k: (p, p.numpy(), p.numpy().copy()) for k, p in model.named_parameters()}
    x = tc.randn(5, 3)
    with pytest.warns(GradcheckWarning, match="float64 copies"):
        res = check_gradients(model, (x,))
    assert res.passed
    assert [c.label for c in res.inputs] == ["parameter 'first.weight'", "parameter 'first.bias'",
                                             "parameter 'second.weight'", "parameter 'second.bias'"]
    assert all(c.checked == int(np.prod(c.shape)) for c in res.inputs)
    for k, p in model.named_parameters():           # same objects, same arrays, same values
        obj, arr, values = before[k]
        assert p is obj and p.numpy() is arr and p.dtype == np.float32
        np.testing.assert_array_equal(p.numpy(), values)
        assert p.grad is None


def test_module_with_a_wrong_backward_names_the_parameter():
    tc.manual_seed(1)
    model = TwoBlocks(factor=2.0)                      # second block's gradient is doubled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)
        res = check_gradients(model, (tc.randn(4, 3),))
        assert not tc.gradcheck(model, (tc.randn(4, 3),), raise_exception=False)
    # everything upstream of the bad op fails; second.bias, added after it, passes
    failed = [c.label for c in res.inputs if not c.passed]
    assert failed == ["parameter 'first.weight'", "parameter 'first.bias'",
                      "parameter 'second.weight'"]


def test_module_inputs_that_require_grad_are_checked_too():
    tc.manual_seed(2)
    model = TwoBlocks()
    x = f64(2, 3)
    with pytest.warns(GradcheckWarning, match="parameter 'first.weight'"):
        res = check_gradients(model, (x,))
    assert res.inputs[0].label == "input 0" and len(res.inputs) == 5 and res.passed


def test_module_buffers_are_restored():
    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(tc.randn(3))
            self.register_buffer("calls", tc.zeros(1))

        def forward(self, x):
            self.calls.data += 1                     # a side effect, like running statistics
            return (x * self.w).sum()

    m = Counting()
    with pytest.warns(GradcheckWarning, match="parameter 'w' is float32"):
        assert tc.gradcheck(m, (f64(3),))
    assert m.calls.item() == 0.0 and m.calls.dtype == np.float32


def test_module_parameters_with_samples():
    tc.manual_seed(3)
    model = TwoBlocks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)
        res = check_gradients(model, (tc.randn(2, 3),), samples=2)
    assert res.passed
    assert [c.checked for c in res.inputs] == [2, 2, 2, 2]
    assert any("checked 2 of 12 elements" in n for n in res.notes)


# ------------------------------------------------------------------------------- upcasting
def test_upcast_input_meeting_float32_state_explains_itself():
    w = tc.randn(3, 3)                                 # float32, held by the closure

    class StrictMatMul(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            if a.dtype != b.dtype:
                raise tc.DTypeError(f"dtypes {a.dtype} and {b.dtype} differ")
            return a @ b

        @staticmethod
        def backward(ctx, g):
            return g, None

    x = tc.randn(2, 3, requires_grad=True)
    with pytest.warns(GradcheckWarning), pytest.raises(tc.GradcheckError, match="pass the Module"):
        tc.gradcheck(lambda t: StrictMatMul.apply(t, w), (x,))


def test_float32_inputs_are_upcast_with_a_warning_and_left_untouched():
    x = tc.randn(3, 4, requires_grad=True)           # float32
    x.grad = tc.ones(3, 4)
    data = x.numpy().copy()
    with pytest.warns(GradcheckWarning, match="input 0 is float32.*float64 copies"):
        assert tc.gradcheck(lambda t: (t * t).tanh().sum(1), (x,))
    assert x.dtype == np.float32 and np.array_equal(x.numpy(), data)
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 4)))


def test_without_upcasting_float32_noise_fails_the_check():
    x = tc.randn(3, 4, requires_grad=True)
    with pytest.warns(GradcheckWarning, match="only reliable in float64"):
        assert not tc.gradcheck(lambda t: (t * t).tanh(), (x,), upcast=False, raise_exception=False)
    assert tc.gradcheck(lambda t: (t * t).tanh(), (x.double().detach().requires_grad_(),), upcast=False)


def test_an_op_that_computes_in_float32_inside_is_named():
    class Sloppy(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return np.tanh(a.astype(np.float32))

        @staticmethod
        def backward(ctx, g):
            return g                                 # also wrong: no (1 - tanh²)

    res = check_gradients(Sloppy.apply, (f64(2, 2),))
    assert not res.passed
    assert any("lower precision inside" in n for n in res.notes)


# --------------------------------------------------------------------------- kinks, ties
def test_relu_at_its_kink_is_resampled_not_reported():
    x = f64(data=[0.0, 1.5, -2.0, 0.0, 0.3])
    res = check_gradients(lambda t: t.relu() * 3, (x,))
    assert res.passed
    assert res.inputs[0].resampled == [0, 3]
    assert any("kink or tie" in n for n in res.notes)
    np.testing.assert_array_equal(x.numpy(), [0.0, 1.5, -2.0, 0.0, 0.3])   # caller's data intact
    off = check_gradients(lambda t: t.relu() * 3, (x,), kink_aware=False)
    assert not off.passed and off.inputs[0].failed == 2


def test_max_ties_are_resampled():
    x = f64(data=[[1.0, 1.0, 0.5], [2.0, -1.0, 2.0]])
    assert tc.gradcheck(lambda t: t.max(1).values, (x,))
    assert not tc.gradcheck(lambda t: t.max(1).values, (x,), kink_aware=False, raise_exception=False)


@pytest.mark.skipif(not hasattr(tc.nn.functional, "max_pool2d"), reason="F.max_pool2d not in this build yet")
def test_max_pool_windows_full_of_ties():
    rng = np.random.default_rng(0)
    x = suite.with_ties(rng, (2, 2, 6, 6))            # values in {-1, -0.5, 0, 0.5, 1}

    def pool(t):
        return tc.nn.functional.max_pool2d(t, 2, stride=1)

    off = check_gradients(pool, (x,), kink_aware=False)
    on = check_gradients(pool, (x,))
    assert not off.passed and off.inputs[0].failed > 10
    assert on.passed and len(on.inputs[0].resampled) > 10


def test_kink_handling_never_hides_a_wrong_gradient_at_a_smooth_point():
    x = f64(data=[0.0, 1.5, -2.0, 0.7])
    res = check_gradients(lambda t: BadReLU.apply(t, 2.0), (x,))     # slope 2 instead of 1
    assert not res.passed
    reported = {w["index"] for w in res.inputs[0].worst}
    assert {"[1]", "[3]"} <= reported and "[2]" not in reported   # [0] may move to x > 0 and fail too


def test_a_point_left_at_a_kink_accepts_only_a_subgradient():
    x = f64(data=[0.0, 1.0])
    ok = check_gradients(lambda t: BadReLU.apply(t, 1.0, 0.0), (x,), max_resamples=0)
    assert ok.passed and ok.inputs[0].at_kink == [0]
    assert any("valid subgradient" in n for n in ok.notes)
    bad = check_gradients(lambda t: BadReLU.apply(t, 1.0, 5.0), (x,), max_resamples=0)
    assert not bad.passed and bad.inputs[0].worst[0]["index"] == "[0]"


def test_dropout_like_randomness_is_reseeded_and_the_generator_restored():
    def noisy(t):
        mask = (tc.rand(*t.shape) > 0.5).double()     # drawn from tc's generator
        return t * mask * 2.0

    tc.manual_seed(7)
    expected = tc.randn(3).numpy().copy()
    tc.manual_seed(7)
    assert tc.gradcheck(noisy, (f64(4, 3),))
    # gradcheck used its own generator; the caller's sequence continues where it was... after
    # the f64() draw above, so compare against a run with the same draw and no gradcheck
    tc.manual_seed(7)
    f64(4, 3)
    expected = tc.randn(3).numpy().copy()
    tc.manual_seed(7)
    x = f64(4, 3)
    tc.gradcheck(noisy, (x,))
    np.testing.assert_array_equal(tc.randn(3).numpy(), expected)


def test_nondeterminism_outside_the_generator_is_reported_as_such():
    rng = np.random.default_rng(0)
    with pytest.raises(tc.GradcheckError, match="not deterministic"):
        tc.gradcheck(lambda t: t * float(rng.random()), (f64(3),))


# ------------------------------------------------------------------------------- reports
def test_report_lists_worst_elements_and_both_jacobians():
    a, b = f64(2, 3), f64(2, 3)
    with pytest.raises(tc.GradcheckError) as info:
        tc.gradcheck(lambda x, y: ScaledGrad.apply(x, y, 2.0), (a, b), topk=3)
    msg = str(info.value)
    assert "input 0 (2, 3): FAILED" in msg and "input 1 (2, 3): ok" in msg
    assert "worst 3 (input index, output index)" in msg
    # the worst entry, recomputed here, is on the first row of the table
    g = b.numpy()
    j = np.unravel_index(np.argmax(np.abs(g)), g.shape)
    row = next(line for line in msg.splitlines() if line.strip().startswith("[") and "out[" in line)
    assert row.split()[0] == f"[{j[0]}," and f"{2 * g[j]:.6g}" in row and f"{g[j]:.6g}" in row
    assert "analytic" in msg and "numerical" in msg and "Jacobians" in msg
    assert "2 × the numerical one" in msg


def test_large_jacobians_are_not_printed():
    res = check_gradients(lambda x, y: ScaledGrad.apply(x, y, 2.0), (f64(4, 5), f64(4, 5)))
    assert "Jacobians (rows" not in res.report() and "worst 5" in res.report()


@pytest.mark.parametrize("factor, phrase", [(-1.0, "a sign error"), (0.0, "zero everywhere"),
                                            (0.5, "missing factor of 2")])
def test_hints_recognise_common_mistakes(factor, phrase):
    res = check_gradients(lambda x, y: ScaledGrad.apply(x, y, factor), (f64(3), f64(3)))
    assert phrase in res.report()


def test_hint_for_a_backward_that_ignores_grad_output():
    class NoChain(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a                              # forgot "* g"

    assert "backward ignores grad_output" in check_gradients(NoChain.apply, (f64(3),)).report()


def test_hint_for_a_transposed_gradient():
    class T(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a @ b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g @ b.T, (a.T @ g).T

    res = check_gradients(T.apply, (f64(3, 3), f64(3, 3)))
    assert not res.inputs[1].passed and "last two axes swapped" in res.report()


def test_fast_mode_locates_the_error():
    res = check_gradients(lambda x, y: ScaledGrad.apply(x, y, 2.0), (f64(3, 2), f64(3, 2)),
                          fast_mode=True)
    assert not res.passed and res.inputs[1].passed
    assert "fast mode: the projection" in res.report() and res.inputs[0].worst
    assert check_gradients(lambda x, y: x * y, (f64(3, 2), f64(3, 2)), fast_mode=True).passed


def test_non_leaf_inputs_are_checked():
    base = f64(3)
    x = base * 2.0                                     # has a grad_fn
    assert tc.gradcheck(lambda t: t.exp(), (x,))


# --------------------------------------------------------------------- registry and CLI
def test_every_registered_op_passes_over_its_grid():
    rows = suite.check_all()
    failed = [(r.op, r.config, r.status, r.message[:300]) for r in rows if not r.passed]
    assert not failed, failed
    assert len({r.op for r in rows}) == len(suite.names()) >= 30


def test_parse_value():
    assert suite.parse_value("2") == 2
    assert suite.parse_value("1,2") == (1, 2)
    assert suite.parse_value("3", like=(1, 1)) == (3,)
    assert suite.parse_value("0.1") == 0.1
    assert suite.parse_value("2", like=0.5) == 2.0 and isinstance(suite.parse_value("2", like=0.5), float)
    assert suite.parse_value("true") is True and suite.parse_value("no", like=False) is False
    assert suite.parse_value("none") is None and suite.parse_value("same") == "same"


def test_cli_one_op_with_settings(capsys):
    assert main(["gradcheck", "relu", "--shape", "2,3", "--ties"]) == 0
    out = capsys.readouterr().out
    assert "relu" in out and "shape=(2,3) ties=True" in out and " ok " in out


@pytest.mark.skipif(not hasattr(tc.nn.functional, "conv2d"), reason="F.conv2d not in this build yet")
def test_cli_conv2d_with_stride_and_padding(capsys):
    assert main(["gradcheck", "conv2d", "--shape", "1,2,7,7", "--stride", "2", "--padding", "1",
                 "--eps", "1e-6"]) == 0
    assert "stride=2 padding=1" in capsys.readouterr().out


def test_cli_usage_errors(capsys):
    assert main(["gradcheck", "no_such_op"]) == 2
    assert main(["gradcheck", "relu", "--stride", "2"]) == 2
    err = capsys.readouterr().err
    assert "no op named 'no_such_op'" in err and "relu has no setting --stride" in err
    assert main(["gradcheck"]) == 2
    assert main(["gradcheck", "--list"]) == 0
    assert "conv2d" in capsys.readouterr().out


@pytest.fixture
def broken_op():
    class DoubledTanh(tc.autograd.Function):
        """tanh whose backward forgot nothing but doubled everything."""

        @staticmethod
        def forward(ctx, a):
            out = np.tanh(a)
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return 2 * g * (1 - out ** 2)

    suite.register("broken_tanh", lambda cfg, rng: (DoubledTanh.apply, [suite.randn(rng, cfg["shape"])]),
                   defaults={"shape": (2, 3)}, grid=[{}, {"shape": (4,)}])
    yield "broken_tanh"
    suite.unregister("broken_tanh")


def test_cli_all_fails_loudly_for_a_broken_registered_op(broken_op, capsys):
    assert main(["gradcheck", "--all"]) == 1
    out = capsys.readouterr().out
    fail_rows = [line for line in out.splitlines() if line.startswith("broken_tanh") and " FAIL " in line]
    assert len(fail_rows) == 2
    assert "2 of" in out and "FAILED" in out and "=== FAIL: broken_tanh [shape=(2,3)]" in out
    assert "2 × the numerical one" in out
    ok_rows = [line for line in out.splitlines() if line.startswith("relu ")]
    assert ok_rows and all(" ok " in line for line in ok_rows)


def test_cli_all_passes_without_it(capsys):
    assert main(["gradcheck", "--all", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "passed" in out and " FAIL " not in out


def test_cli_imports_a_file_that_registers_ops(tmp_path, capsys):
    plugin = tmp_path / "my_ops.py"
    plugin.write_text(
        "import tinygrad_cnn.gradcheck_suite as suite\n"
        "suite.register('plugin_square', lambda cfg, rng: ((lambda x: x * x), "
        "[suite.randn(rng, cfg['shape'])]), defaults={'shape': (2, 2)}, replace=True)\n")
    try:
        assert main(["gradcheck", "plugin_square", "--shape", "3", "--import", str(plugin)]) == 0
        assert "plugin_square" in capsys.readouterr().out
    finally:
        suite.unregister("plugin_square")


def test_register_refuses_a_duplicate_name(broken_op):
    with pytest.raises(ValueError, match="already registered"):
        suite.register(broken_op, lambda cfg, rng: None, defaults={})


@pytest.mark.skipif(not (hasattr(tc, "models") and hasattr(tc.nn.functional, "conv2d")),
                    reason="LeNet5 needs the CNN ops")
def test_lenet_parameters_pass_with_sampling():
    tc.manual_seed(0)
    model = tc.models.LeNet5()
    x = tc.randn(2, *model.input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)
        res = check_gradients(model, (x,), samples=4)
    assert res.passed, res.report()
    assert {c.label for c in res.inputs} == {f"parameter '{n}'" for n, _ in model.named_parameters()}


def test_the_python_blocks_of_docs_gradcheck_md_run():
    import pathlib
    import re
    doc = pathlib.Path(__file__).resolve().parent.parent / "docs" / "gradcheck.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GradcheckWarning)
            for block in blocks:            # later blocks use earlier ones (Swish), as a reader would
                exec(compile(block, str(doc), "exec"), namespace)
        assert "swish" in suite.names() and suite.check("swish").passed
    finally:
        suite.unregister("swish")
