"""tinygrad_cnn.multiprocessing and Module.share_memory(): pytorch/examples' mnist_hogwild
pattern (several processes, each with its own optimizer, stepping one shared model)."""
import pickle

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.multiprocessing as mp
from tinygrad_cnn import nn, optim
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.utils.data import DataLoader, TensorDataset


def _problem(n=600, seed=0):
    """Three Gaussian blobs in 8-d: a small classifier separates them."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    centers = g.normal(0, 2.0, (3, 8))
    x = (centers[y] + g.normal(0, 1.0, (n, 8))).astype(np.float32)
    return x, y.astype(np.int64)


def _model():
    tc.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def _loss(model, x, y):
    with tc.no_grad():
        return F.cross_entropy(model(tc.tensor(x)), tc.tensor(y)).item()


def _hogwild_train(rank, model, x, y):
    """What each process of mnist_hogwild runs: its own seed, loader and optimizer."""
    tc.manual_seed(1 + rank)
    loader = DataLoader(TensorDataset(x, y), batch_size=20, shuffle=True)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
    for _ in range(2):
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()


def _run(model, start_method, processes=2):
    x, y = _problem()
    ctx = mp.get_context(start_method)
    procs = [ctx.Process(target=_hogwild_train, args=(rank, model, x, y)) for rank in range(processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * processes
    return _loss(model, x, y)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_hogwild_processes_train_the_parents_shared_model(start_method):
    x, y = _problem()
    model = _model()
    before = [p.numpy().copy() for p in model.parameters()]
    start = _loss(model, x, y)
    assert model.share_memory() is model
    assert all(mp.is_shared(p) for p in model.parameters())
    end = _run(model, start_method)
    assert all(not np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))
    assert start > 0.8 and end < 0.1, (start, end)


def test_without_share_memory_the_parent_model_does_not_change():
    x, y = _problem()
    model = _model()
    before = [p.numpy().copy() for p in model.parameters()]
    _run(model, "fork")
    assert all(np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))


def test_share_memory_keeps_values_buffers_and_grads_and_pickle_still_copies():
    bn = nn.BatchNorm2d(3)
    bn.running_mean.numpy()[:] = [1.0, 2.0, 3.0]
    bn.weight.grad = tc.ones(3)
    bn.share_memory()
    assert mp.is_shared(bn.running_mean) and mp.is_shared(bn.weight) and mp.is_shared(bn.weight.grad)
    assert bn.running_mean.tolist() == [1.0, 2.0, 3.0]
    copy = pickle.loads(pickle.dumps(bn.weight))       # ordinary pickle: a private copy
    copy.numpy()[:] = 7.0
    assert bn.weight.tolist() == [1.0, 1.0, 1.0] and not mp.is_shared(copy)
    t = tc.zeros(2)
    assert mp.share_memory_(t) is t and mp.share_memory_(t) is t and mp.is_shared(t)


def _add_one(shared, results, received):
    shared.numpy()[:] += 1.0
    results.put(shared)                    # sent back: the same memory, not a copy
    received.wait(60)                      # a sender lives until its tensor is received


def test_shared_tensor_through_a_queue_is_the_same_memory():
    ctx = mp.get_context("spawn")
    t = mp.share_memory_(tc.zeros(4))
    q, received = ctx.Queue(), ctx.Event()
    p = ctx.Process(target=_add_one, args=(t, q, received))
    p.start()
    back = q.get(timeout=60)
    received.set()
    p.join(timeout=60)
    assert p.exitcode == 0 and t.tolist() == [1.0] * 4
    back.numpy()[0] = 5.0                 # the received array maps the same pages
    assert t.tolist()[0] == 5.0


def _fail(rank):
    if rank == 1:
        raise ValueError("rank 1 failed on purpose")


def test_spawn_runs_ranks_and_raises_the_childs_error():
    with pytest.raises(mp.ProcessRaisedException, match="rank 1 failed on purpose"):
        mp.spawn(_fail, nprocs=2, start_method="fork")
    assert mp.spawn(_hogwild_noop, nprocs=2, start_method="fork") is None
    assert {"Process", "Queue", "set_start_method", "get_context", "cpu_count"} <= set(mp.__all__)


def _hogwild_noop(rank):
    pass


def test_mnist_hogwild_example_trains_the_parents_model(tmp_path):
    """examples/mnist_hogwild.py (pytorch/examples' script, imports swapped, 'spawn'): two
    processes on 3,000 images reach 85 % test accuracy in the parent (one process: 73 %)."""
    import os
    import re
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=repo, TINYGRAD_CNN_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, os.path.join(repo, "examples", "mnist_hogwild.py"),
                           "--limit", "3000", "--lr", "0.05", "--num-processes", "2"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    pids = set(re.findall(r"^(\d+)\tTrain Epoch", proc.stdout, re.M))
    assert len(pids) == 2                                   # two training processes logged
    accuracy = float(re.search(r"Accuracy: \d+/10000 \((\d+)%\)", proc.stdout).group(1))
    assert accuracy > 75, proc.stdout
