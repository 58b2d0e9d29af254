"""Data loading, torch.utils.data's names (also importable as `tinygrad_cnn.utils.data`):
datasets, samplers, `DataLoader` (with worker processes), collation, and the MNIST and
Fashion-MNIST readers (IDX files, checksummed, optional download)."""
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,
                      random_split)
from .mnist import (MNIST, CorruptDatasetError, DatasetNotFoundError, DownloadError, FashionMNIST,
                    read_idx)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)
from .worker import WorkerInfo, get_worker_info

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "IterableDataset", "ChainDataset",
           "random_split", "DataLoader", "default_collate", "default_convert", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "get_worker_info", "WorkerInfo", "MNIST", "FashionMNIST", "read_idx",
           "DatasetNotFoundError", "CorruptDatasetError", "DownloadError"]
