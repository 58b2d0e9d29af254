"""The backward engine (issue 2, item 5): iterative topological order, accumulation, reused
nodes, the shape check on every gradient, and freeing saved arrays after backward."""
import inspect
import sys
import time

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.autograd import Function


# ------------------------------------------------------------------------------ accumulation
def test_x_times_x_at_3_gives_6_and_cubes():
    x = tc.tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 6.0
    x = tc.tensor(2.0, dtype=tc.float64, requires_grad=True)
    (x * x * x).backward()
    assert x.grad.item() == 12.0
    x = tc.tensor(5.0, requires_grad=True)
    (x + x).backward()
    assert x.grad.item() == 2.0


def test_one_leaf_used_many_times():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(99):
        y = y + x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 100.0])


def test_diamond_graph_matches_closed_form():
    a_np = np.array([0.3, -0.7, 1.2])
    x = tc.tensor(a_np, requires_grad=True)
    a = x * 2                     # a is used by two branches, which meet again in y
    b = a.exp()
    c = a * a
    y = (b * c + a).sum()
    y.backward()
    # y = Σ e^{2x}(2x)² + 2x  ->  dy/dx = 2[e^{2x}(2x)² + e^{2x}·2(2x) + 1]
    t = 2 * a_np
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp(t) * t ** 2 + np.exp(t) * 2 * t + 1))


def test_shared_non_leaf_gets_complete_gradient_before_its_backward_runs():
    """Each context runs once, after every consumer of its output (topological order)."""
    log = []

    class Tap(Function):
        @staticmethod
        def forward(ctx, a, label):
            ctx.label = label
            return a.copy()

        @staticmethod
        def backward(ctx, g):
            log.append((ctx.label, g.copy()))
            return g, None

    x = tc.tensor([1.0, 2.0], requires_grad=True)
    h = Tap.apply(x, "h")
    u = Tap.apply(h * 3, "u")
    v = Tap.apply(h * 5, "v")
    w = Tap.apply(u + v + h, "w")
    w.sum().backward()
    labels = [lab for lab, _ in log]
    assert sorted(labels) == ["h", "u", "v", "w"]          # each exactly once
    assert labels[0] == "w" and labels[-1] == "h"          # h after all its consumers
    np.testing.assert_array_equal(dict(log)["h"], [9.0, 9.0])   # 3 + 5 + 1, summed before
    np.testing.assert_array_equal(x.grad.numpy(), [9.0, 9.0])


def test_gradients_accumulate_across_backward_calls_without_mutating_old_grad():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    first = x.grad
    first_values = first.numpy().copy()
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])
    np.testing.assert_array_equal(first.numpy(), first_values)   # never written in place


def test_grad_does_not_alias_the_gradient_argument():
    for make in (lambda x: x, lambda x: x + 0):          # leaf root, pass-through op
        x = tc.ones(3, requires_grad=True)
        g = tc.tensor([1.0, 2.0, 3.0])
        make(x).backward(g)
        assert not np.shares_memory(x.grad.numpy(), g.numpy())
        x.grad.numpy()[0] = 100.0
        assert g.numpy()[0] == 1.0


def test_two_leaves_fed_by_one_gradient_array_own_their_grads():
    a = tc.ones(2, requires_grad=True)
    b = tc.ones(2, requires_grad=True)
    (a + b).sum().backward()                              # Add hands the same array to both
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())


def _returning(make_grad):
    """A Function y = x (shape (2, 3)) whose backward returns make_grad(grad_output)."""
    class Op(Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            return make_grad(g)
    return Op


def test_leaf_grad_that_is_a_view_is_kept_only_when_nothing_else_sees_its_memory():
    """A gradient that is a view of a fresh array (a GEMM's result reshaped) becomes the leaf's
    .grad without a copy; a view of memory someone else holds (the op keeps the array, two
    leaves get views of one array, a read-only or partial view, a transposed one) is copied,
    so every .grad is a writeable array of its own, C-contiguous, with the right values."""
    kept = []

    def keeps_base(g):
        base = (g * 2).reshape(6)
        kept.append(base)
        return base.reshape(2, 3)

    def read_only(g):
        v = (g * 2).reshape(6).reshape(2, 3)
        v.flags.writeable = False
        return v

    cases = {"fresh": (lambda g: (g * 2).reshape(6).reshape(2, 3), True),
             "kept by the op": (keeps_base, False),
             "read-only": (read_only, False),
             "part of a bigger array": (lambda g: np.concatenate([g * 2, g])[:2], False),
             "transposed": (lambda g: np.ascontiguousarray((g * 2).T).T, False)}
    for name, (make, sole) in cases.items():
        x = tc.ones(2, 3, requires_grad=True)
        w = tc.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
        (_returning(make).apply(x) * w).sum().backward()
        g = x.grad.numpy()
        np.testing.assert_array_equal(g, 2 * w.numpy(), err_msg=name)
        assert g.flags.writeable and g.flags.c_contiguous, name
        assert (g.base is not None) == sole, name
        assert not any(np.shares_memory(g, k) for k in kept), name
    a, b = tc.ones(2, requires_grad=True), tc.ones(3, requires_grad=True)
    tc.cat([a, b]).sum().backward()                       # Cat hands out views of one array
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    x = tc.ones(2, 3, requires_grad=True)                 # a kept view then accumulates anew
    for _ in range(2):
        _returning(cases["fresh"][0]).apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 4.0)


