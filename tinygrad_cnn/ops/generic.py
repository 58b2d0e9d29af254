"""Helpers that let one backward rule run on NumPy arrays (an ordinary backward) and on
Tensors (create_graph=True, where the rule records itself through numpy_dispatch).

Most rules need nothing here: operators and NumPy calls dispatch by themselves. These cover
what NumPy does not dispatch (np.ascontiguousarray) and the scatter that max-pooling's
switches need, written once with ops that are differentiable on Tensors."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import _is_tensor


def is_graph(x: Any) -> bool:
    """True when a backward rule runs on Tensors (create_graph=True)."""
    return _is_tensor(x)


def contiguous(x: Any) -> Any:
    """np.ascontiguousarray for arrays; a Tensor is returned as it is (the next op copies)."""
    return x if _is_tensor(x) else np.ascontiguousarray(x)


def scatter_to_flat_positions(g: Any, positions: np.ndarray, x_shape: tuple) -> Any:
    """dL/dx for outputs that each copy one input element: out[n, c, j] = x[n, c, positions[n, c, j]]
    (flat positions in each (n, c) plane; -1 for an output that reads no element). The gradient
    of every output is added at its position (np.add.at: repeated positions accumulate) — max
    pooling's "switches". On Tensors this records IndexAdd, whose own backward gathers."""
    n, c = x_shape[:2]
    plane = int(np.prod(x_shape[2:], dtype=np.int64))
    flat = positions.reshape(n, c, -1)
    where = (np.arange(n * c, dtype=np.int64).reshape(n, c, 1) * plane + flat).reshape(-1)
    keep = np.nonzero(flat.reshape(-1) >= 0)[0]
    grad = np.zeros_like(g, shape=(n * c * plane,))
    np.add.at(grad, where[keep], g.reshape(-1)[keep])
    return grad.reshape(x_shape)
