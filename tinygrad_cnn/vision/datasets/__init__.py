"""torchvision.datasets' counterpart: MNIST, FashionMNIST (over tc.data's IDX readers) and
FakeData, each with transform / target_transform."""
from .fakedata import FakeData
from .mnist import MNIST, FashionMNIST

__all__ = ["MNIST", "FashionMNIST", "FakeData"]
