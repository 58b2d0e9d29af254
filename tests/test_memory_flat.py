"""Bounded memory in training (issue 6 item 5, second half): every graph frees its saved arrays
when backward has run through it, so a training loop's memory stays flat over 1,000 steps.

Measured with tracemalloc (NumPy reports its buffers to it) over the first and the last 100
of 1,000 steps after a warm-up: what each window leaves behind, and the most it holds at once;
and by counting the live Tensors and autograd Contexts before and after the 1,000 steps. A
control run that keeps every step's graph alive (retain_graph=True, losses kept) shows that the
same measurement does see a leak.
"""
import gc
import tracemalloc

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn, optim
from tinygrad_cnn.autograd import Context

STEPS = 1000
# What 1,000 steps may leave behind: NumPy keeps freed small data buffers in a cache (a few
# hundred blocks of < 1 KiB), which tracemalloc still counts. One step's graph holds ~19 KiB
# (measured below), so a leak of a single graph per step would leave ~19 MB.
ALLOWED_GROWTH = 64 * 1024


def _setup(seed=0):
    tc.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.25), nn.Linear(4 * 3 * 3, 3))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    x = tc.tensor(rng.standard_normal((4, 1, 6, 6)).astype(np.float32))
    y = tc.tensor(rng.integers(0, 3, 4))
    return model, opt, x, y


def _live(kind):
    return sum(1 for o in gc.get_objects() if issubclass(type(o), kind))   # no __class__ lookups


def test_training_loop_memory_stays_flat_over_1000_steps():
    model, opt, x, y = _setup()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def traced_window(steps):
        """(bytes the steps left behind, peak above the start, losses), traced. A full
        collection first also empties CPython's free lists, so every window starts alike."""
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            out = [step() for _ in range(steps)]
            gc.collect()
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return current - start, peak - start, out

    for _ in range(20):                         # warm-up: optimizer state, caches
        step()
    gc.collect()
    contexts, tensors = _live(Context), _live(tc.Tensor)
    # Steps 1-100 and 901-1000 run under tracemalloc (it slows each step ~5x); a leak in a loop
    # of identical steps shows in both windows, a slow one in the live-object counts.
    growth_first, peak_first, losses = traced_window(100)
    losses += [step() for _ in range(STEPS - 200)]
    growth_last, peak_last, last = traced_window(100)
    gc.collect()
    assert np.isfinite(losses + last).all() and len(losses + last) == STEPS
    assert growth_first < ALLOWED_GROWTH and growth_last < ALLOWED_GROWTH, (growth_first, growth_last)
    assert peak_last <= 1.1 * peak_first + ALLOWED_GROWTH, \
        f"the peak grew from {peak_first} bytes (steps 1-100) to {peak_last} (steps 901-1000)"
    assert _live(Context) == contexts and _live(tc.Tensor) == tensors   # no graph survives


def test_backward_frees_every_saved_array_of_a_model_step():
    model, opt, x, y = _setup()
    loss = F.cross_entropy(model(x), y)
    order = [loss.grad_fn]
    seen = {id(loss.grad_fn)}
    for node in order:                          # every context of the step's graph
        for edge in node.edges:
            if edge is not None and id(edge[0]) not in seen:
                seen.add(id(edge[0]))
                order.append(edge[0])

    def held(ctxs):
        arrays = [a for c in ctxs for a in c.saved if isinstance(a, np.ndarray)]
        arrays += [a for c in ctxs for a in vars(c).values() if isinstance(a, np.ndarray)]
        return sum(a.nbytes for a in arrays)
    names = {c.name for c in order}
    assert {"ConvNd", "BatchNorm", "MaxPool2d", "Dropout", "Linear", "CrossEntropy"} <= names, names
    before = held(order)
    assert before > 0
    loss.backward(retain_graph=True)            # retain_graph keeps them for a second pass
    assert held(order) == before and not any(c.freed for c in order)
    loss.backward()                             # the last pass frees them all
    assert held(order) == 0
    assert all(c.freed and c.saved == () and vars(c) == {} for c in order)


def test_the_measurement_sees_a_leak_when_graphs_are_kept():
    """Control: keeping each step's graph (retain_graph=True and the loss kept) must show up."""
    model, opt, x, y = _setup()
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    gc.collect()
    kept = []
    tracemalloc.start()
    try:
        for _ in range(100):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward(retain_graph=True)
            opt.step()
            kept.append(loss)
        gc.collect()
        left_behind, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert left_behind > 100 * 8 * 1024, left_behind        # > 8 KiB per kept graph
    assert left_behind > 10 * ALLOWED_GROWTH


def test_backward_releases_intermediate_activations_but_the_graph_stays_drawable():
    import weakref
    x = tc.randn(4, 3, requires_grad=True)
    h = (x * 2).relu()                         # an intermediate activation
    ref = weakref.ref(h)
    loss = (h * h).sum()
    del h
    gc.collect()
    assert ref() is not None                   # the graph needs it for backward
    loss.backward()
    gc.collect()
    assert ref() is None                       # released, though `loss` still holds the graph
    dot = tc.viz.to_dot(loss)
    assert "ReLU" in dot and "(4, 3)" in dot   # ops and shapes still drawn
    loss2 = (x.relu() * 3).sum()
    tc.viz.capture_grads(loss2)                # asks to keep intermediates for the drawing
    loss2.backward()
    # a gradient at x, at relu's and mul's outputs and at the loss: the intermediates survived
    assert tc.viz.to_dot(loss2, show_grads=True).count("∇ norm") == 4
