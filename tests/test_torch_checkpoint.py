"""PyTorch .pt/.pth checkpoints read without torch and without pickle: files made by torch in
the test load with the right values and into our models; malicious files are refused and
provably run nothing; hand-made data.pkl files probe the restricted interpreter."""
import io
import os
import struct
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim
from tinygrad_cnn.models import LeNet5

torch = pytest.importorskip("torch")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TorchLeNet5(torch.nn.Module):
    """The torch twin of tc.models.LeNet5 (same names and shapes)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = torch.nn.Conv2d(1, 6, 5), torch.nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = torch.nn.Linear(256, 120), torch.nn.Linear(120, 84), torch.nn.Linear(84, 10)

    def forward(self, x):
        F = torch.nn.functional
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def _torch_block():
    """A ResNet basic block with a projection shortcut."""
    T = torch.nn
    return T.ModuleDict({"conv1": T.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), "bn1": T.BatchNorm2d(8),
                         "conv2": T.Conv2d(8, 8, 3, padding=1, bias=False), "bn2": T.BatchNorm2d(8),
                         "downsample": T.Sequential(T.Conv2d(4, 8, 1, stride=2, bias=False), T.BatchNorm2d(8))})


def _torch_block_forward(b, x):
    F = torch.nn.functional
    out = F.relu(b["bn1"](b["conv1"](x)))
    return F.relu(b["bn2"](b["conv2"](out)) + b["downsample"](x))


def _our_block():
    return nn.ModuleDict({"conv1": nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), "bn1": nn.BatchNorm2d(8),
                          "conv2": nn.Conv2d(8, 8, 3, padding=1, bias=False), "bn2": nn.BatchNorm2d(8),
                          "downsample": nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))})


def _our_block_forward(b, x):
    out = b["bn1"](b["conv1"](x)).relu()
    return (b["bn2"](b["conv2"](out)) + b["downsample"](x)).relu()


def test_lenet5_state_dict_from_torch_loads_into_our_lenet5(tmp_path):
    torch.manual_seed(0)
    theirs = TorchLeNet5()
    torch.save(theirs.state_dict(), tmp_path / "lenet5.pth")
    ours = LeNet5()
    ours.load_state_dict(tc.load(tmp_path / "lenet5.pth"))
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(ours(tc.from_numpy(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_resnet_block_with_batchnorm_buffers(tmp_path):
    torch.manual_seed(0)
    theirs = _torch_block()
    for _ in range(3):                                  # move the running statistics
        _torch_block_forward(theirs, torch.randn(4, 4, 8, 8))
    theirs.eval()
    torch.save(theirs.state_dict(), tmp_path / "block.pt")
    sd = tc.load(tmp_path / "block.pt")
    assert sd["bn1.num_batches_tracked"].numpy().dtype == np.int64 and int(sd["bn1.num_batches_tracked"].item()) == 3
    for k, v in theirs.state_dict().items():
        assert isinstance(sd[k], tc.Tensor) and not sd[k].requires_grad
        np.testing.assert_array_equal(sd[k].numpy(), v.numpy(), err_msg=k)
    ours = _our_block()
    ours.load_state_dict(sd)
    ours.eval()
    x = np.random.default_rng(1).standard_normal((2, 4, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_our_block_forward(ours, tc.from_numpy(x)).numpy(),
                               _torch_block_forward(theirs, torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_resnet18_pth_loads_into_our_resnet18(tmp_path):
    """The issue's `model.load_state_dict(tc.load("resnet18.pth"))`, with torch's ResNet-18 (built
    from the same model source by tests/torch_twin.py: torchvision is not needed)."""
    from torch_twin import twin_module
    from tinygrad_cnn.vision import models
    torch.manual_seed(0)
    theirs = twin_module("tinygrad_cnn.vision.models.resnet").resnet18(num_classes=10)
    with torch.no_grad():                               # non-trivial BatchNorm buffers
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0), m.num_batches_tracked.fill_(5)
    theirs.eval()
    torch.save(theirs.state_dict(), tmp_path / "resnet18.pth")
    ours = models.resnet18(num_classes=10)
    ours.load_state_dict(tc.load(tmp_path / "resnet18.pth"))
    ours.eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(ours(tc.from_numpy(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-4)


def test_model_optimizer_epoch_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99))
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(5, 3)).pow(2).sum().backward()
        opt.step()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7,
                "best": 0.25, "note": "adam", "flags": [True, None]}, tmp_path / "ck.pth")
    ck = tc.load(tmp_path / "ck.pth")
    assert ck["epoch"] == 7 and ck["best"] == 0.25 and ck["note"] == "adam" and ck["flags"] == [True, None]
    ref = opt.state_dict()
    group = ck["optimizer"]["param_groups"][0]
    assert group["betas"] == (0.8, 0.99) and group["lr"] == 0.01 and group["params"] == ref["param_groups"][0]["params"]
    for i, state in ref["state"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(ck["optimizer"]["state"][i][name].numpy(), value.numpy())
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ours.load_state_dict(ck["model"])
    ours_opt = optim.Adam(ours.parameters(), lr=0.01)
    ours_opt.load_state_dict(ck["optimizer"])           # torch's extra group keys are accepted


def test_strided_shared_and_every_dtype(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {"t": base.t(), "every_other": base[1:, ::2], "offset": base[2], "expand": base[0].expand(3, 6),
           "base": base, "same_again": base, "empty": torch.zeros(0, 3), "scalar": torch.tensor(1.5),
           "f64": torch.randn(3, dtype=torch.float64), "f16": torch.randn(3).half(),
           "bf16": torch.randn(3).bfloat16(), "i64": torch.arange(3), "i32": torch.arange(3, dtype=torch.int32),
           "i16": torch.arange(3, dtype=torch.int16), "i8": torch.tensor([-3, 4], dtype=torch.int8),
           "u8": torch.tensor([0, 255], dtype=torch.uint8), "bool": torch.tensor([True, False]),
           "param": torch.nn.Parameter(torch.ones(2))}
    torch.save(obj, tmp_path / "x.pt")
    got = tc.load(tmp_path / "x.pt")
    for k, v in obj.items():
        want = v.detach().float().numpy() if k == "bf16" else v.detach().numpy()
        assert got[k].numpy().dtype == want.dtype and got[k].shape == tuple(v.shape), k
        np.testing.assert_array_equal(got[k].numpy(), want, err_msg=k)
    assert got["param"].requires_grad and not got["base"].requires_grad
    assert got["same_again"] is got["base"]             # one tensor saved twice: one object, as in torch
    # but views of one storage come back as independent arrays (a documented difference)
    got["base"].numpy()[0, 0] = 100.0
    assert got["t"].numpy()[0, 0] == 0.0 and got["offset"].numpy()[0] == 12.0


def test_loading_needs_neither_torch_nor_pickle(tmp_path):
    torch.manual_seed(0)
    torch.save(TorchLeNet5().state_dict(), tmp_path / "lenet5.pth")
    total = float(sum(v.double().sum() for v in TorchLeNet5().state_dict().values()))  # other seed: unused
    want = float(sum(v.double().sum() for v in torch.load(tmp_path / "lenet5.pth").values()))
    assert want != total
    code = ("import sys, pickle\n"
            "sys.modules['torch'] = None\n"               # import torch -> ImportError
            "def no(*a, **k): raise AssertionError('pickle was used')\n"
            "pickle.load = pickle.loads = no\n"
            "pickle.Unpickler = pickle._Unpickler = no\n"
            "import _pickle; _pickle.load = _pickle.loads = _pickle.Unpickler = no\n"
            "import tinygrad_cnn as tc\n"
            f"sd = tc.load({str(tmp_path / 'lenet5.pth')!r})\n"
            "print(repr(sum(float(v.numpy().astype('float64').sum()) for v in sd.values())))")
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == pytest.approx(want, rel=1e-12)


# ------------------------------------------------------------------------------ malicious
class _OpenFile:
    """Pickles as a call that creates `path`."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class _System:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


