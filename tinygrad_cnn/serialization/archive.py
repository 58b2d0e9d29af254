"""Zip archives (the containers of .npz and PyTorch checkpoints) opened with bounded cost.

Before any member is read, the central directory is judged against the file: at most
`max_entries` members, no duplicate names, only stored or deflated members, each member's
compressed bytes inside the file and all of them together no more than the file holds (the
"overlapping members" zip bomb), a declared size that the compressed bytes can really give
(deflate expands at most 1032:1; a stored member is as large as its bytes), and the declared
sizes together within `max_bytes`. Reading a member then stops at its declared size (zipfile
does that, and checks the CRC at the end).
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator

import numpy as np

from ..errors import CheckpointError
from .limits import Budget

__all__ = ["open_archive", "open_member", "member_errors", "read_exactly_into"]

_DEFLATE_MAX_RATIO = 1032
_LOCAL_HEADER = 30
_CHUNK = 1 << 20


def open_archive(fh: BinaryIO, size: int, budget: Budget) -> zipfile.ZipFile:
    where = budget.where
    try:
        archive = zipfile.ZipFile(fh)
    except Exception as e:  # noqa: BLE001 - BadZipFile, OSError, EOFError, NotImplementedError,
        # ValueError (a negative offset in a flipped directory): all mean a corrupt archive
        raise CheckpointError(f"{where}: not a readable zip archive (truncated or corrupt?): "
                              f"{type(e).__name__}: {e}") from None
    try:
        _check_directory(archive, size, budget)
    except BaseException:
        archive.close()
        raise
    return archive


def _check_directory(archive: zipfile.ZipFile, size: int, budget: Budget) -> None:
    where = budget.where
    infos = archive.infolist()
    budget.take_entries(len(infos), f"the archive's {len(infos):,} members")
    if len(archive.NameToInfo) != len(infos):
        seen: set[str] = set()
        dup = next(i.filename for i in infos if i.filename in seen or seen.add(i.filename))
        raise CheckpointError(f"{where}: the archive lists the member {dup!r} more than once "
                              f"(a tampered archive: which copy is meant is ambiguous)")
    compressed = 0
    for info in infos:
        name = info.filename
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(f"{where}: member {name!r} uses zip compression method "
                                  f"{info.compress_type}; only stored and deflated members are read")
        if info.header_offset < 0 or info.header_offset + _LOCAL_HEADER + info.compress_size > size:
            raise CheckpointError(f"{where}: member {name!r} claims bytes beyond the end of the "
                                  f"{size:,}-byte file (truncated or corrupt)")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise CheckpointError(f"{where}: stored member {name!r} declares {info.file_size:,} "
                                  f"bytes but holds {info.compress_size:,} (corrupt)")
        if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 64:
            raise CheckpointError(
                f"{where}: member {name!r} declares {info.file_size:,} bytes from "
                f"{info.compress_size:,} compressed bytes, more than deflate can produce "
                f"(1032:1): a corrupt archive or a zip bomb")
        compressed += info.compress_size
    if compressed > size:
        raise CheckpointError(
            f"{where}: the members' compressed bytes add up to {compressed:,}, more than the "
            f"{size:,}-byte file holds: members overlap (a zip bomb) or the directory is corrupt")
    budget.take_bytes(sum(i.file_size for i in infos), "the archive's declared member sizes")


@contextmanager
def member_errors(where: str, label: str, name: str) -> Iterator[None]:
    """Turn any failure while reading a member (zlib, CRC, EOF, a bad local header) into a
    CheckpointError naming the file, the key `label` and the member."""
    try:
        yield
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure here means a corrupt member
        raise CheckpointError(f"{where}: {label} (member {name!r}) failed to load: "
                              f"{type(e).__name__}: {e}") from None


class _StoredMember:
    """A stored (uncompressed) member read straight from the archive's file: what zipfile's
    ZipExtFile does for it, without its per-member set-up cost (a 100,000-entry .npz is read
    in a third of the time). The CRC is checked when the last byte has been read."""

    def __init__(self, fh: BinaryIO, info: zipfile.ZipInfo) -> None:
        fh.seek(info.header_offset)
        local = fh.read(_LOCAL_HEADER)
        if len(local) < _LOCAL_HEADER or local[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local file header for {info.filename!r}")
        if info.flag_bits & 0x1:
            raise zipfile.BadZipFile(f"{info.filename!r} is encrypted")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + _LOCAL_HEADER + name_len + extra_len)
        self.fh, self.left, self.crc, self.expected_crc = fh, info.file_size, 0, info.CRC

    def __enter__(self) -> "_StoredMember":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _account(self, data: Any) -> None:
        self.left -= len(data)
        self.crc = zlib.crc32(data, self.crc)
        if self.left == 0 and self.crc != self.expected_crc:
            raise zipfile.BadZipFile("Bad CRC-32 (the member's bytes are damaged)")

    def read(self, n: int) -> bytes:
        data = self.fh.read(min(n, self.left)) if self.left > 0 else b""
        self._account(data)
        return data

    def readinto(self, view: memoryview) -> int:
        n = self.fh.readinto(view[:self.left]) if self.left > 0 else 0
        self._account(view[:n])
        return n


def open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    """A readable stream of the member's uncompressed bytes (read/readinto; a context manager)."""
    if info.compress_type == zipfile.ZIP_STORED and archive.fp is not None:
        return _StoredMember(archive.fp, info)
    return archive.open(info)


def read_exactly_into(member: Any, out: np.ndarray, where: str, label: str, name: str) -> None:
    """Fill the contiguous array `out` with the rest of `member`, which must end exactly there."""
    view = memoryview(out.reshape(-1).view(np.uint8))
    filled = 0
    while filled < len(view):
        n = member.readinto(view[filled:filled + _CHUNK * 64])
        if not n:
            break
        filled += n
    if filled < len(view) or member.read(1):          # reading to the end checks the CRC
        raise CheckpointError(f"{where}: {label} (member {name!r}) holds "
                              f"{'fewer' if filled < len(view) else 'more'} bytes than its header "
                              f"declares: corrupt")
