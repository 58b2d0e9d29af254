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
    ("LinearLR", dict(start_factor=0.25, total_iters=6)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    ("OneCycleLR", dict(max_lr=[0.5, 0.1], total_steps=25)),
    ("OneCycleLR", dict(max_lr=0.3, epochs=5, steps_per_epoch=6, anneal_strategy="linear",
                        three_phase=True, pct_start=0.4, div_factor=10.0)),
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


@pytest.mark.parametrize("opt_name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.1))])
def test_one_cycle_cycles_momentum_like_torch(torch, opt_name, kwargs):
    p, tp = nn.Parameter(tc.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt_o, opt_t = getattr(optim, opt_name)([p], **kwargs), getattr(torch.optim, opt_name)([tp], **kwargs)
    sch_o = S.OneCycleLR(opt_o, max_lr=1.0, total_steps=12, base_momentum=0.8, max_momentum=0.9)
    sch_t = torch.optim.lr_scheduler.OneCycleLR(opt_t, max_lr=1.0, total_steps=12, base_momentum=0.8, max_momentum=0.9)
    key = "momentum" if opt_name == "SGD" else "betas"
    for step in range(12):
        assert sch_o.get_last_lr() == pytest.approx(sch_t.get_last_lr(), rel=1e-12), step
        assert opt_o.param_groups[0][key] == pytest.approx(opt_t.param_groups[0][key], rel=1e-12), step
        opt_o.step(), opt_t.step(), sch_o.step(), sch_t.step()
    with pytest.raises(ValueError, match="total_steps is 12"):
        sch_o.step()


def _sequential(lib, opt):
    warm = lib.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4)
    decay = lib.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    cos = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    return lib.optim.lr_scheduler.SequentialLR(opt, [warm, decay, cos], milestones=[4, 10])


def test_sequential_lr_matches_torch_and_resumes(torch, tmp_path):
    opt_o, _, opt_t, _ = _pair(torch, "StepLR", dict(step_size=100))
    sch_o, sch_t = _sequential(tc, opt_o), _sequential(torch, opt_t)
    for epoch in range(18):
        assert sch_o.get_last_lr() == pytest.approx(sch_t.get_last_lr(), rel=1e-12), epoch
        assert [g["lr"] for g in opt_o.param_groups] == pytest.approx([g["lr"] for g in opt_t.param_groups], rel=1e-12)
        opt_o.step(), opt_t.step(), sch_o.step(), sch_t.step()
        if epoch == 7:                                       # checkpoint mid-way, resume in a fresh pair
            tc.save({"optimizer": opt_o.state_dict(), "scheduler": sch_o.state_dict()}, tmp_path / "q.npz")
            ck = tc.load(tmp_path / "q.npz")
            opt_o, _, _, _ = _pair(torch, "StepLR", dict(step_size=100))
            sch_o = _sequential(tc, opt_o)
            opt_o.load_state_dict(ck["optimizer"])
            sch_o.load_state_dict(ck["scheduler"])


PLATEAU_CASES = [dict(), dict(mode="max", factor=0.5, patience=2), dict(patience=1, cooldown=2, min_lr=0.004),
                 dict(threshold=0.05, threshold_mode="abs", patience=0, min_lr=[0.01, 0.001]),
                 dict(mode="max", threshold_mode="abs", threshold=0.1, patience=1, factor=0.3, eps=1e-3)]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES)
def test_reduce_lr_on_plateau_matches_torch(torch, tmp_path, kwargs):
    opt_o, _, opt_t, _ = _pair(torch, "StepLR", dict(step_size=100))
    sch_o = S.ReduceLROnPlateau(opt_o, **kwargs)
    sch_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.89, 0.9, 0.9, 0.9, 0.91, 0.92, 0.5, 0.5, 0.5, 0.6, 0.7,
               0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    for epoch, m in enumerate(metrics):
        opt_o.step(), opt_t.step()
        sch_o.step(tc.tensor(m)), sch_t.step(torch.tensor(m))
        assert sch_o.get_last_lr() == pytest.approx(sch_t.get_last_lr(), rel=1e-12), epoch
        assert (sch_o.num_bad_epochs, sch_o.cooldown_counter, sch_o.best) == \
            (sch_t.num_bad_epochs, sch_t.cooldown_counter, sch_t.best), epoch
        if epoch == 12:
            tc.save({"scheduler": sch_o.state_dict()}, tmp_path / "p.npz")
            sch_o = S.ReduceLROnPlateau(opt_o, **kwargs)
            sch_o.load_state_dict(tc.load(tmp_path / "p.npz")["scheduler"])
    assert sch_o.get_last_lr() != [0.1, 0.02]                  # the schedule did reduce


def test_new_schedulers_reject_bad_arguments():
    opt = optim.SGD([nn.Parameter(tc.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="total_steps or both epochs"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="cycle_momentum"):
        S.OneCycleLR(optim.Adagrad([nn.Parameter(tc.zeros(1))]), max_lr=1.0, total_steps=3)
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=2.0)
    with pytest.raises(ValueError, match="metrics must be a number"):
        S.ReduceLROnPlateau(opt).step("loss")
    with pytest.raises(ValueError, match="one milestone fewer"):
        S.SequentialLR(opt, [S.StepLR(opt, 1), S.StepLR(opt, 2)], milestones=[])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [S.StepLR(opt, 1), S.ReduceLROnPlateau(opt)], milestones=[2])
