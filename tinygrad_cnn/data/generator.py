"""The random source of shuffling and sampling: a NumPy Generator, chosen per sampler.

`generator=` (DataLoader, RandomSampler, random_split, ...) may be
- None: the framework's seeded generator (`tc.manual_seed`), looked up each time it is used
  (so a later `tc.manual_seed` takes effect);
- a non-negative int: a seed; the caller gets `np.random.default_rng(seed)`, owned and advanced;
- a `numpy.random.Generator`: used as given;
- a `tinygrad_cnn.Generator` (torch.Generator's API): its NumPy stream, used as given (so a
  later `g.manual_seed(s)` reseeds what the sampler draws from, as in PyTorch).
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from .. import rng
from ..errors import ArgumentError

__all__ = ["resolve_generator", "owned_generator", "generator_state", "set_generator_state",
           "side_seed"]


def owned_generator(generator: Any, who: str = "generator") -> np.random.Generator | None:
    """What a sampler keeps: None (read the global generator at use), or a Generator."""
    generator = rng.numpy_generator(generator)
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool) and generator >= 0:
        return np.random.default_rng(int(generator))
    raise ArgumentError(f"{who} must be None, a non-negative int seed, a tinygrad_cnn.Generator "
                        f"or a numpy.random.Generator, got {generator!r}")


def resolve_generator(generator: Any) -> np.random.Generator:
    """The Generator to draw from now (the global one for None)."""
    return rng.generator() if generator is None else owned_generator(generator)


def generator_state(gen: np.random.Generator) -> str:
    """A generator's full state as a JSON string (128-bit PCG64 integers do not fit in int64,
    and a string array saves in .npz without pickle)."""
    return json.dumps(gen.bit_generator.state)


def set_generator_state(gen: np.random.Generator, state: Any) -> None:
    """Restore a state produced by `generator_state` (a str, a 0-d str array, or a dict)."""
    if isinstance(state, np.ndarray):
        state = state.item()
    if isinstance(state, (str, bytes)):
        state = json.loads(state)
    gen.bit_generator.state = state


def side_seed(gen: np.random.Generator, salt: int) -> int:
    """A seed in [0, 2**62) derived from `gen`'s current state and `salt` WITHOUT advancing
    `gen`: drawn from a jumped copy (a stream far from the one `gen` continues with), then mixed
    with `salt`. DataLoader workers take their base seed from here, so the shuffle order drawn
    from the same generator does not depend on num_workers (as in PyTorch)."""
    bits = gen.bit_generator
    try:
        other = bits.jumped()
    except AttributeError:                      # a bit generator without jumped(): a copy
        other = type(bits)()
        other.state = bits.state
    first = int(np.random.Generator(other).integers(0, 2 ** 62))
    return int(np.random.SeedSequence([first, int(salt)]).generate_state(1, np.uint64)[0] >> np.uint64(2))
