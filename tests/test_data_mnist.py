"""The IDX reader and the MNIST / Fashion-MNIST datasets: real files, checksums, clear errors."""
import gzip
import hashlib
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.data import (MNIST, CorruptDatasetError, DataLoader, DatasetNotFoundError,
                               FashionMNIST, read_idx)
from tinygrad_cnn.data import mnist as mnist_module

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO / "data" / "mnist"


def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">i4").tobytes()
    return header + arr.tobytes()


@pytest.fixture(scope="module")
def mnist_test():
    return MNIST(train=False)


# ---------------------------------------------------------------------------------- IDX reader
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_raw_and_gzip_round_trip(tmp_path, compress):
    arr = np.arange(2 * 5 * 7, dtype=np.uint8).reshape(2, 5, 7)
    raw = _idx_bytes(arr)
    path = tmp_path / ("x.gz" if compress else "x")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    out = read_idx(path, (len(raw), hashlib.md5(raw).hexdigest()))
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.uint8 and out.shape == (2, 5, 7)


def test_read_idx_big_endian_types_and_multi_member_gzip(tmp_path):
    arr = np.arange(-6, 6, dtype=">i4").reshape(3, 4)
    raw = _idx_bytes(arr)
    path = tmp_path / "ints.gz"
    path.write_bytes(gzip.compress(raw[:20]) + gzip.compress(raw[20:]))   # two gzip members
    out = read_idx(path)
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.int32 and out.dtype.isnative


def test_read_idx_large_file_is_streamed_into_one_buffer(tmp_path):
    # bigger than the decompression chunk, so the copy-into-buffer loop runs many times
    arr = np.random.default_rng(0).integers(0, 256, (300, 60, 60), dtype=np.uint8)
    raw = _idx_bytes(arr)
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(raw, compresslevel=1))
    np.testing.assert_array_equal(read_idx(path, (len(raw), hashlib.md5(raw).hexdigest())), arr)