class _Eval:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (eval, (f"open({self.path!r}, 'w')",))


@pytest.mark.parametrize("payload, refused", [
    (_OpenFile, r"io\.open"), (_System, r"(posix|os)\.system"), (_Eval, "builtins.eval"),
], ids=["reduce creating a file", "os.system", "builtins.eval"])
def test_malicious_payloads_are_refused_and_never_run(tmp_path, payload, refused):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.ones(2)}, "x": payload(marker)}, path)
    with pytest.raises(tc.CheckpointError, match=rf"evil\.pth: refused to load the global '{refused}'.*nothing from the file was run") as e:
        tc.load(path)
    assert "allow_pickle" not in str(e.value) and "pickle.load" not in str(e.value)
    assert not marker.exists()
    torch.load(path, weights_only=False)                # control: real unpickling runs the payload
    assert marker.exists()


def test_the_legacy_non_zip_format_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2), "x": _OpenFile(marker)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(tc.CheckpointError, match=r"legacy\.pt: is a pickle file \(PyTorch's legacy format") as e:
        tc.load(path)
    assert "weights_only=True" in str(e.value) and not marker.exists()
    assert "allow_pickle" not in str(e.value) and "pickle.load" not in str(e.value)


def test_a_whole_pickled_module_is_refused_naming_the_class(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(tc.CheckpointError, match=r"refused to load the global 'torch\.nn\.modules\.linear\.Linear'.*state_dict\(\)"):
        tc.load(tmp_path / "module.pt")


# ------------------------------------------------------------------- hand-made archives
def _archive(path, pkl, storages=None, byteorder=b"little"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        if byteorder is not None:
            z.writestr("archive/byteorder", byteorder)
        for key, data in (storages or {}).items():
            z.writestr(f"archive/data/{key}", data)
    return path


def _rebuild(key, numel, size, stride, offset=0, storage="FloatStorage"):
    """Pickle opcodes for torch._utils._rebuild_tensor_v2 on storage `key` (protocol 2)."""
    def ints(values):
        return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"
    return (b"ctorch._utils\n_rebuild_tensor_v2\n("
            + b"(X\x07\x00\x00\x00storage" + f"ctorch\n{storage}\n".encode()
            + b"X" + struct.pack("<I", len(key)) + key.encode() + b"X\x03\x00\x00\x00cpu"
            + b"J" + struct.pack("<i", numel) + b"tQ"
            + b"J" + struct.pack("<i", offset) + ints(size) + ints(stride)
            + b"\x89ccollections\nOrderedDict\n)RtR")


def _dict_of(items):
    return b"\x80\x02}(" + b"".join(b"X" + struct.pack("<I", len(k)) + k.encode() + v for k, v in items) + b"u."


def test_hand_made_archive_loads(tmp_path):
    data = np.arange(6, dtype="<f4").tobytes()
    pkl = _dict_of([("w", _rebuild("0", 6, (2, 3), (3, 1))), ("t", _rebuild("0", 6, (3, 2), (1, 3)))])
    got = tc.load(_archive(tmp_path / "ok.pt", pkl, {"0": data}))
    np.testing.assert_array_equal(got["w"].numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(got["t"].numpy(), np.arange(6.0).reshape(2, 3).T)
    big = np.arange(6, dtype=">f4").tobytes()            # a big-endian machine's file
    got = tc.load(_archive(tmp_path / "be.pt", pkl, {"0": big}, byteorder=b"big"))
    assert got["w"].numpy().dtype == np.float32 and got["w"].numpy()[1, 2] == 5.0


@pytest.mark.parametrize("pkl, storages, match", [
    (b"\x80\x02(X\x02\x00\x00\x00lsios\nsystem\n.", {}, "opcode INST is not allowed"),
    (b"\x80\x02(X\x01\x00\x00\x00ao.", {}, "opcode OBJ is not allowed"),
    (b"\x80\x02\x82\x01.", {}, "opcode EXT1 is not allowed"),
    (b"\x80\x02ctorch\nFloatStorage\n)R.", {}, "REDUCE may only call the allowed rebuild functions"),
    (b"\x80\x02cbuiltins\ngetattr\n.", {}, "refused to load the global 'builtins.getattr'"),
    (b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x8c\x04exec\x93.", {},
     "refused to load the global 'builtins.exec'"),
    (b"\x80\x02]q\x00h\x00a.", {}, "contains itself"),
    (b"\x80\x02" + b"]" * 150 + b"a" * 149 + b".", {}, "nests deeper than 100"),
    (b"\x80\x02X\xff\xff\xff\x7fabc.", {}, "runs past the end of the pickle"),
    (b"\x80\x02h\x05.", {}, "memo entry 5 is used before it is defined"),
    (b"\x80\x02]", {}, "ends without STOP"),
    (b"\x80\x02}]]s.", {}, "SETITEM failed: TypeError"),
    (_dict_of([("w", _rebuild("0", 6, (2, 3), (3, 2)))]), {"0": b"\0" * 24}, "reaches element 7 of storage '0', which has 6"),
    (_dict_of([("w", _rebuild("0", 6, (2,), (1,)))]), {"0": b"\0" * 8}, "should hold 6 x 4 bytes"),
    (_dict_of([("w", _rebuild("9", 6, (2,), (1,)))]), {"0": b"\0" * 24}, "storage '9' is missing"),
    (_dict_of([("w", _rebuild("0", 1, (2,), (1,), storage="ComplexFloatStorage"))]), {"0": b"\0" * 8},
     "complex and quantized tensors are not supported"),
    (_dict_of([("w", _rebuild("0", 1, (1,), (1,), storage="BoolStorage"))]), {"0": b"\x05"},
     "holds bytes other than 0 and 1"),
], ids=["INST os.system", "OBJ", "EXT1", "reduce a storage type", "getattr", "exec via STACK_GLOBAL",
        "self-referencing list", "deep nesting", "oversized string", "bad memo", "no STOP",
        "unhashable key", "stride out of range", "storage size", "missing storage", "complex",
        "bool bytes"])
def test_the_interpreter_refuses_what_a_tensor_checkpoint_never_holds(tmp_path, pkl, storages, match):
    path = _archive(tmp_path / "evil.pt", pkl, storages)
    with pytest.raises(tc.CheckpointError, match=match) as e:
        tc.load(path)
    assert str(path) in str(e.value)


def test_shared_structures_and_expanded_tensors_have_bounded_cost(tmp_path):
    # a "billion laughs" pickle: 30 levels, each a list holding the previous level twice
    # (2**30 leaves when walked naively): it loads at once, as the shared structure it is
    pkl = b"\x80\x02K\x01" + b"q\x000h\x00h\x00\x86" * 30 + b"."       # memo, pop, get, get, tuple2
    start = time.perf_counter()
    got = tc.load(_archive(tmp_path / "laughs.pt", pkl))
    assert time.perf_counter() - start < 2 and isinstance(got, tuple) and got[0] is got[1]
    # one float viewed with stride 0 as 10**6 x 10**6: refused by the byte cap, nothing allocated
    pkl = _dict_of([("w", _rebuild("0", 1, (10 ** 6, 10 ** 6), (0, 0)))])
    with pytest.raises(tc.CheckpointError, match=r"over tc\.load's cap max_bytes=.*raise the cap"):
        tc.load(_archive(tmp_path / "expand.pt", pkl, {"0": b"\0" * 4}))


def test_a_torch_file_object_and_map_location_are_accepted(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4.0)}, buf)
    buf.seek(0)
    np.testing.assert_array_equal(tc.load(buf, map_location="cpu", weights_only=True)["w"].numpy(), np.arange(4.0))

