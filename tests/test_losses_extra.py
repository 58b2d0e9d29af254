"""l1/smooth_l1/huber/binary_cross_entropy(_with_logits)/kl_div and their modules: PyTorch
comparison in float64 over every option (values and both inputs' gradients), gradcheck,
stability, errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

RNG = np.random.default_rng(77)
TOL = dict(rtol=1e-12, atol=1e-13)
# torch warns that kl_div's reduction='mean' is not the KL divergence; we test it on purpose
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")


def _compare(torch, ours, theirs, x, y, target_grad=True):
    X, Y = tc.tensor(x, requires_grad=True), tc.tensor(y, requires_grad=target_grad)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=target_grad)
    out, tout = ours(X, Y), theirs(tx, ty)
    assert out.shape == tuple(tout.shape) and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), **TOL)
    g = RNG.standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), **TOL)
    if target_grad:
        np.testing.assert_allclose(Y.grad.numpy(), ty.grad.numpy(), **TOL)


REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(6,), (4, 5), (2, 3, 4)]


@pytest.mark.parametrize("reduction, shape", list(itertools.product(REDUCTIONS, SHAPES)))
def test_l1_matches_torch(torch, reduction, shape):
    x, y = RNG.standard_normal(shape), RNG.standard_normal(shape)
    y.flat[0] = x.flat[0]                             # a zero difference: sign(0) = 0 in both
    _compare(torch, lambda a, b: F.l1_loss(a, b, reduction=reduction),
             lambda a, b: torch.nn.functional.l1_loss(a, b, reduction=reduction), x, y)


@pytest.mark.parametrize("reduction, beta", list(itertools.product(REDUCTIONS, [1.0, 0.3, 0.0, 2.5])))
def test_smooth_l1_matches_torch(torch, reduction, beta):
    x, y = RNG.standard_normal((5, 4)) * 2, RNG.standard_normal((5, 4))
    _compare(torch, lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
             lambda a, b: torch.nn.functional.smooth_l1_loss(a, b, reduction=reduction, beta=beta), x, y)
    module, tmodule = nn.SmoothL1Loss(reduction=reduction, beta=beta), torch.nn.SmoothL1Loss(reduction=reduction, beta=beta)
    _compare(torch, module, tmodule, x, y)


@pytest.mark.parametrize("reduction, delta", list(itertools.product(REDUCTIONS, [1.0, 0.4, 3.0])))
def test_huber_matches_torch(torch, reduction, delta):
    x, y = RNG.standard_normal((5, 4)) * 2, RNG.standard_normal((5, 4))
    _compare(torch, nn.HuberLoss(reduction=reduction, delta=delta),
             torch.nn.HuberLoss(reduction=reduction, delta=delta), x, y)


@pytest.mark.parametrize("reduction, weighted, shape", list(itertools.product(REDUCTIONS, [False, True], SHAPES)))
def test_bce_matches_torch(torch, reduction, weighted, shape):
    x = RNG.uniform(0.02, 0.98, shape)
    y = RNG.uniform(0, 1, shape)
    w = RNG.uniform(0.5, 2, shape[-1:]) if weighted else None
    _compare(torch, nn.BCELoss(weight=None if w is None else tc.tensor(w), reduction=reduction),
             torch.nn.BCELoss(weight=None if w is None else torch.tensor(w), reduction=reduction), x, y)


def test_bce_clamps_logs_at_minus_100_like_torch(torch):
    x = np.array([0.0, 1.0, 0.5, 1e-50])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    ours = F.binary_cross_entropy(tc.tensor(x), tc.tensor(y), reduction="none").numpy()
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(y), reduction="none")
    np.testing.assert_allclose(ours, theirs.numpy(), **TOL)
    assert ours[0] == 100 and ours[1] == 100


@pytest.mark.parametrize("reduction, weighted, pos, shape",
                         list(itertools.product(REDUCTIONS, [False, True], [False, True], [(4, 3), (2, 3, 5)])))
def test_bce_with_logits_matches_torch(torch, reduction, weighted, pos, shape):
    x = RNG.standard_normal(shape) * 4
    y = (RNG.random(shape) > 0.5).astype(np.float64)
    y.flat[0] = 0.3                                    # soft targets too
    w = RNG.uniform(0.5, 2, shape[-1:]) if weighted else None
    p = RNG.uniform(0.5, 3, shape[-1:]) if pos else None
    mk = lambda lib, v: None if v is None else lib.tensor(v)  # noqa: E731
    _compare(torch, nn.BCEWithLogitsLoss(weight=mk(tc, w), reduction=reduction, pos_weight=mk(tc, p)),
             torch.nn.BCEWithLogitsLoss(weight=mk(torch, w), reduction=reduction, pos_weight=mk(torch, p)), x, y)


def test_bce_with_logits_is_finite_at_huge_logits(torch):
    x = np.array([-1000.0, 1000.0, -800.0, 800.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    _compare(torch, lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
             lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, reduction="none"), x, y)


@pytest.mark.parametrize("reduction, log_target", list(itertools.product(REDUCTIONS + ["batchmean"], [False, True])))
def test_kl_div_matches_torch(torch, reduction, log_target):
    logits = RNG.standard_normal((4, 5))
    x = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    q = RNG.random((4, 5)) + 0.1
    q /= q.sum(1, keepdims=True)
    y = np.log(q) if log_target else q
    _compare(torch, nn.KLDivLoss(reduction=reduction, log_target=log_target),
             torch.nn.KLDivLoss(reduction=reduction, log_target=log_target), x, y)


def test_kl_div_zero_target_contributes_zero(torch):
    x, y = np.log(np.array([[0.5, 0.25, 0.25]])), np.array([[0.0, 0.5, 0.5]])
    _compare(torch, lambda a, b: F.kl_div(a, b, reduction="sum"),
             lambda a, b: torch.nn.functional.kl_div(a, b, reduction="sum"), x, y, target_grad=False)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       name=st.sampled_from(["l1", "smooth_l1", "huber", "bce", "bce_logits", "kl"]))
def test_losses_match_torch_on_any_shape(shape, name):
    torch = pytest.importorskip("torch")
    shape = tuple(shape)
    x, y = RNG.standard_normal(shape), RNG.random(shape)
    ours, theirs = {
        "l1": (F.l1_loss, torch.nn.functional.l1_loss),
        "smooth_l1": (F.smooth_l1_loss, torch.nn.functional.smooth_l1_loss),
        "huber": (F.huber_loss, torch.nn.functional.huber_loss),
        "bce": (F.binary_cross_entropy, torch.nn.functional.binary_cross_entropy),
        "bce_logits": (F.binary_cross_entropy_with_logits, torch.nn.functional.binary_cross_entropy_with_logits),
        "kl": (F.kl_div, torch.nn.functional.kl_div),
    }[name]
    if name == "bce":
        x = 1 / (1 + np.exp(-x))
    _compare(torch, ours, theirs, x, y + 0.01)


@pytest.mark.parametrize("name", ["l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits", "kl_div"])
def test_losses_pass_gradcheck_suite(name):
    for cfg in tc.gradcheck_suite.get(name).configs():
        assert tc.gradcheck_suite.check(name, cfg).passed, (name, cfg)


def test_loss_errors_name_the_argument():
    x = tc.rand(3, 4, dtype=tc.float64)
    with pytest.raises(tc.ShapeError, match="target shape"):
        F.l1_loss(x, tc.rand(4, 3, dtype=tc.float64))
    with pytest.raises(tc.ArgumentError, match="delta"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(tc.ArgumentError, match="beta"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(tc.ArgumentError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(x * 3 - 1, x)
    with pytest.raises(tc.ShapeError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=tc.ones(3, dtype=tc.float64))
    with pytest.raises(tc.ArgumentError, match="batchmean"):
        F.kl_div(x, x, reduction="batch")
    with pytest.raises(tc.ArgumentError, match="reduction"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(tc.ArgumentError, match="weight requires grad"):
        F.binary_cross_entropy(x, x, weight=tc.ones(4, dtype=tc.float64, requires_grad=True))
    with pytest.raises(tc.ArgumentError, match="size_average"):
        nn.BCELoss(size_average=True)
