"""Optimizers against torch.optim: 20-step trajectories on the same model and data for many
hyperparameter combinations (float64: to 1e-10; float32: to float tolerance), parameter groups,
state dicts (ours round-tripped through tc.save, and torch's loaded into ours), in-place and
allocation-free updates."""
import tracemalloc

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim


def _arrays(dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(6, 4), (6,), (3, 6), (3,)]
    params = [rng.standard_normal(s).astype(dtype) * 0.5 for s in shapes]
    x = rng.standard_normal((16, 4)).astype(dtype)
    y = rng.standard_normal((16, 3)).astype(dtype)
    return params, x, y


def _loss(ps, x, y, lib):
    w1, b1, w2, b2 = ps
    h = (x @ w1.T + b1).tanh()
    return ((h @ w2.T + b2 - y) ** 2).mean()


def _run(torch, ours_cls, torch_cls, kwargs, dtype, steps=20, groups=None):
    arrays, x, y = _arrays(dtype)
    ours = [nn.Parameter(tc.tensor(a)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    if groups:
        opt_o = ours_cls([{"params": ours[:2], **groups[0]}, {"params": ours[2:], **groups[1]}], **kwargs)
        opt_t = torch_cls([{"params": theirs[:2], **groups[0]}, {"params": theirs[2:], **groups[1]}], **kwargs)
    else:
        opt_o, opt_t = ours_cls(ours, **kwargs), torch_cls(theirs, **kwargs)
    xo, yo, xt, yt = tc.tensor(x), tc.tensor(y), torch.tensor(x), torch.tensor(y)
    trajectory = []
    for _ in range(steps):
        opt_o.zero_grad()
        lo = _loss(ours, xo, yo, tc)
        lo.backward()
        opt_o.step()
        opt_t.zero_grad()
        lt = _loss(theirs, xt, yt, torch)
        lt.backward()
        opt_t.step()
        trajectory.append((lo.item(), lt.item(), [p.numpy().copy() for p in ours],
                           [p.detach().numpy().copy() for p in theirs]))
    return trajectory, opt_o, opt_t


SGD_CASES = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
             dict(lr=0.05, momentum=0.9, nesterov=True), dict(lr=0.1, momentum=0.5, weight_decay=0.01),
             dict(lr=0.02, weight_decay=0.1, maximize=True),
             dict(lr=0.02, momentum=0.8, weight_decay=0.05, nesterov=True, maximize=True)]
ADAM_CASES = [dict(lr=0.01), dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6), dict(lr=0.01, weight_decay=0.1),
              dict(lr=0.01, amsgrad=True), dict(lr=0.01, betas=(0.3, 0.9)), dict(lr=0.005, maximize=True),
              dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True)]
ADAMW_CASES = [dict(lr=0.01), dict(lr=0.01, weight_decay=0.1, amsgrad=True), dict(lr=0.02, betas=(0.5, 0.9))]
RMSPROP_CASES = [dict(), dict(lr=0.005, alpha=0.9, eps=1e-6), dict(lr=0.01, momentum=0.9),
                 dict(lr=0.01, centered=True), dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1),
                 dict(lr=0.01, alpha=0.3, maximize=True), dict(lr=0.01, momentum=0.8, centered=True, maximize=True)]
ADAGRAD_CASES = [dict(), dict(lr=0.1), dict(lr=0.1, lr_decay=0.05), dict(lr=0.05, initial_accumulator_value=0.3),
                 dict(lr=0.1, weight_decay=0.1, eps=1e-6), dict(lr=0.05, maximize=True, lr_decay=0.01, weight_decay=0.02)]
ADADELTA_CASES = [dict(), dict(lr=0.5, rho=0.5), dict(rho=0.95, eps=1e-4), dict(lr=2.0, weight_decay=0.1),
                  dict(lr=1.0, maximize=True), dict(lr=0.5, rho=0.8, weight_decay=0.05, maximize=True)]


def _cases():
    for kw in SGD_CASES:
        yield pytest.param("SGD", kw, id=f"SGD-{kw}")
    for kw in ADAM_CASES:
        yield pytest.param("Adam", kw, id=f"Adam-{kw}")
    for kw in ADAMW_CASES:
        yield pytest.param("AdamW", kw, id=f"AdamW-{kw}")
    for name, cases in (("RMSprop", RMSPROP_CASES), ("Adagrad", ADAGRAD_CASES), ("Adadelta", ADADELTA_CASES)):
        for kw in cases:
            yield pytest.param(name, kw, id=f"{name}-{kw}")


