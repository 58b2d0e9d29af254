"""torchvision.datasets.FakeData: random images, for trying a pipeline without any files."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...argcheck import check_callable, check_int, check_shape, describe
from ...data.dataset import _check_index
from ...errors import ArgumentError
from ..transforms._image import pil_module
from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """`size` random uint8 images of image_size (C, H, W) with targets in [0, num_classes).
    Item i is the same on every access (drawn from a generator seeded by random_offset + i),
    a PIL Image when Pillow is installed (mode L or RGB), otherwise an ndarray (H, W[, C])."""

    def __init__(self, size: int = 1000, image_size: tuple[int, int, int] = (3, 224, 224),
                 num_classes: int = 10, transform: Callable | None = None,
                 target_transform: Callable | None = None, random_offset: int = 0) -> None:
        op = "FakeData"
        size = check_int(size, "size", op, minimum=0)
        if not isinstance(image_size, (tuple, list)) or len(image_size) != 3:
            raise ArgumentError(f"FakeData: image_size must be (C, H, W), got {describe(image_size)}")
        image_size = check_shape(image_size, "image_size", op, itemsize=1)
        if image_size[0] not in (1, 3):
            raise ValueError(f"FakeData: image_size must be (C, H, W) with C 1 or 3, got "
                             f"{image_size!r}")
        num_classes = check_int(num_classes, "num_classes", op, minimum=1)
        random_offset = check_int(random_offset, "random_offset", op, minimum=0)
        check_callable(transform, "transform", op, allow_none=True)
        check_callable(target_transform, "target_transform", op, allow_none=True)
        super().__init__(None, transform, target_transform)
        self.size, self.image_size, self.num_classes = size, image_size, num_classes
        self.random_offset = random_offset

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = _check_index(index, len(self), "FakeData")
        g = np.random.default_rng(self.random_offset + i)
        c, h, w = self.image_size
        img = g.integers(0, 256, (h, w, c), dtype=np.uint8)
        img = img[:, :, 0] if c == 1 else img
        target = int(g.integers(0, self.num_classes))
        Image = pil_module()
        if Image is not None:
            img = Image.fromarray(img)
        return self._transformed(img, target)
