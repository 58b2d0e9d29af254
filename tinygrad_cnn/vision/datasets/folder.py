"""torchvision.datasets.DatasetFolder / ImageFolder: one sub-folder per class,

    root/dog/xxx.png, root/dog/xxy.jpeg, root/cat/123.png, ...

classes sorted by folder name (index = position), files sorted within each class (walked
recursively, symlinks followed), as torchvision lists them.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from ...argcheck import (check_callable, check_flag, check_instance, check_path, check_sequence,
                         check_str)
from ...data.dataset import _check_index
from ...errors import ImageDecodeError
from ..transforms._image import pil_module
from .vision import VisionDataset

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader", "find_classes",
           "make_dataset"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def default_loader(path: str) -> Any:
    """The image at path as an RGB PIL Image (torchvision's pil_loader); needs Pillow."""
    check_path(path, "path", "default_loader")       # an int would open (and close) a descriptor
    Image = pil_module()
    if Image is None:
        raise ImportError(f"ImageFolder's default loader needs Pillow to decode {path} "
                          f"(pip install pillow), or pass loader=your_function")
    with open(path, "rb") as f:
        try:
            img = Image.open(f)
        except Image.UnidentifiedImageError as exc:
            raise ImageDecodeError(f"default_loader: {os.fspath(path)!r} is not an image file "
                                   f"Pillow can decode ({exc})") from exc
        return img.convert("RGB")


def find_classes(directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """The class folders of directory, sorted, and their indices."""
    check_path(directory, "directory", "find_classes")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"find_classes: {directory} is not a folder")
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int],
                 extensions: tuple[str, ...] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """(path, class index) of every valid file, class by class in index order."""
    op = "make_dataset"
    check_path(directory, "directory", op)
    check_instance(class_to_idx, dict, "class_to_idx", op, "a dict {class name: index}")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("make_dataset: give exactly one of extensions and is_valid_file")
    if extensions is not None:
        extensions = (extensions,) if isinstance(extensions, str) else tuple(
            check_sequence(extensions, "extensions", op, "a str or a sequence of str"))
        for e in extensions:
            check_str(e, "extensions (each)", op)
    check_callable(is_valid_file, "is_valid_file", op, allow_none=True)
    allow_empty = check_flag(allow_empty, "allow_empty", op)
    if is_valid_file is None:
        exts = tuple(e.lower() for e in extensions)
        is_valid_file = lambda path: path.lower().endswith(exts)      # noqa: E731
    samples, empty = [], []
    for name, index in sorted(class_to_idx.items(), key=lambda kv: kv[1]):
        found = 0
        for folder, _, files in sorted(os.walk(os.path.join(directory, name), followlinks=True)):
            for file in sorted(files):
                path = os.path.join(folder, file)
                if is_valid_file(path):
                    samples.append((path, index))
                    found += 1
        if not found:
            empty.append(name)
    if empty and not allow_empty:
        supported = f" Supported extensions are: {', '.join(extensions)}" if extensions else ""
        raise FileNotFoundError(f"Found no valid file for the classes {', '.join(empty)} in "
                                f"{directory}.{supported}")
    return samples


class DatasetFolder(VisionDataset):
    """Items (loader(path), class index) for the files of root's class folders."""

    def __init__(self, root: str | os.PathLike, loader: Callable[[str], Any],
                 extensions: tuple[str, ...] | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        check_path(root, "root", type(self).__name__)
        check_callable(loader, "loader", type(self).__name__)
        super().__init__(root, transform, target_transform)
        self.loader, self.extensions = loader, extensions
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = make_dataset(self.root, self.class_to_idx, extensions, is_valid_file,
                                    allow_empty)
        self.targets = [s[1] for s in self.samples]

    @staticmethod
    def find_classes(directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        return find_classes(directory)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[_check_index(index, len(self), type(self).__name__)]
        return self._transformed(self.loader(path), target)


class ImageFolder(DatasetFolder):
    """DatasetFolder of images (IMG_EXTENSIONS), loaded as RGB PIL Images by default."""

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform, target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples
