"""Gradient checking: the analytic Jacobian (from backward) against central differences.

    tc.gradcheck(fn, (x, w))          # a function of tensors: every input with requires_grad
    tc.gradcheck(model, (x,))         # a Module: its inputs that require grad and all parameters

How it works (docs/gradcheck.md has the long version)
    analytic   one backward per output element k, with a one-hot gradient: row k of J.
    numerical  for every input element j: (f(x + eps e_j) - f(x - eps e_j)) / 2 eps, column j.
    compare    elementwise  |analytic - numerical| <= atol + rtol * |numerical|.

What it adds to a plain finite-difference check
    * float32 tensors (inputs, parameters and buffers) are checked as float64 copies, with a
      `GradcheckWarning` saying so, because float32 rounding noise divided by eps is larger than
      any sensible tolerance; the caller's tensors, their .grad and the module are left as they
      were (parameters and buffers are restored, even when fn raises).
    * the framework's random generator is reseeded before every evaluation, so dropout draws
      the same mask each time; a function that still gives two different results at the same
      point is reported as non-deterministic instead of as a wrong gradient.
    * kinks and ties: the one-sided differences (f(x+eps) - f(x))/eps and (f(x) - f(x-eps))/eps
      come for free (f(x) is computed once). Where they disagree beyond tolerance, the
      perturbation crossed a non-differentiable point (relu's zero, a max-pool tie, |x| at 0) and
      the central difference means nothing. If such an element also fails the comparison, it is
      re-drawn slightly (moved by ~`resample_scale`) and the whole check repeated, up to
      `max_resamples` times; an element still at a kink after that passes only if the analytic
      value lies between the two one-sided derivatives (a valid subgradient). Elements at a
      kink never hide a wrong gradient at a smooth point: detection is purely numerical.
    * failure reports: per input, the worst elements (top-k) with input index, output index,
      analytic, numerical and errors; for small Jacobians both side by side with the failing
      entries marked; and hints when the error has a recognisable shape (all zero, a constant
      factor such as 2 or -1, a transposed gradient, NaN).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import rng as _rng
from .autograd import no_grad
from .argcheck import check_callable, check_flag, check_int, check_number
from .tensor import Tensor

__all__ = ["gradcheck", "check_gradients", "GradcheckError", "GradcheckWarning",
           "GradcheckResult", "InputCheck"]


class GradcheckError(RuntimeError):
    """The analytic and numerical gradients disagree (message: input, worst elements, errors)."""


class GradcheckWarning(UserWarning):
    """A note about how the check was run (float32 upcast to float64, elements resampled...)."""


# ------------------------------------------------------------------------------ results
@dataclass
class InputCheck:
    """The comparison for one checked tensor (an input or a module parameter)."""
    label: str                      # "input 0" or "parameter 'conv1.weight'"
    shape: tuple
    passed: bool = True
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    checked: int = 0                # number of elements (Jacobian columns) compared
    failed: int = 0                 # Jacobian entries out of tolerance
    worst: list = field(default_factory=list)       # dicts: index, output, analytic, numerical, ...
    resampled: list = field(default_factory=list)   # input indices moved off a kink
    at_kink: list = field(default_factory=list)     # indices still at a kink, accepted as subgradient
    hints: list = field(default_factory=list)
    analytic: np.ndarray | None = None               # the Jacobians (kept when small)
    numerical: np.ndarray | None = None
    columns: np.ndarray | None = None                # flat input indices of the columns
    projection: tuple | None = None                  # fast mode: (analytic, numerical)


@dataclass
class GradcheckResult:
    """What `check_gradients` measured; `bool(result)` is whether every input passed."""
    passed: bool
    inputs: list
    eps: float
    atol: float
    rtol: float
    dtype: str = "float64"
    notes: list = field(default_factory=list)
    evaluations: int = 0            # forward calls of fn
    backwards: int = 0              # backward passes
    seconds: float = 0.0
    output_shapes: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def max_abs_err(self) -> float:
        return max((c.max_abs_err for c in self.inputs), default=0.0)

    @property
    def max_rel_err(self) -> float:
        return max((c.max_rel_err for c in self.inputs), default=0.0)

    def report(self) -> str:
        """The human-readable report (what GradcheckError carries when the check fails)."""
        bad = [c for c in self.inputs if not c.passed]
        head = (f"gradcheck {'passed' if self.passed else 'FAILED'}: "
                f"{len(bad)} of {len(self.inputs)} checked tensors out of tolerance "
                f"(eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}, {self.dtype}; "
                f"{self.evaluations} evaluations, {self.backwards} backward passes, "
                f"{self.seconds:.2f} s)")
        parts = [head]
        parts += ["note: " + n for n in self.notes]
        for c in self.inputs:
            parts.append(_describe(c, self))
        return "\n".join(parts)


# ------------------------------------------------------------------------------ helpers
def _float_outputs(result: Any) -> list[Tensor]:
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [o for o in items if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _is_module(obj: Any) -> bool:
    return callable(obj) and hasattr(obj, "named_parameters") and hasattr(obj, "forward")


class _Evaluator:
    """Calls fn with the framework's generator reseeded identically before every call."""

    def __init__(self, fn: Callable, args: list, seed: int) -> None:
        self.fn, self.args, self.seed = fn, args, seed
        self.calls = 0

    def outputs(self, record: bool) -> list[Tensor]:
        _rng._state["generator"] = np.random.default_rng(self.seed)
        self.calls += 1
        if record:
            return _float_outputs(self.fn(*self.args))
        with no_grad():
            return _float_outputs(self.fn(*self.args))

    def flat(self) -> np.ndarray:
        outs = self.outputs(record=False)
        if not outs:
            return np.zeros(0)
        return np.concatenate([o._data.astype(np.float64).ravel() for o in outs])


