"""tc.Generator (torch.Generator's API over a NumPy stream), tc.initial_seed / tc.seed, and
`generator=` on the random factories, samplers and random_split."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.utils.data import DataLoader, RandomSampler, TensorDataset, random_split


def test_generator_manual_seed_returns_itself_and_repeats():
    g = tc.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7 and g.device == tc.device("cpu")
    a = tc.randn(5, generator=g).numpy()
    g.manual_seed(7)
    np.testing.assert_array_equal(tc.randn(5, generator=g).numpy(), a)
    # the stream is NumPy's default_rng(seed): documented, not torch's numbers
    np.testing.assert_array_equal(a, np.random.default_rng(7).standard_normal(5, dtype=np.float32))
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2 ** 63


def test_generator_does_not_touch_the_global_stream():
    tc.manual_seed(3)
    expected = tc.rand(4).numpy()
    tc.manual_seed(3)
    g = tc.Generator().manual_seed(0)
    tc.rand(3, generator=g), tc.randperm(6, generator=g), tc.randint(0, 5, (2,), generator=g)
    tc.nn.init.uniform_(tc.zeros(3), generator=g)
    np.testing.assert_array_equal(tc.rand(4).numpy(), expected)


def test_generator_state_round_trips():
    g = tc.Generator().manual_seed(1)
    state = g.get_state()
    assert state.dtype == np.uint8
    first = tc.randperm(10, generator=g).tolist()
    g.set_state(state)
    assert tc.randperm(10, generator=g).tolist() == first
    with pytest.raises(tc.ArgumentError, match="set_state"):
        g.set_state(tc.tensor([1, 2, 3], dtype=tc.uint8))
    with pytest.raises(tc.DeviceError):
        tc.Generator(device="cuda")


def test_initial_seed_and_seed():
    tc.manual_seed(42)
    assert tc.initial_seed() == 42
    s = tc.seed()
    assert tc.initial_seed() == s
    a = tc.rand(2).numpy()
    tc.manual_seed(s)
    np.testing.assert_array_equal(tc.rand(2).numpy(), a)


def test_loader_sampler_and_random_split_take_a_generator():
    ds = TensorDataset(np.arange(10.0), np.arange(10))

    def order(g):
        return np.concatenate([y.numpy() for _, y in DataLoader(ds, batch_size=3, shuffle=True,
                                                                 generator=g)])
    g = tc.Generator().manual_seed(0)
    first = order(g)
    np.testing.assert_array_equal(first, np.random.default_rng(0).permutation(10))
    assert not np.array_equal(order(g), first)            # the loader advances the generator
    g.manual_seed(0)                                       # reseeding in place reaches the loader
    np.testing.assert_array_equal(order(g), first)
    assert sorted(RandomSampler(ds, generator=tc.Generator().manual_seed(1))) == list(range(10))
    a, b = random_split(ds, [7, 3], generator=tc.Generator().manual_seed(42))
    c, d = random_split(ds, [7, 3], generator=tc.Generator().manual_seed(42))
    assert list(a.indices) == list(c.indices) and len(b) == 3
    with pytest.raises(tc.ArgumentError, match="tinygrad_cnn.Generator"):
        DataLoader(ds, shuffle=True, generator="seed")
