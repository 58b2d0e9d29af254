"""tinygrad_cnn.vision: torchvision's counterpart, the import-swap target

    import torchvision                     ->  import tinygrad_cnn.vision as torchvision
    from torchvision import datasets, transforms, models, utils
                                           ->  from tinygrad_cnn.vision import datasets, ...

    datasets    MNIST, FashionMNIST (torchvision's signature over tc.data's readers), FakeData
    transforms  Compose, ToTensor, Normalize, RandomCrop, RandomRotation, Resize, ... on PIL
                images, NumPy (H, W[, C]) images and Tensors (..., H, W)
    models      the torchvision architectures, names and state-dict keys (random init only)
    utils       make_grid, save_image (PNG written without dependencies)

Pillow is optional: with it, datasets hand out PIL Images as torchvision does; without it,
uint8 NumPy arrays, which every transform takes as well.
"""
from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