class _Checked:
    """One tensor under check: where its data lives and how to label it."""

    def __init__(self, label: str, tensor: Tensor) -> None:
        self.label, self.tensor = label, tensor

    @property
    def _data(self) -> np.ndarray:
        return self.tensor._data


class _Restorer:
    """Remembers what the check changes (module parameters, buffers, the generator) and puts it
    back, so a gradcheck leaves no trace even when fn raises."""

    def __init__(self) -> None:
        self.arrays: list[tuple[Tensor, np.ndarray, Any]] = []     # (tensor, data, grad)
        self.attrs: list[tuple[Any, str, Any]] = []                # (module, name, tensor)
        self.generator = _rng._state["generator"]

    def swap(self, t: Tensor, new: np.ndarray) -> None:
        self.arrays.append((t, t._data, t.grad))
        t._data = new

    def restore(self) -> None:
        for t, data, grad in reversed(self.arrays):
            t._data, t.grad = data, grad
        for owner, name, t in self.attrs:
            if getattr(owner, name, t) is not t:
                setattr(owner, name, t)
        _rng._state["generator"] = self.generator


def _prepare(fn: Callable, inputs: Any, upcast: bool, restorer: _Restorer
             ) -> tuple[list, list[_Checked], list[str], str]:
    """Copies of the inputs (float64 when upcasting) and the list of tensors to check."""
    raw = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    upcast_names: list[str] = []
    low_precision: list[str] = []
    args: list = []
    checked: list[_Checked] = []
    copies: dict[int, Tensor] = {}
    for i, x in enumerate(raw):
        if not isinstance(x, Tensor):
            args.append(x)
            continue
        if id(x) in copies:                      # the same tensor passed twice stays one tensor
            args.append(copies[id(x)])
            continue
        data = x._data
        if x.dtype.kind == "f" and x.dtype != np.float64:
            if upcast:
                data = data.astype(np.float64)
                upcast_names.append(f"input {i}")
            elif x.requires_grad:
                low_precision.append(f"input {i}")
        # a fresh leaf: perturbing it never touches the caller's array, and a non-leaf input
        # (with a grad_fn) becomes a leaf whose .grad backward fills
        copy = Tensor._wrap(np.array(data, copy=True))
        copy.requires_grad = bool(x.requires_grad)
        copy.name = x.name
        copies[id(x)] = copy
        args.append(copy)
        if x.requires_grad:
            checked.append(_Checked(f"input {i}", copy))
    if _is_module(fn):
        seen = {id(c.tensor) for c in checked}
        for mname, m in _named(fn, "named_modules"):
            for bname, b in _named(m, "named_buffers", recurse=False):
                if isinstance(b, Tensor):
                    restorer.attrs.append((m, bname, b))
                    new = b._data.astype(np.float64) if upcast and b.dtype.kind == "f" and b.dtype != np.float64 else b._data.copy()
                    restorer.swap(b, new)
        for name, p in _named(fn, "named_parameters"):
            if id(p) in seen:
                continue
            seen.add(id(p))
            if p.dtype.kind == "f" and p.dtype != np.float64:
                if upcast:
                    upcast_names.append(f"parameter '{name}'")
                elif p.requires_grad:
                    low_precision.append(f"parameter '{name}'")
            new = p._data.astype(np.float64) if upcast and p.dtype.kind == "f" else p._data.copy()
            restorer.swap(p, new)
            p.grad = None
            if p.requires_grad:
                checked.append(_Checked(f"parameter '{name}'", p))
    notes = []
    if upcast_names:
        shown = ", ".join(upcast_names[:6]) + (f" and {len(upcast_names) - 6} more" if len(upcast_names) > 6 else "")
        notes.append(f"{shown} {'is' if len(upcast_names) == 1 else 'are'} float32 (or float16): "
                     f"checked as float64 copies, because float32 rounding noise divided by eps "
                     f"would swamp the comparison; the originals are unchanged "
                     f"(pass upcast=False to check in the original dtype)")
    if low_precision:
        notes.append(f"{', '.join(low_precision)} {'is' if len(low_precision) == 1 else 'are'} "
                     f"not float64 and upcast=False: finite differences are only reliable in "
                     f"float64, expect failures from rounding noise")
    dtype = "float64" if not low_precision else "mixed precision"
    return args, checked, notes, dtype


