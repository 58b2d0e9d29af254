"""`tc.save` / `tc.load`: checkpoints in and out, and no file can run code.

    tc.save(obj, "ckpt.npz")            # tinygrad_cnn's .npz (any name but *.safetensors)
    tc.save(state_dict, "m.safetensors")  # the suffix .safetensors writes safetensors
    tc.load(path)                       # .npz (ours or np.savez), .safetensors, PyTorch .pt/.pth

Writing: `tc.save` writes the tinygrad_cnn `.npz` format (see npz.py) whatever the file is
called, except that a path ending in `.safetensors` writes a safetensors file (a flat dict of
tensors only; see safetensors_format.py), as `tc.save_safetensors` does. Writing to a path is
atomic (files.py): a failure leaves the previous file intact, and an OSError is re-raised as
`CheckpointWriteError` (an OSError and a CheckpointError) naming the path.

Reading: `tc.load` tells the format by the file's first bytes, not its name (a path ending in
`.safetensors` is always read as safetensors): a zip holding `data.pkl` is a PyTorch checkpoint
(torch_pickle.py: read by a restricted interpreter, never by pickle), any other zip an `.npz`,
an 8-byte length followed by `{` a safetensors file. A pickle (PyTorch's legacy format) is
refused. Every load is bounded by the caps in limits.py (`max_bytes`, `max_entries`), per call
or process-wide with `tc.serialization.set_load_limits`; only regular files are opened, so a
FIFO or a device is refused instead of blocking. Every failure is a `CheckpointError` naming the
file and what is wrong.
"""
from __future__ import annotations

import os
from typing import Any, BinaryIO

from ..errors import CheckpointError, CheckpointTypeError, CheckpointWriteError
from ..tensor import Tensor
from . import npz
from .archive import open_archive
from .files import STALE_TEMP_SECONDS, atomic_write, open_regular_file
from .limits import Budget, LoadLimits, get_load_limits, resolve, set_load_limits
from .safetensors_format import encode as _encode_safetensors, read_safetensors, write_safetensors
from .torch_pickle import LEGACY_MESSAGE, is_torch_archive, load_torch_archive

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "set_load_limits",
           "get_load_limits", "LoadLimits", "CheckpointError", "CheckpointTypeError",
           "CheckpointWriteError", "STALE_TEMP_SECONDS"]

_SAFETENSORS_SUFFIX = ".safetensors"


# ---------------------------------------------------------------------------------- writing
def save(obj: Any, f: Any) -> None:
    """Save a nested structure of Tensors/arrays/numbers/strings/None to `f` (a path or a
    binary file object), e.g. `tc.save({"model": model.state_dict(), "optimizer":
    opt.state_dict(), "epoch": 3}, "ckpt.npz")`. The path is used as given (no suffix added);
    one ending in `.safetensors` gets a safetensors file (a flat dict of tensors only).
    Writing to a path is atomic."""
    if _is_path(f) and os.fspath(f).endswith(_SAFETENSORS_SUFFIX):
        save_safetensors(obj, f)
        return
    entries = npz.encode(obj)                     # refuse what cannot be saved before writing
    _write(f, lambda fh: npz._write_npz(fh, entries))


def save_safetensors(state_dict: dict, f: Any, metadata: dict[str, str] | None = None) -> None:
    """Write a flat dict of name -> Tensor/array as a safetensors file (loadable by
    `safetensors.numpy.load_file` / `safetensors.torch.load_file`); `metadata` is an optional
    str -> str dict stored in the header. Atomic for a path, like tc.save."""
    header, arrays = _encode_safetensors(state_dict, metadata)
    _write(f, lambda fh: write_safetensors(fh, header, arrays))


def _write(f: Any, write: Any) -> None:
    where = os.fspath(f) if _is_path(f) else getattr(f, "name", "<file object>")
    if not _is_path(f) and not callable(getattr(f, "write", None)):
        raise CheckpointTypeError(f"tc.save: f must be a path or a binary file object, not "
                                  f"{type(f).__name__}")
    try:
        if not _is_path(f):
            try:
                write(f)
            except TypeError as e:               # e.g. a file opened in text mode
                raise CheckpointTypeError(f"tc.save: could not write to {where}: {e} (is it "
                                          f"opened in binary mode?)") from None
            return
        directory = os.path.dirname(os.path.abspath(where))
        if not os.path.isdir(directory):
            raise CheckpointError(f"tc.save: cannot write {where}: the directory {directory} does not exist")
        atomic_write(where, write)
    except OSError as e:
        if isinstance(e, CheckpointError):
            raise
        message = (f"tc.save: could not write {where}: {e.strerror or e} ({type(e).__name__}; "
                   f"any previous file there is unchanged)")
        err = CheckpointWriteError(e.errno, message) if e.errno is not None else CheckpointWriteError(message)
        raise err from e


