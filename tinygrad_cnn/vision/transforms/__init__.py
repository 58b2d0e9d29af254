"""torchvision.transforms' counterpart (see transforms.py and functional.py):

    from tinygrad_cnn.vision import transforms
    t = transforms.Compose([transforms.RandomCrop(28, padding=2), transforms.ToTensor(),
                            transforms.Normalize((0.1307,), (0.3081,))])
"""
from . import functional
from .functional import InterpolationMode
from .transforms import *  # noqa: F401,F403 - the classes, listed in transforms.__all__
from .transforms import __all__ as _classes

__all__ = ["functional", *_classes]
