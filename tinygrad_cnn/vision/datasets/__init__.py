"""torchvision.datasets' counterpart: MNIST, FashionMNIST (over tc.data's IDX readers),
ImageFolder / DatasetFolder (one folder per class) and FakeData, each with transform /
target_transform."""
from .fakedata import FakeData
from .folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader
from .mnist import MNIST, FashionMNIST
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "ImageFolder", "DatasetFolder", "FakeData", "VisionDataset",
           "IMG_EXTENSIONS", "default_loader"]
