"""Higher-order gradients: create_graph, tc.autograd.grad, gradgradcheck, autograd.functional.

Every backward rule is differentiable; these tests check second derivatives of every op family
against PyTorch in float64, Hessian-vector products of an MLP and of LeNet-5, a WGAN-GP step,
the API's options and its errors."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import gradcheck_suite, nn
from tinygrad_cnn.errors import BackwardError

RNG = np.random.default_rng(0)


def t64(a, requires_grad=True):
    return tc.tensor(np.asarray(a, np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------- the API
def test_the_issue_example():
    x = t64([1.0, 2.0])
    (g,) = tc.autograd.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    assert g.requires_grad and g.grad_fn is not None
    (h,) = tc.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])


def test_grad_does_not_touch_dot_grad_and_backward_create_graph_does():
    x = t64([0.5, -1.0])
    (g,) = tc.autograd.grad((x.tanh() * x).sum(), x)
    assert x.grad is None and not g.requires_grad
    (x.exp().sum()).backward(create_graph=True)
    assert x.grad.requires_grad                      # .grad keeps its graph, as in PyTorch
    first = x.grad
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, -1.0]))


def test_create_graph_implies_retain_graph():
    x = t64([1.0, 2.0])
    y = (x * x).sum()
    y.backward(create_graph=True)
    y.backward()                                      # the graph was kept
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_grad_outputs_for_non_scalar_outputs_and_several_outputs():
    x = t64([1.0, 2.0, 3.0])
    v = tc.tensor([1.0, 0.0, 2.0], dtype=tc.float64)
    (g,) = tc.autograd.grad(x * x, x, grad_outputs=v)
    np.testing.assert_allclose(g.numpy(), [2.0, 0.0, 12.0])
    a, b = tc.autograd.grad([x.sum(), (x * 2).sum()], [x, x])
    np.testing.assert_allclose(a.numpy(), [3.0, 3.0, 3.0])
    with pytest.raises(BackwardError, match="only be implied for a scalar"):
        tc.autograd.grad(x * x, x)


def test_allow_unused_and_the_error_that_names_the_input():
    x, unused = t64([1.0]), t64([2.0, 3.0])
    with pytest.raises(BackwardError, match=r"input 1 \(shape \(2,\)\) was not used"):
        tc.autograd.grad((x * 2).sum(), [x, unused])
    g, none = tc.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert none is None and g.tolist() == [2.0]
    _, zeros = tc.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    assert zeros.tolist() == [0.0, 0.0]


def test_grad_with_respect_to_an_intermediate_tensor():
    x = t64([1.0, 2.0])
    h = x * 3
    (gh,) = tc.autograd.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])


def test_backward_inputs_accumulates_only_into_them():
    x, w = t64([1.0, 2.0]), t64([3.0, 4.0])
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None and w.grad.tolist() == [1.0, 2.0]
    (x * w).sum().backward(inputs=[w])
    assert w.grad.tolist() == [2.0, 4.0]


def test_autograd_backward_with_several_roots():
    x = t64([1.0, 2.0])
    tc.autograd.backward([(x * x).sum(), x * 3], [None, tc.ones(2, dtype=tc.float64)])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])


def test_create_graph_through_a_freed_graph_raises():
    x = t64([1.0, 2.0])
    y = (x.exp()).sum()
    y.backward()
    with pytest.raises(BackwardError, match="second time"):
        tc.autograd.grad(y, x, create_graph=True)


class _CubeOnce(tc.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a ** 3

    @staticmethod
    @tc.autograd.once_differentiable
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        assert isinstance(a, np.ndarray) and isinstance(g, np.ndarray)   # arrays, always
        return 3 * a ** 2 * g


def test_once_differentiable_gives_first_derivatives_and_refuses_second():
    x = t64([1.0, 2.0])
    (g,) = tc.autograd.grad(_CubeOnce.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    with pytest.raises(BackwardError, match="_CubeOnce.backward is not differentiable"):
        tc.autograd.grad(g.sum(), x)


class _CubeWrongSecond(tc.autograd.Function):
    """Right first derivative, wrong second: the backward treats a as a constant."""
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a ** 3

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 3 * a.detach() ** 2 * g if isinstance(a, tc.Tensor) else 3 * a ** 2 * g


def test_gradgradcheck_accepts_right_and_rejects_wrong_double_backwards():
    x = t64(RNG.uniform(0.5, 1.5, (3,)))
    assert tc.gradcheck(_CubeWrongSecond.apply, (x,))           # first order is right
    assert tc.autograd.gradgradcheck(lambda a: a ** 3, (x,))
    assert not tc.autograd.gradgradcheck(_CubeWrongSecond.apply, (x,), raise_exception=False)
    with pytest.raises(tc.GradcheckError, match="input 0"):
        tc.autograd.gradgradcheck(_CubeWrongSecond.apply, (x,))


def test_a_user_function_written_with_numpy_calls_is_twice_differentiable():
    class Softsign(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a / (1 + np.abs(a))

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g / (1 + np.abs(a)) ** 2
    assert tc.autograd.gradgradcheck(Softsign.apply, (t64(RNG.uniform(0.2, 2, (4,))),))


def test_numpy_functions_on_tensors_are_recorded():
    x = t64([0.5, 1.5])
    y = np.sum(np.exp(x) * np.where(x > 1, x, 0.0))
    assert isinstance(y, tc.Tensor) and y.requires_grad
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, np.exp(1.5) * 2.5])
    with pytest.raises(TypeError, match="np.cumsum has no differentiable counterpart"):
        np.cumsum(x)
    assert np.cumsum(x.detach()).tolist() == [0.5, 2.0]


def test_the_backward_graph_can_be_drawn():
    x = t64([1.0, 2.0])
    (g,) = tc.autograd.grad((x.tanh() * x).sum(), x, create_graph=True)
    dot = tc.viz.to_dot(g)
    assert "Tanh" in dot and "Mul" in dot


# ---------------------------------------------------------- the registry, at second order
def _builtin_ops() -> list:
    """The registry's built-in ops (docs examples and tests register user ops too)."""
    return [n for n in gradcheck_suite.names()
            if gradcheck_suite.get(n).build.__module__.startswith("tinygrad_cnn")]


