"""tc.save / tc.load: exact round trips, no pickle, atomic writes, and errors that name the
file and the failing key."""
import io
import json
import math
import os
import zipfile

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim, serialization


def _nested():
    return {
        "model": {"conv1.weight": tc.randn(6, 1, 5, 5), "bn.num_batches_tracked": tc.tensor(7)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.arange(4.0)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0], "nesterov": False}]},
        "epoch": 4, "best": 0.9912, "nan": float("nan"), "inf": -math.inf, "name": "lenet5 ✓",
        "nothing": None, "flags": [True, False], "big": 2 ** 70, "tuple": (1, "a", None),
        1.5: "float key", None: "none key", True: "bool key",
        "arrays": [np.zeros((0, 3)), np.array(3.5), np.float32(2.25), np.int8([-1, 2]),
                   np.array([True, False]), np.float16([1.5]), np.array(["ab", "c"]),
                   np.complex64([1 + 2j]), np.arange(6, dtype=np.uint16).reshape(2, 3)[:, ::2]],
        "grad_tensor": tc.ones(2, requires_grad=True),
    }


def _assert_same(a, b, path="root"):
    if isinstance(a, tc.Tensor):
        assert isinstance(b, tc.Tensor), path
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad, path
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert type(b) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert type(a) is type(b) and a == b, path
    elif isinstance(a, dict):
        assert type(b) is dict and list(a) == list(b), path
        for k in a:
            assert type(k) is type(next(kk for kk in b if kk == k and type(kk) is type(k))), path
            _assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert type(a) is type(b) and a == b, path


def test_round_trip_exact(tmp_path):
    obj = _nested()
    path = tmp_path / "ckpt.pt"                          # any name: no suffix is appended
    tc.save(obj, path)
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    _assert_same(obj, tc.load(path))
    _assert_same(obj, tc.load(str(path)))


def test_round_trip_file_object():
    buf = io.BytesIO()
    obj = {"w": tc.randn(3, 3), "k": [1, 2]}
    tc.save(obj, buf)
    buf.seek(0)
    _assert_same(obj, tc.load(buf))


def test_file_is_a_plain_npz_without_pickle(tmp_path):
    tc.save({"w": tc.ones(2, 2), "epoch": 1}, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["__tinygrad_cnn__", "a0"]
        header = json.loads(z["__tinygrad_cnn__"].tobytes())
        assert header["format"] == "tinygrad_cnn.checkpoint"
        np.testing.assert_array_equal(z["a0"], np.ones((2, 2), np.float32))


def test_model_optimizer_scheduler_checkpoint(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2)
    model(tc.randn(3, 4)).sum().backward()
    opt.step()
    sched.step()
    tc.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "epoch": 1}, tmp_path / "ck.npz")
    ck = tc.load(tmp_path / "ck.npz")
    model2 = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    model2.load_state_dict(ck["model"])
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert ck["epoch"] == 1 and ck["scheduler"]["last_epoch"] == 1
    np.testing.assert_array_equal(ck["optimizer"]["state"][0]["momentum_buffer"].data,
                                  opt.state[model[0].weight]["momentum_buffer"])


def test_unsupported_objects_are_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match=r"set at \['a'\]\[0\]"):
        tc.save({"a": [{1, 2}]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dtype object"):
        tc.save({"a": np.array([object()])}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dict keys"):
        tc.save({(1, 2): 3}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_pickled_object_array_is_refused(tmp_path):
    """A crafted file whose entry is a pickled object array: tc.load must not unpickle it."""
    evil = tmp_path / "evil.npz"
    header = {"format": "tinygrad_cnn.checkpoint", "version": 1,
              "root": {"__dict__": [["w", {"__array__": "a0", "kind": "ndarray"}]]}}
    np.savez(evil, __tinygrad_cnn__=np.frombuffer(json.dumps(header).encode(), np.uint8),
             a0=np.array([{"x": 1}], dtype=object))
    with pytest.raises(tc.CheckpointError, match=r"evil\.npz.*\['w'\].*pickled object array"):
        tc.load(evil)
    plain = tmp_path / "plain.npz"                       # without our header too
    np.savez(plain, w=np.array([print], dtype=object))
    with pytest.raises(tc.CheckpointError, match="pickled object array"):
        tc.load(plain)


def test_plain_npz_loads_as_flat_dict(tmp_path):
    np.savez(tmp_path / "sd.npz", **{"weight": np.ones((2, 3)), "bias": np.zeros(2)})
    sd = tc.load(tmp_path / "sd.npz")
    assert sorted(sd) == ["bias", "weight"] and isinstance(sd["weight"], tc.Tensor)
    nn.Linear(3, 2).load_state_dict(sd)


def test_interrupted_save_leaves_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    tc.save({"epoch": 1, "w": tc.ones(100)}, path)
    before = path.read_bytes()

    def crash(fh, entries):
        fh.write(b"PK\x03\x04 partial garbage")
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(serialization.npz, "_write_npz", crash)
    with pytest.raises(KeyboardInterrupt):
        tc.save({"epoch": 2, "w": tc.zeros(100)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.npz"]            # no temp file left behind
    assert tc.load(path)["epoch"] == 1


def test_truncated_file_names_the_file(tmp_path):
    path = tmp_path / "ck.npz"
    tc.save({"w": tc.randn(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(tc.CheckpointError, match=r"ck\.npz.*not a readable zip archive"):
        tc.load(path)


def test_corrupt_entry_names_the_key(tmp_path):
    path = tmp_path / "ck.npz"
    tc.save({"model": {"fc1.weight": tc.ones(64, 64), "fc1.bias": tc.ones(64)}}, path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("a0.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    data[start:start + 8] = b"\x13" * 8                  # flip bytes inside fc1.weight's data
    path.write_bytes(bytes(data))
    with pytest.raises(tc.CheckpointError, match=r"ck\.npz: key \['model'\]\['fc1\.weight'\] \(member 'a0\.npy'\)"):
        tc.load(path)


def test_missing_entry_and_bad_header_name_the_problem(tmp_path):
    header = {"format": "tinygrad_cnn.checkpoint", "version": 1,
              "root": {"__dict__": [["opt", {"__dict__": [["buf", {"__array__": "a7"}]]}]]}}
    np.savez(tmp_path / "m.npz", __tinygrad_cnn__=np.frombuffer(json.dumps(header).encode(), np.uint8))
    with pytest.raises(tc.CheckpointError, match=r"key \['opt'\]\['buf'\] refers to entry 'a7\.npy', which is missing"):
        tc.load(tmp_path / "m.npz")
    np.savez(tmp_path / "h.npz", __tinygrad_cnn__=np.frombuffer(b"{not json", np.uint8))
    with pytest.raises(tc.CheckpointError, match="structure entry"):
        tc.load(tmp_path / "h.npz")
    with pytest.raises(tc.CheckpointError, match="no such checkpoint file"):
        tc.load(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(tc.CheckpointError, match="text.npz"):
        tc.load(tmp_path / "text.npz")
