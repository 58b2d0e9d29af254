"""tinygrad_cnn.vision.datasets (torchvision's MNIST / FashionMNIST / FakeData signatures over
tc.data's readers) and tinygrad_cnn.vision.utils (make_grid, save_image with a dependency-free
PNG writer)."""
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.data import mnist as readers
from tinygrad_cnn.vision import datasets, transforms as T, utils
from tinygrad_cnn.vision.datasets import mnist as vision_mnist

REPO_MNIST = Path(__file__).resolve().parents[1] / "data" / "mnist"
TEST_FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture(scope="module")
def reference():
    """The test split as tc.data reads it: uint8 images, int64 labels."""
    ds = tc.data.MNIST(REPO_MNIST, train=False, normalize=False)
    return ds.data, ds.targets


def test_items_are_pil_images_and_int_targets_as_torchvision(tmp_path, reference):
    Image = pytest.importorskip("PIL.Image")
    ds = datasets.MNIST(tmp_path, train=False)             # not in root: the default places
    img, target = ds[3]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
    assert type(target) is int and target == int(reference[1][3])
    np.testing.assert_array_equal(np.asarray(img), reference[0][3])
    assert len(ds) == 10000 and ds.classes[7] == "7 - seven" and ds.class_to_idx["7 - seven"] == 7
    assert isinstance(ds.data, tc.Tensor) and ds.data.dtype == tc.uint8 and ds.data.shape == (10000, 28, 28)
    assert ds.targets.dtype == tc.int64


def test_without_pillow_items_are_uint8_arrays_and_transforms_take_them(tmp_path, monkeypatch, reference):
    monkeypatch.setattr(vision_mnist, "pil_module", lambda: None)
    img, target = datasets.MNIST(tmp_path, train=False)[0]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    np.testing.assert_array_equal(img, reference[0][0])
    pipeline = T.Compose([T.RandomCrop(28, padding=2), T.RandomRotation(10), T.ToTensor(),
                          T.Normalize((0.1307,), (0.3081,))])
    x, _ = datasets.MNIST(tmp_path, train=False, transform=pipeline)[0]
    assert x.shape == (1, 28, 28) and x.dtype == tc.float32


def test_transform_target_transform_and_a_dataloader(tmp_path, reference):
    ds = datasets.MNIST(tmp_path, train=False,
                        transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
                        target_transform=T.Lambda(lambda y: y + 100))
    x, y = ds[5]
    np.testing.assert_allclose(x.numpy()[0], (reference[0][5] / 255 - 0.1307) / 0.3081, rtol=1e-5)
    assert y == int(reference[1][5]) + 100
    images, targets = next(iter(tc.data.DataLoader(ds, batch_size=8)))
    assert images.shape == (8, 1, 28, 28) and images.dtype == tc.float32
    np.testing.assert_array_equal(targets.numpy(), reference[1][:8] + 100)
    assert "Transform: Compose(\n" in repr(ds) and "Split: Test" in repr(ds)


def test_assigning_filtered_data_changes_what_is_served(tmp_path, reference):
    ds = datasets.MNIST(tmp_path, train=False, transform=T.ToTensor())
    keep = (ds.targets == 3).numpy()
    ds.data, ds.targets = ds.data[keep], ds.targets[keep]
    assert len(ds) == int((reference[1] == 3).sum())
    assert all(ds[i][1] == 3 for i in range(0, len(ds), 97))


@pytest.mark.parametrize("layout", ["MNIST/raw", "mnist", "."])
def test_torchvision_and_project_layouts_are_found_in_root(tmp_path, layout):
    folder = tmp_path / layout
    folder.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        shutil.copy(REPO_MNIST / name, folder / name)
    ds = datasets.MNIST(tmp_path, train=False)
    assert ds.files_folder == folder.resolve() or ds.files_folder == folder