def _named(module: Any, method: str, **kw: Any) -> list:
    f = getattr(module, method, None)
    if f is None:
        return []
    try:
        return list(f(**kw))
    except TypeError:
        return list(f()) if kw else []


# --------------------------------------------------------------------------- the Jacobians
def _analytic(ev: _Evaluator, checked: list[_Checked]) -> tuple[dict, int, list]:
    """J[k, :] = d out_k / d tensor, one backward per output element (retain_graph=True)."""
    outs = ev.outputs(record=True)
    sizes = [o._data.size for o in outs]
    total = sum(sizes)
    jac = {id(c): np.zeros((total, c._data.size)) for c in checked}
    backwards = 0
    row = 0
    for o, n in zip(outs, sizes):
        for k in range(n):
            if o.requires_grad:
                for c in checked:
                    c.tensor.grad = None
                onehot = np.zeros(o.shape, dtype=o.dtype)
                onehot.reshape(-1)[k] = 1
                o.backward(onehot, retain_graph=True)
                backwards += 1
                for c in checked:
                    g = c.tensor.grad
                    if g is not None:
                        jac[id(c)][row] = np.asarray(g._data, dtype=np.float64).reshape(-1)
            row += 1
    for c in checked:
        c.tensor.grad = None
    return jac, backwards, [(o.shape, o.dtype) for o in outs]


