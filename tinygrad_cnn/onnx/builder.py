"""A small ONNX graph builder: nodes, constants and initializers with unique names, and the
run-time sizes of dynamic axes (read from the graph inputs with Shape/Gather).

Only this module and export.py touch the `onnx` package, and only once `export` runs, so
`import tinygrad_cnn` works without it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["GraphBuilder", "onnx_dtype"]


def onnx_dtype(dtype: Any) -> int:
    """The ONNX TensorProto element type of a NumPy dtype."""
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class GraphBuilder:
    """Collects the nodes and initializers of one ONNX graph.

    `op` adds a node and returns its output name(s); `const` adds a constant (deduplicated by
    value); `initializer` adds a named weight; `dim(a, b)` is a 1-element int64 tensor holding
    the run-time size of the graph-input axis that had size a in the example trace and b in
    the companion trace (see trace.py)."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = set()
        self._consts: dict[tuple, str] = {}
        self._dims: dict[tuple[int, int], str] = {}
        self.dim_sources: dict[tuple[int, int], tuple[str, int]] = {}   # (a, b) -> (input name, axis)
        self.prefix = ""

    # ------------------------------------------------------------------------- names
    def fresh(self, hint: str) -> str:
        base = hint.replace(" ", "_") or "v"
        name, k = base, 1
        while name in self._used:
            name, k = f"{base}_{k}", k + 1
        self._used.add(name)
        return name

    def reserve(self, name: str) -> None:
        if name in self._used:
            raise ValueError(f"export: the name {name!r} is used twice (input, output or weight names "
                             f"must be distinct)")
        self._used.add(name)

    # ------------------------------------------------------------------------- nodes
    def op(self, op_type: str, *inputs: str | None, outputs: Sequence[str] | int = 1,
           **attrs: Any) -> Any:
        """Add a node; None inputs become '' (an omitted optional input). Returns the output
        name, or the list of names when several outputs were asked for."""
        from onnx import helper
        if isinstance(outputs, int):
            outs = [self.fresh(f"{self.prefix}{op_type}_out") for _ in range(outputs)]
        else:
            outs = list(outputs)
        ins = ["" if i is None else i for i in inputs]
        while ins and ins[-1] == "":                     # trailing omitted inputs are left out
            ins.pop()
        node_name = self.fresh(f"{self.prefix}{op_type}")
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, ins, outs, name=node_name, **attrs))
        return outs[0] if len(outs) == 1 else outs

    # ---------------------------------------------------------------- constants & weights
    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        """A constant tensor (an initializer), shared by every use of the same value."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            self._consts[key] = self._add_initializer(arr, self.fresh(hint))
        return self._consts[key]

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 constant (shapes, axes, pads)."""
        return self.const(np.asarray(list(values), np.int64), hint="ints")

    def initializer(self, arr: np.ndarray, name: str) -> str:
        self.reserve(name)
        return self._add_initializer(arr, name)

    def _add_initializer(self, arr: np.ndarray, name: str) -> str:
        from onnx import numpy_helper
        self.initializers.append(numpy_helper.from_array(np.array(arr, order="C"), name))   # 0-d stays 0-d
        return name

    # ------------------------------------------------------------------ dynamic sizes
    def dim(self, size_a: int, size_b: int) -> str | None:
        """A 1-element int64 tensor with the run-time size that was size_a in the example
        trace and size_b in the companion trace, read from a graph input; None if no dynamic
        graph-input axis had those sizes."""
        key = (size_a, size_b)
        if key not in self._dims:
            if key not in self.dim_sources:
                return None
            name, axis = self.dim_sources[key]
            shape = self.op("Shape", name)
            self._dims[key] = self.op("Gather", shape, self.ints([axis]), axis=0)
        return self._dims[key]

    def shape_tensor(self, entries: Sequence[int | str]) -> str:
        """A 1-D int64 shape from ints and 1-element tensors (from `dim`): a constant when
        every entry is an int, else a Concat."""
        if all(isinstance(e, (int, np.integer)) for e in entries):
            return self.ints(entries)
        parts: list[str] = []
        run: list[int] = []
        for e in entries:
            if isinstance(e, str):
                if run:
                    parts.append(self.ints(run))
                    run = []
                parts.append(e)
            else:
                run.append(int(e))
        if run:
            parts.append(self.ints(run))
        return self.op("Concat", *parts, axis=0)

    # ------------------------------------------------------------------------ reductions
    def reduce(self, op_type: str, x: str, axes: Sequence[int], keepdims: bool) -> str:
        """ReduceSum/Mean/Max/Min over `axes`: axes as an input where the opset says so
        (ReduceSum from 13, the others from 18), else as an attribute."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.ints(axes), keepdims=int(keepdims))
        return self.op(op_type, x, axes=axes, keepdims=int(keepdims))