@pytest.mark.parametrize("name,kwargs", list(_cases()))
def test_trajectory_matches_torch_float64(torch, name, kwargs):
    traj, _, _ = _run(torch, getattr(optim, name), getattr(torch.optim, name), kwargs, np.float64)
    for lo, lt, po, pt in traj:
        assert lo == pytest.approx(lt, rel=1e-10, abs=1e-12)
        for a, b in zip(po, pt):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert traj[0][2][0].dtype == np.float64


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
                                         ("Adam", dict(lr=0.01)), ("AdamW", dict(lr=0.01, amsgrad=True)),
                                         ("RMSprop", dict(momentum=0.9, centered=True)),
                                         ("Adagrad", dict(lr=0.1)), ("Adadelta", dict())])
def test_trajectory_matches_torch_float32(torch, name, kwargs):
    traj, _, _ = _run(torch, getattr(optim, name), getattr(torch.optim, name), kwargs, np.float32)
    for lo, lt, po, pt in traj:
        assert lo == pytest.approx(lt, rel=1e-5)
        for a, b in zip(po, pt):
            assert a.dtype == np.float32
            # float32 rounding of the two peers' matmuls differs with the CPU's BLAS kernels and
            # 20 steps amplify it (centered RMSprop's sqrt(v - m²) most: 9e-5 relative seen on
            # an AVX-512 machine); the float64 test above is the exact comparison
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("name,kwargs,groups", [
    ("SGD", dict(lr=0.1, momentum=0.9), [dict(lr=0.01), dict(momentum=0.5, weight_decay=0.1)]),
    ("Adam", dict(lr=0.01), [dict(betas=(0.5, 0.9)), dict(lr=0.05, amsgrad=True)]),
])
def test_param_groups_match_torch(torch, name, kwargs, groups):
    traj, opt_o, opt_t = _run(torch, getattr(optim, name), getattr(torch.optim, name), kwargs,
                              np.float64, steps=10, groups=groups)
    for _, _, po, pt in traj:
        for a, b in zip(po, pt):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for go, gt in zip(opt_o.param_groups, opt_t.param_groups):
        for k, v in go.items():
            if k != "params":
                assert gt[k] == v, k


def _train(opt, params, x, y, steps):
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = _loss(params, x, y, tc)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
                                  lambda ps: optim.AdamW(ps, lr=0.01),
                                  lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True),
                                  lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
                                  lambda ps: optim.Adadelta(ps)])
def test_state_dict_resume_through_checkpoint_is_exact(tmp_path, make):
    arrays, x, y = _arrays(np.float64)
    x, y = tc.tensor(x), tc.tensor(y)
    full = [nn.Parameter(tc.tensor(a)) for a in arrays]
    reference = _train(make(full), full, x, y, 20)

    first = [nn.Parameter(tc.tensor(a)) for a in arrays]
    opt = make(first)
    head = _train(opt, first, x, y, 10)
    tc.save({"params": [p.detach() for p in first], "optimizer": opt.state_dict(), "step": 10},
            tmp_path / "ckpt.npz")
    ck = tc.load(tmp_path / "ckpt.npz")
    resumed = [nn.Parameter(t) for t in ck["params"]]
    opt2 = make(resumed)
    opt2.load_state_dict(ck["optimizer"])
    tail = _train(opt2, resumed, x, y, 10)
    assert head + tail == reference                        # bit-for-bit
    for p, q in zip(resumed, full):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize("name,kwargs", [("Adam", dict(lr=0.01, amsgrad=True)),
                                         ("RMSprop", dict(momentum=0.9, centered=True)),
                                         ("Adagrad", dict()), ("Adadelta", dict())])
def test_state_dict_layout_matches_torch(torch, name, kwargs):
    _, opt_o, opt_t = _run(torch, getattr(optim, name), getattr(torch.optim, name), kwargs, np.float64, steps=2)
    so, st = opt_o.state_dict(), opt_t.state_dict()
    assert set(so["state"]) == set(st["state"]) == {0, 1, 2, 3}
    assert set(so["state"][0]) == set(st["state"][0])
    assert so["param_groups"][0]["params"] == st["param_groups"][0]["params"]
    assert set(so["param_groups"][0]) <= set(st["param_groups"][0])


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9)),
                                         ("Adam", dict(lr=0.01, amsgrad=True)),
                                         ("RMSprop", dict(momentum=0.9, centered=True)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.01)), ("Adadelta", dict())])
def test_loads_torch_optimizer_state(torch, name, kwargs):
    """Torch trains 5 steps; its params and optimizer state move into ours; both continue."""
    arrays, x, y = _arrays(np.float64)
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    opt_t = getattr(torch.optim, name)(theirs, **kwargs)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(5):
        opt_t.zero_grad()
        _loss(theirs, xt, yt, torch).backward()
        opt_t.step()
    ours = [nn.Parameter(tc.tensor(p.detach().numpy())) for p in theirs]
    opt_o = getattr(optim, name)(ours, **kwargs)
    opt_o.load_state_dict(opt_t.state_dict())
    xo, yo = tc.tensor(x), tc.tensor(y)
    for _ in range(5):
        for opt, ps, a, b in ((opt_t, theirs, xt, yt), (opt_o, ours, xo, yo)):
            opt.zero_grad()
            _loss(ps, a, b, None).backward()
            opt.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_load_state_dict_rejects_mismatched_groups():
    a = [nn.Parameter(tc.zeros(2)), nn.Parameter(tc.zeros(3))]
    sd = optim.SGD(a, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="group 0 with 2 parameters"):
        optim.SGD(a[:1], lr=0.1).load_state_dict(sd)


