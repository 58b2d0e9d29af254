"""torchvision.transforms.functional's counterpart: the deterministic image operations the
transform classes call with their random parameters.

Every function takes a PIL Image (handed to PIL, exactly torchvision's PIL path), a NumPy image
(H, W) / (H, W, C), or a Tensor (..., H, W), and returns the same kind. Tensor and NumPy images
are resampled here in NumPy with torchvision's tensor semantics: bilinear resizing is
`F.interpolate(mode="bilinear", antialias=True, align_corners=False)` (the triangle filter
widened by the downscale factor, as PIL does), nearest is `floor(i * in / out)`; rotation maps
each output pixel centre back through the inverse rotation. Geometric ops on Tensors are data
preparation and are not recorded by autograd; `normalize` is (Tensor ops).
"""
from __future__ import annotations

import math
import numbers
from enum import Enum
from typing import Any, Sequence

import numpy as np

from ...argcheck import (CheckedEnumMeta, allocate, allocating, check_array, check_choice, check_flag,
                         check_int, check_number, check_shape, check_str, is_int)
from ...tensor import Tensor
from ._image import describe, image_size, is_pil, pil_module, planar

__all__ = ["InterpolationMode", "to_tensor", "pil_to_tensor", "to_pil_image", "normalize",
           "hflip", "vflip", "crop", "center_crop", "pad", "resize", "resized_crop", "rotate",
           "rgb_to_grayscale", "get_image_size"]


class InterpolationMode(Enum, metaclass=CheckedEnumMeta):
    """torchvision's interpolation names. NEAREST, NEAREST_EXACT and BILINEAR work on every
    image kind; the others only on PIL Images (PIL implements them)."""
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_FILTERS = {InterpolationMode.NEAREST: 0, InterpolationMode.NEAREST_EXACT: 0,
                InterpolationMode.LANCZOS: 1, InterpolationMode.BILINEAR: 2,
                InterpolationMode.BICUBIC: 3, InterpolationMode.BOX: 4,
                InterpolationMode.HAMMING: 5}


def _interpolation(value: Any, op: str) -> InterpolationMode:
    if isinstance(value, InterpolationMode):
        return value
    if isinstance(value, str):
        try:
            return InterpolationMode(value)
        except ValueError:
            pass
    if isinstance(value, int) and not isinstance(value, bool):     # a PIL filter constant
        for mode, code in _PIL_FILTERS.items():
            if code == value:
                return mode
    raise ValueError(f"{op}: interpolation must be an InterpolationMode (NEAREST, BILINEAR, ...), "
                     f"got {value!r}")


def get_image_size(img: Any) -> list[int]:
    """[width, height] (torchvision's order)."""
    h, w = image_size(img, "get_image_size")
    return [w, h]


# ------------------------------------------------------------------------------ conversions
def to_tensor(pic: Any) -> Tensor:
    """PIL Image or ndarray (H, W[, C]) -> Tensor (C, H, W); uint8 data (PIL modes L, RGB, P,
    1, ...) becomes float32 in [0, 1], other dtypes keep their values (torchvision's rule)."""
    if is_pil(pic):
        arr = _pil_array(pic)
        if pic.mode == "1":
            arr = arr.astype(np.uint8) * 255
        elif arr.dtype not in (np.uint8, np.int32, np.float32):   # I;16 and friends
            arr = arr.astype(np.int32)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: pic should be 2/3 dimensional (H, W[, C]), got shape "
                             f"{pic.shape}")
        arr = pic
    else:
        raise TypeError(f"to_tensor: pic should be a PIL Image or a numpy array (H, W[, C]), got "
                        f"{describe(pic)}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))          # (H, W, C) -> (C, H, W)
    if chw.dtype == np.uint8:
        return Tensor._wrap(chw.astype(np.float32) / np.float32(255))
    return Tensor._wrap(chw)


_UINT8_MODES = {"L": 1, "P": 1, "RGB": 3, "RGBA": 4, "CMYK": 4, "YCbCr": 3, "LA": 2}


def _pil_array(pic: Any) -> np.ndarray:
    """The PIL image's pixels as an array: (H, W) or (H, W, bands). For 8-bit modes through
    tobytes(), ~4x faster than np.asarray's array interface on small images."""
    bands = _UINT8_MODES.get(pic.mode)
    if bands is None:
        return np.asarray(pic)
    w, h = pic.size
    arr = np.frombuffer(pic.tobytes(), np.uint8)
    return arr.reshape(h, w) if bands == 1 else arr.reshape(h, w, bands)


def pil_to_tensor(pic: Any) -> Tensor:
    """PIL Image -> Tensor (C, H, W) of the image's own dtype (uint8 for L/RGB), not scaled."""
    if not is_pil(pic):
        raise TypeError(f"pil_to_tensor: pic should be a PIL Image, got {describe(pic)}")
    arr = _pil_array(pic)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return Tensor._wrap(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic: Any, mode: str | None = None) -> Any:
    """Tensor (C, H, W) or ndarray (H, W[, C]) -> PIL Image. Float data is taken as [0, 1] and
    scaled by 255 (torchvision's rule); 1 channel -> mode L, 3 -> RGB, 4 -> RGBA."""
    Image = pil_module()
    if Image is None:
        raise ImportError("to_pil_image needs Pillow (pip install pillow)")
    check_str(mode, "mode", "to_pil_image", allow_none=True)
    if isinstance(pic, Tensor):
        arr = pic.numpy()
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ValueError(f"to_pil_image: pic should be 2/3 dimensional, got shape {arr.shape}")
        arr = arr.transpose(1, 2, 0)                             # (C, H, W) -> (H, W, C)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: pic should be 2/3 dimensional, got shape {pic.shape}")
        arr = pic if pic.ndim == 3 else pic[:, :, None]
    else:
        raise TypeError(f"to_pil_image: pic should be a Tensor or a numpy array, got {describe(pic)}")
    if arr.dtype.kind == "f":
        arr = (arr * 255).astype(np.uint8)                       # torchvision: mul(255).byte()
    _check_pil_mode(arr, mode)
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(arr), mode=mode) if mode else \
        Image.fromarray(np.ascontiguousarray(arr))


