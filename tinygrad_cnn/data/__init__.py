"""Data loading, PyTorch's names: `Dataset`, `TensorDataset`, `DataLoader`, and the MNIST and
Fashion-MNIST readers (IDX files, checksummed, optional download)."""
from .dataloader import DataLoader, default_collate
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .mnist import (MNIST, CorruptDatasetError, DatasetNotFoundError, DownloadError, FashionMNIST,
                    read_idx)

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
           "default_collate", "MNIST", "FashionMNIST", "read_idx", "DatasetNotFoundError",
           "CorruptDatasetError", "DownloadError"]
