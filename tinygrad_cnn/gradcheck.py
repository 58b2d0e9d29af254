"""Gradient checking: the analytic Jacobian (from backward) against central differences."""
from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from .autograd import no_grad
from .tensor import Tensor

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """The analytic and numerical gradients disagree (message: input, worst element, errors)."""


def _outputs(result: Any) -> list[Tensor]:
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [o for o in items if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _flat_outputs(fn: Callable, inputs: Sequence[Any]) -> np.ndarray:
    with no_grad():
        outs = _outputs(fn(*inputs))
    return np.concatenate([o.data.astype(np.float64).ravel() for o in outs]) if outs else np.zeros(0)


def _numerical_jacobian(fn: Callable, inputs: list, i: int, eps: float) -> np.ndarray:
    """J[k, j] = (f_k(x + eps e_j) - f_k(x - eps e_j)) / 2eps, perturbing input i in place."""
    x = inputs[i].data
    flat = x.reshape(-1)                      # a view: writing it perturbs the input
    columns = []
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = _flat_outputs(fn, inputs)
        flat[j] = orig - eps
        minus = _flat_outputs(fn, inputs)
        flat[j] = orig
        columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((0, 0))


def _analytic_jacobian(fn: Callable, inputs: list, wanted: list[int]) -> dict[int, np.ndarray]:
    """J[k, :] = d out_k / d input, one backward pass per output element (retain_graph=True)."""
    outs = _outputs(fn(*inputs))
    sizes = [o.data.size for o in outs]
    total = sum(sizes)
    jac = {i: np.zeros((total, inputs[i].data.size)) for i in wanted}
    row = 0
    for o, n in zip(outs, sizes):
        for k in range(n):
            if o.requires_grad:
                for i in wanted:
                    inputs[i].grad = None
                onehot = np.zeros(o.shape, dtype=o.dtype)
                onehot.reshape(-1)[k] = 1
                o.backward(onehot, retain_graph=True)
                for i in wanted:
                    g = inputs[i].grad
                    if g is not None:
                        jac[i][row] = g.data.reshape(-1)
            row += 1
    for i in wanted:
        inputs[i].grad = None
    return jac


def _report(i: int, analytic: np.ndarray, numerical: np.ndarray, in_shape: tuple,
            out_total: int, atol: float, rtol: float) -> str:
    err = np.abs(analytic - numerical)
    worst = np.unravel_index(np.argmax(err - rtol * np.abs(numerical)), err.shape)
    in_index = np.unravel_index(worst[1], in_shape) if in_shape else ()
    rel = err / np.maximum(np.abs(numerical), 1e-12)
    msg = (f"Jacobian mismatch for input {i} (shape {in_shape}): worst at input index "
           f"{tuple(int(v) for v in in_index)}, flat output index {int(worst[0])} of {out_total}: "
           f"analytic {analytic[worst]:.6g} vs numerical {numerical[worst]:.6g}; "
           f"max abs error {err.max():.3g}, max rel error {rel.max():.3g} "
           f"(atol={atol:g}, rtol={rtol:g})")
    if analytic.size <= 64:
        msg += ("\nanalytic Jacobian (rows: outputs, columns: input elements):\n"
                + np.array2string(analytic, precision=4)
                + "\nnumerical Jacobian:\n" + np.array2string(numerical, precision=4))
    return msg


def gradcheck(fn: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, fast_mode: bool = False) -> bool:
    """Check the gradients of `fn` at `inputs` for every input that requires grad.

    Compares, elementwise, |analytic - numerical| <= atol + rtol * |numerical|, where the
    numerical Jacobian comes from central differences (f(x+eps) - f(x-eps)) / 2eps. With
    `fast_mode`, compares the projections vᵀJu for random unit vectors u, v instead (one
    backward and two forwards per input). Returns True, or raises GradcheckError (returns
    False when raise_exception=False) naming the input, the worst element and the errors.
    """
    inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    wanted = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wanted:
        raise GradcheckError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in wanted:
        if inputs[i].dtype != np.float64:
            warnings.warn(f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences "
                          f"are only reliable in float64 (tc.float64)", stacklevel=2)
    failures = []
    if fast_mode:
        failures = _fast_check(fn, inputs, wanted, eps, atol, rtol)
    else:
        out_total = _flat_outputs(fn, inputs).size
        analytic = _analytic_jacobian(fn, inputs, wanted)
        for i in wanted:
            numerical = _numerical_jacobian(fn, inputs, i, eps)
            a = analytic[i]
            if numerical.shape != a.shape:
                numerical = numerical.reshape(a.shape)
            if not np.all(np.abs(a - numerical) <= atol + rtol * np.abs(numerical)):
                failures.append(_report(i, a, numerical, inputs[i].shape, out_total, atol, rtol))
    if failures:
        if raise_exception:
            raise GradcheckError("gradcheck failed:\n" + "\n".join(failures))
        return False
    return True


def _fast_check(fn: Callable, inputs: list, wanted: list[int], eps: float, atol: float,
                rtol: float) -> list[str]:
    rng = np.random.default_rng(0)
    outs = _outputs(fn(*inputs))
    vs = [rng.standard_normal(o.shape) for o in outs]
    for i in wanted:
        inputs[i].grad = None
    diff = [o for o in outs if o.requires_grad]
    if diff:
        total = sum((o * Tensor._wrap(v.astype(o.dtype))).sum() for o, v in zip(outs, vs) if o.requires_grad)
        total.backward()
    v_flat = np.concatenate([v.ravel() for v in vs]) if vs else np.zeros(0)
    failures = []
    for i in wanted:
        x = inputs[i].data
        u = rng.standard_normal(x.shape)
        u /= np.linalg.norm(u) or 1.0
        g = inputs[i].grad
        analytic = float(np.sum((g.data if g is not None else 0) * u))
        orig = x.copy()
        x += eps * u
        plus = _flat_outputs(fn, inputs)
        x[...] = orig - eps * u
        minus = _flat_outputs(fn, inputs)
        x[...] = orig
        numerical = float(np.dot((plus - minus) / (2 * eps), v_flat))
        inputs[i].grad = None
        if abs(analytic - numerical) > atol + rtol * abs(numerical):
            failures.append(f"fast-mode projection vᵀJu mismatch for input {i} (shape {x.shape}): "
                            f"analytic {analytic:.6g} vs numerical {numerical:.6g}, abs error "
                            f"{abs(analytic - numerical):.3g} (atol={atol:g}, rtol={rtol:g}); "
                            f"rerun without fast_mode to locate the element")
    return failures