# torchvision's to_pil_image rule: the modes an (H, W, C) array can become, by C (and dtype for C=1)
_MODES_BY_CHANNELS = {2: ("LA",), 3: ("RGB", "YCbCr", "HSV"), 4: ("RGBA", "CMYK", "RGBX")}
_GREY_MODES = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16", np.dtype(np.int32): "I",
               np.dtype(np.float32): "F"}


def _check_pil_mode(arr: np.ndarray, mode: str | None) -> None:
    """Refuse what PIL cannot make an image of, naming pic and mode (PIL's own message names
    neither)."""
    channels = arr.shape[2]
    if channels == 1:
        expected = _GREY_MODES.get(arr.dtype)
        if expected is None:
            raise TypeError(f"to_pil_image: pic of dtype {arr.dtype} is not supported (uint8, "
                            f"int16, int32 or float data)")
        if mode is not None and mode != expected:
            raise ValueError(f"to_pil_image: incorrect mode ({mode!r}) supplied for input type "
                             f"{arr.dtype}; should be {expected!r}")
        return
    if channels > 4:
        raise ValueError(f"to_pil_image: pic should not have > 4 channels, got {channels} "
                         f"(shape {arr.shape} as (H, W, C))")
    if arr.dtype != np.uint8:
        raise TypeError(f"to_pil_image: pic with {channels} channels must be uint8 or float data, "
                        f"got dtype {arr.dtype}")
    if mode is not None and mode not in _MODES_BY_CHANNELS[channels]:
        raise ValueError(f"to_pil_image: only modes {list(_MODES_BY_CHANNELS[channels])} are "
                         f"supported for {channels}-channel inputs, got mode={mode!r}")


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    """(tensor - mean[c]) / std[c] per channel of a float Tensor (..., C, H, W)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: img should be a Tensor image (apply ToTensor first), got "
                        f"{describe(tensor)}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"normalize: input tensor should be a float tensor, got {tensor.dtype}")
    if tensor.ndim < 3:
        raise ValueError(f"normalize: expected a tensor image of size (..., C, H, W), got shape "
                         f"{tuple(tensor.shape)}")
    mean_a = check_array(mean, "mean", "normalize", dtype=tensor.dtype).reshape(-1)
    std_a = check_array(std, "std", "normalize", dtype=tensor.dtype).reshape(-1)
    c = tensor.shape[-3]
    for name, a in (("mean", mean_a), ("std", std_a)):
        if a.size not in (1, c):
            raise ValueError(f"normalize: {name} has {a.size} values for a tensor with {c} "
                             f"channels (shape {tuple(tensor.shape)}); give 1 or {c}")
    if (std_a == 0).any():
        raise ValueError(f"normalize: std evaluated to zero after conversion to {tensor.dtype}, "
                         f"leading to division by zero (std={std})")
    mean_a, std_a = mean_a.reshape(-1, 1, 1), std_a.reshape(-1, 1, 1)      # (C,) -> (C, 1, 1)
    if not tensor.requires_grad and not inplace:
        # data preparation (the usual case, per item in a DataLoader): NumPy directly, 10x
        # cheaper than recording two ops that nothing will differentiate
        return Tensor._wrap((tensor.numpy() - mean_a) / std_a)
    m, s = Tensor._wrap(mean_a), Tensor._wrap(std_a)
    if inplace:
        return tensor.sub_(m).div_(s)
    return (tensor - m) / s


# ---------------------------------------------------------------------------- flips, crops
def _pil_transpose(img: Any, which: str) -> Any:
    Image = pil_module()
    codes = getattr(Image, "Transpose", Image)                   # Pillow >= 9.1 has the enum
    return img.transpose(getattr(codes, which))


def hflip(img: Any) -> Any:
    """Mirror left-right."""
    if is_pil(img):
        return _pil_transpose(img, "FLIP_LEFT_RIGHT")
    arr, back = planar(img, "hflip")
    return back(arr[..., ::-1])


def vflip(img: Any) -> Any:
    """Mirror top-bottom."""
    if is_pil(img):
        return _pil_transpose(img, "FLIP_TOP_BOTTOM")
    arr, back = planar(img, "vflip")
    return back(arr[..., ::-1, :])


def _check_int(value: Any, name: str, op: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral,)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The height x width window whose top-left corner is (top, left); parts outside the image
    are zeros (as torchvision)."""
    top, left = _check_int(top, "top", "crop"), _check_int(left, "left", "crop")
    height, width = _check_int(height, "height", "crop"), _check_int(width, "width", "crop")
    if height <= 0 or width <= 0:
        raise ValueError(f"crop: height and width must be positive, got {height}x{width}")
    if is_pil(img):
        return img.crop((left, top, left + width, top + height))
    arr, back = planar(img, "crop")
    h, w = arr.shape[-2:]
    if top >= 0 and left >= 0 and top + height <= h and left + width <= w:
        return back(arr[..., top:top + height, left:left + width])
    out = allocate(arr.shape[:-2] + (height, width), arr.dtype, "crop", fill=0)
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + height, h), min(left + width, w)
    if t1 > t0 and l1 > l0:
        out[..., t0 - top:t1 - top, l0 - left:l1 - left] = arr[..., t0:t1, l0:l1]
    return back(out)