def test_gradgradcheck_registry_quick_grid_passes():
    rows = gradcheck_suite.check_all(_builtin_ops(), quick=True, order=2)
    failed = [(r.op, r.config, r.status, r.message[:300]) for r in rows if not r.passed]
    assert not failed, failed
    assert len({r.op for r in rows}) >= 60


@pytest.mark.slow
def test_gradgradcheck_registry_full_grid_passes():
    rows = gradcheck_suite.check_all(_builtin_ops(), order=2)
    failed = [(r.op, r.config, r.status, r.message[:300]) for r in rows if not r.passed]
    assert not failed, failed


# --------------------------------------------------------------- against PyTorch, float64
torch = pytest.importorskip("torch")
TF = torch.nn.functional

FAMILIES = {
    # name: (ours, torch's, input shapes)
    "elementwise": (lambda x: (x.tanh() * x.sigmoid() + (x * 0.5).exp() + (x * x + 1).log()) ** 1.5,
                    lambda x: (x.tanh() * x.sigmoid() + (x * 0.5).exp() + (x * x + 1).log()) ** 1.5, [(3, 4)]),
    "reductions": (lambda x: x.var(dim=1) * x.mean() + x.amax(dim=0).sum() + x.std(),
                   lambda x: x.var(dim=1) * x.mean() + x.amax(dim=0).sum() + x.std(), [(3, 5)]),
    "movement": (lambda x: tc.cat([x.permute(1, 0), x.T[1:]], 0).reshape(-1)[::2] ** 2,
                 lambda x: torch.cat([x.permute(1, 0), x.T[1:]], 0).reshape(-1)[::2] ** 2, [(3, 4)]),
    "pad_reflect": (lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect") ** 3,
                    lambda x: TF.pad(x, (2, 1, 1, 2), mode="reflect") ** 3, [(1, 2, 4, 5)]),
    "matmul_linear": (lambda x, w: F.linear(x @ w.T, w, None).tanh(),
                      lambda x, w: TF.linear(x @ w.T, w, None).tanh(), [(4, 3), (3, 3)]),
    "conv2d": (lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=1, groups=2).tanh(),
               lambda x, w: TF.conv2d(x, w, stride=2, padding=1, groups=2).tanh(), [(2, 4, 6, 6), (4, 2, 3, 3)]),
    "conv2d_dilated": (lambda x, w: F.conv2d(x, w, padding="same", dilation=2) ** 2,
                       lambda x, w: TF.conv2d(x, w, padding="same", dilation=2) ** 2, [(1, 2, 6, 6), (3, 2, 3, 3)]),
    "conv1d_conv3d": (lambda x, w: F.conv1d(x, w, stride=2).sigmoid().sum() * F.conv3d(x.reshape(1, 2, 2, 2, 2), w.reshape(3, 2, 1, 1, 3)[..., :2]).sum(),
                      lambda x, w: TF.conv1d(x, w, stride=2).sigmoid().sum() * TF.conv3d(x.reshape(1, 2, 2, 2, 2), w.reshape(3, 2, 1, 1, 3)[..., :2]).sum(),
                      [(1, 2, 8), (3, 2, 3)]),
    "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1).tanh(),
                         lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1).tanh(),
                         [(1, 2, 3, 3), (2, 3, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x * x, 3, stride=2, padding=1) ** 2,
                   lambda x: TF.max_pool2d(x * x, 3, stride=2, padding=1) ** 2, [(2, 2, 6, 6)]),
    "avg_pools": (lambda x: F.avg_pool2d(x * x, 2, padding=1, count_include_pad=False) ** 2 + F.adaptive_avg_pool2d(x, 3).sum() ** 2,
                  lambda x: TF.avg_pool2d(x * x, 2, padding=1, count_include_pad=False) ** 2 + TF.adaptive_avg_pool2d(x, 3).sum() ** 2,
                  [(1, 2, 5, 7)]),
    "interpolate": (lambda x: F.interpolate(x * x, size=(5, 7), mode="bilinear") ** 2,
                    lambda x: TF.interpolate(x * x, size=(5, 7), mode="bilinear") ** 2, [(1, 2, 3, 4)]),
    "norms": (lambda x: F.batch_norm(x, None, None, training=True) ** 3 + F.layer_norm(x, (3, 3)) ** 2 + F.group_norm(x, 2) * x,
              lambda x: TF.batch_norm(x, None, None, training=True) ** 3 + TF.layer_norm(x, (3, 3)) ** 2 + TF.group_norm(x, 2) * x,
              [(3, 4, 3, 3)]),
    "softmax": (lambda x: F.softmax(x, 1) * F.log_softmax(x * 2, 1),
                lambda x: TF.softmax(x, 1) * TF.log_softmax(x * 2, 1), [(3, 5)]),
    "activations": (lambda x: F.gelu(x) * F.silu(x) + F.elu(x) ** 2 + F.softplus(x * 3) + F.leaky_relu(x, 0.1) ** 2,
                    lambda x: TF.gelu(x) * TF.silu(x) + TF.elu(x) ** 2 + TF.softplus(x * 3) + TF.leaky_relu(x, 0.1) ** 2,
                    [(3, 4)]),
}