def _numerical(ev: _Evaluator, c: _Checked, columns: np.ndarray, f0: np.ndarray, eps: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central, forward and backward differences for the given flat input indices."""
    x = c._data
    n_out = f0.size
    central = np.zeros((n_out, len(columns)))
    forward = np.zeros_like(central)
    backward = np.zeros_like(central)
    for col, j in enumerate(columns):
        # index the array itself (not x.reshape(-1), a copy when x is not C-contiguous)
        idx = np.unravel_index(int(j), x.shape) if x.ndim else ()
        orig = x[idx]
        try:
            x[idx] = orig + eps
            plus = ev.flat()
            x[idx] = orig - eps
            minus = ev.flat()
        finally:
            x[idx] = orig
        central[:, col] = (plus - minus) / (2 * eps)
        forward[:, col] = (plus - f0) / eps
        backward[:, col] = (f0 - minus) / eps
    return central, forward, backward


def _kinks(forward: np.ndarray, backward: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """Columns where the one-sided differences disagree: the perturbation crossed a kink."""
    scale = np.maximum(np.abs(forward), np.abs(backward))
    with np.errstate(invalid="ignore"):
        jump = np.abs(forward - backward) > atol + rtol * scale
    return jump.any(axis=0) if jump.size else np.zeros(forward.shape[1], dtype=bool)


# ------------------------------------------------------------------------------ the check
def _check_options(fn: Any, *, eps: Any, atol: Any, rtol: Any, fast_mode: Any, upcast: Any,
                   kink_aware: Any, max_resamples: Any, resample_scale: Any, samples: Any,
                   topk: Any, seed: Any, op: str = "gradcheck") -> None:
    """Every option's type and range, before any work (errors name the option)."""
    check_callable(fn, "fn", op)
    if not check_number(eps, "eps", op, finite=True) > 0:
        raise ValueError(f"{op}: eps must be positive, got {eps}")
    check_number(atol, "atol", op, minimum=0)
    check_number(rtol, "rtol", op, minimum=0)
    check_number(resample_scale, "resample_scale", op, minimum=0, finite=True)
    for name, value in (("fast_mode", fast_mode), ("upcast", upcast), ("kink_aware", kink_aware)):
        check_flag(value, name, op)
    check_int(max_resamples, "max_resamples", op, minimum=0)
    check_int(samples, "samples", op, minimum=1, allow_none=True)
    check_int(topk, "topk", op, minimum=0)
    check_int(seed, "seed", op, minimum=0)


def check_gradients(fn: Callable[..., Any], inputs: Any, *, eps: float = 1e-6,
                    atol: float = 1e-5, rtol: float = 1e-3, fast_mode: bool = False,
                    upcast: bool = True, kink_aware: bool = True, max_resamples: int = 3,
                    resample_scale: float = 1e-3, samples: int | None = None, topk: int = 5,
                    seed: int = 0, _stacklevel: int = 2) -> GradcheckResult:
    """Run the check and return a `GradcheckResult` (never raises for a mismatch).

    `fn` is a callable of `inputs` returning a Tensor or a tuple of Tensors, or a Module (then
    its parameters are checked too). `samples` limits the numerical check to that many random
    elements per tensor (the analytic rows are still complete), for models with many
    parameters. `seed` seeds both the element sampling/resampling and the framework generator
    that fn sees (reset before each evaluation, so dropout is repeatable).
    """
    _check_options(fn, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode, upcast=upcast,
                   kink_aware=kink_aware, max_resamples=max_resamples, resample_scale=resample_scale,
                   samples=samples, topk=topk, seed=seed)
    start = time.perf_counter()
    restorer = _Restorer()
    try:
        args, checked, notes, dtype = _prepare(fn, inputs, upcast, restorer)
        for note in notes:                   # the dtype notes are warnings; the rest stay notes
            warnings.warn("gradcheck: " + note, GradcheckWarning, stacklevel=_stacklevel)
        if not checked:
            raise GradcheckError("gradcheck: no input has requires_grad=True"
                                 + (" and the module has no parameter that requires grad"
                                    if _is_module(fn) else "") + ", so there is nothing to check")
        ev = _Evaluator(fn, args, seed)
        pick = np.random.default_rng(seed)
        try:
            f0 = ev.flat()
        except TypeError as e:            # DTypeError included: float64 copies met float32 state
            if not any("float64 copies" in n for n in notes):
                raise
            raise GradcheckError(
                f"gradcheck: fn failed on the float64 copies of its float32 inputs ({e}). If fn "
                f"uses float32 tensors it holds itself, e.g. a model's parameters, pass the Module "
                f"(tc.gradcheck(model, (x,)) upcasts its parameters too), or make everything "
                f"float64 (model.double()), or pass upcast=False.") from e
        f0_again = ev.flat()
        if not np.array_equal(f0, f0_again, equal_nan=True):
            k = int(np.nanargmax(np.abs(f0 - f0_again)))
            raise GradcheckError(
                f"gradcheck: fn is not deterministic: two evaluations at the same point differ "
                f"at flat output {k} ({f0[k]!r} vs {f0_again[k]!r}). Finite differences need a "
                f"deterministic function; randomness drawn from tc's generator (dropout) is "
                f"reseeded before each call, so look for np.random or other outside state.")
        if fast_mode:
            result = _fast(ev, checked, f0, eps, atol, rtol, kink_aware, max_resamples,
                           resample_scale, pick, topk)
        else:
            result = _full(ev, checked, f0, eps, atol, rtol, kink_aware, max_resamples,
                           resample_scale, samples, pick, topk)
        result.notes[:0] = notes
        result.dtype = dtype
        result.evaluations = ev.calls
        # after upcasting, float32 outputs mean the op computes in float32 inside
        out32 = [i for i, (s, d) in enumerate(result.output_shapes) if d != np.float64]
        if out32 and upcast and not result.passed:
            result.notes.append(f"output(s) {out32} are {result.output_shapes[out32[0]][1]} although "
                                f"every input was float64: fn computes in lower precision "
                                f"inside, so the numerical Jacobian carries its rounding noise")
    finally:
        restorer.restore()
    result.seconds = time.perf_counter() - start
    return result


def _full(ev: _Evaluator, checked: list[_Checked], f0: np.ndarray, eps: float, atol: float,
          rtol: float, kink_aware: bool, max_resamples: int, resample_scale: float,
          samples: int | None, pick: np.random.Generator, topk: int) -> GradcheckResult:
    columns = {}
    for c in checked:
        n = c._data.size
        columns[id(c)] = (np.sort(pick.choice(n, size=samples, replace=False))
                          if samples is not None and samples < n else np.arange(n))
    resampled: dict[int, list] = {id(c): [] for c in checked}
    backwards = 0
    for attempt in range(max_resamples + 1):
        jac, nb, out_meta = _analytic(ev, checked)
        backwards += nb
        if attempt:
            f0 = ev.flat()
        records = []
        to_move: list[tuple[_Checked, np.ndarray]] = []
        for c in checked:
            cols = columns[id(c)]
            a = jac[id(c)][:, cols]
            num, fwd, bwd = _numerical(ev, c, cols, f0, eps)
            with np.errstate(invalid="ignore"):
                bad = ~(np.abs(a - num) <= atol + rtol * np.abs(num))
            kink = _kinks(fwd, bwd, atol, rtol) if kink_aware else np.zeros(len(cols), bool)
            move = kink & bad.any(axis=0)
            records.append((c, cols, a, num, fwd, bwd, bad, kink))
            if move.any():
                to_move.append((c, cols[move]))
        if not to_move or attempt == max_resamples:
            break
        for c, flat_idx in to_move:               # re-draw the offending elements slightly
            x = c._data
            for j in flat_idx:
                idx = np.unravel_index(int(j), x.shape) if x.ndim else ()
                step = resample_scale * max(1.0, abs(float(x[idx])))
                x[idx] = x[idx] + pick.choice((-1.0, 1.0)) * step * pick.uniform(0.5, 1.0)
                resampled[id(c)].append(int(j))

    result = GradcheckResult(passed=True, inputs=[], eps=eps, atol=atol, rtol=rtol,
                             backwards=backwards, output_shapes=out_meta)
    for c, cols, a, num, fwd, bwd, bad, kink in records:
        ic = InputCheck(label=c.label, shape=tuple(c._data.shape), checked=len(cols), columns=cols)
        ic.resampled = sorted(set(resampled[id(c)]))
        if kink_aware:
            # still at a kink after resampling: a valid subgradient lies between the one-sided
            # derivatives, so accept the analytic value there and only there
            tol = atol + rtol * np.maximum(np.abs(fwd), np.abs(bwd))
            lo, hi = np.minimum(fwd, bwd) - tol, np.maximum(fwd, bwd) + tol
            sub_ok = (a >= lo) & (a <= hi)
            accept = bad & kink[None, :] & sub_ok
            if accept.any():
                ic.at_kink = [int(j) for j in cols[accept.any(axis=0)]]
                bad = bad & ~accept
        err = np.abs(a - num)
        denom = np.maximum(np.abs(a), np.abs(num))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(denom > atol, err / np.where(denom > 0, denom, 1), 0.0)
        ic.max_abs_err = float(err.max()) if err.size else 0.0      # NaN stays NaN
        ic.max_rel_err = float(rel.max()) if rel.size else 0.0
        ic.failed = int(bad.sum())
        ic.passed = ic.failed == 0
        if not ic.passed:
            ic.worst = _worst(a, num, bad, cols, c._data.shape, out_meta, atol, rtol, topk)
            ic.hints = _hints(a, num, bad, c._data.shape, cols)
        if a.size <= 4096:
            ic.analytic, ic.numerical = a, num
        result.inputs.append(ic)
        if ic.resampled:
            result.notes.append(f"{c.label}: {len(ic.resampled)} element(s) sat on a kink or tie "
                                f"(one-sided differences disagreed) and were moved by about "
                                f"{resample_scale:g}·max(1,|x|): flat indices {ic.resampled[:10]}"
                                + (" ..." if len(ic.resampled) > 10 else ""))
        if ic.at_kink:
            result.notes.append(f"{c.label}: {len(ic.at_kink)} element(s) still at a kink after "
                                f"{max_resamples} resamples; their analytic value lies between the "
                                f"one-sided derivatives (a valid subgradient) and was accepted")
        if len(cols) < c._data.size:
            result.notes.append(f"{c.label}: checked {len(cols)} of {c._data.size} elements (samples={len(cols)})")
    result.passed = all(ic.passed for ic in result.inputs)
    return result


def _fast(ev: _Evaluator, checked: list[_Checked], f0: np.ndarray, eps: float, atol: float,
          rtol: float, kink_aware: bool, max_resamples: int, resample_scale: float,
          pick: np.random.Generator, topk: int) -> GradcheckResult:
    """vᵀJu for random unit u (per tensor) and v: one backward and two forwards per tensor."""
    result = GradcheckResult(passed=True, inputs=[], eps=eps, atol=atol, rtol=rtol)
    for c in checked:
        ic = InputCheck(label=c.label, shape=tuple(c._data.shape), checked=c._data.size)
        for attempt in range(max_resamples + 1):
            outs = ev.outputs(record=True)
            result.output_shapes = [(o.shape, o.dtype) for o in outs]
            vs = [pick.standard_normal(o.shape) for o in outs]
            c.tensor.grad = None
            diff = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
            if diff:
                total = None
                for o, v in diff:
                    term = (o * Tensor._wrap(v.astype(o.dtype))).sum()
                    total = term if total is None else total + term
                total.backward()
                result.backwards += 1
            g = c.tensor.grad
            c.tensor.grad = None
            x = c._data
            u = pick.standard_normal(x.shape)
            u /= np.linalg.norm(u) or 1.0
            analytic = float(np.sum((np.asarray(g._data, np.float64) if g is not None else 0.0) * u))
            v_flat = np.concatenate([v.ravel() for v in vs]) if vs else np.zeros(0)
            base = ev.flat() if attempt else f0
            orig = x.copy()
            try:
                x += eps * u
                plus = ev.flat()
                x[...] = orig - eps * u
                minus = ev.flat()
            finally:
                x[...] = orig
            numerical = float(np.dot((plus - minus) / (2 * eps), v_flat))
            fwd = float(np.dot((plus - base) / eps, v_flat))
            bwd = float(np.dot((base - minus) / eps, v_flat))
            ok = abs(analytic - numerical) <= atol + rtol * abs(numerical)
            kink = kink_aware and abs(fwd - bwd) > atol + rtol * max(abs(fwd), abs(bwd))
            if ok or not kink or attempt == max_resamples:
                break
            x += resample_scale * np.maximum(1.0, np.abs(x)) * pick.standard_normal(x.shape)
            ic.resampled.append(-1)
        err = abs(analytic - numerical)
        ic.projection = (analytic, numerical)
        ic.max_abs_err = err
        ic.max_rel_err = err / max(abs(analytic), abs(numerical)) if max(abs(analytic), abs(numerical)) > atol else 0.0
        ic.passed = bool(ok) or bool(kink and min(fwd, bwd) - atol <= analytic <= max(fwd, bwd) + atol)
        if ic.resampled:
            result.notes.append(f"{c.label}: the random direction crossed a kink; the whole tensor was "
                                f"jittered by about {resample_scale:g} and re-drawn {len(ic.resampled)} time(s)")
            ic.resampled = []
        if not ic.passed:
            # locate it: this tensor's full Jacobians, as the slow mode computes them
            jac, nb, out_meta = _analytic(ev, [c])
            result.backwards += nb
            cols = np.arange(c._data.size)
            num, _, _ = _numerical(ev, c, cols, ev.flat(), eps)
            a = jac[id(c)]
            with np.errstate(invalid="ignore"):
                bad = ~(np.abs(a - num) <= atol + rtol * np.abs(num))
            ic.failed = int(bad.sum())
            err = np.abs(a - num)
            ic.max_abs_err = float(err.max()) if err.size else 0.0
            denom = np.maximum(np.abs(a), np.abs(num))
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.where(denom > atol, err / np.where(denom > 0, denom, 1), 0.0)
            ic.max_rel_err = float(rel.max()) if rel.size else 0.0
            ic.worst = _worst(a, num, bad, cols, c._data.shape, out_meta, atol, rtol, topk)
            ic.hints = _hints(a, num, bad, c._data.shape, cols)
            ic.hints.insert(0, f"fast mode: the projection vᵀJu was {analytic:.6g} (analytic) vs "
                               f"{numerical:.6g} (numerical); the full Jacobian of this tensor was "
                               f"computed to locate the error")
            if a.size <= 4096:
                ic.analytic, ic.numerical, ic.columns = a, num, cols
        result.inputs.append(ic)
    result.passed = all(ic.passed for ic in result.inputs)
    return result


# ---------------------------------------------------------------------------- reporting
def _out_index(row: int, out_meta: list) -> str:
    for k, (shape, _) in enumerate(out_meta):
        n = int(np.prod(shape, dtype=np.int64))
        if row < n:
            idx = np.unravel_index(row, shape) if shape else ()
            prefix = f"out{k}" if len(out_meta) > 1 else "out"
            return prefix + "[" + ", ".join(str(int(v)) for v in idx) + "]"
        row -= n
    return f"out#{row}"


def _in_index(j: int, shape: tuple) -> str:
    idx = np.unravel_index(int(j), shape) if shape else ()
    return "[" + ", ".join(str(int(v)) for v in idx) + "]"


def _worst(a: np.ndarray, num: np.ndarray, bad: np.ndarray, cols: np.ndarray, shape: tuple,
           out_meta: list, atol: float, rtol: float, topk: int) -> list[dict]:
    err = np.abs(a - num)
    excess = np.where(bad, np.nan_to_num(err - (atol + rtol * np.abs(num)), nan=np.inf), -np.inf)
    order = np.argsort(-excess, axis=None, kind="stable")[:max(topk, 1)]
    out = []
    for flat in order:
        r, col = np.unravel_index(int(flat), a.shape)
        if not bad[r, col]:
            break
        n = float(num[r, col])
        e = float(err[r, col])
        out.append(dict(index=_in_index(int(cols[col]), shape), output=_out_index(int(r), out_meta),
                        analytic=float(a[r, col]), numerical=n, abs_err=e,
                        rel_err=e / max(abs(n), abs(float(a[r, col])), 1e-300),
                        tol=atol + rtol * abs(n)))
    return out


def _hints(a: np.ndarray, num: np.ndarray, bad: np.ndarray, shape: tuple,
           cols: np.ndarray) -> list[str]:
    """Recognisable shapes of a wrong gradient."""
    hints = []
    if not np.isfinite(num).all():
        hints.append("the numerical derivative has NaN/Inf: fn is not finite around this point "
                      "(log or sqrt of a non-positive value? division by zero?)")
        return hints
    if not np.isfinite(a).all():
        hints.append("the analytic gradient has NaN/Inf while fn is finite around the point: "
                     "backward divides by zero or overflows")
        return hints
    scale = float(np.abs(num).max()) if num.size else 0.0
    if scale > 0 and float(np.abs(a).max()) <= 1e-12 * scale:
        hints.append("the analytic gradient is zero everywhere although fn changes with this "
                     "tensor: backward returns None/zeros for it (wrong position in the returned "
                     "tuple? skipped by a needs_input_grad check? an op that breaks the graph?)")
        return hints
    if a.shape[0] > 1 and np.allclose(a, a[:1], rtol=0, atol=1e-12) and \
            not np.allclose(num, num[:1], rtol=1e-6, atol=1e-9):
        hints.append("every output element gets the same gradient row: backward ignores "
                     "grad_output (multiply by it: the chain rule)")
        return hints
    nn = float(np.sum(num * num))
    if nn > 0:
        c = float(np.sum(a * num) / nn)
        resid = float(np.linalg.norm(a - c * num))
        if abs(c - 1) > 1e-3 and resid <= 1e-3 * max(float(np.linalg.norm(a)), 1e-300):
            what = {2.0: "a gradient accumulated twice, or a missing 1/2",
                    -1.0: "a sign error",
                    0.5: "a missing factor of 2 (e.g. d(x²) = 2x)"}
            near = next((v for k, v in what.items() if abs(c - k) < 1e-3), "a missing or extra factor")
            hints.append(f"the analytic gradient is {c:.4g} × the numerical one on every element: {near}")
            return hints
    if len(shape) >= 2 and shape[-1] == shape[-2] and len(cols) == int(np.prod(shape)):
        at = a.reshape((a.shape[0],) + tuple(shape))
        at = np.swapaxes(at, -1, -2).reshape(a.shape)
        if np.allclose(at, num, atol=1e-6, rtol=1e-4) and not np.allclose(a, num, atol=1e-6, rtol=1e-4):
            hints.append("the analytic gradient is the numerical one with its last two axes "
                         "swapped: a transpose missing (or extra) in backward")
            return hints
    rows_bad = np.flatnonzero(bad.any(axis=1))
    cols_bad = np.flatnonzero(bad.any(axis=0))
    if len(cols_bad) < bad.shape[1]:
        hints.append(f"{len(cols_bad)} of {bad.shape[1]} input elements and {len(rows_bad)} of "
                     f"{bad.shape[0]} output elements are affected, the rest agree: look at "
                     f"what is special about them (borders: padding, strides; ignore_index; "
                     f"ties or kinks, if kink_aware=False)")
    return hints


def _describe(c: InputCheck, res: GradcheckResult) -> str:
    status = "ok" if c.passed else "FAILED"
    if c.projection is not None and c.passed:
        return (f"{c.label} {c.shape}: {status} (fast mode vᵀJu analytic {c.projection[0]:.6g}, "
                f"numerical {c.projection[1]:.6g}, abs error {c.max_abs_err:.2e})")
    line = (f"{c.label} {c.shape}: {status}, max abs error {c.max_abs_err:.2e}, max rel error "
            f"{c.max_rel_err:.2e}")
    if c.failed:
        line += f", {c.failed} Jacobian entries out of tolerance"
    lines = [line]
    if c.worst:
        lines.append(f"  worst {len(c.worst)} (input index, output index):")
        lines.append(f"    {'input':>14} {'output':>12} {'analytic':>13} {'numerical':>13} "
                     f"{'abs err':>9} {'rel err':>9} {'allowed':>9}")
        for w in c.worst:
            lines.append(f"    {w['index']:>14} {w['output']:>12} {w['analytic']:>13.6g} "
                         f"{w['numerical']:>13.6g} {w['abs_err']:>9.2e} {w['rel_err']:>9.2e} "
                         f"{w['tol']:>9.2e}")
    for h in c.hints:
        lines.append("  hint: " + h)
    if not c.passed and c.analytic is not None:
        table = _side_by_side(c.analytic, c.numerical, res.atol, res.rtol, c.columns, c.shape,
                              res.output_shapes)
        if table:
            lines.append(table)
    return "\n".join(lines)


def _side_by_side(a: np.ndarray, num: np.ndarray, atol: float, rtol: float,
                  cols: np.ndarray | None, shape: tuple, out_meta: list,
                  max_rows: int = 16, max_cols: int = 6) -> str:
    """Both Jacobians next to each other, rows = output elements, '*' marks failing entries."""
    if a.shape[0] > max_rows or a.shape[1] > max_cols:
        return ""
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(a - num) <= atol + rtol * np.abs(num))
    cols = np.arange(a.shape[1]) if cols is None else cols
    width = 10
    heads = [_in_index(int(j), shape) for j in cols]
    row_names = [_out_index(r, out_meta) for r in range(a.shape[0])]
    rw = max([len(r) for r in row_names] + [3])

    def cell(v: float, mark: bool) -> str:
        s = f"{v:.4g}"
        return (("*" if mark else " ") + s).rjust(width)

    block = width * a.shape[1]
    lines = ["  Jacobians (rows: output elements, columns: input elements; * = out of tolerance):",
             "  " + " " * rw + " " + "analytic".center(block) + " | " + "numerical".center(block),
             "  " + " " * rw + " " + "".join(h.rjust(width) for h in heads) + " | "
             + "".join(h.rjust(width) for h in heads)]
    for r in range(a.shape[0]):
        left = "".join(cell(a[r, k], bad[r, k]) for k in range(a.shape[1]))
        right = "".join(cell(num[r, k], bad[r, k]) for k in range(a.shape[1]))
        lines.append("  " + row_names[r].rjust(rw) + " " + left + " | " + right)
    return "\n".join(lines)


