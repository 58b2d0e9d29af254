"""safetensors in and out: the real format (checked against the `safetensors` package both ways,
when it is installed), written atomically, and hostile headers refused cheaply."""
import json
import os
import struct
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, serialization

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8, np.bool_]


def _arrays():
    rng = np.random.default_rng(0)
    out = {}
    for dt in DTYPES:
        name = np.dtype(dt).name
        if dt is np.bool_:
            out[name] = rng.integers(0, 2, (3, 4)).astype(bool)
        elif np.dtype(dt).kind == "f":
            out[name] = rng.standard_normal((2, 3, 4)).astype(dt)
        else:
            out[name] = rng.integers(0, 100, (5,)).astype(dt)
    out["scalar"] = np.array(2.5, np.float32)
    out["empty"] = np.zeros((0, 3), np.float32)
    out["strided"] = np.arange(12.0).reshape(3, 4)[:, ::2]          # non-contiguous
    out["big_endian"] = np.arange(6, dtype=">i4").reshape(2, 3)     # written little-endian
    return out


def _check_equal(expected, loaded, as_numpy=lambda v: v.numpy()):
    assert sorted(loaded) == sorted(expected)
    for k, v in expected.items():
        got = as_numpy(loaded[k])
        assert got.shape == v.shape, k
        assert got.dtype == v.dtype.newbyteorder("="), k
        np.testing.assert_array_equal(got, v, err_msg=k)


def test_round_trip_here(tmp_path):
    arrays = _arrays()
    tensors = {k: tc.from_numpy(v) if k != "big_endian" else v for k, v in arrays.items()}
    tc.save_safetensors(tensors, tmp_path / "m.safetensors", metadata={"epoch": "3"})
    loaded, meta = tc.load_safetensors(tmp_path / "m.safetensors", with_metadata=True)
    assert meta == {"epoch": "3"}
    assert all(isinstance(v, tc.Tensor) for v in loaded.values())
    _check_equal(arrays, loaded)
    _check_equal(arrays, tc.load(tmp_path / "m.safetensors"))       # tc.load knows it too


