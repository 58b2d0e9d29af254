"""PyTorch checkpoints (`torch.save`, the zip format of torch >= 1.6) read without torch and
without running pickle.

A `.pt`/`.pth` file is a zip whose members share one folder `P/`: `P/data.pkl` (a pickle of
the saved object, in which every tensor is a call `torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, requires_grad, hooks)` and every storage a persistent id `("storage",
torch.FloatStorage, key, location, numel)`), the raw bytes of each storage in `P/data/<key>`,
and `P/byteorder` ("little" or "big").

`data.pkl` is run by the small interpreter below, not by `pickle`: it knows the opcodes of
protocols 2-5 that build data (numbers, strings, bytes, tuples, lists, dicts, the memo, marks)
plus GLOBAL/STACK_GLOBAL, REDUCE, BUILD and BINPERSID, and nothing else. A global resolves only
to an entry of `_ALLOWED` — this module's own re-implementations of the tensor and storage
rebuilders, `collections.OrderedDict`, and the storage type names — and REDUCE can only call
those. Any other global (`os.system`, `builtins.eval`, `subprocess.Popen`, ...) and any other
opcode (INST, OBJ, NEWOBJ, EXT, ...) is refused with a `CheckpointError` naming it, before
anything of the file's choosing could run. The interpreter is a loop over the bytes (no
recursion), every read is bounded by the data, and storages are read once each, with their
declared sizes checked against the archive.

Tensors come back as tinygrad_cnn Tensors holding their own copy (a strided or shared-storage
view in PyTorch becomes a contiguous array here), so `model.load_state_dict(tc.load(path))`
works as in PyTorch.
"""
from __future__ import annotations

import collections
import math
import struct
import sys
import zipfile
from typing import Any, Callable

import numpy as np

from ..errors import CheckpointError
from ..tensor import Tensor
from .archive import member_errors, open_member, read_exactly_into
from .limits import MAX_DEPTH, Budget

__all__ = ["is_torch_archive", "load_torch_archive", "LEGACY_MESSAGE"]

LEGACY_MESSAGE = (
    "is a pickle file (PyTorch's legacy format: torch < 1.6, or torch.save with "
    "_use_new_zipfile_serialization=False, or a plain pickle), which cannot be read without "
    "executing it; tc.load reads the zip format of torch >= 1.6. Where torch is installed, "
    "convert it there: torch.save(torch.load(src, weights_only=True), dst)")


_NATIVE = "<" if sys.byteorder == "little" else ">"


class _StorageType:
    """What the global `torch.FloatStorage` (etc.) resolves to: just its NumPy dtype."""

    def __init__(self, name: str, dtype: Any) -> None:
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


_STORAGES = {"DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
             "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
             "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
             "BoolStorage": np.bool_}
_UNSUPPORTED_STORAGES = ("ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage",
                         "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage")


class _Storage:
    """A loaded storage: its elements as a 1-d array (bfloat16 already widened to float32)."""

    def __init__(self, array: np.ndarray, key: str) -> None:
        self.array, self.key = array, key
        self.taken = False               # whether a tensor owns `array` (later ones copy)


def _contiguous_strides(size: tuple) -> tuple:
    strides, step = [], 1
    for s in reversed(size):
        strides.append(step)
        step *= max(s, 1)
    return tuple(reversed(strides))


# ------------------------------------------------------------------------- tensor rebuilding
def _rebuild_tensor(loader: "_TorchArchive", storage: Any, offset: Any, size: Any, stride: Any,
                    requires_grad: Any = False, hooks: Any = None, metadata: Any = None) -> Tensor:
    """torch._utils._rebuild_tensor_v2: a strided view of `storage`, copied into its own array."""
    if not isinstance(storage, _Storage):
        raise loader.bad(f"_rebuild_tensor_v2 got a {type(storage).__name__} instead of a storage")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and len(size) <= 64 and all(type(v) is int and v >= 0 for v in size + stride)
            and type(offset) is int and offset >= 0):
        raise loader.bad(f"_rebuild_tensor_v2 got a bad layout: offset {str(offset)[:40]}, size "
                         f"{str(size)[:80]}, stride {str(stride)[:80]}")
    data = storage.array
    n = math.prod(size)
    if n:
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= data.size:
            raise loader.bad(f"a tensor of size {size}, stride {stride} and offset {offset} reaches "
                             f"element {last:,} of storage {storage.key!r}, which has {data.size:,}")
    loader.produced.take_bytes(n * data.itemsize, f"the tensor of size {size} on storage {storage.key!r}")
    if n == 0:
        arr = np.empty(size, data.dtype)
    elif not storage.taken and offset == 0 and n == data.size and stride == _contiguous_strides(size):
        arr = data.reshape(size)         # the usual case: the first tensor on its storage, whole
        storage.taken = True             # and in order, takes the array; any later one copies
    else:
        arr = np.lib.stride_tricks.as_strided(data[offset:], size, [s * data.itemsize for s in stride]).copy()
    t = Tensor._wrap(arr)
    if requires_grad is True and arr.dtype.kind == "f":
        t.requires_grad = True
    return t