# ---------------------------------------------------------------------------- public entry
def gradcheck(fn: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, fast_mode: bool = False,
              upcast: bool = True, kink_aware: bool = True, max_resamples: int = 3,
              resample_scale: float = 1e-3, samples: int | None = None, topk: int = 5,
              seed: int = 0) -> bool:
    """Check the gradients of `fn` at `inputs`: every input that requires grad and, when `fn`
    is a Module, every parameter that requires grad.

    Compares, elementwise, |analytic - numerical| <= atol + rtol * |numerical|, where the
    numerical Jacobian comes from central differences (f(x+eps) - f(x-eps)) / 2eps. float32
    tensors are checked as float64 copies (`upcast`, with a GradcheckWarning); elements where
    the perturbation crosses a kink or tie are re-drawn (`kink_aware`, see the module
    docstring). With `fast_mode`, compares the projections vᵀJu for random unit vectors u, v
    instead (one backward and two forwards per tensor; on failure the full Jacobian of the
    failing tensor is computed to locate the error). `samples` checks that many random
    elements per tensor instead of all of them.

    Returns True, or raises GradcheckError (returns False when raise_exception=False) whose
    message lists, per failing tensor, the worst elements with index, analytic, numerical and
    error, hints, and for small Jacobians both side by side. `check_gradients` returns the
    measurements as a GradcheckResult instead.
    """
    raise_exception = check_flag(raise_exception, "raise_exception", "gradcheck")
    result = check_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode,
                             upcast=upcast, kink_aware=kink_aware, max_resamples=max_resamples,
                             resample_scale=resample_scale, samples=samples, topk=topk, seed=seed,
                             _stacklevel=3)
    if not result.passed:
        if raise_exception:
            raise GradcheckError(result.report())
        return False
    return True



