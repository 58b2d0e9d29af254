"""`tc.save` / `tc.load`: checkpoints as `.npz` archives, never pickle.

Format. A checkpoint is a NumPy `.npz` (a zip of `.npy` files). Every array in the saved object
becomes one entry `a0.npy`, `a1.npy`, ...; the object's structure — nested dicts, lists and
tuples, Python scalars, strings and None, with each array replaced by a reference to its entry
— is JSON, stored as the uint8 entry `__tinygrad_cnn__.npy`:

    {"format": "tinygrad_cnn.checkpoint", "version": 1,
     "root": {"__dict__": [["model", {"__dict__": [["conv1.weight",
                                      {"__array__": "a0", "kind": "tensor"}], ...]}],
                           ["epoch", 3], ...]}}

Containers and arrays are tagged JSON objects, so every JSON object is a tag; dict keys may be
str, int, float, bool or None and keep their type. Loading uses `np.load(allow_pickle=False)`
and `json.loads`: an untrusted file can fail to load but cannot run code.

Atomic writes. `save` writes to a temporary file in the destination's directory, flushes and
fsyncs it, then `os.replace`s it over the destination (and fsyncs the directory): a crash or an
exception mid-save leaves the previous checkpoint intact and no partial file under the name.
The temporary file is `.name.PID.XXXX.tmp`; a writer killed mid-save leaves it behind, and the
next successful save of the same checkpoint deletes it once PID is no running process and the
file is a minute old.

Errors. A missing, truncated or corrupt file, or an entry that fails to decode, raises
`CheckpointError` naming the file and the key path of the failing entry
(e.g. `['model']['fc1.weight']`).

A plain `.npz` without the structure entry (`np.savez(path, **arrays)`) loads as a flat
dict of name -> Tensor, so NumPy-exported state dicts load directly.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any, BinaryIO

import numpy as np

from .tensor import Tensor
from .errors import CheckpointError

__all__ = ["save", "load", "CheckpointError"]

_HEADER = "__tinygrad_cnn__"
_FORMAT = "tinygrad_cnn.checkpoint"
_VERSION = 1
_ARRAY_KINDS = "biufcUS"       # numbers, bools, fixed-width strings: no object arrays
# A dead writer's temp file is deleted once it has not been written for this long.
STALE_TEMP_SECONDS = 60




def _key_path(path: str, key: Any) -> str:
    return f"{path}[{key!r}]"


# -------------------------------------------------------------------------------- encoding
def _encode(obj: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, Tensor):
        return _encode_array(obj._data, arrays, path, {"kind": "tensor", "requires_grad": bool(obj.requires_grad)})
    if isinstance(obj, np.ndarray):
        return _encode_array(obj, arrays, path, {"kind": "ndarray"})
    if isinstance(obj, np.generic):
        return _encode_array(np.asarray(obj), arrays, path, {"kind": "scalar"})
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise TypeError(f"tc.save: dict keys must be str, int, float, bool or None, got "
                                f"{type(k).__name__} key {k!r} at {path or 'the top level'}")
            items.append([k, _encode(v, arrays, _key_path(path, k))])
        return {"__dict__": items}
    if isinstance(obj, (list, tuple)):
        tag = "__list__" if isinstance(obj, list) else "__tuple__"
        return {tag: [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]}
    raise TypeError(f"tc.save: cannot save a {type(obj).__name__} at {path or 'the top level'}; "
                    f"checkpoints hold nested dicts/lists/tuples of Tensors, NumPy arrays, "
                    f"numbers, strings and None (no pickled objects)")


def _encode_array(arr: np.ndarray, arrays: dict, path: str, meta: dict) -> dict:
    if arr.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"tc.save: the array at {path or 'the top level'} has dtype {arr.dtype}, "
                        f"which cannot be stored without pickle")
    name = f"a{len(arrays)}"
    arrays[name] = arr
    return {"__array__": name, **meta}


def _write_npz(fh: BinaryIO, entries: dict[str, np.ndarray]) -> None:
    """Write the archive (a seam the tests use to simulate a crash mid-write)."""
    np.savez(fh, **entries)


def save(obj: Any, f: Any) -> None:
    """Save a nested structure of Tensors/arrays/numbers/strings/None to `f` (a path or a
    binary file object), e.g. `tc.save({"model": model.state_dict(), "optimizer":
    opt.state_dict(), "epoch": 3}, "ckpt.npz")`. The path is used as given (no suffix added);
    writing to a path is atomic."""
    if not isinstance(f, (str, os.PathLike)) and not callable(getattr(f, "write", None)):
        raise CheckpointError(f"save: f must be a path or a binary file object, got {type(f).__name__}")
    arrays: dict[str, np.ndarray] = {}
    root = _encode(obj, arrays, "")
    header = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root})
    entries = {_HEADER: np.frombuffer(header.encode("utf-8"), dtype=np.uint8), **arrays}
    if not isinstance(f, (str, os.PathLike)):
        _write_npz(f, entries)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CheckpointError(f"tc.save: cannot write {path}: the directory {directory} does not exist")
    # the writer's PID in the name lets a later save tell a dead writer's leftover from a live one
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_npz(fh, entries)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    _remove_dead_writers_temps(path)


def _temp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}."


def _remove_dead_writers_temps(path: str) -> None:
    """Delete `.name.PID.XXXX.tmp` files of this checkpoint left by writers that were killed
    mid-save (SIGKILL, power loss): their PID names no running process here, and the file has
    not been written for STALE_TEMP_SECONDS (so a live writer on another host sharing the
    directory, whose PID means nothing here, keeps its temp while it writes). A live local
    writer's temp, or one whose PID has been reused, is left alone."""
    directory, prefix = os.path.dirname(os.path.abspath(path)), _temp_prefix(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    now = time.time()
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _process_exists(int(pid)):
            continue
        full = os.path.join(directory, name)
        try:
            if now - os.stat(full).st_mtime >= STALE_TEMP_SECONDS:
                os.unlink(full)
        except OSError:                                  # gone already, or not ours to delete
            pass


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)                                  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True                                      # someone else's process, or unknown
    return True