def test_download_goes_to_torchvisions_raw_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(readers.MNIST, "_default_paths", classmethod(lambda cls: []))
    with pytest.raises(tc.data.DatasetNotFoundError, match="could not find t10k-images"):
        datasets.MNIST(tmp_path, train=False)
    fetched = []

    def fake_download(cls, root, names=None, quiet=False):      # no network in tests
        fetched.append(Path(root))
        Path(root).mkdir(parents=True, exist_ok=True)
        for name in TEST_FILES:
            shutil.copy(REPO_MNIST / name, Path(root) / name)
        return Path(root)
    monkeypatch.setattr(readers.MNIST, "download", classmethod(fake_download))
    ds = datasets.MNIST(tmp_path, train=False, download=True)
    assert fetched == [tmp_path / "MNIST" / "raw"] and len(ds) == 10000


def test_fashion_mnist_has_its_own_classes(tmp_path):
    try:
        ds = datasets.FashionMNIST(tmp_path, train=False)
    except tc.data.DatasetNotFoundError:
        pytest.skip("Fashion-MNIST files are not on this machine")
    assert len(ds) == 10000 and ds.classes[9] == "Ankle boot"
    assert 0 <= ds[0][1] <= 9


def test_bad_root_is_named():
    with pytest.raises(TypeError, match="root must be a path"):
        datasets.MNIST(3)


def test_fake_data_is_repeatable():
    ds = datasets.FakeData(size=5, image_size=(3, 8, 6), num_classes=4, transform=T.ToTensor())
    x, y = ds[2]
    assert x.shape == (3, 8, 6) and 0 <= y < 4
    np.testing.assert_array_equal(ds[2][0].numpy(), x.numpy())
    assert len(ds) == 5
    with pytest.raises(IndexError):
        ds[5]


# ---------------------------------------------------------------------------- make_grid
def test_make_grid_layout_is_torchvisions():
    imgs = RNG.random((10, 3, 5, 6))
    grid = utils.make_grid(tc.tensor(imgs), nrow=4, padding=2, pad_value=0.5).numpy()
    # rows = ceil(10 / 4) = 3; each cell (H + padding) x (W + padding), plus one padding
    assert grid.shape == (3, 3 * 7 + 2, 4 * 8 + 2)
    covered = np.zeros(grid.shape[1:], bool)
    for k in range(10):
        y, x = divmod(k, 4)
        top, left = y * 7 + 2, x * 8 + 2
        np.testing.assert_array_equal(grid[:, top:top + 5, left:left + 6], imgs[k])
        covered[top:top + 5, left:left + 6] = True
    assert (grid[:, ~covered] == 0.5).all()


RNG = np.random.default_rng(9)


def test_make_grid_grey_single_list_and_normalize():
    grey = RNG.random((4, 1, 3, 3))
    grid = utils.make_grid(tc.tensor(grey), nrow=2, padding=1).numpy()
    assert grid.shape == (3, 9, 9)
    np.testing.assert_array_equal(grid[0], grid[2])                 # grey -> 3 equal channels
    single = utils.make_grid(tc.tensor(grey[0]))                     # one image: no padding
    assert single.shape == (3, 3, 3)
    listed = utils.make_grid([tc.tensor(g) for g in grey], nrow=2, padding=1).numpy()
    np.testing.assert_array_equal(listed, grid)
    x = tc.tensor(np.array([[[[-1.0, 0.0], [1.0, 3.0]]]]).repeat(2, 0))
    norm = utils.make_grid(x, normalize=True, padding=0).numpy()
    np.testing.assert_allclose(norm[0, :2, :2], [[0, 0.25], [0.5, 1.0]])
    ranged = utils.make_grid(x, normalize=True, value_range=(0, 1), padding=0).numpy()
    np.testing.assert_allclose(ranged[0, :2, :2], [[0, 0], [1, 1]])    # clipped to the range
    x2 = tc.tensor(np.stack([np.full((1, 2, 2), 1.0), np.array([[[0.0, 2.0], [4.0, 4.0]]])]))
    each = utils.make_grid(x2, normalize=True, scale_each=True, padding=0).numpy()
    np.testing.assert_allclose(each[0, :, 2:], [[0, 0.5], [1, 1]])


def test_make_grid_errors():
    with pytest.raises(ValueError, match="same shape"):
        utils.make_grid([tc.zeros(1, 2, 2), tc.zeros(1, 3, 3)])
    with pytest.raises(ValueError, match=r"expected images \(B, C, H, W\)"):
        utils.make_grid(tc.zeros(1, 1, 1, 2, 2))
    with pytest.raises(ValueError, match="nrow must be a positive int"):
        utils.make_grid(tc.zeros(2, 1, 2, 2), nrow=0)


