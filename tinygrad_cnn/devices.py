"""Devices, as far as a CPU-only NumPy framework has them: `tc.device("cpu")` everywhere, and
the CUDA/MPS/accelerator queries PyTorch scripts make before choosing one (all answer "none").

A script's `device = torch.device("cuda" if torch.cuda.is_available() else "cpu")` therefore
picks the CPU; a device object for "cuda" can be built (PyTorch allows that too), but putting a
tensor or module on it raises DeviceError saying that this framework computes on the CPU."""
from __future__ import annotations

from typing import Any

from .errors import ArgumentError, DeviceError

__all__ = ["device", "check_device", "cuda", "accelerator"]

_KNOWN = ("cpu", "cuda", "mps", "xpu", "meta", "xla", "hip", "mtia")


class device:
    """`tc.device("cpu")`, `tc.device("cuda:0")`, `tc.device("cuda", 1)`: type and index, as in
    PyTorch. Only "cpu" can hold tensors."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 - torch's name
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise ArgumentError(f"device(): expected a device type string such as 'cpu', got "
                                f"{type!r} ({type.__class__.__name__})")
        name, _, idx = type.partition(":")
        if name not in _KNOWN:
            raise ArgumentError(f"device(): unknown device type {type!r}; expected one of "
                                f"{', '.join(_KNOWN)} (tinygrad_cnn itself computes on 'cpu')")
        if idx:
            if index is not None or not idx.isdigit():
                raise ArgumentError(f"device(): invalid device string {type!r}")
            index = int(idx)
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise ArgumentError(f"device(): the index must be an int >= 0, got {index!r}")
        self.type, self.index = name, index

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self) -> tuple:
        return (device, (self.type, self.index))


CPU = device("cpu")


def is_device_like(value: Any) -> bool:
    """A device object, or a string naming a device type ('cpu', 'cuda:1', ...)."""
    return isinstance(value, device) or (isinstance(value, str) and value.partition(":")[0] in _KNOWN)


def check_device(value: Any, where: str) -> None:
    """Accept None and the CPU; refuse every other device with one clear message."""
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        value = device("cuda", value)            # torch: an int device is a CUDA ordinal
    dev = value if isinstance(value, device) else device(value) if isinstance(value, str) else None
    if dev is None:
        raise ArgumentError(f"{where}: device must be a tc.device or a string such as 'cpu', got "
                            f"{value!r}")
    if dev.type != "cpu":
        raise DeviceError(f"{where}: device {str(dev)!r} is not available: tinygrad_cnn computes on "
                          f"the CPU with NumPy, so every tensor lives on tc.device('cpu'). Use "
                          f"device='cpu' (a script's `'cuda' if tc.cuda.is_available() else "
                          f"'cpu'` picks it).")


def _no_cuda(call: str) -> DeviceError:
    return DeviceError(f"tc.cuda.{call}(): there is no CUDA device; tinygrad_cnn computes on the "
                       f"CPU with NumPy")


class _Cuda:
    """`tc.cuda`: the queries scripts make; there is no CUDA device."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0

    @staticmethod
    def is_initialized() -> bool:
        return False

    @staticmethod
    def manual_seed(seed: int) -> None:
        """No CUDA generator exists; accepted so seeding code runs (tc.manual_seed seeds the CPU)."""

    manual_seed_all = manual_seed

    @staticmethod
    def empty_cache() -> None:
        """Nothing is cached on a device that does not exist."""

    @staticmethod
    def synchronize(device: Any = None) -> None:
        """CPU ops are synchronous."""

    @staticmethod
    def current_device() -> int:
        raise _no_cuda("current_device")

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        raise _no_cuda("get_device_name")

    def set_device(self, device: Any) -> None:
        check_device(device, "tc.cuda.set_device")


class _Accelerator:
    """`tc.accelerator` (PyTorch 2.6+): no accelerator is present."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0

    @staticmethod
    def current_accelerator(check_available: bool = False) -> None:
        return None


cuda = _Cuda()
accelerator = _Accelerator()