def gradgradcheck(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  fast_mode: bool = False, upcast: bool = True, kink_aware: bool = True,
                  seed: int = 0, **kwargs: Any) -> bool:
    """Check second derivatives (PyTorch's torch.autograd.gradgradcheck): gradcheck applied to
    the first-derivative function (x, v) ↦ vᵀ·∂fn/∂x, computed with create_graph=True, so every
    backward rule fn uses is itself checked against finite differences of the backward.

    `grad_outputs` are the cotangents v (random, seeded by `seed`, when None; they are checked
    as inputs too, since the first derivative is linear in them). Reports as gradcheck does:
    inputs keep their numbers, the cotangents come after them."""
    options = {"max_resamples": 3, "resample_scale": 1e-3, "samples": None, "topk": 5}
    options.update({k: v for k, v in kwargs.items() if k in options})
    _check_options(fn, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode, upcast=upcast,
                   kink_aware=kink_aware, seed=seed, op="gradgradcheck", **options)
    check_flag(gen_non_contig_grad_outputs, "gen_non_contig_grad_outputs", "gradgradcheck")
    check_flag(raise_exception, "raise_exception", "gradgradcheck")
    fn2, inputs2 = first_derivative_problem(fn, inputs, grad_outputs, seed)
    return gradcheck(fn2, inputs2, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception,
                     fast_mode=fast_mode, upcast=upcast, kink_aware=kink_aware, seed=seed, **kwargs)


