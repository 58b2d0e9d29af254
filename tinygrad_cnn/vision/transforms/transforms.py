"""torchvision.transforms' classes: callables that take an image (PIL, NumPy (H, W[, C]) or
Tensor (..., H, W)) and return one. The random ones draw from tinygrad_cnn's one seeded
generator (`tc.manual_seed`) at call time, so DataLoader workers seeded per worker augment
differently and a seeded run repeats exactly.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

from ... import rng
from ...argcheck import check_callable, check_choice, check_number, check_sequence
from ...tensor import Tensor
from . import functional as F
from ._image import image_size
from .functional import InterpolationMode

__all__ = ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Lambda", "Resize",
           "CenterCrop", "Pad", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomRotation", "RandomApply", "Grayscale", "InterpolationMode"]


class Compose:
    """Apply each transform in turn: Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        transforms = check_sequence(transforms, "transforms", "Compose", "a sequence of transforms",
                                    error=TypeError)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {i} ({t!r}) is not callable")
        self.transforms = transforms

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        lines = [f"    {t}" for t in self.transforms]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _show(value: Any) -> Any:
    return value.value if isinstance(value, InterpolationMode) else value


class _Transform:
    """repr as torchvision: Name(arg=value, ...) from `_repr_args`."""
    _repr_args: tuple[str, ...] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{a}={_show(getattr(self, a))}" for a in self._repr_args)
        return f"{type(self).__name__}({args})"


class ToTensor(_Transform):
    """PIL Image / ndarray (H, W[, C]) uint8 -> float32 Tensor (C, H, W) in [0, 1]."""

    def __call__(self, pic: Any) -> Tensor:
        return F.to_tensor(pic)


class PILToTensor(_Transform):
    """PIL Image -> Tensor (C, H, W) of its own dtype, unscaled."""

    def __call__(self, pic: Any) -> Tensor:
        return F.pil_to_tensor(pic)


class ToPILImage(_Transform):
    """Tensor (C, H, W) / ndarray (H, W[, C]) -> PIL Image (needs Pillow)."""
    _repr_args = ("mode",)

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic: Any) -> Any:
        return F.to_pil_image(pic, self.mode)


class Normalize(_Transform):
    """(x - mean[c]) / std[c] per channel of a float Tensor image (..., C, H, W)."""
    _repr_args = ("mean", "std")

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        return F.normalize(tensor, self.mean, self.std, self.inplace)