def test_truncated_corrupt_and_mismatching_files_say_which_and_why(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    raw = _idx_bytes(arr)
    good = (len(raw), hashlib.md5(raw).hexdigest())
    gz = gzip.compress(raw)

    cut = tmp_path / "cut.gz"
    cut.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(CorruptDatasetError, match=r"cut\.gz: truncated gzip"):
        read_idx(cut, good)

    short = tmp_path / "short"
    short.write_bytes(raw[:-100])
    with pytest.raises(CorruptDatasetError, match=r"short: truncated: .*promises 39200 data bytes.*holds 39100"):
        read_idx(short, good)

    flipped = bytearray(gz)
    flipped[len(flipped) // 2] ^= 0xFF
    bad = tmp_path / "flipped.gz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(CorruptDatasetError, match=r"flipped\.gz"):
        read_idx(bad, good)

    other = bytearray(raw)
    other[-1] ^= 1                      # a valid file with one wrong pixel: only the md5 knows
    changed = tmp_path / "changed"
    changed.write_bytes(bytes(other))
    with pytest.raises(CorruptDatasetError, match=rf"changed: checksum mismatch: md5 .* is "
                                                  rf"{hashlib.md5(bytes(other)).hexdigest()}, expected {good[1]}"):
        read_idx(changed, good)

    notidx = tmp_path / "notidx"
    notidx.write_bytes(b"<html>404</html>")
    with pytest.raises(CorruptDatasetError, match="not an IDX file"):
        read_idx(notidx)
    empty = tmp_path / "empty.gz"
    empty.write_bytes(b"")
    with pytest.raises(CorruptDatasetError, match="empty"):
        read_idx(empty)


# ------------------------------------------------------------------------------------- MNIST
def test_mnist_test_split_contents(mnist_test):
    ds = mnist_test
    assert len(ds) == 10000 and ds.data.dtype == np.uint8 and ds.data.shape == (10000, 28, 28)
    assert ds.targets.dtype == np.int64 and np.bincount(ds.targets).tolist()[:3] == [980, 1135, 1032]
    x, y = ds[0]
    assert isinstance(x, tc.Tensor) and x.shape == (1, 28, 28) and x.dtype == np.float32 and y == 7
    # normalised with MNIST's mean/std: the background is (0 - 0.1307) / 0.3081
    assert np.isclose(x.numpy().min(), -0.1307 / 0.3081, atol=1e-6)
    assert np.isclose(x.numpy().max(), (1 - 0.1307) / 0.3081, atol=1e-5)


def test_mnist_batches_are_normalised_float32_built_per_batch(mnist_test):
    ds = mnist_test
    xb, yb = next(iter(DataLoader(ds, batch_size=2000)))
    assert xb.shape == (2000, 1, 28, 28) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert abs(float(xb.numpy().mean())) < 0.1 and abs(float(xb.numpy().std()) - 1) < 0.1
    one, label = ds[1234]
    batch = ds.__getitems__(np.array([1234]))
    np.testing.assert_array_equal(batch[0].numpy()[0], one.numpy())
    assert batch[1].item() == label
    raw = MNIST(train=False, normalize=False)
    np.testing.assert_allclose(raw[0][0].numpy()[0], mnist_test.data[0] / 255.0, rtol=1e-6)


def test_mnist_train_split_loads_and_keeps_uint8():
    ds = MNIST(train=True)
    assert len(ds) == 60000 and ds.data.dtype == np.uint8 and ds.data.nbytes == 47040000
    assert ds[0][1] == 5 and np.bincount(ds.targets).sum() == 60000


def test_missing_dataset_lists_every_place_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "_default_paths", classmethod(lambda cls: [tmp_path / "nowhere"]))
    (tmp_path / "half").mkdir()
    shutil.copy(MNIST_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path / "half")
    with pytest.raises(DatasetNotFoundError) as e:
        MNIST(root=tmp_path / "half", train=False)
    msg = str(e.value)
    for place in [tmp_path / "half", tmp_path / "half" / "mnist", tmp_path / "half" / "MNIST" / "raw",
                  tmp_path / "nowhere"]:
        assert str(place) in msg
    assert "missing t10k-images-idx3-ubyte[.gz]" in msg and "no such folder" in msg
    assert "download=True" in msg


def test_user_root_raw_files_and_torchvision_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "_default_paths", classmethod(lambda cls: []))
    raw_dir = tmp_path / "MNIST" / "raw"
    raw_dir.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):   # decompressed files
        (raw_dir / name).write_bytes(gzip.decompress((MNIST_DIR / (name + ".gz")).read_bytes()))
    ds = MNIST(root=tmp_path, train=False)
    assert ds.root == raw_dir and len(ds) == 10000 and ds[0][1] == 7


def test_corrupt_mnist_file_names_the_file_and_both_checksums(tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "_default_paths", classmethod(lambda cls: []))
    shutil.copy(MNIST_DIR / "t10k-images-idx3-ubyte.gz", tmp_path)
    labels = bytearray(gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[100] = (labels[100] + 1) % 10               # one wrong label
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(CorruptDatasetError) as e:
        MNIST(root=tmp_path, train=False)
    msg = str(e.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "27ae3e4e09519cfbb04c329615203637" in msg
    assert hashlib.md5(bytes(labels)).hexdigest() in msg


def test_truncated_mnist_file_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "_default_paths", classmethod(lambda cls: []))
    shutil.copy(MNIST_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    raw = gzip.decompress((MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    d = zlib.compressobj(1, zlib.DEFLATED, 31)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(d.compress(raw)[:200000])
    with pytest.raises(CorruptDatasetError, match=r"t10k-images-idx3-ubyte\.gz: truncated"):
        MNIST(root=tmp_path, train=False)


def test_fashion_mnist_search_order_and_contents():
    paths = [str(p) for p in FashionMNIST.search_paths("/some/root")]
    assert paths[0] == "/some/root"
    assert paths.index(str(REPO.parent / "shared" / "datasets" / "fashion-mnist")) < \
        paths.index("/usr/share/datasets/fashion-mnist")
    try:
        ds = FashionMNIST(train=False)
    except DatasetNotFoundError:
        pytest.skip("Fashion-MNIST is not available on this machine")
    assert len(ds) == 10000 and ds.classes[9] == "Ankle boot"
    assert ds.normalization == (0.2860, 0.3530) and ds[0][1] == 9


def test_mnist_module_knows_all_checksums():
    for table in mnist_module.CHECKSUMS.values():
        assert set(table) == {n for pair in MNIST.files.values() for n in pair}
