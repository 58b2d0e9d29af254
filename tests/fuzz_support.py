"""Shared pieces of the fuzz tests (tests/test_fuzz_*.py): the error-type contract, a time
limit so that a hang fails instead of stalling the suite, gradcheck settings, value domains
and the "garbage argument" strategy.

The error contract (docs/safety.md, "Fuzzing"): for any arguments, an op either returns or
raises one of the framework's documented exception types — ShapeError, ArgumentError,
DTypeError, BackwardError (IndexError only for out-of-range tensor indexing, re-raised by the
Tensor with the shape in the message) — raised by tinygrad_cnn's own code. A NumPy or Python
exception escaping from deep inside NumPy (IndexError, ValueError, TypeError,
AxisError, MemoryError...) fails the property.
"""
from __future__ import annotations

import contextlib
import os
import signal
import traceback

import numpy as np
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn.errors import ArgumentError, BackwardError, DeviceError, DTypeError, ShapeError

DOCUMENTED = (ShapeError, ArgumentError, DTypeError, BackwardError, DeviceError)
PACKAGE_DIR = os.path.dirname(os.path.abspath(tc.__file__))

# A single call of an op on fuzz-sized inputs takes milliseconds; anything near this limit is
# a hang (an endless loop, or an allocation sized by a garbage argument).
CALL_TIME_LIMIT = float(os.environ.get("TINYGRAD_CNN_FUZZ_TIME_LIMIT", "30"))


class Hang(AssertionError):
    """An op call exceeded CALL_TIME_LIMIT seconds."""


@contextlib.contextmanager
def time_limit(seconds: float = CALL_TIME_LIMIT, error: type = Hang):
    """Raise `error` (Hang) if the block runs longer than `seconds` (SIGALRM; main thread only)."""
    def on_alarm(signum, frame):
        raise error(f"the call did not finish within {seconds} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _raised_in_package(exc: BaseException) -> bool:
    """The innermost frame of the traceback (where the exception was raised) is in tinygrad_cnn."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and os.path.abspath(frames[-1].filename).startswith(PACKAGE_DIR)


def check_error(exc: BaseException, expected: tuple = DOCUMENTED, allow_index_error: bool = False) -> None:
    """Fail unless `exc` honours the error contract (and is one of `expected`)."""
    allowed = DOCUMENTED + ((IndexError,) if allow_index_error else ())
    where = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    assert type(exc) in allowed, f"undocumented exception {type(exc).__name__} escaped:\n{where}"
    assert _raised_in_package(exc), f"{type(exc).__name__} was raised outside tinygrad_cnn:\n{where}"
    expected = expected + ((IndexError,) if allow_index_error else ())
    assert isinstance(exc, expected), \
        f"expected {' or '.join(e.__name__ for e in expected)}, got {type(exc).__name__}: {exc}"
    assert str(exc), "the error has no message"


def expect_error(fn, expected: type | tuple, allow_index_error: bool = False) -> BaseException:
    """fn() must raise `expected` (a documented type), within the time limit."""
    expected = expected if isinstance(expected, tuple) else (expected,)
    try:
        with time_limit():
            fn()
    except Hang:
        raise
    except Exception as exc:  # noqa: BLE001 - the point is to inspect whatever escapes
        check_error(exc, expected, allow_index_error)
        return exc
    raise AssertionError(f"expected {' or '.join(e.__name__ for e in expected)}, but the call "
                         f"returned normally")


def returns_or_documented_error(fn, allow_index_error: bool = False, what: str = ""):
    """fn() may return (its result is returned) or raise a documented error (None returned)."""
    try:
        with time_limit():
            return fn()
    except Hang:
        raise
    except Exception as exc:  # noqa: BLE001
        try:
            check_error(exc, allow_index_error=allow_index_error)
        except AssertionError as failure:
            raise AssertionError(f"{what}: {failure}") from None
        return None


# ------------------------------------------------------------------------------ gradcheck
# Tolerances 100x tighter than gradcheck's defaults (atol 1e-5, rtol 1e-3): in float64 with
# eps = 1e-6 the central difference of a smooth function f is accurate to about
# ulp(f) / eps = 2.2e-10 |f| (rounding; truncation is ~1e-12 here), so a gradient off by a
# factor 1 + 1e-4 fails. atol grows with |f| so that the rounding noise of large outputs (a
# cross-entropy sum of 2,700 at logits of scale 100 has noise ~6e-7, found by the long
# campaign) is not mistaken for an error.
GRADCHECK_RTOL, GRADCHECK_ATOL, ROUNDING_PER_UNIT = 1e-5, 1e-7, 1e-9


def gradcheck(fn, inputs) -> None:
    """tc.gradcheck in float64 with the kink resampling switched off: the fuzz inputs are
    drawn away from kinks and ties, so every element must pass as drawn."""
    with time_limit():
        with tc.no_grad():
            out = fn(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        size = max((float(np.abs(o.numpy()).max()) for o in outs if isinstance(o, tc.Tensor) and o.numel()),
                   default=0.0)
        atol = max(GRADCHECK_ATOL, ROUNDING_PER_UNIT * size)
        assert tc.gradcheck(fn, inputs, kink_aware=False, atol=atol, rtol=GRADCHECK_RTOL)


def leaf(array, dtype=np.float64) -> tc.Tensor:
    return tc.tensor(np.asarray(array, dtype), requires_grad=True)


def assert_close(actual, expected, dtype=np.float64, what=""):
    actual = actual.numpy() if isinstance(actual, tc.Tensor) else np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != reference {expected.shape}"
    rtol, atol = (1e-9, 1e-10) if np.dtype(dtype) == np.float64 else (2e-5, 2e-5)
    scale = max(1.0, float(np.abs(expected).max())) if expected.size and np.isfinite(expected).all() else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)


# ------------------------------------------------------------------------- value domains
# Values come from a NumPy generator seeded by Hypothesis (fast to draw, reproducible).
def rng_st():
    return st.integers(0, 2 ** 32 - 1).map(np.random.default_rng)


def normal(rng, shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def positive(rng, shape):                  # log, sqrt, pow bases: far from 0
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng, shape):                   # denominators
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


def kinkfree(rng, shape, kinks=(0.0,)):
    """Normal values pushed at least 0.05 away from every kink."""
    x = rng.standard_normal(shape)
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x = np.where(near, k + np.where(x >= k, 0.05, -0.05) + (x - k), x)
    return x


def distinct(rng, shape):
    """All values at least 0.05 apart (max-pool windows and amax without ties)."""
    n = int(np.prod(shape, dtype=np.int64))
    return ((rng.permutation(n) - n / 2) * 0.1 + rng.uniform(0, 0.05, n)).reshape(shape)


# --------------------------------------------------------------------- garbage arguments
def garbage_st():
    """Argument values a user might pass by mistake: wrong types, out-of-range ints, wrong
    tuple lengths, strings, None, NaN, NumPy scalars, nested lists, tensors."""
    small_int = st.integers(-3, 6)
    scalar = st.one_of(small_int, st.floats(-3, 6), st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300]),
                       st.booleans(), st.none(), st.sampled_from(["", "a", "same", "valid", "mean"]),
                       small_int.map(np.int64), st.just(np.float32(1.5)))
    return st.one_of(
        scalar,
        st.lists(st.one_of(small_int, st.floats(-2, 3), st.none()), max_size=4).map(tuple),
        st.lists(small_int, max_size=3),
        st.just(()), st.just({}), st.just(object()),
        st.integers(-3, 3).map(lambda n: tc.ones(abs(n) + 1)),
    )
