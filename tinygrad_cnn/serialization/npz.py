"""The tinygrad_cnn checkpoint format: a NumPy `.npz` (a zip of `.npy` files), never pickle.

Format. Every array in the saved object becomes one entry `a0.npy`, `a1.npy`, ...; the object's
structure — nested dicts, lists and tuples, Python scalars, strings and None, with each array
replaced by a reference to its entry — is JSON, stored as the uint8 entry `__tinygrad_cnn__.npy`:

    {"format": "tinygrad_cnn.checkpoint", "version": 1,
     "root": {"__dict__": [["model", {"__dict__": [["conv1.weight",
                                      {"__array__": "a0", "kind": "tensor"}], ...]}],
                           ["epoch", 3], ...]}}

Containers and arrays are tagged JSON objects, so every JSON object is a tag; dict keys may be
str, int, float, bool or None and keep their type. A plain `.npz` without the structure entry
(`np.savez(path, **arrays)`) loads as a flat dict of name -> Tensor.

Reading never calls `np.load`: this module parses each `.npy` header itself (at most
MAX_NPY_HEADER bytes, a Python literal read with `ast.literal_eval`, numbers/bools/strings
dtypes only), checks that the header's shape accounts for exactly the member's declared size,
and reads that many bytes into one array. Big-endian arrays come back in native byte order.
Each entry may be referenced once (tc.save writes each array once), so a tampered header cannot
make one entry cost many reads.
"""
from __future__ import annotations

import ast
import functools
import json
import math
import re
import struct
import zipfile
from typing import Any, BinaryIO

import numpy as np

from ..errors import CheckpointError, CheckpointTypeError
from ..tensor import Tensor
from .archive import member_errors, open_member, read_exactly_into
from .limits import MAX_DEPTH, Budget, get_load_limits

__all__ = ["save_npz", "load_archive", "HEADER"]

HEADER = "__tinygrad_cnn__"
_FORMAT = "tinygrad_cnn.checkpoint"
_VERSION = 1
_ARRAY_KINDS = "biufcUS"       # numbers, bools, fixed-width strings: no object arrays
_TENSOR_KINDS = "biuf"
_NPY_MAGIC = b"\x93NUMPY"
MAX_NPY_HEADER = 10_000        # NumPy's own default limit; real headers are under 200 bytes
_NUMPY_MAX_DIMS = 64
# json.dumps refuses ints of more than sys.get_int_max_str_digits() (4300) decimal digits
_MAX_INT_BITS = 14_000


def _label(path: str) -> str:
    return path or "the top level"


# -------------------------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.active: set[int] = set()             # ids of the containers on the current path
        self.count = 0
        self.max_values = get_load_limits().max_entries   # what is saved must load by default

    def encode(self, obj: Any, path: str, depth: int) -> Any:
        self.count += 1
        if self.count > self.max_values:
            raise CheckpointError(
                f"tc.save: the object holds more than {self.max_values:,} values (tc.load's "
                f"max_entries cap; a container used twice counts twice) at {_label(path)}")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            if obj.bit_length() > _MAX_INT_BITS:
                raise CheckpointTypeError(
                    f"tc.save: the int at {_label(path)} has {obj.bit_length():,} bits, more than "
                    f"JSON can carry here ({_MAX_INT_BITS:,}); store it as a string")
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, Tensor):
            return self.array(obj.numpy(), path, {"kind": "tensor", "requires_grad": bool(obj.requires_grad)})
        if isinstance(obj, np.ndarray):
            return self.array(obj, path, {"kind": "ndarray"})
        if isinstance(obj, np.generic):
            return self.array(np.asarray(obj), path, {"kind": "scalar"})
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self.active:
                raise CheckpointError(
                    f"tc.save: the {type(obj).__name__} at {_label(path)} contains itself (a "
                    f"reference cycle); a checkpoint holds a tree of values")
            if depth >= MAX_DEPTH:
                raise CheckpointError(f"tc.save: the object nests deeper than {MAX_DEPTH} levels "
                                      f"at {_label(path)[:200]}")
            self.active.add(id(obj))
            try:
                return self.container(obj, path, depth)
            finally:
                self.active.discard(id(obj))
        raise CheckpointTypeError(
            f"tc.save: cannot save a {type(obj).__name__} at {_label(path)}; checkpoints hold "
            f"nested dicts/lists/tuples of Tensors, NumPy arrays, numbers, strings and None "
            f"(no pickled objects)")

    def container(self, obj: Any, path: str, depth: int) -> Any:
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise CheckpointTypeError(
                        f"tc.save: dict keys must be str, int, float, bool or None, got "
                        f"{type(k).__name__} key {k!r} at {_label(path)}")
                if isinstance(k, int) and k.bit_length() > _MAX_INT_BITS:
                    raise CheckpointTypeError(f"tc.save: an int dict key at {_label(path)} is too "
                                              f"large for JSON ({k.bit_length():,} bits)")
                items.append([k, self.encode(v, f"{path}[{k!r}]", depth + 1)])
            return {"__dict__": items}
        tag = "__list__" if isinstance(obj, list) else "__tuple__"
        return {tag: [self.encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]}

    def array(self, arr: np.ndarray, path: str, meta: dict) -> dict:
        if arr.dtype.kind not in _ARRAY_KINDS or arr.dtype.hasobject:
            raise CheckpointTypeError(f"tc.save: the array at {_label(path)} has dtype {arr.dtype}, "
                                      f"which cannot be stored without pickle")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = arr
        return {"__array__": name, **meta}


