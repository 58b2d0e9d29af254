"""The caps every loader enforces, so a hostile file has bounded cost.

`max_bytes` caps the bytes of array data one `tc.load` may produce (and the size of any header
it parses); `max_entries` caps the number of arrays, archive members and structure values.
Both are checked against what a file *declares* before anything is read or allocated, and again
against what is actually produced. `MAX_DEPTH` caps nesting, for saving and loading alike.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import CheckpointError

__all__ = ["LoadLimits", "get_load_limits", "set_load_limits", "MAX_DEPTH", "Budget"]

MAX_DEPTH = 100                       # real checkpoints nest 2-5 levels


@dataclass(frozen=True)
class LoadLimits:
    max_bytes: int = 4 << 30          # 4 GiB of arrays: ~40x a ResNet-50 checkpoint
    max_entries: int = 1_000_000


_limits = LoadLimits()


def get_load_limits() -> LoadLimits:
    return _limits


def set_load_limits(max_bytes: int | None = None, max_entries: int | None = None) -> LoadLimits:
    """Change the process-wide caps of tc.load (None keeps a cap); returns the previous ones."""
    global _limits
    previous = _limits
    _limits = resolve(max_bytes, max_entries)
    return previous


def resolve(max_bytes: int | None, max_entries: int | None) -> LoadLimits:
    """The process-wide caps with the given ones (a per-call override) replaced."""
    for name, value in (("max_bytes", max_bytes), ("max_entries", max_entries)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be a non-negative int or None, got {value!r}")
    changes = {k: v for k, v in (("max_bytes", max_bytes), ("max_entries", max_entries)) if v is not None}
    return replace(_limits, **changes)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


class Budget:
    """What one load has declared or produced so far, against its caps."""

    def __init__(self, where: str, limits: LoadLimits) -> None:
        self.where, self.limits = where, limits
        self.bytes = self.entries = 0

    def take_bytes(self, n: int, what: str) -> None:
        self.bytes += n
        if self.bytes > self.limits.max_bytes:
            raise self._over("max_bytes", self.bytes, f"{what} brings the data to {_size(self.bytes)}",
                             f" ({_size(self.limits.max_bytes)})")

    def take_entries(self, n: int, what: str) -> None:
        self.entries += n
        if self.entries > self.limits.max_entries:
            raise self._over("max_entries", self.entries, f"{what} brings the count to {self.entries:,} entries")

    def _over(self, cap: str, total: int, what: str, unit: str = "") -> CheckpointError:
        return CheckpointError(
            f"{self.where}: {what}, over tc.load's cap {cap}={getattr(self.limits, cap):,}{unit}. "
            f"If you trust this file, raise the cap: tc.load(path, {cap}={_round_up(total)}) or "
            f"tc.serialization.set_load_limits({cap}=...)")


def _round_up(n: int) -> str:
    """A readable cap just above n, e.g. '8 << 30'."""
    for shift in (30, 20):
        if n >= 1 << shift:
            return f"{-(-n >> shift)} << {shift}"
    return f"{n:_}"
