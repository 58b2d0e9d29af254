"""torchvision.datasets.MNIST / FashionMNIST over tinygrad_cnn.data's checksummed IDX readers.

    train = datasets.MNIST("../data", train=True, download=True,
                           transform=transforms.Compose([transforms.ToTensor(),
                                                         transforms.Normalize((0.1307,), (0.3081,))]))
    image, target = train[0]        # whatever transform returns, and an int

Items are (image, target) as torchvision hands them out: the image is a PIL Image (mode "L")
when Pillow is installed, as in torchvision, otherwise a uint8 NumPy array (H, W) - every
transform in tinygrad_cnn.vision.transforms takes either. `.data` (uint8 (N, 28, 28)) and
`.targets` (int64 (N,)) are Tensors, as torchvision's; assigning filtered ones
(`ds.data, ds.targets = ds.data[mask], ds.targets[mask]`) changes what the dataset serves.

Files are found where `tc.data.MNIST` looks: `root` itself, `root/mnist`, torchvision's
`root/MNIST/raw`, then the default places (./data/mnist, $TINYGRAD_CNN_DATA, the user cache, the
repo's copy). download=True fetches missing files into `root/MNIST/raw` (torchvision's layout),
checksummed, atomically.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...data import mnist as _readers
from ...data.dataset import _check_index
from ...errors import DatasetNotFoundError
from ...tensor import Tensor
from ..transforms._image import pil_module
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(VisionDataset):
    """The MNIST digits, torchvision's signature: MNIST(root, train=True, transform=None,
    target_transform=None, download=False)."""

    _reader = _readers.MNIST

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        if root is None:
            raise TypeError(f"{type(self).__name__}: root must be a path (str or os.PathLike), "
                            f"got None")
        super().__init__(root, transform, target_transform)
        root = self.root
        self.train = bool(train)
        reader = self._reader
        try:
            folder = reader.find(root, self.train, download=False)
        except DatasetNotFoundError:
            if not download:
                raise
            reader.download(Path(self.raw_folder), reader.files[self.train])
            folder = reader.find(self.raw_folder, self.train, download=False)
        names = reader.files[self.train]
        images = _readers.read_idx(reader._file(folder, names[0]), reader.checksums[names[0]])
        labels = _readers.read_idx(reader._file(folder, names[1]), reader.checksums[names[1]])
        self.data = Tensor._wrap(images)                             # uint8 (N, 28, 28)
        self.targets = Tensor._wrap(labels.astype(np.int64))         # int64 (N,)
        self.classes = list(reader.classes)
        self.files_folder = folder

    @property
    def raw_folder(self) -> str:
        """root/<ClassName>/raw, where torchvision keeps (and download=True puts) the files."""
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = _check_index(index, len(self), type(self).__name__)
        data = self.data.numpy() if isinstance(self.data, Tensor) else np.asarray(self.data)
        targets = self.targets.numpy() if isinstance(self.targets, Tensor) else np.asarray(self.targets)
        img, target = data[i], int(targets[i])
        Image = pil_module()
        if Image is not None:
            img = Image.fromarray(img)                            # 2-D uint8: mode "L"
        return self._transformed(img, target)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST, torchvision's signature; also found in Debian's
    /usr/share/datasets/fashion-mnist (package dataset-fashion-mnist)."""

    _reader = _readers.FashionMNIST