def first_derivative_problem(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None,
                             seed: int = 0) -> tuple[Callable[..., Any], tuple]:
    """(fn2, inputs2) such that gradcheck(fn2, inputs2) checks fn's second derivatives:
    fn2(x..., v...) = the gradients vᵀ·∂fn/∂x of every input x that requires grad."""
    from . import autograd as _autograd
    xs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise GradcheckError("gradgradcheck: no input requires grad, so there is no derivative "
                             "to check")
    with _autograd.no_grad():
        outs = fn(*xs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    float_outs = [k for k, o in enumerate(outs) if isinstance(o, Tensor) and o.dtype.kind == "f"]
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 7919)
        grad_outputs = tuple(Tensor._wrap(rng.standard_normal(outs[k].shape)).requires_grad_()
                             for k in float_outs)
    else:
        grad_outputs = tuple(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else (grad_outputs,)
        if len(grad_outputs) != len(float_outs):
            raise GradcheckError(f"gradgradcheck: got {len(grad_outputs)} grad_outputs for "
                                 f"{len(float_outs)} floating-point output(s) of fn")
    n = len(xs)

    def first_derivative(*args: Any) -> tuple:
        with _autograd.enable_grad():     # gradcheck evaluates under no_grad; this needs a graph
            return _first(*args)

    def _first(*args: Any) -> tuple:
        ys, vs = args[:n], args[n:]
        out = fn(*ys)
        out = out if isinstance(out, tuple) else (out,)
        pairs = [(out[k], v) for k, v in zip(float_outs, vs) if out[k].requires_grad]
        targets = [ys[i] for i in diff]
        if not pairs:
            return tuple(Tensor._wrap(np.zeros(t.shape, t.dtype)) for t in targets)
        grads = _autograd.grad([o for o, _ in pairs], targets,
                               [v.to(o.dtype) for o, v in pairs], create_graph=True,
                               allow_unused=True)
        return tuple(Tensor._wrap(np.zeros(t.shape, t.dtype)) if g is None else g
                     for g, t in zip(grads, targets))

    first_derivative.__name__ = f"first derivative of {getattr(fn, '__name__', type(fn).__name__)}"
    return first_derivative, xs + tuple(grad_outputs)
