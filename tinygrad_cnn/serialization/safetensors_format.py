"""safetensors files, read and written without the `safetensors` package.

The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian unsigned header
length N, N bytes of JSON `{name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
..., "__metadata__": {str: str}}`, then the tensors' raw little-endian bytes, row-major, at
offsets relative to the end of the header. As in the reference implementation, a header over
100 MB is refused, and the offsets must tile the data exactly: sorted, they start at 0, each
begins where the previous ends, the last ends at the end of the file, and each spans
shape x itemsize bytes. Names must be unique. Everything is checked before any tensor is read.

BF16 has no NumPy dtype: it loads as float32 (exactly: a bfloat16 is the top half of a
float32). Writing pads the header with spaces to a multiple of 8 bytes, as safetensors does.
"""
from __future__ import annotations

import json
import math
import struct
import sys
from typing import Any, BinaryIO

import numpy as np

from ..errors import CheckpointError, CheckpointTypeError
from ..tensor import Tensor
from .limits import Budget

__all__ = ["write_safetensors", "read_safetensors", "MAX_HEADER"]

MAX_HEADER = 100_000_000          # safetensors' own limit
_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
           "I32": np.int32, "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32,
           "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}
_BF16 = "BF16"
_NO_NUMPY_DTYPE = ("F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64", "C128")


# -------------------------------------------------------------------------------- writing
def encode(tensors: Any, metadata: Any) -> tuple[bytes, list[np.ndarray]]:
    """The header bytes and the arrays (little-endian, contiguous) of a safetensors file."""
    if not isinstance(tensors, dict):
        raise CheckpointTypeError(f"save_safetensors: expects a flat dict of name -> Tensor (a "
                                  f"state dict), got a {type(tensors).__name__}")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise CheckpointTypeError("save_safetensors: metadata must be a dict of str -> str "
                                  "(safetensors stores only strings there)")
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    checked = []
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise CheckpointTypeError(f"save_safetensors: tensor names must be str other than "
                                      f"'__metadata__', got {name!r}")
        arr = value.numpy() if isinstance(value, Tensor) else value
        if not isinstance(arr, np.ndarray):
            raise CheckpointTypeError(f"save_safetensors: {name!r} is a {type(value).__name__}; "
                                      f"safetensors holds only tensors (a flat dict: put epochs "
                                      f"and settings in metadata, or use tc.save's .npz)")
        native = arr.dtype.newbyteorder("=")
        if native not in _NAMES:
            raise CheckpointTypeError(f"save_safetensors: {name!r} has dtype {arr.dtype}, which "
                                      f"safetensors cannot hold (numbers and bools only; no complex)")
        checked.append((name, arr.astype(native.newbyteorder("<"), order="C", copy=False), _NAMES[native]))
    # widest dtypes first, as the safetensors package does, so every tensor is aligned to its
    # itemsize (the data starts 8-byte aligned)
    checked.sort(key=lambda item: -item[1].itemsize)
    arrays, offset = [], 0
    for name, arr, code in checked:
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        arrays.append(arr)
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 8)               # data starts 8-byte aligned
    return raw, arrays


def write_safetensors(fh: BinaryIO, raw_header: bytes, arrays: list[np.ndarray]) -> None:
    fh.write(struct.pack("<Q", len(raw_header)))
    fh.write(raw_header)
    for arr in arrays:
        fh.write(memoryview(arr.reshape(-1).view(np.uint8)))


