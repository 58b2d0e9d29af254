"""DataLoader(num_workers > 0): real worker processes, batches in order, per-worker seeds,
errors re-raised with the worker's traceback, timeouts, and no process left behind."""
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.utils.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                                     get_worker_info)

REPO = Path(__file__).resolve().parents[1]


def _running(pid):
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_gone(pids, seconds=10.0):
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _running(p)]


class Described(Dataset):
    """Item i: (i, the worker's pid, a draw from tc's generator, worker info, init mark)."""

    def __init__(self, n=24, slow_every=0):
        self.n = n
        self.slow_every = slow_every

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.slow_every and i % self.slow_every == 0:
            time.sleep(0.05)                 # so results arrive out of order
        info = get_worker_info()
        return {"i": i, "pid": os.getpid(), "noise": tc.rand(3),
                "worker": -1 if info is None else info.id,
                "mark": os.environ.get("DW_INIT_MARK", "")}


def _mark_init(worker_id):
    os.environ["DW_INIT_MARK"] = f"init{worker_id}"


def test_batches_come_back_in_order_from_several_processes():
    ds = Described(slow_every=4)
    serial = [b["i"].tolist() for b in DataLoader(ds, batch_size=3)]
    batches = list(DataLoader(ds, batch_size=3, num_workers=2, worker_init_fn=_mark_init))
    assert [b["i"].tolist() for b in batches] == serial
    pids = {p for b in batches for p in b["pid"].tolist()}
    assert len(pids) == 2 and os.getpid() not in pids
    # round-robin: batch k was built by worker k % 2, whose init function ran first
    assert [b["worker"].tolist()[0] for b in batches] == [k % 2 for k in range(len(batches))]
    assert [b["mark"][0] for b in batches] == [f"init{k % 2}" for k in range(len(batches))]
    assert isinstance(batches[0]["noise"], tc.Tensor) and batches[0]["noise"].shape == (3, 3)


def test_worker_random_streams_differ_and_follow_manual_seed():
    def draws():
        loader = DataLoader(Described(8), batch_size=2, num_workers=2)
        return [b["noise"].numpy() for b in loader]
    tc.manual_seed(0)
    a = draws()
    tc.manual_seed(0)
    b = draws()
    tc.manual_seed(1)
    c = draws()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])          # worker 0 and worker 1 draw differently
    assert not np.array_equal(a[0], c[0])


def test_shuffled_epochs_reproducible_and_persistent_workers_reused():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    ds = TensorDataset(x, np.arange(20))

    def epochs(loader, n=2):
        return [np.concatenate([b[1].numpy() for b in loader]) for _ in range(n)]
    loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2, seed=3,
                        persistent_workers=True)
    e1 = epochs(loader, 1)[0]
    pids = loader._iterator.worker_pids
    e2 = epochs(loader, 1)[0]
    assert loader._iterator.worker_pids == pids and all(_running(p) for p in pids)
    again = epochs(DataLoader(ds, batch_size=4, shuffle=True, num_workers=2, seed=3,
                              persistent_workers=True))
    np.testing.assert_array_equal(again[0], e1)
    np.testing.assert_array_equal(again[1], e2)
    assert sorted(e1.tolist()) == list(range(20)) and not np.array_equal(e1, e2)
    # features stay paired with labels across the process boundary
    for xb, yb in DataLoader(ds, batch_size=6, shuffle=True, num_workers=2, seed=0):
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])
    del loader
    gc.collect()
    assert _wait_gone(pids) == []


class Failing(Described):
    def __getitem__(self, i):
        if i == 7:
            raise KeyError(f"no item {i} here")
        return super().__getitem__(i)


def test_worker_exception_names_the_worker_and_original_traceback_and_stops_workers():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    pids = it.worker_pids
    with pytest.raises(KeyError) as info:
        for _ in it:
            pass
    message = str(info.value)
    assert "Caught KeyError in DataLoader worker process 1" in message   # item 7: batch 3
    assert "Original Traceback" in message and "no item 7 here" in message
    assert "in __getitem__" in message
    assert _wait_gone(pids) == []


def test_abandoned_iterator_shuts_its_workers_down():
    it = iter(DataLoader(Described(), batch_size=2, num_workers=2))
    next(it)
    pids = it.worker_pids
    assert all(_running(p) for p in pids)
    del it
    gc.collect()
    assert _wait_gone(pids) == []


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3)
        return i