def _write_npz(fh: BinaryIO, entries: dict[str, np.ndarray]) -> None:
    """Write the archive (a seam the tests use to simulate a crash mid-write)."""
    np.savez(fh, **entries)


def encode(obj: Any) -> dict[str, np.ndarray]:
    """The archive's entries for `obj`: the JSON structure entry and one entry per array."""
    enc = _Encoder()
    root = enc.encode(obj, "", 0)
    header = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root})
    return {HEADER: np.frombuffer(header.encode("utf-8"), dtype=np.uint8), **enc.arrays}


def save_npz(obj: Any, fh: BinaryIO) -> None:
    _write_npz(fh, encode(obj))


# -------------------------------------------------------------------------------- decoding
def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, label: str) -> np.ndarray:
    name = info.filename
    with member_errors(where, label, name), open_member(archive, info) as member:
        shape, dtype, fortran, header_len = _npy_header(member, where, label, name)
        nbytes = math.prod(shape) * dtype.itemsize            # Python ints: no overflow
        if header_len + nbytes != info.file_size:
            raise CheckpointError(
                f"{where}: {label} (member {name!r}): its .npy header declares shape {shape} of "
                f"{dtype} ({nbytes:,} bytes), but the member holds {info.file_size - header_len:,} "
                f"data bytes (corrupt or tampered)")
        arr = np.empty(shape[::-1] if fortran else shape, dtype)
        read_exactly_into(member, arr, where, label, name)
    if fortran:
        arr = arr.T
    if dtype.byteorder == ">" or (dtype.byteorder == "=" and not dtype.isnative):
        arr = arr.astype(dtype.newbyteorder("="))           # big-endian files load as native
    return arr