def _file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777          # keep an existing checkpoint's mode
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -------------------------------------------------------------------------------- decoding
class _Reader:
    def __init__(self, archive: Any, where: str) -> None:
        self.archive, self.where = archive, where

    def array(self, name: str, path: str) -> np.ndarray:
        label = path or "the top level"
        if name not in self.archive.files:
            raise CheckpointError(f"{self.where}: key {label} refers to entry '{name}.npy', which "
                                  f"is missing from the archive (the file is corrupt or truncated)")
        try:
            return self.archive[name]
        except ValueError as e:
            if "allow_pickle" in str(e) or "pickle" in str(e).lower():
                raise CheckpointError(f"{self.where}: key {label} (entry '{name}.npy') holds a "
                                      f"pickled object array, which tc.load refuses to load "
                                      f"(loading it could run code)") from None
            raise CheckpointError(f"{self.where}: key {label} (entry '{name}.npy') failed to "
                                  f"load: {e}") from None
        except Exception as e:  # noqa: BLE001 - zlib/zip/EOF errors all mean a corrupt entry
            raise CheckpointError(f"{self.where}: key {label} (entry '{name}.npy') failed to "
                                  f"load: {type(e).__name__}: {e}") from None

    def decode(self, node: Any, path: str) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, dict):
            if "__dict__" in node:
                out = {}
                for item in node["__dict__"]:
                    if not isinstance(item, list) or len(item) != 2:
                        raise CheckpointError(f"{self.where}: malformed dict entry at {path or 'the top level'}")
                    k, v = item
                    out[k] = self.decode(v, _key_path(path, k))
                return out
            if "__list__" in node:
                return [self.decode(v, f"{path}[{i}]") for i, v in enumerate(node["__list__"])]
            if "__tuple__" in node:
                return tuple(self.decode(v, f"{path}[{i}]") for i, v in enumerate(node["__tuple__"]))
            if "__array__" in node:
                arr = self.array(str(node["__array__"]), path)
                kind = node.get("kind", "ndarray")
                if kind == "tensor":
                    t = _tensor(arr, self.where, path or "the top level")
                    if node.get("requires_grad") and arr.dtype.kind == "f":
                        t.requires_grad = True
                    return t
                if kind == "scalar":
                    return arr[()]
                return arr
        raise CheckpointError(f"{self.where}: unrecognised structure node at {path or 'the top level'}: "
                              f"{str(node)[:80]}")


def _tensor(arr: np.ndarray, where: str, label: str) -> Tensor:
    if arr.dtype.kind not in "biuf":
        raise CheckpointError(f"{where}: key {label} holds an array of dtype {arr.dtype}, which "
                              f"cannot be a tensor (numbers and bools only)")
    return Tensor._wrap(arr)


def load(f: Any, map_location: Any = None, weights_only: bool = True) -> Any:
    """Load what `save` wrote: arrays come back as Tensors (as they were saved: Tensors or
    NumPy arrays), dicts/lists/tuples and scalars as themselves. `map_location` and
    `weights_only` are accepted for PyTorch compatibility and ignored (everything is on the CPU
    and nothing is ever unpickled)."""
    if not isinstance(f, (str, os.PathLike)) and not callable(getattr(f, "read", None)):
        raise CheckpointError(f"load: f must be a path or a binary file object, got {type(f).__name__}")
    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<file object>")
    if isinstance(f, (str, os.PathLike)) and not os.path.exists(where):
        raise CheckpointError(f"{where}: no such checkpoint file")
    try:
        archive = np.load(f, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - OSError, BadZipFile, EOFError, NotImplementedError (a
        # flipped byte in the zip directory's "version needed" field): all mean a corrupt file
        raise CheckpointError(f"{where}: not a readable .npz checkpoint (truncated or corrupt?): "
                              f"{type(e).__name__}: {e}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise CheckpointError(f"{where}: this is a single .npy array, not an .npz checkpoint")
    with archive:
        reader = _Reader(archive, where)
        if _HEADER not in archive.files:
            return {name: _tensor(reader.array(name, repr(name)), where, repr(name)) for name in archive.files}
        raw = reader.array(_HEADER, "<structure header>")
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise CheckpointError(f"{where}: the structure entry '{_HEADER}.npy' is corrupt: {e}") from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT or "root" not in header:
            raise CheckpointError(f"{where}: the structure entry is not a {_FORMAT} header")
        version = header.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise CheckpointError(f"{where}: the structure entry has a malformed version {version!r}")
        if version > _VERSION:
            raise CheckpointError(f"{where}: checkpoint format version {header.get('version')} is "
                                  f"newer than this tinygrad_cnn understands ({_VERSION})")
        try:
            return reader.decode(header["root"], "")
        except CheckpointError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as e:
            # a tampered header: a dict entry that is not a [key, value] pair, an unhashable
            # key, a list that is not a list, nesting deeper than any checkpoint needs, ...
            raise CheckpointError(f"{where}: the structure entry is malformed "
                                  f"({type(e).__name__}: {e})") from None
