"""The one seeded random generator every random op draws from (`tc.manual_seed`), and
`Generator`, torch.Generator's API for a separate stream (DataLoader shuffling, random_split,
randn/randperm/nn.init `generator=`)."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["Generator", "manual_seed", "initial_seed", "seed", "generator", "resolve"]


def _fresh_seed() -> int:
    """A nondeterministic seed (what an unseeded run starts from), below 2**63."""
    return int(np.random.SeedSequence().entropy) % (1 << 63)


def _check_seed(seed: Any, op: str) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        from .errors import ArgumentError
        raise ArgumentError(f"{op}: seed must be a non-negative int, got {seed!r}")
    return int(seed)


_initial = _fresh_seed()
_state = {"generator": np.random.default_rng(_initial), "seed": _initial}


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the framework's generator (weights init, randn/rand, dropout, DataLoader shuffling)."""
    seed = _check_seed(seed, "manual_seed")
    _state["generator"] = np.random.default_rng(seed)
    _state["seed"] = seed
    return _state["generator"]


def initial_seed() -> int:
    """The seed the framework's generator was last seeded with (`torch.initial_seed()`); in a
    DataLoader worker, base_seed + worker_id, as in PyTorch."""
    return _state["seed"]


def seed() -> int:
    """Seed the framework's generator with a nondeterministic seed and return it (`torch.seed()`)."""
    s = _fresh_seed()
    manual_seed(s)
    return s


def generator() -> np.random.Generator:
    """The current global generator."""
    return _state["generator"]


class Generator:
    """torch.Generator's API over a NumPy PCG64 stream: `torch.Generator().manual_seed(0)`
    ports unchanged wherever `generator=` is taken (DataLoader, samplers, random_split,
    randn/rand/randint/randperm, nn.init). The numbers are NumPy's, not torch's: the same
    seed gives a different permutation than in PyTorch (docs/porting.md).

    manual_seed reseeds in place, so a DataLoader built with this generator sees the new seed."""

    def __init__(self, device: Any = "cpu") -> None:
        from .devices import CPU, check_device
        check_device(device, "Generator")
        self.device = CPU
        self._seed = _fresh_seed()
        self._np = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Reseed this generator; returns it (so `Generator().manual_seed(0)` is one line)."""
        self._seed = _check_seed(seed, "Generator.manual_seed")
        self._np.bit_generator.state = np.random.PCG64(self._seed).state
        return self

    def seed(self) -> int:
        """Reseed with a nondeterministic seed and return it."""
        s = _fresh_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Any:
        """The full state as a uint8 Tensor (the PCG64 state as JSON bytes), for set_state."""
        from .tensor import Tensor
        raw = json.dumps(self._np.bit_generator.state).encode()
        return Tensor._wrap(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state: Any) -> "Generator":
        data = new_state.numpy() if hasattr(new_state, "numpy") else np.asarray(new_state)
        try:
            state = json.loads(np.asarray(data, dtype=np.uint8).tobytes().decode())
            self._np.bit_generator.state = state
        except (ValueError, TypeError, KeyError) as e:
            from .errors import ArgumentError
            raise ArgumentError(f"Generator.set_state: not a state from Generator.get_state() ({e})") from None
        return self

    def __repr__(self) -> str:
        return f"<tinygrad_cnn.Generator seed={self._seed}>"


def numpy_generator(given: Any) -> Any:
    """A `generator=` value with a Generator replaced by its NumPy stream (others unchanged)."""
    return given._np if isinstance(given, Generator) else given


def resolve(given: object, op: str) -> np.random.Generator:
    """A `generator=` argument: None means the framework's generator; otherwise a
    tinygrad_cnn.Generator or a numpy.random.Generator."""
    if given is None:
        return generator()
    given = numpy_generator(given)
    if not isinstance(given, np.random.Generator):
        from .errors import ArgumentError
        raise ArgumentError(f"{op}: generator must be a tinygrad_cnn.Generator, a "
                            f"numpy.random.Generator or None, got {type(given).__name__} {given!r:.60}")
    return given