def test_timeout_is_honoured_and_a_killed_worker_is_reported():
    it = iter(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.3))
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(it)
    assert time.monotonic() - t0 < 2.5
    assert _wait_gone(it.worker_pids) == []
    it = iter(DataLoader(Slow(), batch_size=1, num_workers=1))
    os.kill(it.worker_pids[0], signal.SIGKILL)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+ exit code -9\) exited unexpectedly"):
        next(it)


class Shards(IterableDataset):
    """Each worker yields its own share of range(n), as PyTorch's docs show."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_split_between_workers_each_item_once():
    loader = DataLoader(Shards(11), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):                                # the second epoch restarts the streams
        got = [v for b in loader for v in b.tolist()]
        assert sorted(got) == list(range(11))


def test_spawn_start_method_works_with_a_picklable_dataset():
    ds = TensorDataset(np.arange(12.0).reshape(6, 2), np.arange(6))
    batches = list(DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn"))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5]]


INTERRUPTED = textwrap.dedent("""
    import os, sys, time
    import tinygrad_cnn as tc
    from tinygrad_cnn.utils.data import DataLoader, Dataset
    class Slow(Dataset):
        def __len__(self): return 100
        def __getitem__(self, i):
            time.sleep(0.2); return i
    it = iter(DataLoader(Slow(), batch_size=1, num_workers=2))
    next(it)
    print(*it.worker_pids, flush=True)
    for _ in it:
        pass
""")


def test_interrupt_in_the_main_process_leaves_no_worker_behind():
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2 and all(_running(p) for p in pids)
    proc.send_signal(signal.SIGINT)                  # to the main process only
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert _wait_gone(pids) == []


class Box:
    """A custom batch type: crosses the process boundary by ordinary pickling, Tensors inside."""

    def __init__(self, items):
        self.values = tc.tensor(np.stack([v for v, _ in items]))
        self.count = len(items)


def _box(items):
    return Box(items)


def test_custom_collate_results_and_tensors_pickle_across_processes():
    ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
    pairs = [(x.numpy(), y) for x, y in (ds[i] for i in range(5))]
    boxes = list(DataLoader(pairs, batch_size=2, num_workers=2, collate_fn=_box))
    assert [b.count for b in boxes] == [2, 2, 1]
    assert isinstance(boxes[0].values, tc.Tensor) and boxes[2].values.tolist() == [[8.0, 9.0]]


def test_shuffle_order_does_not_depend_on_num_workers():
    """As in PyTorch: the same generator gives the same epochs with and without workers (the
    workers' base seed is derived without advancing it), and each epoch's worker seeds differ."""
    ds = TensorDataset(np.arange(20, dtype=np.float32), np.arange(20))

    def run(num_workers):
        g = tc.Generator().manual_seed(4)
        loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=num_workers, generator=g)
        return [np.concatenate([y.numpy() for _, y in loader]) for _ in range(3)]
    without, with_workers = run(0), run(2)
    for a, b in zip(without, with_workers):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(without[0], without[1])


class SeedOf(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return tc.initial_seed()


def test_worker_seeds_change_per_epoch_without_shuffling():
    """shuffle=False never advances an owned generator; the epoch count still gives each epoch
    new worker seeds (initial_seed() in a worker is base_seed + worker_id, as in PyTorch)."""
    loader = DataLoader(SeedOf(), batch_size=2, num_workers=2, generator=tc.Generator().manual_seed(0))
    e1 = [b.tolist() for b in loader]
    e2 = [b.tolist() for b in loader]
    assert e1[0][0] + 1 == e1[1][0]                        # worker 0 then worker 1
    assert e1 != e2
    assert loader.state_dict()["worker_epochs"] == 2


def test_reseeding_repeats_worker_seeds_when_shuffling():
    g = tc.Generator().manual_seed(5)
    loader = DataLoader(SeedOf(), batch_size=2, shuffle=True, num_workers=2, generator=g)
    e1 = [b.tolist() for b in loader]
    e2 = [b.tolist() for b in loader]
    g.manual_seed(5)
    assert [b.tolist() for b in loader] == e1 != e2