def _npy_header(member: BinaryIO, where: str, label: str, name: str) -> tuple[tuple, np.dtype, bool, int]:
    """Parse a .npy header: (shape, dtype, fortran_order, header length in bytes)."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{where}: {label} (member {name!r}) is not a valid .npy array: {why}")
    pre = member.read(8)
    if len(pre) < 8 or pre[:6] != _NPY_MAGIC:
        raise bad(f"it starts with {pre[:8]!r}, not the .npy magic")
    major = pre[6]
    if major not in (1, 2, 3):
        raise bad(f".npy format version {major}.{pre[7]} is unknown")
    width = 2 if major == 1 else 4
    raw_len = member.read(width)
    if len(raw_len) < width:
        raise bad("the header is truncated")
    length = struct.unpack("<H" if width == 2 else "<I", raw_len)[0]
    if length > MAX_NPY_HEADER:
        raise bad(f"its header is {length:,} bytes, over the {MAX_NPY_HEADER:,}-byte limit for "
                  f".npy headers (a real one is under 200 bytes)")
    text = member.read(length)
    if len(text) < length:
        raise bad("the header is truncated")
    try:
        shape, dtype, fortran = _parse_npy_header(text, major)
    except _BadHeader as e:
        if e.pickled:
            raise CheckpointError(f"{where}: {label} (member {name!r}) holds a pickled object "
                                  f"array, which tc.load refuses to load (loading it could run code)") from None
        raise bad(str(e)) from None
    return shape, dtype, fortran, 8 + width + length


class _BadHeader(ValueError):
    def __init__(self, why: str, pickled: bool = False) -> None:
        super().__init__(why)
        self.pickled = pickled


# what np.save writes: parsed without ast (a 100,000-entry archive has 100,000 headers)
_CANONICAL = re.compile(r"\{'descr': '([<>|=][a-zA-Z][0-9]{0,4})', 'fortran_order': (True|False), "
                        r"'shape': \(((?:[0-9]{1,20}, ?)*[0-9]{0,20})\), \} *\n?")


@functools.lru_cache(maxsize=1024)
def _parse_npy_header(text: bytes, major: int) -> tuple[tuple, np.dtype, bool]:
    """(shape, dtype, fortran_order) of a .npy header's text, or _BadHeader saying why not."""
    canonical = _CANONICAL.fullmatch(text.decode("latin1"))
    if canonical:
        descr, fortran = canonical[1], canonical[2] == "True"
        shape = tuple(int(v) for v in canonical[3].replace(" ", "").split(",") if v)
    else:
        try:
            header = ast.literal_eval(text.decode("utf-8" if major == 3 else "latin1"))
        except Exception as e:  # noqa: BLE001 - SyntaxError, ValueError, RecursionError, MemoryError
            raise _BadHeader(f"its header is not a Python literal ({type(e).__name__})") from None
        if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
            raise _BadHeader("its header is not a dict of exactly descr, fortran_order and shape")
        shape, fortran, descr = header["shape"], header["fortran_order"], header["descr"]
    if not isinstance(shape, tuple) or len(shape) > _NUMPY_MAX_DIMS or \
            not all(type(s) is int and s >= 0 for s in shape):
        raise _BadHeader(f"shape {str(shape)[:100]} is not a tuple of at most {_NUMPY_MAX_DIMS} "
                         f"non-negative ints")
    if not isinstance(fortran, bool):
        raise _BadHeader(f"fortran_order {str(fortran)[:40]} is not a bool")
    if not isinstance(descr, str):
        raise _BadHeader(f"dtype {str(descr)[:80]} is a structured dtype (only plain numbers, "
                         f"bools and strings are read)")
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError, SyntaxError):
        raise _BadHeader(f"dtype {descr[:80]!r} is not a NumPy dtype") from None
    if dtype.hasobject:
        raise _BadHeader("object array", pickled=True)
    if dtype.kind not in _ARRAY_KINDS or dtype.shape != ():
        raise _BadHeader(f"dtype {dtype} is not a plain number, bool or string dtype")
    return shape, dtype, fortran


def _tensor(arr: np.ndarray, where: str, label: str) -> Tensor:
    if arr.dtype.kind == "c":
        raise CheckpointError(f"{where}: {label} holds a complex array ({arr.dtype}); tinygrad_cnn "
                              f"tensors are real (complex NumPy arrays round-trip through tc.save "
                              f"as NumPy arrays, not as Tensors)")
    if arr.dtype.kind not in _TENSOR_KINDS:
        raise CheckpointError(f"{where}: {label} holds an array of dtype {arr.dtype}, which "
                              f"cannot be a tensor (numbers and bools only)")
    return Tensor._wrap(arr)


def _members(archive: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's .npy members by entry name (the file name without .npy)."""
    members = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"{where}: member {info.filename[:200]!r} is not a .npy array "
                                  f"(an .npz checkpoint holds only .npy members)")
        members[info.filename[:-4]] = info
    return members


