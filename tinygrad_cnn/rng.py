"""The one seeded random generator every random op draws from (`tc.manual_seed`)."""
from __future__ import annotations

import numpy as np

_state = {"generator": np.random.default_rng()}


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the framework's generator (weights init, randn/rand, dropout, DataLoader shuffling)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        from .errors import ArgumentError
        raise ArgumentError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _state["generator"] = np.random.default_rng(int(seed))
    return _state["generator"]


def generator() -> np.random.Generator:
    """The current global generator."""
    return _state["generator"]


def resolve(given: object, op: str) -> np.random.Generator:
    """A `generator=` argument: None means the framework's generator; anything else must be a
    numpy.random.Generator."""
    if given is None:
        return generator()
    if not isinstance(given, np.random.Generator):
        from .errors import ArgumentError
        raise ArgumentError(f"{op}: generator must be a numpy.random.Generator or None, got "
                            f"{type(given).__name__} {given!r:.60}")
    return given
