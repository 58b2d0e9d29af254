"""MNIST and Fashion-MNIST from IDX files (.gz or raw), checksummed, optionally downloaded.

IDX layout: a big-endian int32 magic `0x0000TTDD` (TT the element type, 0x08 = uint8; DD the
number of dimensions), DD big-endian int32 sizes, then the elements row-major.

Reading is streaming: the header comes first, then the output array is allocated once from the
sizes it gives and the decompressed bytes are copied into it chunk by chunk (zlib), while an md5
of the decompressed stream is updated; no whole-file bytes object is ever built. Images stay
uint8 (47 MB for the 60,000 training images) and are turned into normalised float32 one batch
at a time (`__getitems__`), so a training run never holds a float copy of the dataset.

The checksums are those of the DECOMPRESSED bytes (the .gz files in circulation have been
recompressed, so their own bytes differ from copy to copy).
"""
from __future__ import annotations

import hashlib
import os
import sys
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Sequence

import numpy as np

from ..argcheck import check_flag, check_path
from ..tensor import Tensor
from .dataset import Dataset, _check_index
from ..errors import ArgumentError, CorruptDatasetError, DatasetNotFoundError, DownloadError
from ..serialization.files import open_regular_file

__all__ = ["MNIST", "FashionMNIST", "read_idx", "DatasetNotFoundError", "CorruptDatasetError",
           "DownloadError"]

_REPO = Path(__file__).resolve().parents[2]     # the source checkout (if this is not an install)
_CHUNK = 1 << 18
DATA_ENV = "TINYGRAD_CNN_DATA"