# --------------------------------------------------------------------------- save_image
def _read_png_without_pillow(data: bytes) -> np.ndarray:
    """Check the PNG's structure (signature, chunk CRCs) and decode its filter-0 RGB rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = body
        pos += 12 + n
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour == 2
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, 3)


def test_save_image_writes_the_grid_as_a_png(tmp_path):
    imgs = RNG.random((6, 3, 4, 5))
    utils.save_image(tc.tensor(imgs), tmp_path / "grid.png", nrow=3, padding=1)
    grid = utils.make_grid(tc.tensor(imgs), nrow=3, padding=1).numpy()
    expected = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    decoded = _read_png_without_pillow((tmp_path / "grid.png").read_bytes())
    np.testing.assert_array_equal(decoded, expected)
    Image = pytest.importorskip("PIL.Image")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "grid.png")), expected)


def test_save_image_to_a_file_object_and_other_formats(tmp_path, monkeypatch):
    import io
    buf = io.BytesIO()
    utils.save_image(tc.rand(2, 1, 3, 3), buf)
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setattr("tinygrad_cnn.vision.utils.pil_module", lambda: None)
    with pytest.raises(ValueError, match="format 'jpg' needs Pillow"):
        utils.save_image(tc.rand(2, 3, 4, 4), tmp_path / "grid.jpg")
    with pytest.raises(TypeError, match="write_png: image must be uint8"):
        utils.write_png(np.zeros((2, 2)), tmp_path / "x.png")


def test_the_vision_mnist_example_learns_and_writes_its_grid(tmp_path):
    import os
    import re
    import subprocess
    import sys
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(repo / "examples" / "vision_mnist.py"), "--limit",
                           "1500", "--test-limit", "500"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", proc.stdout).group(1))
    assert accuracy > 45.0, proc.stdout          # chance is 10 %; measured 67.2 %
    png = (tmp_path / "augmented_batch.png").read_bytes()
    assert _read_png_without_pillow(png).shape == (122, 242, 3)    # 4 rows x 8 of 28 + padding


# ------------------------------------------------------------------------- ImageFolder
def test_image_folder_lists_classes_and_files_as_torchvision(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    layout = {"dog": ["b.png", "a.png", "sub/c.png"], "cat": ["z.jpg"], "bird": ["x.bmp", "notes.txt"]}
    for cls, files in layout.items():
        for i, name in enumerate(files):
            path = tmp_path / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.endswith(".txt"):
                path.write_text("not an image")
            else:
                Image.fromarray(np.full((4, 5, 3), 10 * i, np.uint8)).save(path)
    ds = datasets.ImageFolder(tmp_path, transform=T.ToTensor())
    assert ds.classes == ["bird", "cat", "dog"] and ds.class_to_idx == {"bird": 0, "cat": 1, "dog": 2}
    rel = [(Path(p).relative_to(tmp_path).as_posix(), c) for p, c in ds.samples]
    assert rel == [("bird/x.bmp", 0), ("cat/z.jpg", 1), ("dog/a.png", 2), ("dog/b.png", 2),
                   ("dog/sub/c.png", 2)]
    assert ds.targets == [0, 1, 2, 2, 2] and ds.imgs == ds.samples
    x, y = ds[3]
    assert x.shape == (3, 4, 5) and y == 2
    np.testing.assert_allclose(x.numpy(), 0.0)                 # b.png was written with value 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no valid file for the classes empty"):
        datasets.ImageFolder(tmp_path)
    assert "empty" in datasets.ImageFolder(tmp_path, allow_empty=True).classes


def test_dataset_folder_with_a_custom_loader(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        np.save(tmp_path / cls / "x.npy", np.full((2, 2), ord(cls)))
    ds = datasets.DatasetFolder(tmp_path, loader=np.load, extensions=(".npy",))
    assert [int(ds[i][0][0, 0]) for i in range(2)] == [ord("a"), ord("b")]
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.DatasetFolder(tmp_path / "a", loader=np.load, extensions=(".npy",))
