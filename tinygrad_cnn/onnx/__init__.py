"""ONNX export: `tc.onnx.export(model, example_input, "model.onnx", ...)`.

The forward pass is recorded (trace.py), each recorded op is converted by its entry in the op
table (ops.py) and the weights become initializers named as in the state dict. Needs the
optional `onnx` package (`pip install tinygrad_cnn[onnx]`) only when `export` runs: importing
this module does not import onnx. docs/interop.md ("ONNX export") says what is covered.
"""
from .export import MAX_OPSET, MIN_OPSET, export
from .ops import CONVERTERS, register
from .trace import ExportError

__all__ = ["export", "register", "ExportError", "CONVERTERS", "MIN_OPSET", "MAX_OPSET"]
