"""`tc.backends`: the switches PyTorch scripts set for their backends. `cudnn.benchmark = True`
and friends are accepted and have no effect (there is no cuDNN); `mps.is_available()` is False."""
from __future__ import annotations

__all__ = ["cudnn", "mps", "mkldnn", "openmp"]


class _Flags:
    """A namespace of plain attributes a script may read or set."""

    def __init__(self, doc: str, **flags: object) -> None:
        self.__doc__ = doc
        self.__dict__.update(flags)

    def is_available(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<backend flags {dict((k, v) for k, v in vars(self).items() if k != '__doc__')}>"


cudnn = _Flags("cuDNN flags: accepted, no effect (no GPU).", enabled=True, benchmark=False,
               deterministic=False, allow_tf32=True)
mps = _Flags("Apple MPS: not available.")
mkldnn = _Flags("oneDNN flags: accepted, no effect.", enabled=True)
openmp = _Flags("OpenMP: NumPy's BLAS threads are set with tc.set_blas_threads.")
