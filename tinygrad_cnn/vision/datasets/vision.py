"""torchvision.datasets.VisionDataset: what every vision dataset shares - root, transform,
target_transform, applying them to an item, and the repr."""
from __future__ import annotations

import os
from typing import Any, Callable

from ...data.dataset import Dataset

__all__ = ["VisionDataset"]


class VisionDataset(Dataset):
    """Base of MNIST, ImageFolder, FakeData: subclasses implement __len__ and __getitem__ and
    pass each raw (image, target) through `_transformed`."""

    def __init__(self, root: str | os.PathLike | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        if root is not None:
            if not isinstance(root, (str, os.PathLike)):
                raise TypeError(f"{type(self).__name__}: root must be a path (str or "
                                f"os.PathLike), got {root!r}")
            root = os.path.expanduser(os.fspath(root))
        self.root = root
        self.transform = transform
        self.target_transform = target_transform

    def _transformed(self, img: Any, target: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += [line for line in self.extra_repr().splitlines() if line]
        for name, t in (("Transform", self.transform), ("Target transform", self.target_transform)):
            if t is not None:
                text = repr(t).splitlines()
                lines.append(f"{name}: " + ("\n" + " " * (len(name) + 6)).join(text))
        return f"Dataset {type(self).__name__}\n" + "\n".join("    " + line for line in lines)
