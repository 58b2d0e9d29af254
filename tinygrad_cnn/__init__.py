"""tinygrad_cnn: a small, fast, honest deep-learning framework on NumPy.

    import tinygrad_cnn as tc
    x = tc.randn(3, 4, requires_grad=True)
    (x @ x.T).relu().sum().backward()
    x.grad
"""
from . import autograd
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .errors import ArgumentError, BackwardError, DeviceError, DTypeError, ShapeError, WorkspaceError
from .devices import accelerator, cuda, device  # noqa: F401  (tc.device('cpu'), tc.cuda.is_available())
from . import backends  # noqa: F401  (tc.backends.conv_algorithm; cudnn.benchmark = True: accepted, no effect)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .rng import Generator, initial_seed, manual_seed, seed  # noqa: F401  (torch.Generator's API)
from .tensor import *  # noqa: F401,F403  (Tensor, factories, dtypes, tc.exp & co.)
from .tensor import Tensor, __all__ as _tensor_all
from . import data  # noqa: E402  (tc.data.DataLoader, tc.data.MNIST, ...)
from . import nn, optim, models  # noqa: E402  (tc.nn.Module, tc.optim.SGD, tc.models.LeNet5)
from .nn.utils import summary  # noqa: E402  (tc.summary(model, input_size=(1, 1, 28, 28)))
from .serialization import CheckpointError, load, load_safetensors, save, save_safetensors  # noqa: E402,E501  (.npz/.safetensors/.pt, no pickle)
from . import serialization  # noqa: E402  (tc.serialization.set_load_limits)
from .autograd import functional as _autograd_functional  # noqa: E402,F401  (tc.autograd.functional)
from . import gradcheck_suite, jit, viz  # noqa: E402  (tc.viz.draw_graph, tc.gradcheck_suite.register)
from . import onnx  # noqa: E402  (tc.onnx.export; the onnx package is imported only when it runs)
from . import multiprocessing, utils  # noqa: E402  (tc.utils.data, tc.utils.checkpoint, Hogwild)
from .gradcheck import GradcheckWarning  # noqa: E402
from .ops.workspace import get_workspace_limit, set_workspace_limit  # noqa: E402  (conv im2col memory cap)
from .ops.parallel import get_blas_core, get_blas_threads, get_num_threads, set_blas_threads, set_num_threads  # noqa: E402,E501

__version__ = "0.1.0"


def _function_form(name: str):
    """tc.exp(x), tc.sum(x, dim=1), ... as in torch.*: the function form of a Tensor method."""
    def fn(input: Tensor, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"tc.{name}: input must be a tc.Tensor, got {type(input).__name__}; "
                            f"wrap data with tc.tensor(...)")
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"tc.{name}(x, ...) is x.{name}(...)."
    return fn


_FUNCTION_FORMS = ["exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "clamp", "sum", "mean",
                   "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "reshape",
                   "flatten", "unsqueeze", "squeeze", "permute", "transpose", "softmax",
                   "log_softmax", "clone", "norm"]
globals().update({_n: _function_form(_n) for _n in _FUNCTION_FORMS})
from .tensor import DTYPE_ALIASES as _DTYPE_ALIASES  # noqa: E402
globals().update(_DTYPE_ALIASES)          # tc.long, tc.float, tc.double, tc.half, tc.bool, ...

__all__ = ["autograd", "data", "utils", "multiprocessing", "device", "cuda", "accelerator", "backends", "DeviceError", "nn", "optim", "models", "onnx", "jit", "save", "load", "save_safetensors", "load_safetensors", "serialization", "CheckpointError",
           "Function", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "GradcheckWarning", "viz", "gradcheck_suite", "manual_seed", "ShapeError",
           "ArgumentError", "DTypeError", "BackwardError", "WorkspaceError", "Tensor", "set_workspace_limit",
           "set_num_threads", "get_num_threads", "set_blas_threads", "get_blas_threads",
           "get_workspace_limit", *_tensor_all, *_FUNCTION_FORMS]   # dtype aliases stay out: `import *` would shadow int/float/bool
__all__ += ["summary"]                       # tc.summary: nn.utils.summary
