"""torchvision.utils' counterpart: `make_grid` tiles a batch of images into one image Tensor;
`save_image` writes that grid to a file. PNG is written here (zlib + struct, no dependency);
other formats (.jpg, ...) go through Pillow when it is installed.
"""
from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..argcheck import allocate, check_array, check_flag, check_number, check_path, check_str, is_int
from ..tensor import Tensor
from .transforms._image import pil_module

__all__ = ["make_grid", "save_image", "write_png"]


def _as_batch(tensor: Any) -> np.ndarray:
    """Tensor (B, C, H, W) / (C, H, W) / (H, W), or a list of (C, H, W) -> float array
    (B, C, H, W), one-channel images repeated to three (torchvision's rule)."""
    if isinstance(tensor, (list, tuple)):
        if not tensor:
            raise ValueError("make_grid: got an empty list of images")
        arrays = [check_array(t, f"tensor[{i}]", "make_grid") for i, t in enumerate(tensor)]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"make_grid: all images must have the same shape, got {sorted(shapes)}")
        arr = np.stack(arrays)
    elif isinstance(tensor, Tensor):
        arr = tensor.numpy()
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"make_grid: tensor must hold real numbers, got dtype {arr.dtype}")
    else:
        raise TypeError(f"make_grid: tensor should be a Tensor or a list of Tensors, got "
                        f"{type(tensor).__name__}")
    if arr.ndim == 2:                                           # (H, W) -> (1, H, W)
        arr = arr[None]
    if arr.ndim == 3:                                           # (C, H, W) -> (1, C, H, W)
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected images (B, C, H, W), (C, H, W) or (H, W), got "
                         f"shape {arr.shape}")
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)                         # grey -> RGB
    return arr.astype(np.float32 if arr.dtype.kind in "uib" else arr.dtype)


def _scale(img: np.ndarray, low: float, high: float) -> np.ndarray:
    return (np.clip(img, low, high) - low) / max(high - low, 1e-5)


def make_grid(tensor: Any, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple[float, float] | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile B images into a (C, rows * (H + padding) + padding, cols * (W + padding) + padding)
    Tensor, `nrow` images per row, `pad_value` between them. normalize=True maps value_range
    (default: the min and max, of each image with scale_each) to [0, 1], clipping outside it.
    One image comes back alone (no padding), as torchvision."""
    op = "make_grid"
    if not is_int(nrow) or nrow < 1:
        raise ValueError(f"make_grid: nrow must be a positive int, got {nrow!r}")
    if not is_int(padding) or padding < 0:
        raise ValueError(f"make_grid: padding must be a non-negative int, got {padding!r}")
    nrow, padding = int(nrow), int(padding)
    normalize = check_flag(normalize, "normalize", op)
    scale_each = check_flag(scale_each, "scale_each", op)
    pad_value = check_number(pad_value, "pad_value", op)
    if value_range is not None:
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"make_grid: value_range must be a (min, max) pair, got {value_range!r}")
        value_range = tuple(check_number(v, "value_range", op, finite=True) for v in value_range)
    arr = _as_batch(tensor)
    if arr.size == 0:
        raise ValueError(f"make_grid: got an empty batch or empty images (shape {arr.shape})")
    if normalize:
        if scale_each:
            arr = np.stack([_scale(im, *(value_range or (im.min(), im.max()))) for im in arr])
        else:
            arr = _scale(arr, *(value_range or (arr.min(), arr.max())))
    if arr.shape[0] == 1:
        return Tensor._wrap(np.ascontiguousarray(arr[0]))
    b, c, h, w = arr.shape
    cols = min(nrow, b)
    rows = int(math.ceil(b / cols))
    height, width = h + padding, w + padding
    grid = allocate((c, height * rows + padding, width * cols + padding), arr.dtype, op, fill=pad_value)
    for k in range(b):
        y, x = divmod(k, cols)
        grid[:, y * height + padding:y * height + padding + h,
             x * width + padding:x * width + padding + w] = arr[k]
    return Tensor._wrap(grid)


# ------------------------------------------------------------------------------------- PNG
def _chunk(kind: bytes, data: bytes) -> bytes:
    """length, type, data, CRC-32 of type + data (PNG spec section 5.3)."""
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(image: np.ndarray, fp: str | os.PathLike | BinaryIO) -> None:
    """Write a uint8 image (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA as a PNG: 8-bit
    samples, each row prefixed by filter type 0, the rows deflated into one IDAT chunk."""
    image = check_array(image, "image", "write_png")
    if not hasattr(fp, "write"):
        check_path(fp, "fp", "write_png")
    if image.dtype != np.uint8:
        raise TypeError(f"write_png: image must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    colour = {2: 0, 3: {3: 2, 4: 6}.get(image.shape[-1]) if image.ndim == 3 else None}.get(image.ndim)
    if colour is None or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"write_png: image must be (H, W), (H, W, 3) or (H, W, 4), got shape "
                         f"{image.shape}")
    h, w = image.shape[:2]
    rows = np.ascontiguousarray(image).reshape(h, -1)          # (H, W*channels)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()
    png = (b"\x89PNG\r\n\x1a\n"
           + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
           + _chunk(b"IDAT", zlib.compress(raw, 6))
           + _chunk(b"IEND", b""))
    if hasattr(fp, "write"):
        fp.write(png)
    else:
        Path(fp).write_bytes(png)


def save_image(tensor: Any, fp: str | os.PathLike | BinaryIO, format: str | None = None,
               **kwargs: Any) -> None:
    """make_grid(tensor, **kwargs), scaled from [0, 1] to 0..255 (x * 255 + 0.5, clipped),
    written to fp. The format comes from `format` or fp's extension (a file object without
    `format`: PNG); PNG needs nothing, other formats need Pillow."""
    if not hasattr(fp, "write"):
        check_path(fp, "fp", "save_image")
    check_str(format, "format", "save_image", allow_none=True)
    grid = make_grid(tensor, **kwargs).numpy()
    image = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)  # (C,H,W)->(H,W,C)
    fmt = (format or (Path(fp).suffix.lstrip(".") if not hasattr(fp, "write") else "png")
           or "png").lower()
    if fmt == "png":
        write_png(image, fp)
        return
    Image = pil_module()
    if Image is None:
        raise ValueError(f"save_image: format {fmt!r} needs Pillow (pip install pillow); PNG "
                         f"is written without it")
    Image.init()                                          # every plugin, so SAVE lists them all
    if fmt.upper() not in Image.SAVE and Image.registered_extensions().get("." + fmt) not in Image.SAVE:
        raise ValueError(f"save_image: unknown image format {fmt!r}; Pillow writes "
                         f"{', '.join(sorted(k.lower() for k in Image.SAVE))}")
    Image.fromarray(image).save(fp, format=format)