class Lambda(_Transform):
    """A user function as a transform."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got "
                            f"{type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)


def _interp(value: Any) -> InterpolationMode:
    return F._interpolation(value, "transform")


class Resize(_Transform):
    """Resize to size ((h, w), or an int: the smaller edge, aspect kept)."""
    _repr_args = ("size", "interpolation", "max_size", "antialias")

    def __init__(self, size: Any, interpolation: Any = InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = True) -> None:
        F._resize_output_size(8, 8, size, None if isinstance(size, (tuple, list)) and
                              len(size) == 2 else max_size)          # validates size early
        self.size = size
        self.interpolation = _interp(interpolation)
        self.max_size = max_size
        self.antialias = antialias

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.size}, interpolation="
                f"{self.interpolation.value}, max_size={self.max_size}, "
                f"antialias={self.antialias})")

    def __call__(self, img: Any) -> Any:
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)


class CenterCrop(_Transform):
    """The centred size window (padded with zeros when the image is smaller)."""
    _repr_args = ("size",)

    def __init__(self, size: Any) -> None:
        self.size = F._size_pair(size, "size", "CenterCrop")

    def __call__(self, img: Any) -> Any:
        return F.center_crop(img, self.size)


class Pad(_Transform):
    """Pad the borders (int, (left/right, top/bottom) or (left, top, right, bottom)) with
    `fill`, or by padding_mode 'edge' / 'reflect' / 'symmetric'."""
    _repr_args = ("padding", "fill", "padding_mode")

    def __init__(self, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> None:
        F._padding_ltrb(padding, "Pad")
        check_choice(padding_mode, "padding_mode", "Pad", tuple(F._PAD_MODES))
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img: Any) -> Any:
        return F.pad(img, self.padding, self.fill, self.padding_mode)


def _random_int(low: int, high: int) -> int:
    """Uniform in [low, high) from the framework's generator (torch.randint's interval)."""
    return int(rng.generator().integers(low, high))


class RandomCrop(_Transform):
    """A random size window, after optional `padding` (as Pad) and, with pad_if_needed, padding
    an image smaller than size. The corner is uniform over every position that fits."""
    _repr_args = ("size", "padding")

    def __init__(self, size: Any, padding: Any = None, pad_if_needed: bool = False,
                 fill: Any = 0, padding_mode: str = "constant") -> None:
        self.size = F._size_pair(size, "size", "RandomCrop")
        if padding is not None:
            F._padding_ltrb(padding, "RandomCrop")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a random window of output_size."""
        h, w = image_size(img, "RandomCrop")
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the "
                             f"input image size {(h, w)} (pass padding= or pad_if_needed=True)")
        if w == tw and h == th:
            return 0, 0, h, w
        return _random_int(0, h - th + 1), _random_int(0, w - tw + 1), th, tw

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        h, w = image_size(img, "RandomCrop")
        th, tw = self.size
        if self.pad_if_needed and w < tw:
            img = F.pad(img, [tw - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = F.pad(img, [0, th - h], self.fill, self.padding_mode)
        return F.crop(img, *self.get_params(img, self.size))


class RandomResizedCrop(_Transform):
    """A random window of area scale x the image's and aspect ratio (w / h) log-uniform in
    ratio, resized to size (torchvision's 10 attempts, then a centre crop of the nearest allowed
    ratio)."""
    _repr_args = ("size", "scale", "ratio", "interpolation", "antialias")

    def __init__(self, size: Any, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
                 interpolation: Any = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        self.size = F._size_pair(size, "size", "RandomResizedCrop")
        for name, pair in (("scale", scale), ("ratio", ratio)):
            if isinstance(pair, (tuple, list)) and len(pair) == 2:
                pair = [check_number(v, name, "RandomResizedCrop", finite=True) for v in pair]
            if not isinstance(pair, (tuple, list)) or len(pair) != 2 or pair[0] > pair[1]:
                raise ValueError(f"RandomResizedCrop: {name} should be a (min, max) pair with "
                                 f"min <= max, got {pair!r}")
            if name == "ratio" and pair[0] <= 0:
                raise ValueError(f"RandomResizedCrop: ratio (w / h) must be positive, got {pair!r}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation, self.antialias = _interp(interpolation), antialias

    @staticmethod
    def get_params(img: Any, scale: Sequence[float], ratio: Sequence[float]
                   ) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the random window."""
        height, width = image_size(img, "RandomResizedCrop")
        area = height * width
        g = rng.generator()
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * g.uniform(scale[0], scale[1])
            aspect = math.exp(g.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return _random_int(0, height - h + 1), _random_int(0, width - w + 1), h, w
        in_ratio = width / height                                # fallback: centre crop
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img: Any) -> Any:
        top, left, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, h, w, self.size, self.interpolation, self.antialias)


class Grayscale(_Transform):
    """RGB -> grey (0.2989 R + 0.587 G + 0.114 B), with 1 or 3 output channels."""
    _repr_args = ("num_output_channels",)

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def __call__(self, img: Any) -> Any:
        return F.rgb_to_grayscale(img, self.num_output_channels)


class RandomHorizontalFlip(_Transform):
    """Mirror left-right with probability p."""
    _repr_args = ("p",)

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        return F.hflip(img) if rng.generator().random() < self.p else img


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability p."""

    def __call__(self, img: Any) -> Any:
        return F.vflip(img) if rng.generator().random() < self.p else img


class RandomRotation(_Transform):
    """Rotate by an angle uniform in [-degrees, degrees] (or [min, max])."""
    _repr_args = ("degrees", "interpolation", "expand", "fill")

    def __init__(self, degrees: Any, interpolation: Any = InterpolationMode.NEAREST,
                 expand: bool = False, center: Sequence[float] | None = None,
                 fill: Any = 0) -> None:
        if isinstance(degrees, numbers.Real):
            degrees = check_number(degrees, "degrees", "RandomRotation", finite=True)
            if degrees < 0:
                raise ValueError(f"RandomRotation: if degrees is a single number it must be "
                                 f"non-negative, got {degrees}")
            degrees = [-float(degrees), float(degrees)]
        elif isinstance(degrees, (tuple, list)) and len(degrees) == 2:
            degrees = [float(check_number(d, "degrees", "RandomRotation", finite=True)) for d in degrees]
        else:
            raise ValueError(f"RandomRotation: degrees must be a number or a (min, max) pair, "
                             f"got {degrees!r}")
        self.degrees = degrees
        self.interpolation = _interp(interpolation)
        self.expand, self.center, self.fill = expand, center, fill

    @staticmethod
    def get_params(degrees: Sequence[float]) -> float:
        return float(rng.generator().uniform(degrees[0], degrees[1]))

    def __call__(self, img: Any) -> Any:
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)


class RandomApply(_Transform):
    """Apply the list of transforms (in order) with probability p."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        transforms = check_sequence(transforms, "transforms", "RandomApply", "a sequence of transforms",
                                    error=TypeError)
        for i, t in enumerate(transforms):
            check_callable(t, f"transforms[{i}]", "RandomApply")
        self.transforms, self.p = transforms, check_number(p, "p", "RandomApply", minimum=0, maximum=1)

    def __call__(self, img: Any) -> Any:
        if rng.generator().random() >= self.p:
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        inner = "\n".join(f"    {t}" for t in self.transforms)
        return f"{type(self).__name__}(\n    p={self.p}\n{inner}\n)"
