"""Samplers, default_collate/default_convert and the DataLoader's argument checks, against
torch.utils.data where the result is deterministic (no shared RNG between the two)."""
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.utils import data as tud
from tinygrad_cnn.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset,
                                     RandomSampler, SequentialSampler, SubsetRandomSampler,
                                     TensorDataset, WeightedRandomSampler, default_collate,
                                     default_convert, random_split)

Point = namedtuple("Point", ["x", "y"])


def test_two_import_paths_one_implementation():
    from tinygrad_cnn.utils.data.dataloader import DataLoader as deep
    assert tud.DataLoader is tc.data.DataLoader is deep is tc.utils.data.DataLoader
    assert tud.Subset is tc.data.Subset and tud.get_worker_info() is None


def test_sequential_and_batch_sampler_match_torch():
    torch = pytest.importorskip("torch")
    tdata = torch.utils.data
    for drop_last in (False, True):
        ours = list(BatchSampler(SequentialSampler(range(10)), 3, drop_last))
        theirs = list(tdata.BatchSampler(tdata.SequentialSampler(range(10)), 3, drop_last))
        assert ours == theirs
        assert len(BatchSampler(SequentialSampler(range(10)), 3, drop_last)) == len(theirs)
    # a plain list is a sampler too
    assert list(BatchSampler([4, 2, 0], 2, False)) == [[4, 2], [0]]


def test_random_sampler_permutation_replacement_and_num_samples():
    tc.manual_seed(0)
    perm = list(RandomSampler(range(10)))
    assert sorted(perm) == list(range(10)) and perm != list(range(10))
    long = list(RandomSampler(range(4), num_samples=10, generator=3))
    assert len(long) == 10 and sorted(long[:4]) == sorted(long[4:8]) == [0, 1, 2, 3]
    with_repl = list(RandomSampler(range(3), replacement=True, num_samples=200, generator=1))
    assert len(with_repl) == 200 and set(with_repl) == {0, 1, 2}
    a = RandomSampler(range(50), generator=np.random.default_rng(7))
    assert list(a) == np.random.default_rng(7).permutation(50).tolist()
    assert list(a) != np.random.default_rng(7).permutation(50).tolist()   # advanced: a new epoch
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)


def test_subset_random_and_weighted_samplers():
    idx = [10, 20, 30, 40]
    got = list(SubsetRandomSampler(idx, generator=0))
    assert sorted(got) == idx and len(SubsetRandomSampler(idx)) == 4
    draws = list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=0))
    counts = np.bincount(draws, minlength=3)
    assert counts[0] == 0 and 2.6 < counts[2] / counts[1] < 3.4
    no_repl = list(WeightedRandomSampler([1, 1, 0, 1], 3, replacement=False, generator=1))
    assert sorted(no_repl) == [0, 1, 3]
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="without replacement from 2 non-zero"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1, -1], 2)


def test_default_collate_types_match_torch():
    torch = pytest.importorskip("torch")
    tcollate = torch.utils.data.default_collate
    samples = [
        [1, 2, 3],                                                  # ints -> int64
        [0.5, 1.5],                                                 # floats -> float64
        [True, False],                                              # bools -> bool
        [np.float32(1), np.float32(2)],                             # numpy scalars keep dtype
        [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)],
        [np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)],
    ]
    for batch in samples:
        ours, theirs = default_collate(batch), tcollate(batch)
        assert str(theirs.dtype).replace("torch.", "") == str(ours.dtype)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert default_collate(["a", "b"]) == tcollate(["a", "b"]) == ["a", "b"]
    # containers: dict, namedtuple, tuple -> list (as PyTorch), nested
    batch = [{"img": np.full(2, i, np.float32), "meta": (i, float(i)), "p": Point(i, [i, i])}
             for i in range(3)]
    ours, theirs = default_collate(batch), tcollate(batch)
    assert type(ours["meta"]) is type(theirs["meta"]) is list
    assert type(ours["p"]) is type(theirs["p"]) is Point
    assert type(ours["p"].y) is type(theirs["p"].y) is list
    np.testing.assert_array_equal(ours["img"].numpy(), theirs["img"].numpy())
    np.testing.assert_array_equal(ours["p"].y[1].numpy(), theirs["p"].y[1].numpy())
    assert type(default_collate([OrderedDict(a=1)])) is OrderedDict
    tensors = [tc.tensor([1.0, 2.0]), tc.tensor([3.0, 4.0])]
    assert default_collate(tensors).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_default_collate_errors():
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(ValueError, match=r"equal size.*\(2,\), \(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])


def test_default_convert_and_batch_size_none():
    out = default_convert({"a": np.arange(2), "b": 3, "c": (np.zeros(1), "s")})
    assert isinstance(out["a"], tc.Tensor) and out["b"] == 3 and isinstance(out["c"], list)
    assert isinstance(out["c"][0], tc.Tensor) and out["c"][1] == "s"
    ds = TensorDataset(np.arange(6.0).reshape(3, 2), np.arange(3))
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 3 and items[2][0].tolist() == [4.0, 5.0] and items[2][1].item() == 2


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([i * i], np.float32), i


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_loader_with_sampler_batch_sampler_and_torch_lengths():
    torch = pytest.importorskip("torch")
    ds = Squares()
    got = [b[1].tolist() for b in DataLoader(ds, batch_size=3, sampler=[6, 5, 4, 3])]
    assert got == [[6, 5, 4], [3]]
    got = [b[1].tolist() for b in DataLoader(ds, batch_sampler=[[0, 2], [4], [6, 1, 3]])]
    assert got == [[0, 2], [4], [6, 1, 3]]
    for kw in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None}):
        assert len(DataLoader(ds, **kw)) == len(torch.utils.data.DataLoader(ds, **kw))
        ours = [b[1].tolist() if kw["batch_size"] else b[1] for b in DataLoader(ds, **kw)]
        theirs = [b[1].tolist() if kw["batch_size"] else b[1]
                  for b in torch.utils.data.DataLoader(ds, **kw)]
        assert ours == theirs


