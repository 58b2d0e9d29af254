"""Dataset, TensorDataset, Subset, random_split and DataLoader (batching, shuffling, seeding)."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                               default_collate, random_split)


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


class CountingDataset(TensorDataset):
    """Counts item and batch fetches, to check the fast path is taken."""

    def __init__(self, *a):
        super().__init__(*a)
        self.items = 0
        self.batches = 0

    def __getitem__(self, i):
        self.items += 1
        return super().__getitem__(i)

    def __getitems__(self, idx):
        self.batches += 1
        return super().__getitems__(idx)


class ListDataset(Dataset):
    """A plain map-style dataset without __getitems__ (items are (array, int, float))."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2,), i, np.float32), i, float(i) / 2


def test_tensor_dataset_items_and_errors():
    x, y = _xy()
    ds = TensorDataset(tc.tensor(x), y)
    assert len(ds) == 10
    xi, yi = ds[3]
    assert isinstance(xi, tc.Tensor) and xi.tolist() == [9.0, 10.0, 11.0] and yi.item() == 3
    assert ds[-1][1].item() == 9
    with pytest.raises(IndexError, match="out of range"):
        ds[10]
    with pytest.raises(ValueError, match=r"same size in dim 0.*\(10, 3\), \(9,\)"):
        TensorDataset(x, y[:9])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_loader_batches_in_order_and_last_partial_batch():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 3) and batches[0][0].dtype == np.float32
    assert batches[0][1].dtype == np.int64
    dropped = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[1].tolist() for b in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_array_backed_dataset_takes_the_batch_fast_path():
    x, y = _xy(100)
    ds = CountingDataset(x, y)
    out = list(DataLoader(ds, batch_size=32, shuffle=True, seed=0))
    assert ds.batches == 4 and ds.items == 0
    got = np.concatenate([b[1].numpy() for b in out])
    np.testing.assert_array_equal(np.sort(got), np.arange(100))
    for xb, yb in out:                      # features stay paired with their labels
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])


def test_shuffle_is_a_permutation_reproducible_by_seed_and_new_each_epoch():
    x, y = _xy(50)
    ds = TensorDataset(x, y)

    def order(loader):
        return np.concatenate([b[1].numpy() for b in loader])

    a = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    b = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    e1a, e2a = order(a), order(a)
    e1b, e2b = order(b), order(b)
    np.testing.assert_array_equal(e1a, e1b)
    np.testing.assert_array_equal(e2a, e2b)
    assert not np.array_equal(e1a, e2a)                       # a new order each epoch
    assert not np.array_equal(e1a, np.arange(50))
    np.testing.assert_array_equal(np.sort(e1a), np.arange(50))
    c = DataLoader(ds, batch_size=8, shuffle=True, seed=4)
    assert not np.array_equal(order(c), e1a)


def test_shuffle_without_seed_follows_manual_seed():
    x, y = _xy(40)
    loader = DataLoader(TensorDataset(x, y), batch_size=40, shuffle=True)
    tc.manual_seed(7)
    first = next(iter(loader))[1].numpy()
    tc.manual_seed(7)
    again = next(iter(loader))[1].numpy()
    np.testing.assert_array_equal(first, again)
    tc.manual_seed(8)
    assert not np.array_equal(next(iter(loader))[1].numpy(), first)


def test_explicit_numpy_generator_is_used():
    x, y = _xy(30)
    ds = TensorDataset(x, y)
    got = next(iter(DataLoader(ds, batch_size=30, shuffle=True, generator=np.random.default_rng(5))))
    np.testing.assert_array_equal(got[1].numpy(), np.random.default_rng(5).permutation(30))


def test_loader_state_dict_restores_the_shuffling_stream():
    x, y = _xy(30)
    ds = TensorDataset(x, y)
    a = DataLoader(ds, batch_size=30, shuffle=True, seed=1)
    next(iter(a))
    state = a.state_dict()
    expected = next(iter(a))[1].numpy()
    b = DataLoader(ds, batch_size=30, shuffle=True, seed=99)
    b.load_state_dict(state)
    np.testing.assert_array_equal(next(iter(b))[1].numpy(), expected)
    assert isinstance(state["generator"], str)            # saves in .npz without pickle


def test_generic_dataset_is_collated_item_by_item():
    batches = list(DataLoader(ListDataset(5), batch_size=2))
    feats, ints, floats = batches[0]
    assert feats.shape == (2, 2) and feats.dtype == np.float32
    assert ints.dtype == np.int64 and ints.tolist() == [0, 1]
    assert floats.dtype == np.float64 and floats.tolist() == [0.0, 0.5]     # Python floats: float64, as PyTorch
    assert batches[-1][1].tolist() == [4]
    d = default_collate([{"a": 1, "b": tc.tensor([1.0, 2.0])}, {"a": 2, "b": tc.tensor([3.0, 4.0])}])
    assert d["a"].tolist() == [1, 2] and d["b"].shape == (2, 2)
    custom = DataLoader(ListDataset(4), batch_size=4, collate_fn=lambda items: len(items))
    assert list(custom) == [4]


def test_loader_argument_errors():
    x, y = _xy()
    ds = TensorDataset(x, y)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="either generator= or seed="):
        DataLoader(ds, seed=1, generator=np.random.default_rng())


def test_subset_random_split_and_concat():
    x, y = _xy(20)
    ds = CountingDataset(x, y)
    sub = Subset(ds, [5, 7, 9])
    assert len(sub) == 3 and sub[1][1].item() == 7
    batch = next(iter(DataLoader(sub, batch_size=3)))
    assert batch[1].tolist() == [5, 7, 9] and ds.batches == 1   # the fast path goes through
    with pytest.raises(IndexError):
        Subset(ds, [20])
    a, b = random_split(ds, [15, 5], generator=0)
    together = np.sort(np.concatenate([a.indices, b.indices]))
    np.testing.assert_array_equal(together, np.arange(20))
    assert [len(s) for s in random_split(ds, [0.5, 0.5], generator=1)] == [10, 10]
    with pytest.raises(ValueError, match="sum to the dataset size 20"):
        random_split(ds, [10, 5])
    cat = ConcatDataset([TensorDataset(x[:3], y[:3]), TensorDataset(x[3:5], y[3:5])])
    assert len(cat) == 5 and cat[4][1].item() == 4 and cat[2][1].item() == 2