def _cross_entropy_case(which):
    target = np.array([1, 0, 4])
    weight = np.array([1.0, 2.0, 0.5, 1.0, 3.0])

    def ours(x):
        kw = dict(label_smoothing=0.1, weight=tc.tensor(weight)) if which == "ce" else {}
        if which == "nll":
            return F.nll_loss(F.log_softmax(x, 1), tc.tensor(target), reduction="sum")
        if which == "mse":
            return F.mse_loss(x.tanh(), tc.tensor(np.ones((3, 5))))
        return F.cross_entropy(x * x, tc.tensor(target), **kw)

    def theirs(x):
        kw = dict(label_smoothing=0.1, weight=torch.tensor(weight)) if which == "ce" else {}
        if which == "nll":
            return TF.nll_loss(TF.log_softmax(x, 1), torch.tensor(target), reduction="sum")
        if which == "mse":
            return TF.mse_loss(x.tanh(), torch.ones(3, 5, dtype=torch.float64))
        return TF.cross_entropy(x * x, torch.tensor(target), **kw)
    return ours, theirs, [(3, 5)]


for _which in ("ce", "nll", "mse"):
    FAMILIES[f"loss_{_which}"] = _cross_entropy_case(_which)


@pytest.mark.parametrize("family", FAMILIES)
def test_second_derivatives_match_torch(family):
    ours, theirs, shapes = FAMILIES[family]
    rng = np.random.default_rng(len(family))
    arrays = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    out_shape = theirs(*[torch.tensor(a) for a in arrays]).shape
    r = rng.standard_normal(tuple(out_shape))
    u = [rng.standard_normal(s) for s in shapes]

    xs = [t64(a) for a in arrays]
    f = (ours(*xs) * tc.tensor(r)).sum()
    gs = tc.autograd.grad(f, xs, create_graph=True)
    hvp = tc.autograd.grad(sum((g * tc.tensor(v)).sum() for g, v in zip(gs, u)), xs)

    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    tf_ = (theirs(*txs) * torch.tensor(r)).sum()
    tgs = torch.autograd.grad(tf_, txs, create_graph=True)
    thvp = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(tgs, u)), txs)
    for g, tg in zip(gs, tgs):
        np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-9, atol=1e-10)
    for h, th in zip(hvp, thvp):
        np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-8, atol=1e-9)


