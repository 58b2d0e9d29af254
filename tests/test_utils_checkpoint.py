"""tinygrad_cnn.utils.checkpoint: recomputation in backward gives the un-checkpointed gradients,
holds less memory, and replays random ops (dropout) identically."""
import functools
import tracemalloc

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.utils.checkpoint import Checkpoint, checkpoint, checkpoint_sequential


def _block(width=16, p=0.0):
    layers = [nn.Linear(width, width), nn.Tanh()]
    if p:
        layers.append(nn.Dropout(p))
    return nn.Sequential(*layers)


def _grads(model, x, run):
    model.zero_grad()
    x = tc.tensor(x.numpy(), requires_grad=True)
    loss = run(model, x).pow(2).sum()
    loss.backward()
    return [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in model.parameters()], loss.item()


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_gradients_equal_the_uncheckpointed_run_for_modules_closures_and_methods():
    tc.manual_seed(0)
    model = nn.Sequential(_block(), _block(), _block()).double()
    x = tc.randn(5, 16, dtype=tc.float64)
    plain, loss = _grads(model, x, lambda m, x: m(x))
    runs = {
        "module": lambda m, x: m[2](checkpoint(m[1], checkpoint(m[0], x, use_reentrant=False),
                                                use_reentrant=True)),
        "closure": lambda m, x: checkpoint(lambda t: m[2](m[1](m[0](t))), x, use_reentrant=False),
        "method": lambda m, x: checkpoint(m.forward, x, use_reentrant=False),
        "partial": lambda m, x: checkpoint(functools.partial(lambda mod, t: mod(t), m), x,
                                           use_reentrant=False),
        "sequential": lambda m, x: checkpoint_sequential(m, 3, x, use_reentrant=False),
    }
    for name, run in runs.items():
        got, got_loss = _grads(model, x, run)
        assert got_loss == pytest.approx(loss, rel=1e-12), name
        _assert_same(got, plain)


def test_parameters_get_gradients_when_no_input_requires_grad():
    tc.manual_seed(1)
    block = _block().double()
    x = tc.randn(4, 16, dtype=tc.float64)                 # data: no grad
    (block(x) ** 2).sum().backward()
    expected = [p.grad.numpy().copy() for p in block.parameters()]
    block.zero_grad()
    out = checkpoint(block, x, use_reentrant=False)
    assert out.requires_grad and isinstance(out.grad_fn.fn, type) and out.grad_fn.fn is Checkpoint
    (out ** 2).sum().backward()
    _assert_same([p.grad.numpy() for p in block.parameters()], expected)


def test_several_outputs_and_non_tensor_arguments():
    a = tc.tensor(np.linspace(-1, 1, 6), requires_grad=True)
    b = tc.tensor(np.linspace(0.5, 2, 6), requires_grad=True)

    def f(x, scale, y):
        return (x * y).tanh() * scale, x.exp() + y

    def loss_of(outs):
        u, v = outs
        return (u * 3).sum() + (v * v).sum()
    loss_of(f(a, 2.0, b)).backward()
    expected = a.grad.numpy().copy(), b.grad.numpy().copy()
    a.grad = b.grad = None
    outs = checkpoint(f, a, 2.0, b, use_reentrant=False)
    assert isinstance(outs, tuple) and len(outs) == 2
    loss_of(outs).backward()
    _assert_same([a.grad.numpy(), b.grad.numpy()], list(expected))


def test_dropout_is_replayed_identically_in_the_recomputation():
    tc.manual_seed(2)
    model = nn.Sequential(_block(p=0.5), _block(p=0.5), _block()).double()
    x = tc.randn(6, 16, dtype=tc.float64)
    tc.manual_seed(10)
    plain, loss = _grads(model, x, lambda m, x: m(x))
    tc.manual_seed(10)
    got, got_loss = _grads(model, x, lambda m, x: checkpoint_sequential(m, 3, x, use_reentrant=False))
    assert got_loss == pytest.approx(loss, rel=1e-12)
    _assert_same(got, plain)
    # without restoring the generator, the recomputed masks differ and so do the gradients
    tc.manual_seed(10)
    other, _ = _grads(model, x, lambda m, x: checkpoint_sequential(
        m, 3, x, use_reentrant=False, preserve_rng_state=False))
    assert not all(np.allclose(u, v) for u, v in zip(other, plain))
    # and the generator's stream after backward is the same as without checkpointing
    tc.manual_seed(10)
    _grads(model, x, lambda m, x: checkpoint_sequential(m, 3, x, use_reentrant=False))
    after_ckpt = tc.rand(3).numpy()
    tc.manual_seed(10)
    _grads(model, x, lambda m, x: m(x))
    np.testing.assert_array_equal(after_ckpt, tc.rand(3).numpy())


def _chain(x, n=6):
    """n elementwise steps, each saving a full-size array for backward."""
    for _ in range(n):
        x = (x * 1.01).tanh()
    return x


def _peak_bytes(run):
    x = tc.tensor(np.random.default_rng(0).standard_normal((128, 512)), requires_grad=True)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = run(x)
        held = tracemalloc.get_traced_memory()[0]         # what the graph keeps after forward
        out.sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return held, peak, x.grad.numpy().copy()


def test_checkpointing_holds_and_peaks_at_less_memory_with_the_same_gradient():
    segments = [functools.partial(_chain, n=6) for _ in range(8)]     # 48 steps, 512 KB arrays
    held_plain, peak_plain, g_plain = _peak_bytes(lambda x: _chain(x, 48))
    held_ckpt, peak_ckpt, g_ckpt = _peak_bytes(
        lambda x: checkpoint_sequential(segments, 8, x, use_reentrant=False))
    np.testing.assert_allclose(g_ckpt, g_plain, rtol=1e-12)
    array = 128 * 512 * 8
    assert held_plain > 60 * array                 # ~2 arrays saved per step
    assert held_ckpt < 25 * array                  # 7 segment inputs + the last segment's graph
    assert peak_ckpt < 0.6 * peak_plain, (peak_ckpt / array, peak_plain / array)


def test_in_place_change_of_a_saved_input_is_caught_and_bad_use_is_rejected():
    x = tc.randn(3, requires_grad=True)
    h = x * 2
    y = checkpoint(lambda t: t.exp(), h, use_reentrant=False)
    h.add_(1.0)                                  # the saved input changed: backward says so
    with pytest.raises(RuntimeError, match="modified (in place|by an in-place operation)"):
        y.sum().backward()
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, x, scale=2.0)
    assert checkpoint(lambda t, scale: t * scale, x, scale=2.0, use_reentrant=False).shape == (3,)
    with pytest.raises(TypeError, match="must return a Tensor or a tuple of Tensors"):
        checkpoint(lambda t: t.numpy(), x, use_reentrant=False)
    with pytest.raises(ValueError, match="segments must be a positive int"):
        checkpoint_sequential([F.relu], 0, x)