def test_loader_over_iterable_dataset():
    batches = [b.tolist() for b in DataLoader(Stream(7), batch_size=3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    chained = tud.ChainDataset([Stream(2), Stream(3)])
    assert [b.tolist() for b in DataLoader(chained, batch_size=5)] == [[0, 1, 0, 1, 2]]


@pytest.mark.parametrize("kwargs, message", [
    ({"sampler": [0, 1], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
    ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
    ({"batch_sampler": [[0]], "sampler": [0]}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ({"timeout": -1}, "timeout option should be non-negative"),
    ({"num_workers": -1}, "num_workers option should be non-negative"),
    ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiprocessing"),
    ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
    ({"multiprocessing_context": "fork"}, "multiprocessing_context can only be used with multi-process"),
    ({"num_workers": 1, "multiprocessing_context": "nope"}, "should specify a valid start method"),
    ({"num_workers": 1, "prefetch_factor": -1}, "prefetch_factor option should be"),
])
def test_loader_rejects_what_torch_rejects(kwargs, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=message):
        DataLoader(Squares(), **kwargs)
    with pytest.raises(ValueError):
        torch.utils.data.DataLoader(Squares(), **kwargs)


def test_iterable_dataset_rejects_shuffle_and_samplers_and_frozen_attributes():
    for kw, what in (({"shuffle": True}, "shuffle"), ({"sampler": [0]}, "sampler"),
                     ({"batch_sampler": [[0]]}, "batch_sampler")):
        with pytest.raises(ValueError, match=f"IterableDataset: expected unspecified {what}"):
            DataLoader(Stream(3), **kw)
    loader = DataLoader(Squares(), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader"):
        loader.batch_size = 4
    loader.num_workers = 0                                  # not frozen, as in PyTorch
    with pytest.raises(TypeError, match="multiprocessing_context option should be a valid context"):
        DataLoader(Squares(), num_workers=1, multiprocessing_context=3)


def test_random_split_fractions_like_torch_and_generator():
    torch = pytest.importorskip("torch")
    ds = Squares()
    for fractions in ([0.5, 0.5], [0.3, 0.3, 0.4], [0.1, 0.9]):
        ours = [len(s) for s in random_split(ds, fractions, generator=0)]
        theirs = [len(s) for s in torch.utils.data.random_split(ds, fractions)]
        assert ours == theirs
    a = [s.indices.tolist() for s in random_split(ds, [3, 4], generator=5)]
    assert a == [s.indices.tolist() for s in random_split(ds, [3, 4], generator=5)]
    with pytest.warns(UserWarning, match="split at index 0 is 0"):
        random_split(Squares(), [0.0, 1.0])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(ds, [1.5, -0.5])


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), batch_size=st.integers(1, 9), drop_last=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_batches_cover_the_epoch_like_torch_and_the_fast_path_equals_item_by_item(
        n, batch_size, drop_last, seed):
    torch = pytest.importorskip("torch")
    tdata = torch.utils.data
    ours = list(BatchSampler(SequentialSampler(range(n)), batch_size, drop_last))
    assert ours == list(tdata.BatchSampler(tdata.SequentialSampler(range(n)), batch_size, drop_last))
    assert len(BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)) == len(ours)
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    fast = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed,
                      drop_last=drop_last)
    slow = DataLoader([(x[i], int(y[i])) for i in range(n)], batch_size=batch_size,
                      shuffle=True, seed=seed, drop_last=drop_last)
    a, b = list(fast), list(slow)
    assert len(a) == len(b) == len(fast)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    seen = np.concatenate([yb.numpy() for _, yb in a]) if a else np.zeros(0, np.int64)
    assert len(set(seen.tolist())) == seen.size == (n - n % batch_size if drop_last else n)