def _is_path(f: Any) -> bool:
    return isinstance(f, (str, os.PathLike))


# ---------------------------------------------------------------------------------- reading
def load(f: Any, map_location: Any = None, weights_only: bool = True, *,
         max_bytes: int | None = None, max_entries: int | None = None) -> Any:
    """Load a checkpoint: a tc.save `.npz` (arrays come back as they were saved: Tensors or
    NumPy arrays; dicts/lists/tuples and scalars as themselves), a plain `np.savez` file or a
    `.safetensors` file (a dict of name -> Tensor), or a PyTorch `torch.save` file (tensors as
    Tensors, e.g. `model.load_state_dict(tc.load("resnet18.pth"))`). `max_bytes` /
    `max_entries` override the caps for this call. `map_location` and `weights_only` are
    accepted for PyTorch compatibility and ignored (everything is on the CPU and nothing is
    ever unpickled)."""
    limits = resolve(max_bytes, max_entries)
    return _read(f, _load_any, limits)


def load_safetensors(f: Any, *, with_metadata: bool = False, max_bytes: int | None = None,
                     max_entries: int | None = None) -> Any:
    """Read a safetensors file into a dict of name -> Tensor (BF16 widened to float32); with
    `with_metadata=True`, return `(tensors, metadata)`. Does not need the safetensors package."""
    limits = resolve(max_bytes, max_entries)

    def read(fh: BinaryIO, size: int, budget: Budget, _: bool) -> Any:
        tensors, metadata = read_safetensors(fh, size, budget)
        return (tensors, metadata) if with_metadata else tensors
    return _read(f, read, limits)


def _read(f: Any, read: Any, limits: LoadLimits) -> Any:
    if _is_path(f):
        where = os.fspath(f)
        with open_regular_file(where, CheckpointError, "checkpoint") as fh:
            size = os.fstat(fh.fileno()).st_size
            return read(fh, size, Budget(where, limits), where.endswith(_SAFETENSORS_SUFFIX))
    if not callable(getattr(f, "read", None)):
        raise CheckpointTypeError(f"tc.load: f must be a path or a seekable binary file object, "
                                  f"not {type(f).__name__}")
    where = str(getattr(f, "name", "<file object>"))
    try:
        start = f.tell()
        size = f.seek(0, os.SEEK_END) - start
        f.seek(start)
    except (AttributeError, OSError, ValueError) as e:
        raise CheckpointError(f"{where}: tc.load needs a path or a seekable binary file object "
                              f"({type(e).__name__}: {e})") from None
    return read(f, size, Budget(where, limits), where.endswith(_SAFETENSORS_SUFFIX))


def _load_any(fh: BinaryIO, size: int, budget: Budget, safetensors: bool) -> Any:
    where = budget.where
    if safetensors:
        return read_safetensors(fh, size, budget)[0]
    start = fh.tell()
    head = fh.read(9)
    fh.seek(start)
    if not head:
        raise CheckpointError(f"{where}: the file is empty (not a checkpoint)")
    if head[:2] == b"PK":
        archive = open_archive(fh, size, budget)
        with archive:
            if is_torch_archive(archive):
                return load_torch_archive(archive, budget)
            return npz.load_archive(archive, budget)
    if head[:6] == b"\x93NUMPY":
        raise CheckpointError(f"{where}: this is a single .npy array, not an .npz checkpoint")
    if len(head) == 9 and head[8:9] == b"{":
        return read_safetensors(fh, size, budget)[0]
    if head[0] == 0x80:
        raise CheckpointError(f"{where}: {LEGACY_MESSAGE}")
    raise CheckpointError(f"{where}: not a checkpoint tc.load can read (it starts with "
                          f"{head[:8]!r}); tc.load reads tc.save/np.savez .npz files, "
                          f".safetensors files and PyTorch (>= 1.6) .pt/.pth files")