def test_our_files_load_in_the_safetensors_package(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open
    arrays = _arrays()
    tc.save_safetensors(arrays, tmp_path / "m.safetensors", metadata={"note": "from tinygrad_cnn"})
    _check_equal(arrays, st_numpy.load_file(str(tmp_path / "m.safetensors")), as_numpy=lambda v: v)
    with safe_open(str(tmp_path / "m.safetensors"), "np") as f:
        assert f.metadata() == {"note": "from tinygrad_cnn"}


def test_our_files_load_in_safetensors_torch(tmp_path):
    pytest.importorskip("safetensors")
    torch = pytest.importorskip("torch")
    import safetensors.torch as st_torch
    arrays = _arrays()
    tc.save(arrays, tmp_path / "m.safetensors")                       # the suffix picks the format
    _check_equal(arrays, st_torch.load_file(str(tmp_path / "m.safetensors")),
                 as_numpy=lambda v: v.numpy())
    # and a trained-here model runs the same in torch
    tc.manual_seed(0)
    ours = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    tc.save(ours.state_dict(), tmp_path / "model.safetensors")
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(4 * 6 * 6, 3))
    theirs.load_state_dict(st_torch.load_file(str(tmp_path / "model.safetensors")))
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(theirs(torch.from_numpy(x)).detach().numpy(),
                               ours(tc.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_files_of_the_safetensors_package_load_here(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    arrays = {k: np.ascontiguousarray(v) for k, v in _arrays().items() if k != "big_endian"}
    st_numpy.save_file(arrays, str(tmp_path / "np.safetensors"), metadata={"k": "v"})
    loaded, meta = tc.load_safetensors(tmp_path / "np.safetensors", with_metadata=True)
    assert meta == {"k": "v"}
    _check_equal(arrays, loaded)


def test_files_of_safetensors_torch_load_here_and_into_a_model(tmp_path):
    pytest.importorskip("safetensors")
    torch = pytest.importorskip("torch")
    import safetensors.torch as st_torch
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    theirs(torch.randn(4, 1, 6, 6))                                     # running stats move
    st_torch.save_file(theirs.state_dict(), str(tmp_path / "t.safetensors"))
    ours = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    ours.load_state_dict(tc.load(tmp_path / "t.safetensors"))
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    assert ours.state_dict()["1.num_batches_tracked"].numpy().dtype == np.int64
    # bfloat16 has no NumPy dtype: it widens exactly to float32
    bf = torch.randn(7).bfloat16()
    st_torch.save_file({"bf": bf}, str(tmp_path / "bf.safetensors"))
    np.testing.assert_array_equal(tc.load(tmp_path / "bf.safetensors")["bf"].numpy(), bf.float().numpy())


def test_reading_does_not_need_the_safetensors_package(tmp_path):
    tc.save_safetensors({"w": np.arange(6.0).reshape(2, 3)}, tmp_path / "m.safetensors")
    code = ("import sys; sys.modules['safetensors'] = None\n"
            "import tinygrad_cnn as tc\n"
            f"print(tc.load({str(tmp_path / 'm.safetensors')!r})['w'].numpy().sum())")
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "15.0"


def test_save_is_atomic_and_refuses_what_safetensors_cannot_hold(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    tc.save({"w": tc.ones(3)}, path)
    before = path.read_bytes()
    for bad, match in [({"w": {"nested": tc.ones(1)}}, r"'w' is a dict; safetensors holds only tensors"),
                       ({"z": np.ones(2, np.complex64)}, "dtype complex64, which safetensors cannot hold"),
                       ({"s": np.array(["a"])}, "dtype <U1"),
                       ({1: tc.ones(1)}, "names must be str"),
                       ({"__metadata__": tc.ones(1)}, "other than '__metadata__'"),
                       ([tc.ones(1)], "flat dict")]:
        with pytest.raises(tc.CheckpointError, match=match) as e:
            tc.save(bad, path)
        assert isinstance(e.value, TypeError)
    with pytest.raises(tc.CheckpointError, match="metadata must be a dict of str -> str"):
        tc.save_safetensors({"w": tc.ones(1)}, path, metadata={"epoch": 3})

    def disk_full(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(serialization.safetensors_format, "write_safetensors", disk_full)
    monkeypatch.setattr(serialization, "write_safetensors", disk_full)
    with pytest.raises(tc.CheckpointError, match=r"could not write .*m\.safetensors: No space left") as e:
        tc.save({"w": tc.zeros(3)}, path)
    assert isinstance(e.value, OSError) and e.value.errno == 28
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]


# ------------------------------------------------------------------------- hostile headers
def _file(tmp_path, header, data=b"", raw_header=None, declared=None):
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    path = tmp_path / "evil.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw) if declared is None else declared) + raw + data)
    return path


def _f32(shape, begin, end):
    return {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}


@pytest.mark.parametrize("header, data, declared, raw, match", [
    ({}, b"", 2 ** 62, b"{}", "claims 4,611,686,018,427,387,904 bytes, over safetensors' 100,000,000-byte limit"),
    ({}, b"", 50_000_000, b"{}", "but the file has only 2 after the length"),
    (None, b"", None, b"{not json", "the header is not JSON"),
    (None, b"", None, b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "the header is not JSON"),
    (None, b"\0" * 8, None, b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
                            b'"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
     "the name 'a' appears more than once"),
    ({"a": _f32([2], 0, 8), "b": _f32([2], 4, 12)}, b"\0" * 12, None, None, "overlapping"),
    ({"a": _f32([2], 0, 8), "b": _f32([2], 12, 20)}, b"\0" * 20, None, None, "a gap"),
    ({"a": _f32([2], 0, 8)}, b"\0" * 4, None, None, "truncated"),
    ({"a": _f32([2], 0, 8)}, b"\0" * 16, None, None, "trailing bytes"),
    ({"a": _f32([2], 2 ** 70, 2 ** 70 + 8)}, b"", None, None, "starts at byte"),
    ({"a": _f32([10 ** 12, 10 ** 12], 0, 8)}, b"\0" * 8, None, None, "needs 4,000,000,000,000,000,000,000,000 bytes"),
    ({"a": _f32([2], 8, 0)}, b"", None, None, "0 <= begin <= end"),
    ({"a": _f32([-1], 0, 0)}, b"", None, None, "not a list of non-negative ints"),
    ({"a": {"dtype": "X99", "shape": [1], "data_offsets": [0, 1]}}, b"\0", None, None, "unknown dtype 'X99'"),
    ({"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0", None, None, "cannot represent"),
    ({"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}}, b"\x07", None, None, "bytes other than 0 and 1"),
    ({"a": {"dtype": "F32", "shape": [1]}}, b"", None, None, "not an object of dtype, shape and data_offsets"),
    ({"__metadata__": {"epoch": 3}}, b"", None, None, "__metadata__ is not an object of strings"),
    ([1, 2], b"", None, None, "not a JSON object"),
], ids=["oversized header", "header past the end", "not json", "deep json", "duplicate names",
        "overlapping offsets", "gap", "truncated data", "trailing data", "offset out of range",
        "huge shape", "reversed offsets", "negative shape", "unknown dtype", "float8", "bool byte",
        "missing field", "bad metadata", "not an object"])
def test_hostile_headers_are_refused_cheaply(tmp_path, header, data, declared, raw, match):
    path = _file(tmp_path, header, data, raw_header=raw, declared=declared)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(tc.CheckpointError, match=match) as e:
            tc.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 5
    assert peak < 8 << 20                       # nothing sized by the header's claims is allocated
    assert str(path) in str(e.value) and "pickle" not in str(e.value)


def test_the_byte_cap_applies_to_safetensors(tmp_path):
    tc.save_safetensors({"w": np.zeros(1 << 16, np.float32)}, tmp_path / "m.safetensors")
    with pytest.raises(tc.CheckpointError, match=r"over tc\.load's cap max_bytes=100,000 .*tc\.load\(path, max_bytes="):
        tc.load(tmp_path / "m.safetensors", max_bytes=100_000)
    assert tc.load(tmp_path / "m.safetensors", max_bytes=1 << 20)["w"].shape == (1 << 16,)
