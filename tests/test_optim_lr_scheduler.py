"""Learning-rate schedules against torch.optim.lr_scheduler, epoch by epoch, and their state
dicts through a checkpoint."""
import warnings

import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim
from tinygrad_cnn.optim import lr_scheduler as S

CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.7)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),      # runs past T_max: the restart branch
]


def _pair(torch, name, kwargs, lrs=(0.1, 0.02)):
    ours_p = [nn.Parameter(tc.zeros(1)), nn.Parameter(tc.zeros(1))]
    theirs_p = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    opt_o = optim.SGD([{"params": [ours_p[0]], "lr": lrs[0]}, {"params": [ours_p[1]], "lr": lrs[1]}], lr=1.0)
    opt_t = torch.optim.SGD([{"params": [theirs_p[0]], "lr": lrs[0]}, {"params": [theirs_p[1]], "lr": lrs[1]}], lr=1.0)
    return opt_o, getattr(S, name)(opt_o, **kwargs), opt_t, getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_schedule_matches_torch(torch, name, kwargs):
    opt_o, sch_o, opt_t, sch_t = _pair(torch, name, kwargs)
    for epoch in range(25):
        assert sch_o.get_last_lr() == pytest.approx(sch_t.get_last_lr(), rel=1e-12, abs=1e-15), epoch
        assert [g["lr"] for g in opt_o.param_groups] == pytest.approx([g["lr"] for g in opt_t.param_groups])
        opt_o.step()
        opt_t.step()
        sch_o.step()
        sch_t.step()


def test_lambda_lr_matches_torch(torch):
    fn = lambda e: 1.0 / (1 + e)                              # noqa: E731
    opt_o, sch_o, opt_t, sch_t = _pair(torch, "LambdaLR", dict(lr_lambda=fn))
    for _ in range(6):
        assert sch_o.get_last_lr() == pytest.approx(sch_t.get_last_lr())
        opt_o.step(), opt_t.step(), sch_o.step(), sch_t.step()


@pytest.mark.parametrize("name,kwargs", CASES)
def test_scheduler_state_dict_resume(torch, tmp_path, name, kwargs):
    """Save optimizer + scheduler after 8 epochs, rebuild both, load, continue: same lrs as an
    uninterrupted torch run."""
    opt_o, sch_o, opt_t, sch_t = _pair(torch, name, kwargs)
    for _ in range(8):
        opt_o.step(), opt_t.step(), sch_o.step(), sch_t.step()
    tc.save({"optimizer": opt_o.state_dict(), "scheduler": sch_o.state_dict()}, tmp_path / "s.npz")
    ck = tc.load(tmp_path / "s.npz")
    opt2, sch2, _, _ = _pair(torch, name, kwargs)
    opt2.load_state_dict(ck["optimizer"])
    sch2.load_state_dict(ck["scheduler"])
    for epoch in range(12):
        assert sch2.get_last_lr() == pytest.approx(sch_t.get_last_lr(), rel=1e-12), epoch
        assert [g["lr"] for g in opt2.param_groups] == pytest.approx([g["lr"] for g in opt_t.param_groups])
        opt2.step(), opt_t.step(), sch2.step(), sch_t.step()


def test_closed_form_with_explicit_epoch(torch):
    opt_o, sch_o, opt_t, sch_t = _pair(torch, "StepLR", dict(step_size=2, gamma=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch_t.step(7)
    sch_o.step(7)
    assert sch_o.get_last_lr() == pytest.approx(sch_t.get_last_lr())


def test_scheduler_needs_an_optimizer_and_initial_lr():
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), step_size=1)
    opt = optim.SGD([nn.Parameter(tc.zeros(1))], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(opt, step_size=1, last_epoch=3)
