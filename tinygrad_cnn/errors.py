"""The exception types the framework raises for bad input, so callers can catch them precisely.

Each derives from the built-in type a Python or PyTorch user would expect (ValueError for
bad shapes and arguments, TypeError for bad dtypes, RuntimeError for misuse of the engine),
and every message names the op, the argument and the shapes involved.
"""


class ShapeError(ValueError):
    """Tensor shapes that do not fit the op (broadcasting, matmul, conv channels, output size)."""


class ArgumentError(ValueError):
    """A non-tensor argument out of its domain (a stride of 0, an unknown reduction, a bad dim)."""


class DTypeError(TypeError):
    """A dtype the op cannot take (requires_grad on an integer tensor, float labels, ...)."""


class BackwardError(RuntimeError):
    """Misuse of the autograd engine: freed graphs, wrong gradient counts/shapes, non-scalar roots."""


class AnomalyError(FloatingPointError):
    """Anomaly mode found NaN/Inf in an op's output or gradient (names the op and call site)."""


class StateDictError(RuntimeError):
    """load_state_dict found missing/unexpected keys or shape mismatches (all listed at once)."""


class CheckpointError(ValueError):
    """A checkpoint could not be written or read; the message names the file and the key."""


class CheckpointTypeError(CheckpointError, TypeError):
    """tc.save was given something a checkpoint cannot hold (a set, an object array, ...)."""


class CheckpointWriteError(OSError, CheckpointError):
    """The operating system refused a save (disk full, permissions); the old file is intact."""


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the places searched (the message lists them)."""


class CorruptDatasetError(ValueError):
    """A dataset file is truncated, not valid IDX/gzip, or fails its checksum."""


class ImageDecodeError(CorruptDatasetError, OSError):
    """An image file Pillow cannot decode (not an image, or truncated); the message names the
    file. An OSError too, as Pillow's own UnidentifiedImageError."""


class DownloadError(OSError):
    """No mirror delivered a file with the right checksum (the message says what each did)."""


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz `dot` executable is not installed (or not on PATH); DOT text still works."""


class WorkspaceError(RuntimeError):
    """An op's workspace (a conv's im2col columns) cannot be cut to fit tc.set_workspace_limit:
    even its smallest piece is bigger (the message names the sizes and the limit)."""


class DeviceError(RuntimeError):
    """A device other than the CPU was asked for (tinygrad_cnn computes on the CPU with NumPy)."""


class AllocationError(MemoryError):
    """An array an op needs could not be allocated (the message names the op, shape and bytes)."""


class NumpyArgumentError(ArgumentError, IndexError):
    """A NumPy function called on Tensors (np.sum(t, axis=5), np.add.reduce(t, ...)) refused
    its arguments: the message names the NumPy function and keeps NumPy's reason. Both a
    ValueError and an IndexError, as NumPy's own AxisError."""