def _twin(ours_model, torch_model):
    with torch.no_grad():
        for (name, p), (_, tp) in zip(ours_model.named_parameters(), torch_model.named_parameters()):
            assert tuple(p.shape) == tuple(tp.shape), name
            tp.copy_(torch.tensor(p.numpy()))


def _hvp_params(model, loss_fn, vs):
    params = list(model.parameters())
    gs = tc.autograd.grad(loss_fn(), params, create_graph=True)
    return tc.autograd.grad(sum((g * v).sum() for g, v in zip(gs, vs)), params)


@pytest.mark.parametrize("which", ["mlp", "lenet5"])
def test_hessian_vector_product_of_a_model_wrt_its_parameters_matches_torch(which):
    tc.manual_seed(1)
    if which == "mlp":
        ours = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()
        theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
        x = RNG.standard_normal((5, 6))
    else:
        ours = tc.models.LeNet5().double()
        theirs = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
            torch.nn.Linear(256, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
            torch.nn.Linear(84, 10)).double()
        x = RNG.standard_normal((2, 1, 28, 28))
    _twin(ours, theirs)
    y = np.array([0, 2, 1, 1, 0][:x.shape[0]])
    vs = [RNG.standard_normal(p.shape) for p in ours.parameters()]
    hv = _hvp_params(ours, lambda: F.cross_entropy(ours(tc.tensor(x)), tc.tensor(y)),
                     [tc.tensor(v) for v in vs])
    tparams = list(theirs.parameters())
    tl = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    tgs = torch.autograd.grad(tl, tparams, create_graph=True)
    thv = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(tgs, vs)), tparams)
    for h, th in zip(hv, thv):
        np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-7, atol=1e-10)


