"""`torch.utils.data` under its PyTorch path: the same objects as `tinygrad_cnn.data` (one
implementation, two import paths), including the submodules scripts import from
(`utils.data.dataloader`, `.dataset`, `.sampler`)."""
import sys as _sys

from ...data import *  # noqa: F401,F403
from ...data import __all__, collate, dataloader, dataset, sampler, worker

# `from tinygrad_cnn.utils.data.sampler import SubsetRandomSampler` and the like
for _name, _module in {"dataloader": dataloader, "dataset": dataset, "sampler": sampler,
                       "collate": collate, "worker": worker}.items():
    _sys.modules[f"{__name__}.{_name}"] = _module