def test_gradients_summed_for_a_tensor_used_many_times_leave_every_op_gradient_untouched():
    """Four consumers of one tensor: the engine sums their gradients (into a sum of its own
    after the first addition), and no array a backward returned is changed -- kept ones keep
    their values, hooks and retain_grad see the complete sum, the same with create_graph."""
    kept = []

    class Keep(Function):
        @staticmethod
        def forward(ctx, a, k):
            ctx.k = k
            return a * k

        @staticmethod
        def backward(ctx, g):
            out = g * ctx.k
            kept.append((out, out.copy()))
            return out, None

    for create_graph in (False, True):
        kept.clear()
        x = tc.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = x * 1.0
        h.retain_grad()
        seen = []
        h.register_hook(lambda g: seen.append(g.numpy().copy()))
        ks = (2.0, 3.0, 5.0, 7.0)
        if create_graph:
            ys = [h * k for k in ks]          # Tensor-mode backward rules
        else:
            ys = [Keep.apply(h, k) for k in ks]
        (ys[0] + ys[1] + ys[2] + ys[3]).sum().backward(create_graph=create_graph)
        np.testing.assert_array_equal(h.grad.numpy(), [17.0] * 3)
        np.testing.assert_array_equal(seen[0], [17.0] * 3)
        np.testing.assert_array_equal(x.grad.numpy(), [17.0] * 3)
        for out, copy in kept:
            np.testing.assert_array_equal(out, copy)
    x = tc.tensor(2.0, requires_grad=True)                # 0-d: NumPy sums scalars, not arrays
    h = x * 1.0
    (h * 2.0 + h * 3.0 + h * 5.0 + h * 7.0).backward()
    assert x.grad.item() == 17.0


def test_constant_inputs_get_no_gradient_and_grad_dtype_follows_input():
    x = tc.tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = tc.tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_broadcasting_is_an_expand_node_and_only_expand_sums():
    a = tc.tensor(np.ones((3, 1)), requires_grad=True)
    b = tc.tensor(np.ones(4), requires_grad=True)
    y = a * b
    assert y.grad_fn.name == "Mul"
    producers = [t.grad_fn.name for t in y.grad_fn.next_tensors]
    assert producers == ["Expand", "Expand"]              # both sides broadcast to (3, 4) first
    assert all(t.shape == (3, 4) for t in y.grad_fn.next_tensors)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full(4, 3.0))