def test_wgan_gp_critic_step_matches_torch():
    """A gradient penalty through Conv2d / LeakyReLU / MaxPool2d / Linear: the penalty and every
    critic parameter's gradient equal PyTorch's."""
    tc.manual_seed(2)
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(),
                         nn.Linear(8 * 2 * 2, 1)).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.LeakyReLU(0.2),
                                 torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 8, 3, stride=2, padding=1),
                                 torch.nn.LeakyReLU(0.2), torch.nn.Flatten(),
                                 torch.nn.Linear(8 * 2 * 2, 1)).double()
    _twin(ours, theirs)
    real, fake = RNG.standard_normal((3, 1, 8, 8)), RNG.standard_normal((3, 1, 8, 8))
    alpha = RNG.uniform(size=(3, 1, 1, 1))
    mix = alpha * real + (1 - alpha) * fake

    xi = tc.tensor(mix).requires_grad_()
    (gx,) = tc.autograd.grad(ours(xi).sum(), xi, create_graph=True)
    penalty = ((gx.flatten(1).norm(dim=1) - 1) ** 2).mean()
    loss = ours(tc.tensor(fake)).mean() - ours(tc.tensor(real)).mean() + 10 * penalty
    loss.backward()

    txi = torch.tensor(mix, requires_grad=True)
    (tgx,) = torch.autograd.grad(theirs(txi).sum(), txi, create_graph=True)
    tpen = ((tgx.flatten(1).norm(dim=1) - 1) ** 2).mean()
    tloss = theirs(torch.tensor(fake)).mean() - theirs(torch.tensor(real)).mean() + 10 * tpen
    tloss.backward()
    np.testing.assert_allclose(penalty.item(), tpen.item(), rtol=1e-10)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-8, atol=1e-11, err_msg=name)


# ----------------------------------------------------------------- autograd.functional
def _f(x, y):
    return (x.tanh() * y).sum() + (x * x * y).sum() ** 2


def test_functional_api_matches_torch():
    AF = tc.autograd.functional
    TAF = torch.autograd.functional
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    v = RNG.standard_normal(3)
    ours_in, torch_in = (t64(x, False), t64(y, False)), (torch.tensor(x), torch.tensor(y))
    H, TH = AF.hessian(_f, ours_in), TAF.hessian(_f, torch_in)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(H[i][j].numpy(), TH[i][j].numpy(), rtol=1e-10, atol=1e-12)
    J, TJ = AF.jacobian(lambda a: a.tanh() * a, ours_in[0]), TAF.jacobian(lambda a: a.tanh() * a, torch_in[0])
    np.testing.assert_allclose(J.numpy(), TJ.numpy(), rtol=1e-12)
    vt = (t64(v, False), t64(v, False))
    for name in ("vjp", "jvp"):
        fn = lambda a: a.tanh() * a.exp()  # noqa: E731
        out, prod = getattr(AF, name)(fn, ours_in[0], vt[0])
        tout, tprod = getattr(TAF, name)(fn, torch_in[0], torch.tensor(v))
        np.testing.assert_allclose(prod.numpy(), tprod.numpy(), rtol=1e-10, err_msg=name)
    for name in ("hvp", "vhp"):
        _, prod = getattr(AF, name)(_f, ours_in, vt)
        _, tprod = getattr(TAF, name)(_f, torch_in, (torch.tensor(v), torch.tensor(v)))
        for p, tp in zip(prod, tprod):
            np.testing.assert_allclose(p.numpy(), tp.numpy(), rtol=1e-10, err_msg=name)


def test_gradient_penalty_through_a_checkpointed_block_equals_the_plain_one():
    from tinygrad_cnn.utils.checkpoint import checkpoint
    tc.manual_seed(3)
    block = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 16, 1)).double()
    x0 = RNG.standard_normal((2, 1, 4, 4))
    grads = []
    for use_checkpoint in (False, True):
        block.zero_grad()
        x = tc.tensor(x0).requires_grad_()
        out = checkpoint(block, x, use_reentrant=False) if use_checkpoint else block(x)
        (gx,) = tc.autograd.grad(out.sum(), x, create_graph=True)
        (gx * gx).sum().backward()
        grads.append([None if p.grad is None else p.grad.numpy().copy() for p in block.parameters()])
    assert [g is None for g in grads[0]] == [False, False, False, True]   # fc bias: no x-gradient
    for a, b in zip(*grads):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
