"""tc.load on hostile files has bounded cost, and every tc.load / tc.save failure is a
CheckpointError naming the file and what was wrong (issue 11, items 5 and 6).

Every refusal goes through `_refused`, which also checks that the error names the file, came
fast, allocated little, and does not suggest allow_pickle or pickle.load."""
import json
import math
import os
import signal
import struct
import time
import tracemalloc
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import serialization

HEADER = "__tinygrad_cnn__"


@contextmanager
def _deadline(seconds):
    """Fail (instead of hanging the suite) if the block takes longer than `seconds`."""
    def timeout(*_):
        raise AssertionError(f"hung for more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _refused(path, match, seconds=5.0, peak_bytes=16 << 20, **kwargs):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with _deadline(30), pytest.raises(tc.CheckpointError, match=match) as e:
            tc.load(path, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - start
    message = str(e.value)
    assert str(path) in message
    assert "allow_pickle" not in message and "pickle.load" not in message
    assert elapsed < seconds, f"{elapsed:.1f} s to refuse {path}"
    assert peak < peak_bytes, f"{peak} bytes allocated to refuse {path}"
    return message


def _npy(arr):
    import io
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def _checkpoint(path, root, arrays=(), compression=zipfile.ZIP_STORED):
    """A tc.save-style archive with a hand-written structure header."""
    header = json.dumps({"format": "tinygrad_cnn.checkpoint", "version": 1, "root": root}).encode() \
        if not isinstance(root, bytes) else root
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr(HEADER + ".npy", _npy(np.frombuffer(header, np.uint8)))
        for name, data in arrays:
            z.writestr(name, data)
    return path


def _ref(name, kind="tensor"):
    return {"__array__": name, "kind": kind}


# ------------------------------------------------------------------------- bounded cost
def test_one_array_referenced_many_times_is_refused_at_the_second_reference(tmp_path):
    root = {"__list__": [_ref("a0")] * 20_000}
    path = _checkpoint(tmp_path / "refs.npz", root, [("a0.npy", _npy(np.zeros(1 << 18, np.float32)))])
    _refused(path, r"key \[1\] refers to entry 'a0\.npy', which is already used by \[0\]")


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:        # 32 MB of zeros, ~32 KB on disk
        with z.open("w.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (8 << 20,)})
            for _ in range(32):
                member.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20
    message = _refused(path, r"declared member sizes brings the data to 32\.0 MiB", max_bytes=8 << 20)
    assert "max_bytes=8,388,608" in message and "tc.load(path, max_bytes=" in message \
        and "tc.serialization.set_load_limits(max_bytes=...)" in message
    assert tc.load(path, max_bytes=64 << 20)["w"].shape == (8 << 20,)     # trusted: raise the cap


def _patch_central(data, name, **fields):
    """Rewrite fields (file_size, compress_size) of `name`'s central directory record."""
    data = bytearray(data)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        n, m, k = struct.unpack("<HHH", data[pos + 28:pos + 34])
        if data[pos + 46:pos + 46 + n].decode() == name:
            if "compress_size" in fields:
                data[pos + 20:pos + 24] = struct.pack("<I", fields["compress_size"])
            if "file_size" in fields:
                data[pos + 24:pos + 28] = struct.pack("<I", fields["file_size"])
            return bytes(data)
        pos = data.find(b"PK\x01\x02", pos + 46 + n + m + k)
    raise KeyError(name)


def test_declared_sizes_that_the_bytes_cannot_give_are_refused(tmp_path):
    good = _checkpoint(tmp_path / "good.npz", {"__dict__": [["w", _ref("a0")]]},
                       [("a0.npy", _npy(np.arange(1000.0)))], compression=zipfile.ZIP_DEFLATED).read_bytes()
    bomb = tmp_path / "declared.npz"
    bomb.write_bytes(_patch_central(good, "a0.npy", file_size=4_000_000_000))
    _refused(bomb, r"member 'a0\.npy' declares 4,000,000,000 bytes from .* compressed bytes, more than deflate can produce")
    stored = _checkpoint(tmp_path / "stored.npz", {"__dict__": [["w", _ref("a0")]]},
                         [("a0.npy", _npy(np.arange(1000.0)))]).read_bytes()
    lie = tmp_path / "lie.npz"                            # declares fewer bytes than it holds:
    lie.write_bytes(_patch_central(stored, "a0.npy", file_size=1000, compress_size=1000))
    _refused(lie, r"key \['w'\] \(member 'a0\.npy'\): its \.npy header declares shape \(1000,\) of "
                  r"float64 \(8,000 bytes\), but the member holds 872 data bytes")
    short = _npy(np.arange(2000.0))[:-8000]               # a header promising more than the member
    path = _checkpoint(tmp_path / "short.npz", {"__dict__": [["w", _ref("a0")]]}, [("a0.npy", short)])
    _refused(path, r"its \.npy header declares shape \(2000,\) of float64 \(16,000 bytes\), but the "
                   r"member holds 8,000 data bytes")


def test_overlapping_members_are_refused(tmp_path):
    """Fifield's 'better zip bomb': many directory entries share one compressed blob."""
    path = tmp_path / "overlap.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a0.npy", _npy(np.zeros(1 << 20, np.float32)))
    data = path.read_bytes()
    cd = data.find(b"PK\x01\x02")
    eocd = data.rfind(b"PK\x05\x06")
    record = data[cd:eocd]
    n = 200
    records = b"".join(record.replace(b"a0.npy", f"b{i:05d}".encode()) for i in range(n))
    end = bytearray(data[eocd:])
    end[8:12] = struct.pack("<HH", n, n)
    end[12:16] = struct.pack("<I", len(records))
    path.write_bytes(data[:cd] + records + bytes(end))
    _refused(path, r"compressed bytes add up to .* more than the .*-byte file holds: members overlap")


def _many_entries(path, n):
    """A real tc.save-format archive with n one-element tensors, written quickly."""
    one = _npy(np.ones(1, np.float32))
    root = {"__dict__": [[f"k{i}", _ref(f"a{i}")] for i in range(n)]}
    return _checkpoint(path, root, [(f"a{i}.npy", one) for i in range(n)])


def _best_load_time(path, repeats=2):
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = tc.load(path)
        best = min(best, time.perf_counter() - start)
    return best, out


def test_load_time_is_linear_in_the_number_of_entries(tmp_path):
    small, _ = _best_load_time(_many_entries(tmp_path / "small.npz", 3_000))
    large, out = _best_load_time(_many_entries(tmp_path / "large.npz", 12_000))
    assert len(out) == 12_000 and out["k11999"].shape == (1,)
    assert large / small < 8, f"4x the entries took {large / small:.1f}x the time (quadratic: 16x)"


@pytest.mark.slow
def test_100k_entries_load(tmp_path):
    seconds, out = _best_load_time(_many_entries(tmp_path / "many.npz", 100_000), repeats=1)
    assert len(out) == 100_000 and seconds < 60


def test_the_entry_cap(tmp_path):
    path = _many_entries(tmp_path / "many.npz", 2_000)
    message = _refused(path, r"archive's 2,001 members brings the count to 2,001 entries, over "
                             r"tc\.load's cap max_entries=1,000", max_entries=1_000)
    assert "tc.load(path, max_entries=" in message and "set_load_limits(max_entries=...)" in message
    previous = serialization.set_load_limits(max_entries=500)
    try:
        assert serialization.get_load_limits().max_entries == 500
        _refused(path, "max_entries=500")
        assert len(tc.load(path, max_entries=10_000)) == 2_000      # a per-call override wins
    finally:
        serialization.set_load_limits(max_entries=previous.max_entries)
    assert len(tc.load(path)) == 2_000
    with pytest.raises(ValueError, match="max_bytes must be a non-negative int"):
        tc.load(path, max_bytes=-1)


def test_deep_structures_are_refused(tmp_path):
    deep = {"__list__": [1]}
    for _ in range(150):
        deep = {"__list__": [deep]}
    _refused(_checkpoint(tmp_path / "deep.npz", deep), r"nests deeper than 100 levels")
    nested = b'{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    _refused(_checkpoint(tmp_path / "json.npz", nested), r"structure entry .* is corrupt")


def test_an_oversized_npy_header_is_refused(tmp_path):
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), " + b" " * 60_000 + b"}\n"
    member = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + b"\0" * 4
    path = _checkpoint(tmp_path / "big_header.npz", {"__dict__": [["w", _ref("a0")]]}, [("a0.npy", member)])
    _refused(path, r"key \['w'\] \(member 'a0\.npy'\) is not a valid \.npy array: its header is 60,0.. bytes, "
                   r"over the 10,000-byte limit")


