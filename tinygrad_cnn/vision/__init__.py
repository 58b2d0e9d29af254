"""tinygrad_cnn.vision: torchvision's counterpart, the import-swap target

    import torchvision                     ->  import tinygrad_cnn.vision as torchvision
    from torchvision import datasets, transforms, models, utils
                                           ->  from tinygrad_cnn.vision import datasets, ...

    models      the torchvision architectures, names and state-dict keys (random init only)
"""
from . import models

__all__ = ["models"]