def test_multi_output_function_gets_zeros_for_the_unused_output():
    seen = {}

    class Split(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, a * 3

        @staticmethod
        def backward(ctx, g2, g3):
            seen["g"] = (g2.copy(), g3.copy())
            return 2 * g2 + 3 * g3

    x = tc.tensor([1.0, 2.0], requires_grad=True)
    p, q = Split.apply(x)
    q.sum().backward()
    np.testing.assert_array_equal(seen["g"][0], [0.0, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    x.grad = None
    p, q = Split.apply(x)
    (p * 5 + q).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [13.0, 13.0])


# ---------------------------------------------------------------------------- deep chains
def _chain(n):
    x = tc.tensor(1.0, dtype=tc.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001
    return x, y


def test_10000_op_chain_backprops_iteratively():
    x, y = _chain(10_000)
    # with a recursion limit just above the current depth, any recursive traversal would fail
    depth = len(inspect.stack())
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 150)
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(old)
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)
    del x, y                                  # freeing a 10,000-deep chain must not crash either


def test_backward_time_grows_linearly_with_chain_length():
    def best_time(n):
        times = []
        for _ in range(3):
            _, y = _chain(n)
            t0 = time.perf_counter()
            y.backward()
            times.append(time.perf_counter() - t0)
        return min(times)

    small, large = best_time(5_000), best_time(20_000)
    # 4x the ops: linear gives a ratio near 4, quadratic near 16; the bound is generous
    assert large / small < 9, (small, large)


# -------------------------------------------------------------------------- shape checking
def test_engine_rejects_a_gradient_of_the_wrong_shape():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum(axis=0)

        @staticmethod
        def backward(ctx, g):
            return g                           # forgot to broadcast back to (2, 3)

    x = tc.ones(2, 3, requires_grad=True)
    with pytest.raises(tc.BackwardError) as e:
        BadShape.apply(x).sum().backward()
    msg = str(e.value)
    assert "BadShape" in msg and "(3,)" in msg and "(2, 3)" in msg and "input 0" in msg


def test_engine_rejects_wrong_number_of_gradients():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    class TooMany(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return 2 * g, g

    a, b = tc.ones(2, requires_grad=True), tc.ones(2, requires_grad=True)
    with pytest.raises(tc.BackwardError, match=r"TooFew\.backward returned 1 gradient\(s\).*2 positional"):
        TooFew.apply(a, b).sum().backward()
    with pytest.raises(tc.BackwardError, match=r"TooMany\.backward returned 2 gradient\(s\).*1 positional"):
        TooMany.apply(a).sum().backward()


def test_extra_none_gradients_are_allowed():
    class Extra(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return 2 * g, None

    a = tc.ones(2, requires_grad=True)
    Extra.apply(a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0])


# -------------------------------------------------------------------------------- freeing
def test_saved_arrays_are_freed_after_backward():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    w = tc.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    ctx = y.grad_fn
    assert len(ctx.saved) == 2 and any(s is not None for s in ctx.saved)
    y.sum().backward()
    assert ctx.saved == () and ctx.freed
    with pytest.raises(tc.BackwardError, match="retain_graph=True"):
        y.sum().backward()


def test_ctx_attributes_are_freed_too():
    x = tc.tensor(np.ones((2, 3)), requires_grad=True)
    y = x.sum(dim=1)
    ctx = y.grad_fn
    assert "in_shape" in vars(ctx)
    y.sum().backward()
    assert vars(ctx) == {}


def test_retain_graph_keeps_saved_arrays_and_doubles_grad():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    m = x * x
    y = m.sum()
    y.backward(retain_graph=True)
    assert m.grad_fn.saved != () and not m.grad_fn.freed
    first = x.grad.numpy().copy()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * first)
    y.backward()                               # the last pass may free
    np.testing.assert_array_equal(x.grad.numpy(), 3 * first)
    with pytest.raises(tc.BackwardError, match="second time"):
        y.backward()


def test_backward_on_a_leaf():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    x.backward(tc.tensor([0.5, 0.25]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.25])
    s = tc.tensor(3.0, requires_grad=True)
    s.backward()
    assert s.grad.item() == 1.0


# ------------------------------------------------------- random graphs against PyTorch
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LEAF_SHAPES = [(2, 3), (3,), (2, 1), ()]
GRAPH_UNARY = {
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "neg": lambda t: -t,
    "half": lambda t: t * 0.5,
    "sum_keep": lambda t: t.sum(-1, keepdim=True),
}
GRAPH_BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


@st.composite
def graph_programs(draw):
    n_leaves = draw(st.integers(1, 4))
    leaves = [draw(st.sampled_from(LEAF_SHAPES)) for _ in range(n_leaves)]
    steps = []
    for k in range(draw(st.integers(1, 15))):
        n = n_leaves + k                                 # nodes available so far (reuse allowed)
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(GRAPH_UNARY))), draw(st.integers(0, n - 1))))
        else:
            steps.append((draw(st.sampled_from(sorted(GRAPH_BINARY))),
                          draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))))
    outs = draw(st.lists(st.integers(0, n_leaves + len(steps) - 1), min_size=1, max_size=4))
    return leaves, steps, outs, draw(st.integers(0, 2 ** 32 - 1))


def run_program(program, make):
    leaves, steps, outs, _ = program
    nodes = list(make)
    for op, *args in steps:
        f = GRAPH_UNARY.get(op) or GRAPH_BINARY[op]
        nodes.append(f(*(nodes[i] for i in args)))
    total = None
    for w, i in enumerate(outs, start=1):                # a weighted sum of some nodes
        term = nodes[i].sum() * float(w)
        total = term if total is None else total + term
    return total


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(program=graph_programs())
def test_random_graphs_with_reuse_match_torch(program, torch):
    leaves, _, _, seed = program
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, s) for s in leaves]
    xs = [tc.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours, theirs = run_program(program, xs), run_program(program, ts)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12, atol=1e-12)
    ours.backward()
    theirs.backward()
    for x, t in zip(xs, ts):
        expected = t.grad.numpy() if t.grad is not None else np.zeros(x.shape)
        got = x.grad.numpy() if x.grad is not None else np.zeros(x.shape)
        scale = max(1.0, float(np.abs(expected).max(initial=0)))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * scale)