def user_cache_dir() -> Path:
    """tinygrad_cnn's user cache folder, by the XDG rules: $XDG_CACHE_HOME/tinygrad_cnn when
    that variable holds an absolute path, else ~/.cache/tinygrad_cnn."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "tinygrad_cnn"

# decompressed size and md5 of each IDX file, per dataset
CHECKSUMS: dict[str, dict[str, tuple[int, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte": (47040016, "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": (60008, "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": (7840016, "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": (10008, "27ae3e4e09519cfbb04c329615203637"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (47040016, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": (60008, "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": (7840016, "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": (10008, "15d484375f8d13e6eb1aabb0c3f46965"),
    },
}








# ------------------------------------------------------------------------------------ IDX reading
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_MAX_IDX_DIMS = 64                                           # NumPy's limit (numpy >= 2)


def _chunks(path: Path, f: BinaryIO):
    """Yield the decompressed bytes of the open file `f` (named `path`) in chunks of at most
    _CHUNK bytes. Gzip is told by its magic bytes (1f 8b; an IDX file starts with 00 00),
    whatever the file is called."""
    is_gzip = f.read(2) == b"\x1f\x8b"
    f.seek(0)
    if not is_gzip:
        while chunk := f.read(_CHUNK):
            yield chunk
        return
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)          # gzip header + trailer (CRC, size)
    started = False
    while True:
        data = f.read(_CHUNK)
        if not data:
            break
        started = True
        while data:
            try:            # at most _CHUNK bytes out per call: the chunks stay small
                out = d.decompress(data, _CHUNK)
            except zlib.error as e:
                raise CorruptDatasetError(f"{path}: corrupt gzip data ({e})") from None
            if out:
                yield out
            if d.eof:                                    # a multi-member gzip: next member
                data = d.unused_data
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                started = bool(data)
            else:
                data = d.unconsumed_tail
    if started and not d.eof:
        raise CorruptDatasetError(f"{path}: truncated gzip file (the compressed stream ends "
                                  f"before its end-of-stream marker; re-copy or re-download it)")
    if not started and f.tell() == 0:
        raise CorruptDatasetError(f"{path}: the file is empty")


def read_idx(path: str | os.PathLike, expected: tuple[int, str] | None = None,
             keep: bool = True) -> np.ndarray | None:
    """Read one IDX file (.gz or raw) into a NumPy array of its own dtype and shape.

    `expected=(size, md5)` of the decompressed bytes are checked (size first, so a truncated file
    says so). With keep=False the file is only checked (nothing is allocated). Only a regular
    file is opened (a FIFO or a device is refused at once), and reading stops as soon as the
    data runs past the size the header declares.
    """
    path = Path(check_path(path, "path", "read_idx"))
    keep = check_flag(keep, "keep", "read_idx")
    with open_regular_file(path, CorruptDatasetError, "IDX", missing=DatasetNotFoundError) as f:
        return _read_idx(path, f, expected, keep)


def _read_idx(path: Path, f: BinaryIO, expected: tuple[int, str] | None, keep: bool) -> np.ndarray | None:
    md5 = hashlib.md5()
    size = os.fstat(f.fileno()).st_size
    gz = f.read(2) == b"\x1f\x8b"
    f.seek(0)
    stream = _chunks(path, f)
    head = b""
    for chunk in stream:                                     # the 4-byte magic + sizes
        head += chunk
        if len(head) >= 4 and len(head) >= 4 + 4 * head[3]:
            break
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
        raise CorruptDatasetError(
            f"{path}: not an IDX file (magic bytes {head[:4].hex() or 'missing'}; expected "
            f"00 00 TT DD with TT an IDX type such as 08 for uint8)")
    ndim = head[3]
    if ndim > _MAX_IDX_DIMS:
        raise CorruptDatasetError(f"{path}: corrupt IDX header: {ndim} dimensions (a NumPy array "
                                  f"has at most {_MAX_IDX_DIMS}; MNIST files have 1 or 3)")
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise CorruptDatasetError(f"{path}: truncated IDX header ({len(head)} bytes, expected "
                                  f"{header_len} for {ndim} dims)")
    shape = tuple(int(s) for s in np.frombuffer(head[4:header_len], ">i4"))
    dtype = _IDX_TYPES[head[2]]
    n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize     # Python ints: no overflow
    total = header_len + n_bytes
    # a corrupt header must not make us allocate (or overflow on) what no file of this size
    # can hold: a raw file holds its size, a gzip one at most 1032 times it (deflate's limit)
    if any(s < 0 for s in shape):
        raise CorruptDatasetError(f"{path}: corrupt IDX header: negative size in shape {shape}")
    if not gz and n_bytes > size - header_len:
        raise CorruptDatasetError(
            f"{path}: truncated: the IDX header promises {n_bytes} data bytes (shape {shape}), "
            f"but the file holds {size - header_len} ({size} of {total} bytes)")
    if gz and n_bytes > 1032 * size:
        raise CorruptDatasetError(
            f"{path}: corrupt IDX header: shape {shape} needs {n_bytes} data bytes, more than a "
            f"{size}-byte gzip file can hold (deflate expands at most 1032:1)")
    if expected is not None and total != expected[0]:
        raise CorruptDatasetError(
            f"{path}: the IDX header says shape {shape} ({total} decompressed bytes), but this "
            f"file should have {expected[0]} decompressed bytes")
    buf = np.empty(n_bytes if keep else 0, np.uint8)
    view = memoryview(buf)
    md5.update(head[:header_len])
    filled = 0

    def take(data: bytes) -> None:
        nonlocal filled
        md5.update(data)
        n = min(len(data), n_bytes - filled)
        if keep and n > 0:
            view[filled:filled + n] = memoryview(data)[:n]
        filled += len(data)
        if filled > n_bytes:        # stop here: trailing data could decompress without end
            raise CorruptDatasetError(
                f"{path}: more data than the IDX header declares: {n_bytes} data bytes for "
                f"shape {shape}, then at least {filled - n_bytes} unexpected bytes (reading "
                f"stopped there)")

    take(head[header_len:])
    for chunk in stream:
        take(chunk)
    if filled < n_bytes:
        raise CorruptDatasetError(
            f"{path}: truncated: the IDX header promises {n_bytes} data bytes (shape {shape}), "
            f"but the file holds {filled} ({header_len + filled} of {total} bytes decompressed)")
    if expected is not None and md5.hexdigest() != expected[1]:
        raise CorruptDatasetError(
            f"{path}: checksum mismatch: md5 of the decompressed bytes is {md5.hexdigest()}, "
            f"expected {expected[1]} (the file is corrupt or not the right dataset; delete it "
            f"and copy or download it again)")
    if not keep:
        return None
    arr = buf.view(dtype).reshape(shape)
    return arr if dtype.byteorder in "=|" else arr.astype(dtype.newbyteorder("="))


def _check_images_and_labels(images: np.ndarray, labels: np.ndarray, images_path: Path,
                             labels_path: Path, n_classes: int) -> None:
    """What a dataset needs of its two IDX files beyond being valid IDX (with verify=False the
    checksums do not guarantee it): uint8 (N, rows, cols) images and N uint8 class labels."""
    if images.dtype != np.uint8 or images.ndim != 3:
        raise CorruptDatasetError(f"{images_path}: holds {images.dtype} images of shape "
                                  f"{images.shape}; expected uint8 images of shape (N, rows, cols)")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise CorruptDatasetError(f"{labels_path}: holds {labels.dtype} labels of shape "
                                  f"{labels.shape}; expected N uint8 class labels")
    if images.shape[0] != labels.shape[0]:
        raise CorruptDatasetError(f"{images_path.parent}: {images.shape[0]} images but "
                                  f"{labels.shape[0]} labels (expected as many of each)")
    if labels.size and int(labels.max()) >= n_classes:
        raise CorruptDatasetError(f"{labels_path}: holds the label {int(labels.max())}, but the "
                                  f"dataset has {n_classes} classes (0..{n_classes - 1})")


# -------------------------------------------------------------------------------------- download
def _http_fetch(url: str, part: Path, timeout: float) -> str:
    """Download url into `part`, continuing a partial `part` with an HTTP Range request.
    Returns 'resumed' or 'fresh'."""
    import urllib.error
    import urllib.request          # imported here: ssl and http cost ~8 MB of memory
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_cnn"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:            # nothing left to fetch: part is already complete
            return "resumed"
        raise
    with response:
        resumed = have and response.status == 206 and \
            response.headers.get("Content-Range", "").startswith(f"bytes {have}-")
        length = response.headers.get("Content-Length")
        got = 0
        with open(part, "ab" if resumed else "wb") as f:
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                got += len(chunk)
            f.flush()
            os.fsync(f.fileno())
    if length is not None and got < int(length):
        # keep the partial file: the next attempt continues it with a Range request
        raise ConnectionError(f"connection closed after {got} of {length} bytes "
                              f"({part.name} kept; downloading again resumes it)")
    return "resumed" if resumed else "fresh"


def download_file(urls: Sequence[str], dest: str | os.PathLike, expected: tuple[int, str],
                  timeout: float = 60.0, quiet: bool = False) -> Path:
    """Fetch a gzipped IDX file into `dest`, trying each URL in turn.

    Bytes go to `dest + '.part'`; an interrupted download leaves that file, and the next call
    continues it (HTTP Range) instead of starting over. The decompressed contents are checked
    against `expected=(size, md5)` before the file is renamed into place (atomic), so `dest`
    either does not exist or is complete and correct.
    """
    import http.client
    import urllib.error
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures = []
    for url in urls:
        for attempt in ("continue", "fresh"):
            how = None
            if attempt == "fresh" and not part.exists():
                break
            if attempt == "fresh":
                part.unlink()
            try:
                if not quiet:
                    print(f"downloading {url} -> {dest}", file=sys.stderr)
                how = _http_fetch(url, part, timeout)
                read_idx(part, expected, keep=False)
            except (OSError, ValueError, http.client.HTTPException) as e:   # URLError is an OSError
                if isinstance(e, urllib.error.HTTPError):
                    reason = f"HTTP {e.code} {e.reason}"
                elif isinstance(e, urllib.error.URLError):
                    reason = f"{e.reason}"
                else:
                    reason = f"{type(e).__name__}: {e}"
                failures.append(f"{url}: {reason}")
                if isinstance(e, CorruptDatasetError):
                    if how == "resumed" and attempt == "continue":
                        continue                    # the old partial bytes may be bad: refetch
                    part.unlink(missing_ok=True)
                break
            os.replace(part, dest)
            return dest
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(failures))


# --------------------------------------------------------------------------------------- datasets
class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28.

        ds = tc.data.MNIST(train=True)            # searched in the repo's data/mnist, ...
        x, y = ds[0]                               # Tensor (1, 28, 28) float32, int label
        ds.data, ds.targets                        # uint8 (N, 28, 28), int64 (N,)

    `root`: a folder holding the four IDX files (.gz or raw), directly or in `root/mnist` or
    torchvision's `root/MNIST/raw`; when they are not there the default places are searched
    too: ./data/mnist, $TINYGRAD_CNN_DATA (and its mnist/), the user cache
    ($XDG_CACHE_HOME or ~/.cache, then tinygrad_cnn/mnist), and in a source checkout the repo's
    data/mnist and ../shared/datasets/mnist. A missing file raises `DatasetNotFoundError`
    listing every folder searched and the ways to fix it; a truncated or corrupt one
    `CorruptDatasetError` naming the file and the expected vs actual size or md5.
    `download=True` fetches missing files from `mirrors` into `root` (default the user cache,
    never the installed package), verified and renamed into place atomically.
    `normalize`: True maps pixels to (x/255 - mean)/std with the dataset's mean and std, False
    to x/255, a (mean, std) pair to those. Conversion happens per item / per batch.
    """

    folder = "mnist"
    torchvision_folder = "MNIST"
    checksums = CHECKSUMS["mnist"]
    mean, std = 0.1307, 0.3081
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    files = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 download: bool = False, normalize: Any = True, verify: bool = True) -> None:
        self.train = check_flag(train, "train", type(self).__name__)
        verify = check_flag(verify, "verify", type(self).__name__)
        download = check_flag(download, "download", type(self).__name__)
        names = self.files[self.train]
        folder = self.find(root, self.train, download)
        self.root = folder
        images_path, labels_path = (self._file(folder, n) for n in names)
        labels = read_idx(labels_path, self.checksums[names[1]] if verify else None)
        images = read_idx(images_path, self.checksums[names[0]] if verify else None)
        _check_images_and_labels(images, labels, images_path, labels_path, len(self.classes))
        self.data = images                                   # uint8 (N, 28, 28)
        self.targets = labels.astype(np.int64)               # (N,)
        if normalize is True:
            mean, std = self.mean, self.std
        elif normalize is False or normalize is None:
            mean, std = 0.0, 1.0
        else:
            try:
                mean, std = (float(v) for v in normalize)
            except (TypeError, ValueError):
                raise ArgumentError(f"{type(self).__name__}: normalize must be True, False or a "
                                    f"(mean, std) pair, got {normalize!r}") from None
        self.normalization = (mean, std)
        # pixel value -> float32, one table lookup per batch
        self._lut = ((np.arange(256, dtype=np.float64) / 255.0 - mean) / std).astype(np.float32)

    # -- the Dataset protocol
    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        i = _check_index(index, len(self), type(self).__name__)
        image = self._lut[self.data[i]][None]                # (28, 28) -> (1, 28, 28)
        return Tensor._wrap(image), int(self.targets[i])

    def __getitems__(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        images = self._lut[self.data[indices]]               # (B, 28, 28) uint8 -> float32
        return Tensor._wrap(images[:, None]), Tensor._wrap(self.targets[indices])  # (B, 1, 28, 28)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(split={split}, {len(self)} images, root={self.root})"

    # -- finding and fetching the files
    @classmethod
    def find(cls, root: str | os.PathLike | None = None, train: bool = True,
             download: bool = False) -> Path:
        """The folder the split's files would be read from, without reading them (downloading
        them first when download=True and they are nowhere); DatasetNotFoundError if none."""
        names = cls.files[bool(train)]
        searched = cls.search_paths(root)
        folder = cls._locate(names, searched)
        if folder is None and download:
            target = Path(root).expanduser() if root is not None else cls.cache_folder()
            cls.download(target, names)
            folder = cls._locate(names, [target])
        if folder is None:
            raise DatasetNotFoundError(cls._not_found_message(names, searched, download))
        return folder

    @classmethod
    def search_paths(cls, root: str | os.PathLike | None = None) -> list[Path]:
        """The folders searched, in order: `root` (and root/mnist, torchvision's
        root/MNIST/raw), then `_default_paths()`."""
        paths = []
        if root is not None:
            paths += cls._layouts(Path(check_path(root, "root", cls.__name__)).expanduser())
        paths += cls._default_paths()
        out = []
        for p in paths:
            if p not in out:
                out.append(p)
        return out

    @classmethod
    def _layouts(cls, folder: Path) -> list[Path]:
        return [folder, folder / cls.folder, folder / cls.torchvision_folder / "raw"]

    @classmethod
    def _default_paths(cls) -> list[Path]:
        """Where the files are looked for when `root` does not have them: ./data/mnist (the
        current folder), every folder of $TINYGRAD_CNN_DATA, the user cache (where --download
        puts them), the source checkout's data/ and ../shared/datasets (when running from a
        checkout, not an installed package), then system folders (Debian's for Fashion-MNIST)."""
        paths = [Path.cwd() / "data" / cls.folder]
        for entry in os.environ.get(DATA_ENV, "").split(os.pathsep):
            if entry.strip():
                paths += cls._layouts(Path(entry.strip()).expanduser())
        paths.append(cls.cache_folder())
        if (_REPO / "pyproject.toml").is_file() and (_REPO / "tinygrad_cnn").is_dir():
            paths += [_REPO / "data" / cls.folder, _REPO.parent / "shared" / "datasets" / cls.folder]
        return paths + cls.system_paths()

    @classmethod
    def system_paths(cls) -> list[Path]:
        """Folders a system package installs the files into (none for MNIST)."""
        return []

    @classmethod
    def cache_folder(cls) -> Path:
        """Where download=True (--download) puts the files when no root is given."""
        return user_cache_dir() / cls.folder

    @staticmethod
    def _file(folder: Path, name: str) -> Path | None:
        for candidate in (folder / (name + ".gz"), folder / name):
            if candidate.is_file():
                return candidate
        return None

    @classmethod
    def _locate(cls, names: Sequence[str], folders: Sequence[Path]) -> Path | None:
        for folder in folders:
            if all(cls._file(folder, n) for n in names):
                return folder
        return None

    @classmethod
    def _not_found_message(cls, names: Sequence[str], searched: Sequence[Path],
                           download: bool) -> str:
        lines = []
        for folder in searched:
            if not folder.is_dir():
                lines.append(f"  {folder}  (no such folder)")
            else:
                missing = [n for n in names if not cls._file(folder, n)]
                lines.append(f"  {folder}  (missing {', '.join(n + '[.gz]' for n in missing)})")
        hint = "" if download else "\n" + cls._how_to_fix()
        return (f"{cls.__name__}: could not find {' and '.join(n + '[.gz]' for n in names)}. "
                f"Looked in:\n" + "\n".join(lines) + hint)

    @classmethod
    def _how_to_fix(cls) -> str:
        return (f"To fix it, do one of:\n"
                f"  1. pass the folder that holds them: --data-root DIR (root=DIR in Python);\n"
                f"  2. put them in ./data/{cls.folder}, or set {DATA_ENV}=DIR (DIR or "
                f"DIR/{cls.folder} holding them);\n"
                f"  3. --download (download=True) fetches them from {cls.mirrors[0]} into "
                f"{cls.cache_folder()}.")

    @classmethod
    def download(cls, root: str | os.PathLike, names: Sequence[str] | None = None,
                 quiet: bool = False) -> Path:
        """Fetch the gzipped IDX files not already in `root` (all four by default)."""
        root = Path(root).expanduser()
        for name in names or [n for pair in cls.files.values() for n in pair]:
            if cls._file(root, name) is None:
                download_file([m + name + ".gz" for m in cls.mirrors], root / (name + ".gz"),
                              cls.checksums[name], quiet=quiet)
        return root


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the same layout as MNIST, 10 kinds of clothing.

    Searched as MNIST is (with `fashion-mnist` for `mnist`), then in Debian's
    /usr/share/datasets/fashion-mnist (package dataset-fashion-mnist).
    """

    folder = "fashion-mnist"
    torchvision_folder = "FashionMNIST"
    checksums = CHECKSUMS["fashion-mnist"]
    mean, std = 0.2860, 0.3530
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]

    @classmethod
    def system_paths(cls) -> list[Path]:
        return [Path("/usr/share/datasets/fashion-mnist")]

    @classmethod
    def _how_to_fix(cls) -> str:
        return (super()._how_to_fix() + "\n  On Debian/Ubuntu, `apt install dataset-fashion-mnist` "
                f"installs them into {cls.system_paths()[0]}, where they are found.")