@pytest.mark.parametrize("kind", ["fifo", "directory", "char device"])
def test_fifos_devices_and_directories_are_refused_at_once(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "ck.npz"
        os.mkfifo(path)                     # opening it for reading without a writer would block
    elif kind == "directory":
        path = tmp_path / "ck.npz"
        path.mkdir()
    else:
        path = "/dev/zero"                  # endless zeros
        if not os.path.exists(path):
            pytest.skip("no /dev/zero")
    message = _refused(path, r"is (a FIFO \(named pipe\)|a directory|a character device), not a checkpoint file", seconds=2)
    assert "only regular files are read" in message or "directory" in message


# ---------------------------------------------------------- every failure: CheckpointError
def test_a_member_that_is_not_npy(tmp_path):
    path = tmp_path / "extra.npz"
    np.savez(path, w=np.ones(2))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("notes.txt", b"hello")
    _refused(path, r"member 'notes\.txt' is not a \.npy array")


@pytest.mark.parametrize("root, match", [
    (b'{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": ' + b"9" * 5000 + b"}", "is corrupt: Exceeds the limit"),
    ({"__list__": "abc"}, r"__list__ must be the only key and hold a JSON list, got abc"),
    ({"__tuple__": {"a": 1}}, r"__tuple__ must be the only key"),
    ({"__dict__": [["a", 1], ["a", 2]]}, r"repeats the key 'a'"),
    ({"__list__": [], "extra": 1}, r"__list__ must be the only key"),
    ({"__array__": 7}, r"bad array reference"),
    ({"__array__": HEADER}, r"refers to entry '__tinygrad_cnn__\.npy', which is the structure entry"),
    ({"x": 1}, r"unrecognised node"),
], ids=["huge int", "list of a string", "tuple of a dict", "duplicate key", "extra tag key",
        "array name not a string", "header as array", "untagged object"])
def test_malformed_structure_headers(tmp_path, root, match):
    _refused(_checkpoint(tmp_path / "bad.npz", root), match)


def test_duplicate_json_keys_in_the_header_are_refused(tmp_path):
    raw = b'{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": 1, "root": 2}'
    _refused(_checkpoint(tmp_path / "dup.npz", raw), "repeats a key")


def test_complex_arrays_round_trip_as_numpy_but_never_become_tensors(tmp_path):
    z = np.array([1 + 2j, 3 - 4j], np.complex128)
    tc.save({"z": z}, tmp_path / "ok.npz")
    back = tc.load(tmp_path / "ok.npz")["z"]
    assert type(back) is np.ndarray and back.dtype == np.complex128 and np.array_equal(back, z)
    np.savez(tmp_path / "plain.npz", z=z)                    # a plain .npz: entries become tensors
    _refused(tmp_path / "plain.npz", r"key 'z' holds a complex array \(complex128\); tinygrad_cnn tensors are real")
    tampered = _checkpoint(tmp_path / "t.npz", {"__dict__": [["z", _ref("a0")]]}, [("a0.npy", _npy(z))])
    _refused(tampered, r"key \['z'\] holds a complex array")
    with pytest.raises(tc.DTypeError):
        tc.tensor(z)                                         # and no Tensor is complex to save


def test_big_endian_arrays_load_as_native(tmp_path):
    be = np.arange(6, dtype=">f8").reshape(2, 3)
    tc.save({"a": be, "i": np.arange(3, dtype=">i4")}, tmp_path / "be.npz")
    back = tc.load(tmp_path / "be.npz")
    assert back["a"].dtype == np.float64 and back["a"].dtype.isnative and np.array_equal(back["a"], be)
    assert back["i"].dtype == np.int32 and back["i"].dtype.isnative
    np.savez(tmp_path / "plain.npz", w=np.arange(4, dtype=">f4"), f=np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    plain = tc.load(tmp_path / "plain.npz")
    assert plain["w"].numpy().dtype == np.float32 and plain["w"].numpy().dtype.isnative
    np.testing.assert_array_equal(plain["w"].numpy(), np.arange(4.0))
    np.testing.assert_array_equal(plain["f"].numpy(), np.arange(6.0).reshape(2, 3))


def test_save_refuses_cycles_depth_and_explosions_without_writing(tmp_path):
    cyclic = [1]
    cyclic.append(cyclic)
    looped = {"a": {}}
    looped["a"]["b"] = looped
    deep = []
    for _ in range(150):
        deep = [deep]
    shared = [1]
    for _ in range(40):                     # 2**40 leaves if written out: refused by the cap
        shared = [shared, shared]
    cases = [(cyclic, r"the list at \[1\] contains itself \(a reference cycle\)"),
             (looped, r"the dict at \['a'\]\['b'\] contains itself"),
             (deep, "nests deeper than 100 levels"),
             ({"n": 2 ** 50_000}, r"the int at \['n'\] has 50,001 bits"),
             (shared, r"holds more than 10,000 values \(tc\.load's max_entries cap")]
    previous = serialization.set_load_limits(max_entries=10_000)   # what is saved must load
    try:
        for obj, match in cases:
            start = time.perf_counter()
            with pytest.raises(tc.CheckpointError, match=match):
                tc.save(obj, tmp_path / "x.npz")
            assert time.perf_counter() - start < 5
    finally:
        serialization.set_load_limits(max_entries=previous.max_entries)
    assert os.listdir(tmp_path) == []
    small = [1, 2]
    tc.save({"a": [small] * 3, "b": small}, tmp_path / "ok.npz")    # sharing below the cap is fine
    assert tc.load(tmp_path / "ok.npz") == {"a": [[1, 2]] * 3, "b": [1, 2]}
    assert os.listdir(tmp_path) == ["ok.npz"]


def test_save_errors_are_checkpoint_errors_naming_the_problem(tmp_path):
    for obj, match in [({"a": {1, 2}}, r"cannot save a set at \['a'\]"),
                       ({(1, 2): 3}, "dict keys must be str"),
                       ({"a": np.array([object()])}, "dtype object")]:
        with pytest.raises(tc.CheckpointError, match=match) as e:
            tc.save(obj, tmp_path / "x.npz")
        assert isinstance(e.value, TypeError)                # also a TypeError, as before
    with pytest.raises(tc.CheckpointError, match=r"the directory .*missing does not exist"):
        tc.save({}, tmp_path / "missing" / "x.npz")


def test_arguments_that_are_no_file(tmp_path):
    import io
    for f in (3, None):
        with pytest.raises(tc.CheckpointError, match=f"tc.save: f must be a path or a binary file object, not {type(f).__name__}"):
            tc.save({"a": 1}, f)
        with pytest.raises(tc.CheckpointError, match=f"tc.load: f must be a path or a seekable binary file object, not {type(f).__name__}"):
            tc.load(f)
    with pytest.raises(tc.CheckpointError, match="is it opened in binary mode"):
        tc.save({"a": 1}, io.StringIO())
    with pytest.raises(tc.CheckpointError, match="no such checkpoint file"):
        tc.load(tmp_path / "absent.pt")


def test_a_file_object_that_cannot_seek_is_refused():
    class Pipe:
        name = "<pipe>"

        def read(self, n=-1):
            return b""

        def tell(self):
            raise OSError("not seekable")
    with pytest.raises(tc.CheckpointError, match="<pipe>: tc.load needs a path or a seekable binary file"):
        tc.load(Pipe())


@pytest.mark.parametrize("content, match", [
    (b"", "the file is empty"),
    (b"\x93NUMPY\x01\x00", "single .npy array"),
    (b"hello world", "not a checkpoint tc.load can read"),
    (b"\x80\x04K\x01.", "is a pickle file"),
], ids=["empty", "npy", "text", "pickle"])
def test_files_that_are_no_checkpoint(tmp_path, content, match):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    _refused(path, match)
