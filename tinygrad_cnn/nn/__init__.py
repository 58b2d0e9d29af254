"""Neural-network building blocks: `functional` (stateless ops on tensors)."""
from . import functional

__all__ = ["functional"]