def test_updates_in_place_bump_version_and_skip_params_without_grad():
    p, q = nn.Parameter(tc.ones(3)), nn.Parameter(tc.ones(3))
    opt = optim.SGD([p, q], lr=0.5, momentum=0.9)
    arr, v = p.numpy(), p._version
    (p * p).sum().backward()
    opt.step()
    assert p.numpy() is arr and p._version == v + 1
    np.testing.assert_allclose(p.numpy(), 0.0)                  # 1 - 0.5·2
    np.testing.assert_array_equal(q.numpy(), 1.0)               # no grad: untouched, no state
    assert q not in opt.state


def test_step_after_warmup_allocates_nothing_proportional_to_params():
    model = nn.Sequential(nn.Linear(256, 512), nn.Linear(512, 256))
    params = list(model.parameters())
    nbytes = sum(p.numpy().nbytes for p in params)              # ~2 MB
    for opt in (optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True),
                optim.Adam(params, lr=1e-3, weight_decay=1e-4)):
        for p in params:
            p.grad = tc.randn(*p.shape)
        opt.step()
        opt.step()
        tracemalloc.start()
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 0.02 * nbytes, (type(opt).__name__, peak, nbytes)


def test_zero_grad_and_errors():
    p = nn.Parameter(tc.ones(2))
    opt = optim.Adam([p])
    (p * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), 0)
    opt.zero_grad()
    assert p.grad is None
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam([p], lr=-1)


def test_closure_is_called_with_grad_enabled():
    p = nn.Parameter(tc.ones(2))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == 2.0
    np.testing.assert_allclose(p.numpy(), 0.8)


@pytest.mark.parametrize("make, match", [
    (lambda ps: optim.RMSprop(ps, lr=-1), "lr"), (lambda ps: optim.RMSprop(ps, momentum=-0.1), "momentum"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1), "lr_decay"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda ps: optim.Adadelta(ps, rho=1.5), "rho"), (lambda ps: optim.Adadelta(ps, eps="x"), "eps")])
def test_new_optimizers_reject_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make([nn.Parameter(tc.zeros(2))])


def test_optimizer_state_reads_as_tensors_sharing_memory(torch):
    """`optimizer.state[p][name]` is a Tensor (as in torch), updated in place by step(); the
    resume loop that moves each state tensor `.to(device)` runs and keeps training right."""
    p = nn.Parameter(tc.tensor([1.0, -2.0], dtype=tc.float64))
    q = nn.Parameter(tc.tensor([0.5], dtype=tc.float64))
    opt = optim.SGD([p, q], lr=0.1, momentum=0.9)
    assert p not in opt.state and len(opt.state) == 0
    assert dict(opt.state[q]) == {} and q in opt.state     # reading creates it: a defaultdict
    for _ in range(2):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    buf = opt.state[p]["momentum_buffer"]
    assert isinstance(buf, tc.Tensor) and buf.dtype == np.float64
    tp = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    for _ in range(2):
        topt.zero_grad()
        (tp * tp).sum().backward()
        topt.step()
    np.testing.assert_allclose(buf.numpy(), topt.state[tp]["momentum_buffer"].numpy())
    for state in opt.state.values():
        for k, v in state.items():
            if isinstance(v, tc.Tensor):
                state[k] = v.to("cpu")
    opt.zero_grad()
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_array_equal(buf.numpy(), opt.state[p]["momentum_buffer"].numpy())  # shared
    topt.zero_grad()
    (tp * tp).sum().backward()
    topt.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-15)
    opt.state[p]["momentum_buffer"] = tc.zeros(2, dtype=tc.float64)   # a Tensor written in
    assert isinstance(opt._state[p]["momentum_buffer"], np.ndarray)
    assert "StateView" in repr(opt.state) and "momentum_buffer" in repr(opt.state[p])