def _rebuild_parameter(loader: "_TorchArchive", data: Any, requires_grad: Any = True, hooks: Any = None) -> Tensor:
    """torch._utils._rebuild_parameter: nn.Parameter(data) — here the Tensor, requiring grad."""
    if not isinstance(data, Tensor):
        raise loader.bad(f"_rebuild_parameter got a {type(data).__name__} instead of a tensor")
    if requires_grad is True and data.numpy().dtype.kind == "f":
        data.requires_grad = True
    return data


def _ordered_dict(loader: "_TorchArchive", *args: Any) -> collections.OrderedDict:
    if args:
        raise loader.bad("collections.OrderedDict was called with arguments")
    return collections.OrderedDict()


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): _ordered_dict,
    **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGES.items()},
}
_PYTHON2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_CALLABLE = (_rebuild_tensor, _rebuild_parameter, _ordered_dict)


# ------------------------------------------------------------------------------ the archive
def is_torch_archive(archive: zipfile.ZipFile) -> bool:
    return any(n == "data.pkl" or n.endswith("/data.pkl") for n in archive.NameToInfo)


def load_torch_archive(archive: zipfile.ZipFile, budget: Budget) -> Any:
    return _TorchArchive(archive, budget).load()


class _TorchArchive:
    def __init__(self, archive: zipfile.ZipFile, budget: Budget) -> None:
        self.archive, self.budget, self.where = archive, budget, budget.where
        self.produced = Budget(self.where, budget.limits)      # bytes of the tensors built
        self.storages: dict[str, _Storage] = {}

    def bad(self, why: str) -> CheckpointError:
        return CheckpointError(f"{self.where}: not a loadable PyTorch checkpoint: {why}")

    def load(self) -> Any:
        names = self.archive.NameToInfo
        pickles = sorted(n for n in names if n == "data.pkl" or n.endswith("/data.pkl"))
        pkl = min(pickles, key=len)
        self.prefix = pkl[:-len("data.pkl")]
        order = names.get(self.prefix + "byteorder")
        self.byteorder = "<"                          # torch < 1.10 wrote no byteorder: little
        if order is not None:
            with member_errors(self.where, "the byte order", order.filename):
                text = self.archive.read(order)
            if text not in (b"little", b"big"):
                raise self.bad(f"its byteorder member says {text[:20]!r}, not little or big")
            self.byteorder = "<" if text == b"little" else ">"
        with member_errors(self.where, "the pickled structure", pkl):
            data = self.archive.read(names[pkl])
        result = _Interpreter(data, self).run()
        _check_tree(result, self)
        return result

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise self.bad(f"a persistent id {str(pid)[:80]} is not a ('storage', ...) tuple")
        _, kind, key, location, numel = pid
        if not isinstance(kind, _StorageType):
            raise self.bad(f"a storage of type {str(kind)[:60]} (not a torch storage type)")
        if not isinstance(key, str) or type(numel) is not int or numel < 0:
            raise self.bad(f"a storage with key {str(key)[:40]} and size {str(numel)[:40]}")
        if key in self.storages:
            return self.storages[key]
        info = self.archive.NameToInfo.get(f"{self.prefix}data/{key}")
        if info is None:
            raise self.bad(f"storage {key[:40]!r} is missing from the archive (truncated?)")
        bf16 = kind.dtype == "bfloat16"
        dtype = np.dtype(np.uint16 if bf16 else kind.dtype)
        if self.byteorder != _NATIVE:
            dtype = dtype.newbyteorder(self.byteorder)
        if info.file_size != numel * dtype.itemsize:
            raise self.bad(f"storage {key[:40]!r} should hold {numel:,} x {dtype.itemsize} bytes, "
                           f"but its member holds {info.file_size:,}")
        self.budget.take_entries(1, f"storage {key[:40]!r}")
        arr = np.empty(numel, dtype)
        with member_errors(self.where, f"storage {key[:40]!r}", info.filename), open_member(self.archive, info) as member:
            read_exactly_into(member, arr, self.where, f"storage {key[:40]!r}", info.filename)
        if bf16:
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        elif not dtype.isnative:
            arr = arr.astype(dtype.newbyteorder("="))
        if dtype.kind == "b" and arr.size and arr.view(np.uint8).max() > 1:
            raise self.bad(f"bool storage {key[:40]!r} holds bytes other than 0 and 1")
        self.storages[key] = _Storage(arr, key)
        return self.storages[key]

    def find_global(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            module = _PYTHON2_NAMES.get(module, module)       # as protocol 2 spells builtins
            what = f"{module}.{name}"[:200]
            hint = ("complex and quantized tensors are not supported"
                    if module == "torch" and name in _UNSUPPORTED_STORAGES else
                    "only tensors, storages, OrderedDict and plain containers and numbers are "
                    "allowed; a pickled module or object cannot be loaded: save its "
                    "state_dict() instead")
            raise CheckpointError(f"{self.where}: refused to load the global '{what}' "
                                  f"({hint}); nothing from the file was run")
        return found


def _check_tree(root: Any, loader: _TorchArchive) -> None:
    """Refuse reference cycles and nesting deeper than MAX_DEPTH (a pickle can build both with
    its memo); each container is visited once, so shared sub-structures cost nothing extra."""
    done: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            done.add(id(node))
            continue
        if not isinstance(node, (list, tuple, dict)) or id(node) in done:
            continue
        if id(node) in on_path:
            raise loader.bad("the structure contains itself (a reference cycle)")
        if depth >= MAX_DEPTH:
            raise loader.bad(f"the structure nests deeper than {MAX_DEPTH} levels")
        on_path.add(id(node))
        stack.append((node, depth, True))
        children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
        stack.extend((c, depth + 1, False) for c in children)


# ------------------------------------------------------------------------- the interpreter
_OP_NAMES = {
    0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT",
    0x49: "INT", 0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE",
    0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING",
    0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD",
    0x63: "GLOBAL", 0x64: "DICT", 0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET",
    0x68: "BINGET", 0x69: "INST", 0x6a: "LONG_BINGET", 0x6c: "LIST", 0x5d: "EMPTY_LIST",
    0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x73: "SETITEM",
    0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT", 0x80: "PROTO",
    0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
    0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4",
    0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8",
    0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
    0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8",
    0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}


class _Interpreter:
    """Runs the data-building subset of the pickle machine over `data` (see the module doc)."""

    def __init__(self, data: bytes, loader: _TorchArchive) -> None:
        self.data, self.loader, self.pos = data, loader, 0
        self.stack: list[Any] = []
        self.memo: dict[int, Any] = {}
        self.marks: list[int] = []

    def bad(self, why: str) -> CheckpointError:
        return self.loader.bad(f"data.pkl at byte {self.pos}: {why}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.bad(f"a length of {n:,} bytes runs past the end of the pickle (truncated or corrupt)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def line(self) -> str:
        end = self.data.find(b"\n", self.pos, self.pos + 512)
        if end < 0:
            raise self.bad("a GLOBAL name is unterminated or longer than 512 bytes")
        out = self.data[self.pos:end]
        self.pos = end + 1
        try:
            return out.decode("ascii")
        except UnicodeDecodeError:
            raise self.bad("a GLOBAL name is not ASCII") from None

    def pop(self) -> Any:
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise self.bad("the stack underflows (corrupt pickle)")
        return self.stack.pop()

    def pop_mark(self) -> list:
        if not self.marks:
            raise self.bad("an opcode needs a MARK that is not there (corrupt pickle)")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def top(self) -> Any:
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise self.bad("the stack underflows (corrupt pickle)")
        return self.stack[-1]

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def text(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise self.bad("a string is not valid UTF-8") from None

    def run(self) -> Any:
        ops = self._ops()
        while True:
            if self.pos >= len(self.data):
                raise self.bad("the pickle ends without STOP (truncated)")
            code = self.data[self.pos]
            self.pos += 1
            if code == 0x2e:                                     # STOP
                if len(self.stack) != 1 or self.marks:
                    raise self.bad("STOP with a malformed stack (corrupt pickle)")
                return self.stack[0]
            op = ops.get(code)
            if op is None:
                name = _OP_NAMES.get(code)
                raise self.bad(f"the pickle opcode {name or hex(code)} is not allowed in a tensor "
                               f"checkpoint (only data-building opcodes are run)"
                               if name else f"byte {code:#04x} is not a pickle opcode (corrupt)")
            try:
                op()
            except CheckpointError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, OverflowError, MemoryError,
                    RecursionError) as e:
                raise self.bad(f"{_OP_NAMES.get(code, hex(code))} failed: {type(e).__name__}: "
                               f"{str(e)[:200]}") from None

    def _ops(self) -> dict[int, Callable[[], None]]:
        s = self
        push = s.stack.append

        def memo_get(i: int) -> None:
            if i not in s.memo:
                raise s.bad(f"memo entry {i} is used before it is defined (corrupt pickle)")
            push(s.memo[i])

        def memo_put(i: int) -> None:
            s.memo[i] = s.top()

        def proto() -> None:
            if s.take(1)[0] > 5:
                raise s.bad("pickle protocol above 5")

        def mark() -> None:
            s.marks.append(len(s.stack))

        def set_items(items: list, op: str) -> None:
            d = s.top()
            if not isinstance(d, dict) or len(items) % 2:
                raise s.bad(f"{op} on a non-dict or with an odd number of items")
            for k, v in zip(items[::2], items[1::2]):
                d[k] = v

        def extend(items: list, op: str) -> None:
            lst = s.top()
            if not isinstance(lst, list):
                raise s.bad(f"{op} on a non-list")
            lst.extend(items)

        def setitem() -> None:
            v, k = s.pop(), s.pop()
            set_items([k, v], "SETITEM")

        def dict_from_mark() -> None:
            items = s.pop_mark()
            if len(items) % 2:
                raise s.bad("DICT with an odd number of items")
            push(dict(zip(items[::2], items[1::2])))

        def tuple_n(n: int) -> None:
            if len(s.stack) - (s.marks[-1] if s.marks else 0) < n:
                raise s.bad("the stack underflows (corrupt pickle)")
            items = tuple(s.stack[len(s.stack) - n:]) if n else ()
            del s.stack[len(s.stack) - n:]
            push(items)

        def global_() -> None:
            module = s.line()
            push(s.loader.find_global(module, s.line()))

        def stack_global() -> None:
            name, module = s.pop(), s.pop()
            if not (isinstance(module, str) and isinstance(name, str)):
                raise s.bad("STACK_GLOBAL with non-string names")
            push(s.loader.find_global(module, name))

        def reduce() -> None:
            args, fn = s.pop(), s.pop()
            if not isinstance(args, tuple) or not any(fn is c for c in _CALLABLE):
                raise s.bad(f"REDUCE may only call the allowed rebuild functions, not "
                            f"{type(fn).__name__} {str(fn)[:60]}")
            push(fn(s.loader, *args))

        def build() -> None:
            state = s.pop()
            obj = s.top()
            # torch sets a state dict's `_metadata` (module versions) this way; it is not kept
            if not (isinstance(obj, collections.OrderedDict) and isinstance(state, dict)):
                raise s.bad(f"BUILD on a {type(obj).__name__} (only an OrderedDict's attributes "
                            f"may be set)")

        def persid() -> None:
            push(s.loader.persistent_load(s.pop()))

        def frame() -> None:
            s.take(8)                                        # a length hint: nothing to do

        return {
            0x80: proto, 0x95: frame, 0x28: mark,
            0x30: lambda: s.pop(), 0x31: lambda: s.pop_mark() and None,
            0x32: lambda: push(s.top()),
            0x4e: lambda: push(None), 0x88: lambda: push(True), 0x89: lambda: push(False),
            0x4a: lambda: push(s.unpack("<i")), 0x4b: lambda: push(s.take(1)[0]),
            0x4d: lambda: push(s.unpack("<H")),
            0x8a: lambda: push(int.from_bytes(s.take(s.take(1)[0]), "little", signed=True)),
            0x8b: lambda: push(int.from_bytes(s.take(s.unpack("<i")), "little", signed=True)),
            0x47: lambda: push(s.unpack(">d")),
            0x58: lambda: push(s.text(s.unpack("<I"))), 0x8c: lambda: push(s.text(s.take(1)[0])),
            0x8d: lambda: push(s.text(s.unpack("<Q"))),
            0x42: lambda: push(s.take(s.unpack("<I"))), 0x43: lambda: push(s.take(s.take(1)[0])),
            0x8e: lambda: push(s.take(s.unpack("<Q"))),
            0x29: lambda: push(()), 0x74: lambda: push(tuple(s.pop_mark())),
            0x85: lambda: tuple_n(1), 0x86: lambda: tuple_n(2), 0x87: lambda: tuple_n(3),
            0x5d: lambda: push([]), 0x6c: lambda: push(s.pop_mark()),
            0x61: lambda: extend([s.pop()], "APPEND"), 0x65: lambda: extend(s.pop_mark(), "APPENDS"),
            0x7d: lambda: push({}), 0x64: dict_from_mark, 0x73: setitem,
            0x75: lambda: set_items(s.pop_mark(), "SETITEMS"),
            0x68: lambda: memo_get(s.take(1)[0]), 0x6a: lambda: memo_get(s.unpack("<I")),
            0x71: lambda: memo_put(s.take(1)[0]), 0x72: lambda: memo_put(s.unpack("<I")),
            0x94: lambda: memo_put(len(s.memo)),
            0x63: global_, 0x93: stack_global, 0x52: reduce, 0x62: build, 0x51: persid,
        }
