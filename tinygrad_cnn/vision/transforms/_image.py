"""The three image kinds the transforms accept, told apart in one place:

    PIL Image       when Pillow is installed (torchvision's default kind): PIL does the work,
                    so results are exactly torchvision's PIL path
    NumPy array     (H, W) or (H, W, C), uint8 (or float) - as datasets without Pillow hand out
    Tensor          (..., H, W): CHW, or a batch NCHW with the same random parameters for all

`planar(img)` gives a NumPy array with H, W as the last two axes and a function that turns a
result of that layout back into the input's kind.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

from ...tensor import Tensor

__all__ = ["pil_module", "is_pil", "planar", "image_size", "describe"]


def pil_module() -> Any:
    """PIL.Image, or None when Pillow is not installed (imported on first use)."""
    try:
        from PIL import Image
    except ImportError:                                       # Pillow is optional
        return None
    return Image


def is_pil(img: Any) -> bool:
    """True for a PIL Image, without importing Pillow when the caller never used it."""
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(img, module.Image)


def describe(img: Any) -> str:
    if isinstance(img, Tensor):
        return f"Tensor of shape {tuple(img.shape)} ({img.dtype})"
    if isinstance(img, np.ndarray):
        return f"numpy array of shape {img.shape} ({img.dtype})"
    if is_pil(img):
        return f"PIL Image (mode {img.mode}, size {img.size})"
    return type(img).__name__


def planar(img: Any, op: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """(array of shape (..., H, W), back) for a Tensor (..., H, W) or an ndarray (H, W[, C]);
    `back(result)` returns a Tensor / an ndarray laid out like the input."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(f"{op}: a Tensor image must have at least 2 dims (..., H, W), got "
                             f"shape {tuple(img.shape)}")
        return img.numpy(), lambda out: Tensor._wrap(np.ascontiguousarray(out))
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            return img, lambda out: out
        if img.ndim == 3:
            # (H, W, C) -> (C, H, W): a view; the result goes back to (H, W, C)
            return img.transpose(2, 0, 1), lambda out: np.ascontiguousarray(out.transpose(1, 2, 0))
        raise ValueError(f"{op}: a numpy image must be (H, W) or (H, W, C), got shape {img.shape}")
    raise TypeError(f"{op}: img should be a PIL Image, a numpy array (H, W[, C]) or a Tensor "
                    f"(..., H, W), got {describe(img)}")


def image_size(img: Any, op: str) -> tuple[int, int]:
    """(H, W) of any accepted kind (PIL's .size is (W, H))."""
    if is_pil(img):
        w, h = img.size
        return h, w
    arr, _ = planar(img, op)
    return int(arr.shape[-2]), int(arr.shape[-1])