# -------------------------------------------------------------------------------- reading
def read_safetensors(fh: BinaryIO, size: int, budget: Budget) -> tuple[dict[str, Tensor], dict[str, str]]:
    where = budget.where

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{where}: not a valid safetensors file: {why}")
    prefix = fh.read(8)
    if len(prefix) < 8:
        raise bad(f"the file has {size} bytes, fewer than the 8-byte header length")
    n = struct.unpack("<Q", prefix)[0]
    if n > MAX_HEADER:
        raise bad(f"the header claims {n:,} bytes, over safetensors' {MAX_HEADER:,}-byte limit")
    if n > size - 8:
        raise bad(f"the header claims {n:,} bytes, but the file has only {size - 8:,} after the "
                  f"length (truncated?)")
    budget.take_bytes(n, "the safetensors header")
    try:
        header = json.loads(fh.read(n).decode("utf-8"), object_pairs_hook=_unique)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"the header is not JSON: {str(e)[:200]}") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ is not an object of strings")
    budget.take_entries(len(header), f"the header's {len(header):,} tensors")
    specs = [_spec(name, entry, bad) for name, entry in header.items()]
    data_size = size - 8 - n
    end = 0
    for begin, stop, name, _, _ in sorted(specs, key=lambda s: (s[0], s[1])):
        if begin != end:
            raise bad(f"tensor {name[:100]!r} starts at byte {begin:,} of the data, but the "
                      f"previous one ends at {end:,} ({'overlapping' if begin < end else 'a gap'}: "
                      f"the offsets must tile the data)")
        end = stop
    if end != data_size:
        raise bad(f"the tensors end at byte {end:,} of the data, but the file holds {data_size:,} "
                  f"data bytes ({'truncated' if end > data_size else 'trailing bytes'})")
    budget.take_bytes(data_size, "the tensors")
    out = {}
    for begin, stop, name, code, shape in specs:
        fh.seek(8 + n + begin)
        out[name] = Tensor._wrap(_read_tensor(fh, code, shape, stop - begin, name, bad))
    return out, metadata


def _unique(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"the name {str(dup)[:100]!r} appears more than once")
    return out


def _spec(name: str, entry: Any, bad: Any) -> tuple[int, int, str, str, tuple]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise bad(f"the entry of {name[:100]!r} is not an object of dtype, shape and data_offsets")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if code in _NO_NUMPY_DTYPE:
        raise bad(f"tensor {name[:100]!r} has dtype {code}, which NumPy (and so tinygrad_cnn) "
                  f"cannot represent")
    if code not in _DTYPES and code != _BF16:
        raise bad(f"tensor {name[:100]!r} has the unknown dtype {str(code)[:40]!r}")
    if not isinstance(shape, list) or len(shape) > 64 or \
            not all(type(s) is int and s >= 0 for s in shape):
        raise bad(f"the shape of {name[:100]!r} is not a list of non-negative ints: {str(shape)[:80]}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise bad(f"the data_offsets of {name[:100]!r} are not [begin, end] with 0 <= begin <= "
                  f"end: {str(offsets)[:80]}")
    itemsize = 2 if code == _BF16 else np.dtype(_DTYPES[code]).itemsize
    need = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != need:
        raise bad(f"tensor {name[:100]!r} of shape {tuple(shape)} and dtype {code} needs {need:,} "
                  f"bytes, but its data_offsets span {offsets[1] - offsets[0]:,}")
    return offsets[0], offsets[1], name, code, tuple(shape)


def _read_tensor(fh: BinaryIO, code: str, shape: tuple, nbytes: int, name: str, bad: Any) -> np.ndarray:
    storage = np.dtype(np.uint16 if code == _BF16 else _DTYPES[code])
    arr = np.empty(shape, storage if sys.byteorder == "little" else storage.newbyteorder("<"))
    view = memoryview(arr.reshape(-1).view(np.uint8))
    if fh.readinto(view) != nbytes:
        raise bad(f"tensor {name[:100]!r} is truncated")
    if code == _BF16:                          # the top 16 bits of a float32
        return (arr.astype(np.uint32) << 16).view(np.float32)
    if code == "BOOL" and arr.size and arr.view(np.uint8).max() > 1:
        raise bad(f"the bool tensor {name[:100]!r} holds bytes other than 0 and 1")
    return arr.astype(arr.dtype.newbyteorder("="), copy=False)
