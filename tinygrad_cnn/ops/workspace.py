"""Memory policy of the CNN ops: the convolution workspace limit and the malloc tuning.

Workspace limit. im2col trades memory for speed: the column matrix of a convolution holds
C*KH*KW values per output position, KH*KW times the input. A conv whose column matrix would
exceed the limit is processed in batch chunks (each chunk's columns fit the limit) and does not
keep its columns for backward (they are rebuilt chunk by chunk there). Results are the same as
unchunked: the output and grad_input bit for bit, grad_weight up to the order in which the
per-chunk partial sums are added. When one image's columns alone exceed the limit, the conv
runs one image and one band of output rows at a time (forward and backward, ops/conv.py
_row_bands); when not even one output row's columns fit, it raises WorkspaceError naming the
sizes.

Malloc tuning. Each training step allocates and frees the same large temporaries (columns,
gradients). glibc serves blocks above its mmap threshold with fresh mmap()s and returns them on
free(), so every step faults all those pages in again (about 2 us per 4 KiB page: 15 ms for one
60 MB column matrix). At import we ask glibc to keep freed memory in the heap instead
(M_MMAP_MAX=0, a high M_TRIM_THRESHOLD), as PyTorch's caching allocators do. The process keeps
its peak heap size. Linux/glibc only; set TINYGRAD_CNN_MALLOC_TUNING=0 to leave malloc alone.
"""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from ..errors import ArgumentError

__all__ = ["set_workspace_limit", "get_workspace_limit", "malloc_tuned", "strided_ufuncs"]

DEFAULT_WORKSPACE_LIMIT = 1 << 30        # 1 GiB of im2col columns per conv call
_state: dict = {"limit": DEFAULT_WORKSPACE_LIMIT, "malloc_tuned": False}


def set_workspace_limit(nbytes: int | None) -> int | None:
    """Cap the im2col column matrix of one conv call at `nbytes` (None: no cap).

    Returns the previous limit, so `old = tc.set_workspace_limit(n) ... tc.set_workspace_limit(old)`
    restores it. Convs whose columns would exceed the cap run in batch chunks, or in bands of
    output rows within an image (see module doc); WorkspaceError if one row does not fit.
    """
    if nbytes is not None:
        if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)):
            raise ArgumentError(f"set_workspace_limit: nbytes must be an int number of bytes or "
                                f"None, got {nbytes!r}")
        nbytes = int(nbytes)
        if nbytes <= 0:
            raise ArgumentError(f"set_workspace_limit: nbytes must be positive, got {nbytes}")
    previous = _state["limit"]
    _state["limit"] = nbytes
    return previous


def get_workspace_limit() -> int | None:
    """The current cap in bytes on one conv call's column matrix (None: no cap)."""
    return _state["limit"]


# NumPy's ufuncs buffer non-contiguous operands through 8192-element buffers when the inner
# loop is shorter than the buffer; on the strided views of im2col and pooling that costs more
# than the arithmetic (measured: a strided (64, 64, 784) add 1.7 ms, 0.9 ms with 1024).
STRIDED_UFUNC_BUFSIZE = 1024


@contextlib.contextmanager
def strided_ufuncs(size: int = STRIDED_UFUNC_BUFSIZE):
    """Use a smaller ufunc buffer in this thread (NumPy keeps the setting per thread/context)."""
    previous = np.setbufsize(size)
    try:
        yield
    finally:
        np.setbufsize(previous)


def malloc_tuned() -> bool:
    """Whether the glibc malloc tuning described in the module docstring is active."""
    return _state["malloc_tuned"]


def _tune_malloc() -> bool:
    if os.environ.get("TINYGRAD_CNN_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import platform
        if platform.libc_ver()[0] != "glibc":
            return False
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
        ok = libc.mallopt(M_MMAP_MAX, 0)                        # large blocks from the heap too
        ok &= libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)           # keep up to 1 GiB of freed top
        return bool(ok)
    except (OSError, AttributeError, ValueError):
        return False


_state["malloc_tuned"] = _tune_malloc()