def _sgd_reference_step(params, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                        nesterov=False, maximize=False):
    """The per-parameter loop SGD.step had before its scratch arrays were shared (one pair
    per parameter): the shared scratch must give bit-identical parameters and buffers."""
    for p in params:
        if p.grad is None:
            continue
        d = p.grad.numpy()
        a, b = np.empty_like(p.numpy()), np.empty_like(p.numpy())
        if maximize:
            d = np.negative(d, out=a)
        if weight_decay:
            np.multiply(p.numpy(), weight_decay, out=b)
            d = np.add(d, b, out=a)
        if momentum:
            buf = state.get(id(p))
            if buf is None:
                buf = state[id(p)] = np.array(d, copy=True)
            else:
                buf *= momentum
                if dampening:
                    buf += np.multiply(d, 1 - dampening, out=b)
                else:
                    buf += d
            d = np.add(d, np.multiply(buf, momentum, out=b), out=a) if nesterov else buf
        np.subtract(p.numpy(), np.multiply(d, lr, out=b), out=p.numpy())


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_shared_scratch_is_bit_identical_to_a_pair_per_parameter(kwargs):
    """Parameters of many sizes and both float dtypes in one group (the shared scratch grows
    and is reused; views of it for 0-d, empty and odd shapes), a parameter without a gradient,
    a non-contiguous parameter: 5 steps, exactly the reference loop's values and buffers."""
    rng = np.random.default_rng(3)
    shapes = [(3, 5), (), (0, 4), (7,), (2, 3, 5, 5), (1,), (13, 17)]
    dtypes = [np.float32, np.float64, np.float32, np.float64, np.float32, np.float32, np.float64]
    arrays = [rng.standard_normal(s).astype(dt) for s, dt in zip(shapes, dtypes)]
    arrays.append(rng.standard_normal((6, 9)).astype(np.float32).T)          # non-contiguous
    ours = [nn.Parameter(a) for a in arrays]
    assert not ours[-1].numpy().flags.c_contiguous
    ref = [nn.Parameter(tc.tensor(a.copy())) for a in arrays]
    opt, ref_state = optim.SGD(ours, **kwargs), {}
    for step in range(5):
        for i, (p, q) in enumerate(zip(ours, ref)):
            if i == 3 and step in (1, 2):
                p.grad = q.grad = None                # skipped on these steps
                continue
            g = rng.standard_normal(p.shape).astype(p.dtype)
            p.grad, q.grad = tc.tensor(g), tc.tensor(g.copy())
        opt.step()
        _sgd_reference_step(ref, ref_state, **kwargs)
        for p, q in zip(ours, ref):
            np.testing.assert_array_equal(p.numpy(), q.numpy())
            assert p.dtype == q.dtype
    for p, q in zip(ours, ref):
        if kwargs.get("momentum"):
            np.testing.assert_array_equal(opt.state[p]["momentum_buffer"].numpy(), ref_state[id(q)])


def test_sgd_scratch_follows_a_parameter_whose_array_is_replaced():
    """p.data = a bigger array (or another dtype) after some steps: the scratch views are
    remade (the shared pair grows), the update stays the reference loop's."""
    p, q = nn.Parameter(tc.ones(3)), nn.Parameter(tc.ones(3))
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5, maximize=True)
    for data in (np.arange(3.0, dtype=np.float32), np.arange(12.0, dtype=np.float32).reshape(3, 4),
                 np.arange(5.0), np.ones((2, 2), np.float32)):
        p.data, q.data = data.copy(), data.copy()
        for _ in range(2):
            g = np.full(data.shape, 0.25, data.dtype)
            p.grad, q.grad = tc.tensor(g), tc.tensor(g.copy())
            opt.step()
            _sgd_reference_step([q], {}, lr=0.1, weight_decay=0.5, maximize=True)
            np.testing.assert_array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "SGD"])
def test_every_optimizer_shares_one_scratch_pool_per_dtype_with_unchanged_results(name):
    """Optimizer._buffers hands out views of one pool per dtype (not arrays per parameter);
    the updates equal, bit for bit, those of private scratch arrays per parameter."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s).astype(dt) for s, dt in
              (((4, 6), np.float32), ((9,), np.float64), ((), np.float32), ((3, 3, 2), np.float32))]
    shared = [nn.Parameter(a.copy()) for a in arrays]
    private = [nn.Parameter(a.copy()) for a in arrays]
    cls = getattr(optim, name)
    kwargs = {"lr": 0.01, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    a, b = cls(shared, **kwargs), cls(private, **kwargs)
    b._buffers = lambda p, n: [np.empty_like(p._data) for _ in range(n)]   # a pool per call
    for _ in range(3):
        for p, q in zip(shared, private):
            g = rng.standard_normal(p.shape).astype(p.dtype)
            p.grad, q.grad = tc.tensor(g), tc.tensor(g.copy())
        a.step()
        b.step()
        for p, q in zip(shared, private):
            np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert set(a._scratch_pool) == {np.dtype(np.float32), np.dtype(np.float64)}
    for p in shared:
        pool = a._scratch_pool[p._data.dtype]
        assert all(np.shares_memory(view, pool) for view in a._scratch[id(p)])
