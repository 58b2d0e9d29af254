"""Embedding: a lookup table of learnable vectors, indexed by integer ids."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...argcheck import allocate, check_flag, check_int, check_number, check_tensor
from ...errors import ArgumentError
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module, Parameter
from ._common import _float_dtype, _named_call

__all__ = ["Embedding"]


class Embedding(Module):
    """weight (num_embeddings, embedding_dim) ~ N(0, 1) (PyTorch's init), row padding_idx zeroed
    and never updated by gradients; forward(indices) = weight[indices], as F.embedding."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        num_embeddings = check_int(num_embeddings, "num_embeddings", "Embedding", minimum=0)
        embedding_dim = check_int(embedding_dim, "embedding_dim", "Embedding", minimum=0)
        padding_idx = check_int(padding_idx, "padding_idx", "Embedding", allow_none=True)
        max_norm = check_number(max_norm, "max_norm", "Embedding", minimum=0, allow_none=True)
        norm_type = check_number(norm_type, "norm_type", "Embedding")
        scale_grad_by_freq = check_flag(scale_grad_by_freq, "scale_grad_by_freq", "Embedding")
        sparse, _freeze = check_flag(sparse, "sparse", "Embedding"), check_flag(_freeze, "_freeze", "Embedding")
        if num_embeddings < 0 or embedding_dim < 0:
            raise ArgumentError(f"Embedding: num_embeddings and embedding_dim must be non-negative, "
                                f"got {num_embeddings} and {embedding_dim}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ArgumentError(f"Embedding: padding_idx must be within num_embeddings "
                                    f"({num_embeddings}), got {padding_idx}")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(allocate((num_embeddings, embedding_dim), _float_dtype(dtype, "Embedding"), "Embedding"),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            check_tensor(_weight, "_weight", "Embedding")
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ArgumentError(f"Embedding: _weight must have shape ({num_embeddings}, "
                                    f"{embedding_dim}), got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.numpy()[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> "Embedding":
        """An Embedding over the given (num_embeddings, embedding_dim) tensor (shared, not
        copied); frozen (no gradient) by default."""
        if embeddings.ndim != 2:
            raise ArgumentError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                                f"{tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def _label(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"

    def forward(self, input: Any) -> Tensor:
        return _named_call(self, self._label(), F.embedding, input, self.weight, self.padding_idx,
                           self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        return s