def load_archive(archive: zipfile.ZipFile, budget: Budget) -> Any:
    where = budget.where
    members = _members(archive, where)
    if HEADER not in members:
        out = {}
        for name, info in members.items():
            label = f"key {name!r}"
            out[name] = _tensor(_read_npy(archive, info, where, label), where, label)
        return out
    raw = _read_npy(archive, members[HEADER], where, "the structure entry")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{where}: the structure entry '{HEADER}.npy' is corrupt "
                              f"(a {raw.dtype} array of shape {raw.shape}, not bytes)")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:   # ValueError: JSONDecodeError,
        # an int of more than 4300 digits, a duplicate key
        raise CheckpointError(f"{where}: the structure entry '{HEADER}.npy' is corrupt: "
                              f"{str(e)[:200]}") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT or "root" not in header:
        raise CheckpointError(f"{where}: the structure entry is not a {_FORMAT} header")
    version = header.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{where}: the structure entry has a malformed version {str(version)[:50]!r}")
    if version > _VERSION:
        raise CheckpointError(f"{where}: checkpoint format version {version} is newer than this "
                              f"tinygrad_cnn understands ({_VERSION})")
    return _Decoder(archive, members, budget).decode(header["root"], "", 0)


def _no_duplicate_keys(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a JSON object repeats a key")
    return out


class _Decoder:
    def __init__(self, archive: zipfile.ZipFile, members: dict, budget: Budget) -> None:
        self.archive, self.members, self.budget = archive, members, budget
        self.where = budget.where
        self.used: dict[str, str] = {}

    def malformed(self, path: str, why: str) -> CheckpointError:
        return CheckpointError(f"{self.where}: the structure entry is malformed at "
                               f"{_label(path)[:200]}: {why}")

    def decode(self, node: Any, path: str, depth: int) -> Any:
        self.budget.take_entries(1, f"the value at {_label(path)[:200]}")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if depth >= MAX_DEPTH:
            raise self.malformed(path, f"it nests deeper than {MAX_DEPTH} levels")
        if not isinstance(node, dict) or not node:
            raise self.malformed(path, f"unrecognised node {str(node)[:80]}")
        if "__dict__" in node:
            return self.dict(node, path, depth)
        for tag, kind in (("__list__", list), ("__tuple__", tuple)):
            if tag in node:
                items = node[tag]
                if set(node) != {tag} or not isinstance(items, list):
                    raise self.malformed(path, f"{tag} must be the only key and hold a JSON list, "
                                               f"got {str(items)[:80]}")
                return kind(self.decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(items))
        if "__array__" in node:
            return self.array(node, path)
        raise self.malformed(path, f"unrecognised node {str(node)[:80]}")

    def dict(self, node: dict, path: str, depth: int) -> dict:
        items = node["__dict__"]
        if set(node) != {"__dict__"} or not isinstance(items, list):
            raise self.malformed(path, f"__dict__ must be the only key and hold a JSON list, got "
                                       f"{str(items)[:80]}")
        out: dict = {}
        for item in items:
            if not isinstance(item, list) or len(item) != 2:
                raise self.malformed(path, f"a dict entry is not a [key, value] pair: {str(item)[:80]}")
            k, v = item
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise self.malformed(path, f"a dict key is a {type(k).__name__}, not a scalar")
            if k in out:
                raise self.malformed(path, f"the dict repeats the key {str(k)[:80]!r}")
            out[k] = self.decode(v, f"{path}[{k!r}]", depth + 1)
        return out

    def array(self, node: dict, path: str) -> Any:
        name, kind = node["__array__"], node.get("kind", "ndarray")
        if not set(node) <= {"__array__", "kind", "requires_grad"} or not isinstance(name, str) \
                or kind not in ("tensor", "ndarray", "scalar"):
            raise self.malformed(path, f"bad array reference {str(node)[:80]}")
        label = f"key {_label(path)}"
        if name not in self.members:
            raise CheckpointError(f"{self.where}: {label} refers to entry '{name[:80]}.npy', which "
                                  f"is missing from the archive (the file is corrupt or truncated)")
        if name in self.used or name == HEADER:
            raise CheckpointError(f"{self.where}: {label} refers to entry '{name}.npy', which "
                                  f"{'is the structure entry' if name == HEADER else 'is already used by ' + self.used[name][:200]}"
                                  f" (tc.save writes each array once: a tampered header)")
        self.used[name] = _label(path)
        arr = _read_npy(self.archive, self.members[name], self.where, label)
        if kind == "tensor":
            t = _tensor(arr, self.where, label)
            if node.get("requires_grad") is True and arr.dtype.kind == "f":
                t.requires_grad = True
            return t
        if kind == "scalar":
            if arr.ndim != 0:
                raise self.malformed(path, f"a scalar entry of shape {arr.shape}")
            return arr[()]
        return arr