def _size_pair(size: Any, name: str, op: str) -> tuple[int, int]:
    """int or (h, w) or [s] -> (h, w)."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 1:       # [s]: the int s
        return (_check_int(size[0], name, op),) * 2
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return _check_int(size[0], name, op), _check_int(size[1], name, op)
    raise ValueError(f"{op}: {name} must be an int or a (height, width) pair, got {size!r}")


def center_crop(img: Any, output_size: Any) -> Any:
    """The centred window of output_size (int or (h, w)); an image smaller than that is padded
    with zeros first, as torchvision."""
    th, tw = _size_pair(output_size, "output_size", "center_crop")
    h, w = image_size(img, "center_crop")
    if th > h or tw > w:
        img = pad(img, [(tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                        (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0])
        h, w = image_size(img, "center_crop")
        if h == th and w == tw:
            return img
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def _padding_ltrb(padding: Any, op: str) -> tuple[int, int, int, int]:
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        p = int(padding)
        return p, p, p, p
    if isinstance(padding, (tuple, list)) and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in padding):
        if len(padding) == 1:
            return (int(padding[0]),) * 4
        if len(padding) == 2:
            lr, tb = int(padding[0]), int(padding[1])
            return lr, tb, lr, tb
        if len(padding) == 4:
            left, top, right, bottom = (int(v) for v in padding)
            return left, top, right, bottom
    raise ValueError(f"{op}: padding must be an int or a sequence of 1, 2 (left/right, "
                     f"top/bottom) or 4 (left, top, right, bottom) ints, got {padding!r}")


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
              "symmetric": "symmetric"}


def _fill_array(fill: Any, arr: np.ndarray, op: str) -> Any:
    """A scalar, or a per-channel (C, 1, 1) array for a sequence fill on a (..., C, H, W) image."""
    if fill is None:
        return 0
    if isinstance(fill, numbers.Number) and not isinstance(fill, bool):
        return fill
    if isinstance(fill, (tuple, list)):
        if len(fill) == 1:
            return fill[0]
        if arr.ndim >= 3 and len(fill) == arr.shape[-3]:
            return np.asarray(fill, dtype=np.float64).reshape(-1, 1, 1)
        raise ValueError(f"{op}: fill has {len(fill)} values for an image with "
                         f"{arr.shape[-3] if arr.ndim >= 3 else 1} channels")
    raise TypeError(f"{op}: fill must be a number or a sequence of numbers, got {fill!r}")


def pad(img: Any, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pad the borders by `padding` (int, (left/right, top/bottom) or (left, top, right,
    bottom)) with `fill` (constant) or by 'edge', 'reflect' (mirror without the edge pixel) or
    'symmetric' (with it). Negative padding crops, as torchvision's tensor pad."""
    check_choice(padding_mode, "padding_mode", "pad", tuple(_PAD_MODES))
    left, top, right, bottom = _padding_ltrb(padding, "pad")
    if is_pil(img):
        Image = pil_module()
        if padding_mode == "constant" and min(left, top, right, bottom) >= 0:
            from PIL import ImageOps                            # torchvision's PIL path
            bands = len(img.getbands())
            fill_ = 0 if fill is None else fill
            if isinstance(fill_, (tuple, list)):
                fill_ = tuple(fill_) if len(fill_) > 1 else fill_[0]
            if bands > 1 and not isinstance(fill_, tuple):
                fill_ = (fill_,) * bands
            return ImageOps.expand(img, border=(left, top, right, bottom), fill=fill_)
        arr = np.asarray(img)
        hwc = arr if arr.ndim == 3 else arr[:, :, None]
        out = pad(hwc, [left, top, right, bottom], fill, padding_mode)
        result = Image.fromarray(out if arr.ndim == 3 else out[:, :, 0], mode=img.mode)
        if img.mode == "P":
            result.putpalette(img.getpalette())
        return result
    arr, back = planar(img, "pad")
    h, w = arr.shape[-2:]
    # negative sides crop first
    arr = arr[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    top, bottom, left, right = max(top, 0), max(bottom, 0), max(left, 0), max(right, 0)
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode == "reflect" and (max(top, bottom) >= arr.shape[-2] or
                                      max(left, right) >= arr.shape[-1]):
        raise ValueError(f"pad: reflect padding ({left}, {top}, {right}, {bottom}) must be "
                         f"smaller than the image side it mirrors (image {h}x{w})")
    if padding_mode != "constant":
        return back(np.pad(arr, widths, mode=_PAD_MODES[padding_mode]))
    value = np.asarray(_fill_array(fill, arr, "pad"))
    # np.pad costs ~50 us on a 28x28 image; one fill and one copy cost ~3
    out = allocate(arr.shape[:-2] + (arr.shape[-2] + top + bottom, arr.shape[-1] + left + right),
                   arr.dtype, "pad")
    out[...] = value.astype(arr.dtype)                           # per-channel fill
    out[..., top:top + arr.shape[-2], left:left + arr.shape[-1]] = arr
    return back(out)


# -------------------------------------------------------------------------------- resampling
def _resize_output_size(h: int, w: int, size: Any, max_size: int | None) -> tuple[int, int]:
    """torchvision's rule: an int (or [int]) matches the smaller edge keeping the aspect ratio
    (the longer edge truncated), capped by max_size; a pair is (h, w)."""
    max_size = check_int(max_size, "max_size", "resize", minimum=1, allow_none=True)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        if max_size is not None:
            raise ValueError("resize: max_size is only allowed when size is an int (the smaller "
                             f"edge), got size={size!r}")
        return _size_pair(size, "size", "resize")
    requested = _size_pair(size, "size", "resize")[0]
    short, long = (w, h) if w <= h else (h, w)
    if requested < 1 or short < 1:
        raise ValueError(f"resize: size={size!r} must be positive and the image ({h}x{w}) "
                         f"non-empty to keep the aspect ratio")
    new_short, new_long = requested, int(requested * long / short)
    if max_size is not None:
        if max_size <= requested:
            raise ValueError(f"resize: max_size={max_size} must be strictly greater than the "
                             f"requested size {requested}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def _resample_weights(n_in: int, n_out: int, antialias: bool) -> np.ndarray:
    """(n_out, n_in) bilinear weights: output pixel i centred at (i + 0.5) * n_in / n_out takes
    the triangle filter over input pixel centres, widened by the scale when downsampling with
    antialias (PIL's and F.interpolate(antialias=True)'s filter), rows normalised to 1."""
    scale = n_in / n_out
    support = scale if antialias and scale > 1 else 1.0
    centre = (np.arange(n_out) + 0.5) * scale
    distance = (np.arange(n_in) + 0.5)[None, :] - centre[:, None]          # (n_out, n_in)
    weights = np.maximum(0.0, 1.0 - np.abs(distance) / support)
    return weights / weights.sum(axis=1, keepdims=True)


def _nearest_index(n_in: int, n_out: int, exact: bool) -> np.ndarray:
    scale = n_in / n_out
    pos = (np.arange(n_out) + (0.5 if exact else 0.0)) * scale
    return np.minimum(np.floor(pos).astype(np.int64), n_in - 1)


def _round_like(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float results back to the input dtype: integers rounded half up and clipped to range."""
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.clip(np.floor(out + 0.5), info.min, info.max).astype(dtype)
    return out.astype(dtype, copy=False)


def resize(img: Any, size: Any, interpolation: Any = InterpolationMode.BILINEAR,
           max_size: int | None = None, antialias: bool | None = True) -> Any:
    """Resize to `size` ((h, w), or an int for the smaller edge)."""
    mode = _interpolation(interpolation, "resize")
    h, w = image_size(img, "resize")
    oh, ow = _resize_output_size(h, w, size, max_size)
    if oh <= 0 or ow <= 0:
        raise ValueError(f"resize: the output size {oh}x{ow} (from size={size!r} on a {h}x{w} "
                         f"image) must be positive")
    if antialias is not None:
        antialias = check_flag(antialias, "antialias", "resize")
    if is_pil(img):
        return img.resize((ow, oh), _PIL_FILTERS[mode])
    arr, back = planar(img, "resize")
    if (oh, ow) == (h, w):
        return back(arr.copy())
    check_shape(arr.shape[:-2] + (oh, ow), "the output (from size)", "resize")
    with allocating("resize", f"a {oh}x{ow} image"):
        return _resize_array(arr, back, h, w, oh, ow, mode, antialias)


def _resize_array(arr: np.ndarray, back: Any, h: int, w: int, oh: int, ow: int,
                  mode: InterpolationMode, antialias: bool | None) -> Any:
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        exact = mode is InterpolationMode.NEAREST_EXACT
        rows, cols = _nearest_index(h, oh, exact), _nearest_index(w, ow, exact)
        return back(arr[..., rows[:, None], cols[None, :]])
    if mode is not InterpolationMode.BILINEAR:
        raise ValueError(f"resize: interpolation {mode.name} is implemented for PIL Images "
                         f"only; use NEAREST or BILINEAR for numpy arrays and Tensors")
    aa = bool(antialias)
    wh, ww = _resample_weights(h, oh, aa), _resample_weights(w, ow, aa)
    work = arr.astype(np.float64 if arr.dtype != np.float32 else np.float32)
    out = wh.astype(work.dtype) @ (work @ ww.T.astype(work.dtype))  # (..., H, W) -> (..., OH, OW)
    return back(_round_like(out, arr.dtype))


def resized_crop(img: Any, top: int, left: int, height: int, width: int, size: Any,
                 interpolation: Any = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> Any:
    """crop(img, top, left, height, width), then resize to size."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def rgb_to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """Luma 0.2989 R + 0.587 G + 0.114 B (ITU-R 601-2, torchvision's weights; PIL's convert('L')
    for PIL Images), repeated to num_output_channels (1 or 3). Single-channel input passes."""
    if not is_int(num_output_channels) or num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels should be 1 or 3, got "
                         f"{num_output_channels}")
    if is_pil(img):
        grey = img.convert("L")
        return grey if num_output_channels == 1 else grey.convert("RGB")
    arr, back = planar(img, "rgb_to_grayscale")
    if isinstance(img, np.ndarray):
        # NumPy grey images are (H, W), as PIL's mode L and the datasets' items; 3 -> (H, W, 3)
        arr = arr[None] if img.ndim == 2 else arr                # (H, W) -> (1, H, W)
        back = lambda out: out[0] if out.shape[0] == 1 else np.ascontiguousarray(out.transpose(1, 2, 0))
    if arr.ndim < 3 or arr.shape[-3] not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: expected 1 or 3 channels, got {describe(img)}")
    if arr.shape[-3] == 3:
        r, g, b = arr[..., 0, :, :], arr[..., 1, :, :], arr[..., 2, :, :]
        grey = (0.2989 * r.astype(np.float64) + 0.587 * g + 0.114 * b)[..., None, :, :]
        grey = _round_like(grey, arr.dtype)
    else:
        grey = arr
    reps = [1] * (grey.ndim - 3) + [num_output_channels, 1, 1]
    return back(np.tile(grey, reps) if grey.shape[-3] != num_output_channels else grey)


def _rotated_size(h: int, w: int, angle: float) -> tuple[int, int]:
    """The (h, w) holding the whole image rotated about its centre (torchvision's rounding:
    the corners' extent truncated to 1/100 px before ceil/floor)."""
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    xs, ys = [], []
    for x, y in ((-0.5 * w, -0.5 * h), (0.5 * w, -0.5 * h), (0.5 * w, 0.5 * h), (-0.5 * w, 0.5 * h)):
        xs.append(x * cos + y * sin)
        ys.append(-x * sin + y * cos)
    size = []
    for v in (ys, xs):
        hi = math.ceil(math.trunc(max(v) * 100) / 100)
        lo = math.floor(math.trunc(min(v) * 100) / 100)
        size.append(int(hi - lo))
    return size[0], size[1]


def rotate(img: Any, angle: float, interpolation: Any = InterpolationMode.NEAREST,
           expand: bool = False, center: Sequence[float] | None = None, fill: Any = None) -> Any:
    """Rotate counter-clockwise by `angle` degrees about `center` ((x, y) in pixels, default
    the image centre); pixels from outside the image get `fill` (0). expand=True enlarges the
    output to hold the whole rotated image (rotation about the centre only)."""
    mode = _interpolation(interpolation, "rotate")
    if not isinstance(angle, numbers.Real):
        raise TypeError(f"rotate: angle should be a number of degrees, got {angle!r}")
    angle = check_number(angle, "angle", "rotate", finite=True)
    expand = check_flag(expand, "expand", "rotate")
    if center is not None:
        if not isinstance(center, (tuple, list)) or len(center) != 2:
            raise TypeError(f"rotate: center must be an (x, y) pair, got {describe(center)}")
        center = [check_number(c, "center", "rotate", finite=True) for c in center]
    if expand and center is not None:
        raise ValueError("rotate: expand=True assumes rotation about the image centre; "
                         "center must be None")
    if is_pil(img):
        pil_fill = fill
        if isinstance(fill, (tuple, list)):
            pil_fill = tuple(fill) if len(fill) > 1 else fill[0]
        if pil_fill is not None and len(img.getbands()) > 1 and np.ndim(pil_fill) == 0:
            pil_fill = (pil_fill,) * len(img.getbands())
        return img.rotate(float(angle), _PIL_FILTERS[mode], expand, center, fillcolor=pil_fill)
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT,
                    InterpolationMode.BILINEAR):
        raise ValueError(f"rotate: interpolation {mode.name} is implemented for PIL Images only; "
                         f"use NEAREST or BILINEAR for numpy arrays and Tensors")
    arr, back = planar(img, "rotate")
    h, w = arr.shape[-2:]
    cx, cy = (w / 2.0, h / 2.0) if center is None else (float(center[0]), float(center[1]))
    oh, ow = _rotated_size(h, w, float(angle)) if expand else (h, w)
    ocx, ocy = (ow / 2.0, oh / 2.0) if expand else (cx, cy)
    a = math.radians(float(angle))
    # rounded as PIL rounds them, so that e.g. cos + sin at 135 degrees is exactly 0 and
    # pixel centres on the diagonals do not fall either side of a floor() at random
    cos, sin = round(math.cos(a), 15), round(math.sin(a), 15)
    # output pixel centre, relative to the output centre -> source position (inverse rotation)
    dy = (np.arange(oh) + 0.5 - ocy)[:, None]                   # (OH, 1)
    dx = (np.arange(ow) + 0.5 - ocx)[None, :]                   # (1, OW)
    sx = cx + dx * cos - dy * sin                                # (OH, OW)
    sy = cy + dx * sin + dy * cos
    value = _fill_array(fill, arr, "rotate")
    work = arr.astype(np.float64)
    if mode is not InterpolationMode.BILINEAR:
        ix, iy = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = work[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]
        out = np.where(inside, out, value)
        return back(_round_like(out, arr.dtype))
    sx, sy = sx - 0.5, sy - 0.5                                  # pixel centres at integers
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = sx - x0, sy - y0
    out = 0.0
    for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
        for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
            inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
            sample = np.where(inside, work[..., np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], value)
            out = out + sample * (wy * wx)
    return back(_round_like(np.asarray(out), arr.dtype))
