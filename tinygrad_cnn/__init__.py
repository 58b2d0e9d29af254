"""tinygrad_cnn: a small, fast, honest deep-learning framework on NumPy.

    import tinygrad_cnn as tc
    x = tc.randn(3, 4, requires_grad=True)
    (x @ x.T).relu().sum().backward()
    x.grad
"""
from . import autograd
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .errors import ArgumentError, BackwardError, DTypeError, ShapeError
from .gradcheck import GradcheckError, gradcheck
from .rng import manual_seed
from .tensor import *  # noqa: F401,F403  (Tensor, factories, dtypes, tc.exp & co.)
from .tensor import Tensor, __all__ as _tensor_all

__version__ = "0.1.0"


def _function_form(name: str):
    """tc.exp(x), tc.sum(x, dim=1), ... as in torch.*: the function form of a Tensor method."""
    def fn(input: Tensor, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"tc.{name}(x, ...) is x.{name}(...)."
    return fn


_FUNCTION_FORMS = ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clamp", "sum", "mean",
                   "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "reshape",
                   "flatten", "unsqueeze", "squeeze", "permute", "transpose", "softmax",
                   "log_softmax", "clone"]
globals().update({_n: _function_form(_n) for _n in _FUNCTION_FORMS})

__all__ = ["autograd", "Function", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "gradcheck", "GradcheckError", "manual_seed", "ShapeError",
           "ArgumentError", "DTypeError", "BackwardError", "Tensor", *_tensor_all, *_FUNCTION_FORMS]
