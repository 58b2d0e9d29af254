"""Data and file robustness (issue 6 item 6): damaged dataset and checkpoint files give a clear
error naming the file, and nothing is lost. Complements tests/test_serialization.py and
tests/test_data_mnist.py (which cover the basic truncated/corrupt/interrupted cases) with:

  * every single-byte flip and every truncation of an IDX file (raw and gzip) and of a real
    checkpoint: a CorruptDatasetError / CheckpointError, or exactly the original contents
    (a flipped byte in a gzip header timestamp or a zip comment changes nothing) — never
    different contents, never another exception (property tests);
  * IDX headers that promise absurd sizes: refused before anything is allocated;
  * tampered checkpoints: a pickle payload (refused, and it provably does not run), malformed
    or deeply nested structure headers, non-numeric tensors;
  * a checkpoint with a wrong key / shape / dtype loaded into a model or an optimizer: an error
    that names the key, and the model / optimizer unchanged;
  * interrupted saves: an exception at each step of the atomic write, and a process killed with
    SIGKILL in the middle of writing (deterministically, and at random moments of a save loop):
    the previous checkpoint survives, loadable and identical.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim, serialization
from tinygrad_cnn.data.mnist import CorruptDatasetError, read_idx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------ IDX files
def _idx_bytes(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    return bytes([0, 0, type_code, arr.ndim]) + b"".join(struct.pack(">i", n) for n in arr.shape) + \
        arr.astype(arr.dtype.newbyteorder(">")).tobytes()


_IDX_ARR = np.random.default_rng(0).integers(0, 256, (12, 5, 4), dtype=np.uint8)
_IDX_RAW = _idx_bytes(_IDX_ARR)
_IDX_FILES = {"raw": _IDX_RAW, "gzip": gzip.compress(_IDX_RAW, mtime=0)}
_IDX_EXPECTED = (len(_IDX_RAW), hashlib.md5(_IDX_RAW).hexdigest())


@settings(max_examples=max(60, settings.default.max_examples))
@given(fmt=st.sampled_from(sorted(_IDX_FILES)), data=st.data())
def test_every_flipped_byte_or_truncation_of_an_idx_file_is_reported(fmt, data, tmp_path_factory):
    good = _IDX_FILES[fmt]
    damage = data.draw(st.sampled_from(["flip", "truncate"]), label="damage")
    if damage == "flip":
        pos = data.draw(st.integers(0, len(good) - 1), label="position")
        bits = data.draw(st.integers(1, 255), label="xor")
        bad = bytearray(good)
        bad[pos] ^= bits
    else:
        bad = good[:data.draw(st.integers(0, len(good) - 1), label="length")]
    path = tmp_path_factory.mktemp("idx") / f"images-idx3-ubyte{'.gz' if fmt == 'gzip' else ''}"
    path.write_bytes(bytes(bad))
    try:
        arr = read_idx(path, _IDX_EXPECTED)
    except CorruptDatasetError as e:
        assert str(path) in str(e)
    else:                                   # only bytes that do not carry data: gzip header fields
        np.testing.assert_array_equal(arr, _IDX_ARR)
        assert fmt == "gzip"


@pytest.mark.parametrize("dims, gz, message", [
    ((-1, 28), False, "negative size"),
    ((2 ** 31 - 1,) * 3, False, "truncated: the IDX header promises"),
    ((2 ** 31 - 1, 2 ** 31 - 1), True, "more than a .*-byte gzip file can hold"),
    ((60000, 28, 28), True, "more than a .*-byte gzip file can hold"),   # a real shape, tiny file
])
def test_an_absurd_idx_header_is_refused_before_allocating(tmp_path, dims, gz, message):
    raw = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">i", d) for d in dims) + b"\0" * 64
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptDatasetError, match=message) as e:
            read_idx(path)                  # no checksum to compare: the header alone is judged
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(e.value)
    assert peak < 4 << 20, f"{peak} bytes allocated for a {path.stat().st_size}-byte file"


# ----------------------------------------------------------------------------- checkpoints
def _model_and_optimizer(seed=0):
    tc.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss = model(tc.randn(2, 1, 4, 4)).sum()
    loss.backward()
    opt.step()
    return model, opt


def _checkpoint(seed=0):
    model, opt = _model_and_optimizer(seed)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3 + seed}


def _same(a, b) -> bool:
    if isinstance(a, tc.Tensor):
        return isinstance(b, tc.Tensor) and a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "ck.npz"
    tc.save(_checkpoint(), path)
    return path.read_bytes(), tc.load(path)


@settings(max_examples=max(200, settings.default.max_examples))
@given(data=st.data())
def test_every_flipped_byte_or_truncation_of_a_checkpoint_is_reported(data, saved_checkpoint, tmp_path_factory):
    good, contents = saved_checkpoint
    if data.draw(st.booleans(), label="flip"):
        pos = data.draw(st.integers(0, len(good) - 1), label="position")
        bad = bytearray(good)
        bad[pos] ^= data.draw(st.integers(1, 255), label="xor")
    else:
        bad = good[:data.draw(st.integers(0, len(good) - 1), label="length")]
    path = tmp_path_factory.mktemp("ck") / "damaged.npz"
    path.write_bytes(bytes(bad))
    try:
        loaded = tc.load(path)
    except tc.CheckpointError as e:
        assert str(path) in str(e)
    else:                                   # the zip CRCs guard every entry: same or an error
        assert _same(contents, loaded), "a damaged checkpoint loaded with different contents"


def test_a_flipped_zip_version_byte_is_a_checkpoint_error(tmp_path, saved_checkpoint):
    """Found by fuzzing: a flipped byte in the zip directory's 'version needed to extract' field
    made zipfile raise NotImplementedError('zip file version 17.3') out of tc.load."""
    good, _ = saved_checkpoint
    data = bytearray(good)
    central = data.rfind(b"PK\x01\x02")                 # the last central directory entry
    data[central + 6] ^= 0x80                          # its "version needed to extract"
    (tmp_path / "v.npz").write_bytes(bytes(data))
    with pytest.raises(tc.CheckpointError, match=r"v\.npz: not a readable zip archive"):
        tc.load(tmp_path / "v.npz")


class _Payload:
    """Unpickling this runs code: it creates the file `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def test_a_pickle_payload_in_a_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    header = {"format": "tinygrad_cnn.checkpoint", "version": 1,
              "root": {"__dict__": [["model", {"__dict__": [["fc.weight", {"__array__": "a0", "kind": "tensor"}]]}]]}}
    evil = tmp_path / "evil.npz"
    np.savez(evil, __tinygrad_cnn__=np.frombuffer(json.dumps(header).encode(), np.uint8),
             a0=np.array([_Payload(marker)], dtype=object))
    with pytest.raises(tc.CheckpointError, match=r"evil\.npz: key \['model'\]\['fc\.weight'\].*pickled"):
        tc.load(evil)
    assert not marker.exists()
    np.load(evil, allow_pickle=True)["a0"]             # control: pickle-enabled loading runs it
    assert marker.exists()


def _header_file(tmp_path, header, **arrays):
    path = tmp_path / "tampered.npz"
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    np.savez(path, __tinygrad_cnn__=np.frombuffer(raw, np.uint8), **arrays)
    return path


def _wrap(root, version=1):
    return {"format": "tinygrad_cnn.checkpoint", "version": version, "root": root}


@pytest.mark.parametrize("header, arrays, message", [
    (b'{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": ' + b'{"__list__": [' * 3000
     + b']}' * 3000 + b'}', {}, "structure entry .* is corrupt"),                 # RecursionError
    (_wrap({"__dict__": [[{"a": 1}, 1]]}), {}, "malformed"),                       # unhashable key
    (_wrap({"__dict__": 5}), {}, "malformed"),
    (_wrap({"__list__": 7}), {}, "malformed"),
    (_wrap(1, version="2"), {}, "malformed version"),
    (_wrap({"__array__": "a0", "kind": "tensor"}), {"a0": np.array(["x"])}, "dtype <U1, which cannot be a tensor"),
    (_wrap({"__array__": "a9"}), {}, "missing from the archive"),
    (_wrap(1, version=99), {}, "newer than this tinygrad_cnn"),
], ids=["deep nesting", "unhashable key", "dict not a list", "list not a list", "version a string",
        "string tensor", "missing entry", "future version"])
def test_tampered_structure_headers_raise_checkpoint_errors(tmp_path, header, arrays, message):
    path = _header_file(tmp_path, header, **arrays)
    with pytest.raises(tc.CheckpointError, match=message) as e:
        tc.load(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("change, message", [
    (lambda sd: sd.__setitem__("4.weights", sd.pop("4.weight")),
     r'(?s)Missing key\(s\) in state_dict: "4.weight".*Unexpected key\(s\) in state_dict: "4.weights"'),
    (lambda sd: sd.__setitem__("4.weight", tc.zeros(3, 9)),
     r"size mismatch for 4.weight: copying a param with shape \(3, 9\) from checkpoint, the shape in current model is \(3, 8\)"),
    (lambda sd: sd.__setitem__("0.bias", np.array(["a", "b"])), r'"0.bias" has dtype <U1, expected numbers'),
    (lambda sd: sd.__setitem__("1.running_var", np.ones(2, np.complex64)), r'"1.running_var" has dtype complex64'),
], ids=["renamed key", "wrong shape", "string dtype", "complex dtype"])
def test_a_checkpoint_with_a_wrong_key_shape_or_dtype_changes_nothing(tmp_path, change, message):
    source = _checkpoint(seed=1)["model"]
    change(source)
    tc.save({"model": source}, tmp_path / "ck.npz")
    model, _ = _model_and_optimizer(seed=0)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(nn.StateDictError, match=message):
        model.load_state_dict(tc.load(tmp_path / "ck.npz")["model"])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=f"{k} changed by a failed load")


def test_a_float64_checkpoint_loads_into_a_float32_model_cast_like_pytorch(tmp_path):
    source = {k: v.numpy().astype(np.float64) for k, v in _checkpoint(seed=1)["model"].items()}
    tc.save(source, tmp_path / "ck.npz")
    model, _ = _model_and_optimizer(seed=0)
    dtypes = {k: v.dtype for k, v in model.state_dict().items()}
    model.load_state_dict(tc.load(tmp_path / "ck.npz"))
    for k, v in model.state_dict().items():
        assert v.dtype == dtypes[k]                            # the model keeps its dtypes
        np.testing.assert_array_equal(v.numpy(), source[k].astype(v.dtype))


def test_an_optimizer_checkpoint_for_other_shapes_is_refused_and_changes_nothing(tmp_path):
    ck = _checkpoint(seed=1)
    ck["optimizer"]["state"][0]["exp_avg"] = np.zeros((5, 5), np.float32)
    tc.save(ck, tmp_path / "ck.npz")
    _, opt = _model_and_optimizer(seed=0)
    before = json.dumps({str(k): {n: np.asarray(v).tolist() for n, v in s.items()}
                         for k, s in opt.state_dict()["state"].items()})
    with pytest.raises(ValueError, match=r"exp_avg.*shape \(5, 5\)"):
        opt.load_state_dict(tc.load(tmp_path / "ck.npz")["optimizer"])
    after = json.dumps({str(k): {n: np.asarray(v).tolist() for n, v in s.items()}
                        for k, s in opt.state_dict()["state"].items()})
    assert after == before


# ------------------------------------------------------------------------ interrupted saves
@pytest.mark.parametrize("stage", ["write", "flush", "fsync", "chmod", "replace"])
def test_an_exception_at_any_stage_of_a_save_keeps_the_old_checkpoint(tmp_path, monkeypatch, stage):
    path = tmp_path / "ck.npz"
    tc.save(_checkpoint(seed=0), path)
    old = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, f"No space left on device (simulated at {stage})")
    if stage == "write":
        monkeypatch.setattr(serialization.npz, "_write_npz", boom)
    elif stage == "flush":
        real = serialization.npz._write_npz

        def write_then_fail(fh, entries):
            real(fh, entries)
            raise OSError(28, "No space left on device (simulated at flush)")
        monkeypatch.setattr(serialization.npz, "_write_npz", write_then_fail)
    else:
        monkeypatch.setattr(serialization.os, stage, boom)
    with pytest.raises(OSError, match="No space left") as e:
        tc.save(_checkpoint(seed=1), path)
    monkeypatch.undo()
    assert isinstance(e.value, tc.CheckpointError) and e.value.errno == 28     # wrapped, naming the path
    assert f"could not write {path}" in str(e.value)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["ck.npz"]          # the temporary file was removed
    assert _same(tc.load(path), _checkpoint(seed=0))


_CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import tinygrad_cnn as tc
    from tinygrad_cnn import serialization
    path, mode = sys.argv[1], sys.argv[2]
    big = {"w": tc.tensor(np.full((1024, 1024), 7.0, np.float32)), "epoch": 2}
    if mode == "pause":                  # write half the archive, say so, and wait to be killed
        real = serialization.npz._write_npz
        def half(fh, entries):
            class Half:
                def __init__(self, fh): self.fh, self.n = fh, 0
                def write(self, b):
                    if self.n + len(b) > 2 << 20:   # write up to 2 MB, then stop there
                        self.fh.write(b[:(2 << 20) - self.n])
                        self.fh.flush()
                        print("HALF", flush=True)
                        time.sleep(60)
                    self.n += len(b)
                    return self.fh.write(b)
                def __getattr__(self, k): return getattr(self.fh, k)
            real(Half(fh), entries)
        serialization.npz._write_npz = half
        tc.save(big, path)
    else:                                # save over and over until killed
        print("READY", flush=True)
        i = 0
        while True:
            i += 1
            big["epoch"] = 2 + i
            tc.save(big, path)
""")


def _spawn(path, mode):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(path), mode], stdout=subprocess.PIPE,
                            env=env, text=True)


def test_a_process_killed_in_the_middle_of_a_save_leaves_the_old_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    tc.save(_checkpoint(seed=0), path)
    old = path.read_bytes()
    child = _spawn(path, "pause")
    try:
        assert child.stdout.readline().strip() == "HALF"      # 2 MB of 4 MB written
        temps = [p for p in os.listdir(tmp_path) if p != "ck.npz"]
        assert len(temps) == 1 and 1 << 20 < os.path.getsize(tmp_path / temps[0]) < 4 << 20
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == old                           # untouched, byte for byte
    assert tc.load(path)["epoch"] == 3
    # the killed writer's temporary file stays (no process was left to remove it); it is hidden
    # (.ck.npz.PID.*.tmp) and never mistaken for the checkpoint
    (stale,) = [p for p in os.listdir(tmp_path) if p != "ck.npz"]
    assert stale.startswith(f".ck.npz.{child.pid}.")
    tc.save(_checkpoint(seed=1), path)                        # written just now: kept for a minute
    assert sorted(os.listdir(tmp_path)) == sorted(["ck.npz", stale])
    _age(tmp_path / stale)
    tc.save(_checkpoint(seed=1), path)                        # dead writer, a minute old: removed
    assert os.listdir(tmp_path) == ["ck.npz"]


def _age(p, seconds=serialization.STALE_TEMP_SECONDS):
    t = time.time() - seconds - 1
    os.utime(p, (t, t))


def test_a_save_leaves_a_live_writers_temporary_file_alone(tmp_path):
    path = tmp_path / "ck.npz"
    live = tmp_path / f".ck.npz.{os.getppid()}.abc.tmp"     # the parent process: alive
    other = tmp_path / ".other.npz.999999999.abc.tmp"        # another checkpoint's temp
    dead_but_fresh = tmp_path / ".ck.npz.999999999.abc.tmp"  # e.g. a writer on another host
    for p in (live, other, dead_but_fresh):
        p.write_bytes(b"partial")
    _age(live)
    _age(other)
    tc.save({"epoch": 1}, path)
    assert sorted(os.listdir(tmp_path)) == sorted(["ck.npz", live.name, other.name, dead_but_fresh.name])


def test_killing_a_save_loop_at_random_moments_never_leaves_a_partial_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    tc.save({"w": tc.tensor(np.full((1024, 1024), 7.0, np.float32)), "epoch": 2}, path)
    rng = np.random.default_rng(0)
    epochs = set()
    for attempt in range(3):
        child = _spawn(path, "loop")
        try:
            assert child.stdout.readline().strip() == "READY"
            time.sleep(0.3 + rng.uniform(0, 0.5))             # several saves, then a kill mid-way
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        ck = tc.load(path)                                    # always a complete checkpoint
        assert ck["w"].shape == (1024, 1024) and float(ck["w"].numpy().min()) == 7.0
        epochs.add(ck["epoch"])
        for p in os.listdir(tmp_path):
            if p != "ck.npz":
                _age(tmp_path / p)
        tc.save(tc.load(path), path)                          # removes the killed writer's temp file
        assert os.listdir(tmp_path) == ["ck.npz"]
    assert max(epochs) > 2                                    # the kills interrupted a run of saves


# ---------------------------------------------------------- IDX headers and payloads (issue 11)
def test_an_idx_header_with_255_dimensions_is_refused(tmp_path):
    path = tmp_path / "x-idx"
    path.write_bytes(bytes([0, 0, 8, 255]) + struct.pack(">i", 1) * 255 + b"\0")
    with pytest.raises(CorruptDatasetError, match=r"corrupt IDX header: 255 dimensions \(a NumPy array has at most 64"):
        read_idx(path)


def test_reading_stops_at_the_declared_size_of_an_idx_payload(tmp_path):
    raw = _idx_bytes(np.zeros((2, 3), np.uint8))
    endless = tmp_path / "bomb.gz"                       # 6 declared bytes, then 64 MB more of zeros
    with gzip.open(endless, "wb", compresslevel=1) as f:
        f.write(raw)
        for _ in range(64):
            f.write(bytes(1 << 20))
    assert endless.stat().st_size < 1 << 20
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(CorruptDatasetError, match=r"more data than the IDX header declares: 6 data "
                                                       r"bytes for shape \(2, 3\), then at least .* unexpected "
                                                       r"bytes \(reading stopped there\)"):
            read_idx(endless)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2 and peak < 4 << 20
    garbage = tmp_path / "garbage.gz"                    # not gzip data after the gzip member
    garbage.write_bytes(gzip.compress(raw) + b"trailing garbage" * 100)
    with pytest.raises(CorruptDatasetError, match=r"garbage\.gz: corrupt gzip data"):
        read_idx(garbage)
    plain = tmp_path / "plain-idx"
    plain.write_bytes(raw + b"extra")
    with pytest.raises(CorruptDatasetError, match="more data than the IDX header declares"):
        read_idx(plain)


@pytest.mark.parametrize("images, labels, match", [
    (np.zeros((4, 28, 28), np.int32), np.zeros(4, np.uint8), r"holds int32 images of shape \(4, 28, 28\); expected uint8"),
    (np.zeros((4, 28, 28), np.float32), np.zeros(4, np.uint8), r"holds float32 images"),
    (np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.float64), r"holds float64 labels of shape \(4,\); expected N uint8"),
    (np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 200, 3], np.uint8), r"holds the label 200, but the dataset has 10 classes"),
    (np.zeros((4, 28, 28), np.uint8), np.zeros(5, np.uint8), r"4 images but 5 labels"),
    (np.zeros((4, 784), np.uint8), np.zeros(4, np.uint8), r"expected uint8 images of shape \(N, rows, cols\)"),
], ids=["int32 images", "float images", "float labels", "label out of range", "count mismatch", "2-d images"])
def test_verify_false_still_checks_what_the_dataset_needs(tmp_path, images, labels, match):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(images, codes[images.dtype]))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(labels, codes[labels.dtype]))
    with pytest.raises(CorruptDatasetError, match=match):
        tc.data.MNIST(tmp_path, train=False, verify=False)


@pytest.mark.parametrize("kind", ["fifo", "directory", "char device"])
def test_read_idx_refuses_fifos_devices_and_directories_at_once(tmp_path, kind):
    path = tmp_path / "train-images-idx3-ubyte"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = "/dev/zero"
        if not os.path.exists(path):
            pytest.skip("no /dev/zero")
    signal.alarm(20)                                      # a hang fails the test
    try:
        with pytest.raises(CorruptDatasetError, match=r"is (a FIFO \(named pipe\)|a directory|a character device), not an IDX file"):
            read_idx(path)
    finally:
        signal.alarm(0)


# ------------------------------------------------------------- train --resume with the wrong file
QUICK = ["train", "--limit-train", "256", "--valid-size", "128", "--limit-test", "128", "--epochs", "1"]


@pytest.fixture(scope="module")
def train_checkpoint(tmp_path_factory):
    """A real checkpoint of a QUICK run."""
    from tinygrad_cnn.cli import main
    folder = tmp_path_factory.mktemp("run")
    assert main(QUICK + ["--checkpoint", str(folder)]) == 0
    return tc.load(folder / "checkpoint.npz")


def _resume_error(tmp_path, capsys, write):
    from tinygrad_cnn.cli import main
    folder = tmp_path / f"ck{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    write(folder / "checkpoint.npz")
    capsys.readouterr()
    signal.alarm(60)
    try:
        assert main(QUICK + ["--checkpoint", str(folder), "--resume"]) == 2
    finally:
        signal.alarm(0)
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and str(folder / "checkpoint.npz") in err
    return err


def _without(state, key):
    return {k: v for k, v in state.items() if k != key}


@pytest.mark.parametrize("write, found", [
    (lambda p: np.savez(p, w=np.ones(3)), r"it holds a flat dict of 1 arrays \('w'\): a bare state dict or a plain np.savez file"),
    (lambda p: tc.save(nn.Linear(2, 3).state_dict(), p), r"it holds a flat dict of 2 arrays \('weight', 'bias'\)"),
    (lambda p: tc.save({"model": nn.Linear(2, 3).state_dict(), "optimizer": {}, "epoch": 3}, p),
     r"it holds a dict with keys 'model', 'optimizer', 'epoch' and no format 'tinygrad_cnn.train' tag"),
    (lambda p: tc.save([1, 2], p), r"it holds a list"),
    (lambda p: os.mkfifo(p), r"is a FIFO \(named pipe\), not a checkpoint file"),
], ids=["plain np.savez", "bare state dict", "another program's checkpoint", "a list", "a fifo"])
def test_resume_from_a_foreign_file_says_what_it_found_and_expected(tmp_path, capsys, write, found):
    err = _resume_error(tmp_path, capsys, write)
    assert re.search(found, err), err
    if "FIFO" not in err:
        assert "expected a `tinygrad-cnn train --checkpoint` checkpoint: a dict with format 'tinygrad_cnn.train'" in err


def test_resume_from_a_partial_or_mismatched_checkpoint(tmp_path, capsys, train_checkpoint):
    partial = _without(train_checkpoint, "optimizer")
    err = _resume_error(tmp_path, capsys, lambda p: tc.save(partial, p))
    assert "a partial or damaged checkpoint: optimizer (missing)" in err
    other_model = dict(train_checkpoint, config=dict(train_checkpoint["config"], model="resnet18"))
    err = _resume_error(tmp_path, capsys, lambda p: tc.save(other_model, p))
    assert "it was made with other settings (model: checkpoint 'resnet18', this run 'lenet5')" in err
    wrong_weights = dict(train_checkpoint, model=nn.Linear(2, 3).state_dict())
    err = _resume_error(tmp_path, capsys, lambda p: tc.save(wrong_weights, p))
    assert "its model state does not fit this run (lenet5 with adam): StateDictError" in err and "Missing key" in err
    bad_rng = dict(train_checkpoint, rng={"global": "x", "loader": {}})
    err = _resume_error(tmp_path, capsys, lambda p: tc.save(bad_rng, p))
    assert "its random generator state does not fit this run" in err
