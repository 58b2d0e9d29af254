"""The registry behind `tinygrad-cnn gradcheck`: every built-in op with a grid of configurations.

    tinygrad-cnn gradcheck conv2d --shape 1,2,7,7 --stride 2 --padding 1   # one op, one config
    tinygrad-cnn gradcheck --all                 # every op over its grid: a table, exit 1 on FAIL
    tinygrad-cnn gradcheck --list                # the ops and their configuration keys

An entry is a name, a `build(config, rng) -> (fn, inputs)` function, the default configuration
(which also fixes the type of each key the command line accepts) and a grid of configurations
(each one merged over the defaults). Your own ops register the same way, and then appear in
`--all` (from the command line, load the module that registers them with `--import my_ops`):

    import tinygrad_cnn.gradcheck_suite as suite

    @suite.register("cube", defaults={"shape": (3, 4)}, grid=[{}, {"shape": (5,)}])
    def build_cube(cfg, rng):
        return Cube.apply, [suite.randn(rng, cfg["shape"])]

Inputs are float64 (`randn`, `positive`, `with_ties` below help). Ops with kinks (relu, max,
pooling, abs) get a configuration with exact ties/zeros on purpose: gradcheck's kink handling
must cope with them.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from .argcheck import (check_sequence, check_callable, check_flag, check_int, check_number, check_shape, check_str,
                       describe as describe_value)
from .errors import ArgumentError
from .gradcheck import GradcheckResult, check_gradients, first_derivative_problem
from .tensor import Tensor

__all__ = ["register", "unregister", "get", "names", "unavailable", "check", "check_all",
           "format_row", "format_header", "Row", "OpCase", "randn", "positive", "with_ties",
           "labels", "parse_value", "describe"]

Build = Callable[[dict, np.random.Generator], tuple]


@dataclass
class OpCase:
    """One registered op."""
    name: str
    build: Build
    defaults: dict
    grid: list
    doc: str = ""
    requires: tuple = ()             # names of nn.functional functions it needs
    tolerances: dict = field(default_factory=dict)   # eps / atol / rtol overrides

    def configs(self) -> list[dict]:
        return [{**self.defaults, **g} for g in (self.grid or [{}])]


_REGISTRY: dict[str, OpCase] = {}
_BUILTINS_LOADED = [False]


def register(name: str, build: Build | None = None, *, defaults: dict | None = None,
             grid: Iterable[dict] | None = None, doc: str = "", requires: Iterable[str] = (),
             replace: bool = False, **tolerances: float) -> Any:
    """Register an op for `tinygrad-cnn gradcheck NAME` and `--all`. Use as a decorator on
    `build(config, rng) -> (fn, inputs)` or call with `build` directly. `tolerances` may set
    eps, atol, rtol for this op. Re-registering a name needs replace=True."""
    bad = set(tolerances) - {"eps", "atol", "rtol"}
    if bad:
        raise TypeError(f"register: unknown keyword(s) {sorted(bad)}; tolerances are eps, atol, rtol")
    check_str(name, "name", "gradcheck_suite.register")
    check_callable(build, "build", "gradcheck_suite.register", allow_none=True)
    if defaults is not None and not isinstance(defaults, dict):
        raise ArgumentError(f"gradcheck_suite.register: defaults must be a dict, got {describe_value(defaults)}")
    grid = None if grid is None else check_sequence(grid, "grid", "gradcheck_suite.register", "a list of dicts")
    if grid is not None and not all(isinstance(g, dict) for g in grid):
        raise ArgumentError(f"gradcheck_suite.register: grid must be a list of dicts, got {describe_value(grid)}")
    check_str(doc, "doc", "gradcheck_suite.register")
    requires = check_sequence(requires, "requires", "gradcheck_suite.register", "a list of names")
    for r in requires:
        check_str(r, "requires (each name)", "gradcheck_suite.register")
    for k, v in tolerances.items():
        check_number(v, k, "gradcheck_suite.register", minimum=0, finite=True)
    replace = check_flag(replace, "replace", "gradcheck_suite.register")

    def deco(fn: Build) -> Build:
        _load_builtins()
        if name in _REGISTRY and not replace:
            raise ValueError(f"gradcheck_suite.register: an op named {name!r} is already "
                             f"registered; pass replace=True to override it")
        _REGISTRY[name] = OpCase(name, fn, dict(defaults or {}), [dict(g) for g in (grid or [{}])],
                                 doc or (fn.__doc__ or "").strip().split("\n")[0],
                                 tuple(requires), dict(tolerances))
        return fn

    return deco(build) if build is not None else deco


def unregister(name: str) -> None:
    check_str(name, "name", "gradcheck_suite.unregister")
    _load_builtins()
    _REGISTRY.pop(name, None)


def _available(case: OpCase) -> bool:
    from .nn import functional as F
    return all(hasattr(F, r) for r in case.requires)


def names() -> list[str]:
    """The registered ops that can run in this build, in registration order."""
    _load_builtins()
    return [n for n, c in _REGISTRY.items() if _available(c)]


def unavailable() -> list[str]:
    """Registered ops whose nn.functional function does not exist in this build."""
    _load_builtins()
    return [n for n, c in _REGISTRY.items() if not _available(c)]


def get(name: str) -> OpCase:
    check_str(name, "name", "gradcheck_suite.get")
    _load_builtins()
    if name not in _REGISTRY:
        close = [n for n in _REGISTRY if name.lower().replace("-", "_") in n or n in name.lower()]
        raise KeyError(f"no op named {name!r} in the gradcheck registry"
                       + (f"; did you mean {', '.join(close[:5])}?" if close else "")
                       + " (tinygrad-cnn gradcheck --list shows them all)")
    return _REGISTRY[name]


# --------------------------------------------------------------------------- input helpers
def leaf(array: np.ndarray, requires_grad: bool = True) -> Tensor:
    """A leaf tensor over `array` (no copy)."""
    t = Tensor._wrap(array)
    t.requires_grad = requires_grad
    return t


def _rng(rng: Any, op: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ArgumentError(f"gradcheck_suite.{op}: rng must be a numpy.random.Generator, got {describe_value(rng)}")
    return rng


def _small_shape(shape: Any, op: str) -> tuple[int, ...]:
    """A test input's shape: gradcheck runs 2 forwards per element, so more than 2**20 is a typo."""
    shape = check_shape(shape, "shape", f"gradcheck_suite.{op}")
    if math.prod(shape) > 1 << 20:
        raise ArgumentError(f"gradcheck_suite.{op}: shape {shape} has more than 2**20 elements")
    return shape


def randn(rng: np.random.Generator, shape: Any, requires_grad: bool = True) -> Tensor:
    """A float64 tensor of standard normal values."""
    return leaf(_rng(rng, "randn").standard_normal(_small_shape(shape, "randn")),
                check_flag(requires_grad, "requires_grad", "gradcheck_suite.randn"))


def positive(rng: np.random.Generator, shape: Any, low: float = 0.5, high: float = 2.0) -> Tensor:
    """A float64 tensor with values in [low, high) (for log, sqrt, division)."""
    low = check_number(low, "low", "gradcheck_suite.positive", finite=True)
    high = check_number(high, "high", "gradcheck_suite.positive", finite=True, minimum=low)
    t = Tensor._wrap(_rng(rng, "positive").uniform(low, high, _small_shape(shape, "positive")))
    t.requires_grad = True
    return t


def with_ties(rng: np.random.Generator, shape: Any, zeros: bool = True) -> Tensor:
    """A float64 tensor full of exact ties and (optionally) exact zeros: values from
    {-1, -0.5, 0, 0.5, 1} (or without 0). Every max-pool window and relu sees a kink."""
    zeros = check_flag(zeros, "zeros", "gradcheck_suite.with_ties")
    values = np.array([-1.0, -0.5, 0.0, 0.5, 1.0] if zeros else [-1.0, -0.5, 0.5, 1.0])
    t = Tensor._wrap(_rng(rng, "with_ties").choice(values, size=_small_shape(shape, "with_ties")))
    t.requires_grad = True
    return t


def labels(rng: np.random.Generator, n: int, classes: int) -> Tensor:
    """int64 class labels (no gradient)."""
    n = check_int(n, "n", "gradcheck_suite.labels", minimum=0, maximum=1 << 20)
    classes = check_int(classes, "classes", "gradcheck_suite.labels", minimum=1)
    return Tensor._wrap(_rng(rng, "labels").integers(0, classes, size=(n,)).astype(np.int64))


def _inp(rng: np.random.Generator, cfg: dict, key: str = "shape") -> Tensor:
    return with_ties(rng, cfg[key]) if cfg.get("ties") else randn(rng, cfg[key])


# ------------------------------------------------------------------------------- running
@dataclass
class Row:
    """One line of the table."""
    op: str
    config: str
    passed: bool
    max_abs_err: float = float("nan")
    max_rel_err: float = float("nan")
    seconds: float = 0.0
    status: str = ""                # "ok", "FAIL", "ERROR"
    message: str = ""               # the report (FAIL) or the exception (ERROR)
    notes: list = field(default_factory=list)
    result: GradcheckResult | None = None


def describe(case: OpCase, cfg: dict) -> str:
    """The configuration as shown in the table: the shape plus every key not at its default."""
    if not isinstance(case, OpCase) or not isinstance(cfg, dict):
        raise ArgumentError(f"gradcheck_suite.describe: expected (OpCase, dict), got {describe_value(case)}, "
                            f"{describe_value(cfg)}")
    parts = []
    for k, v in cfg.items():
        if k == "shape" or k not in case.defaults or not _equal(case.defaults[k], v):
            parts.append(f"{k}={_show(v)}")
    return " ".join(parts) or "default"


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ",".join(_show(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def check(name: str, config: dict | None = None, *, seed: int = 0, fast_mode: bool = False,
          eps: float | None = None, atol: float | None = None, rtol: float | None = None,
          samples: int | None = None, order: int = 1) -> Row:
    """Gradient-check one op in one configuration (merged over its defaults); `order=2` checks
    its second derivatives (gradgradcheck: the backward rule against finite differences)."""
    case = get(name)
    if config is not None and not isinstance(config, dict):
        raise ArgumentError(f"gradcheck_suite.check: config must be a dict or None, got {describe_value(config)}")
    seed = check_int(seed, "seed", "gradcheck_suite.check", minimum=0)
    fast_mode = check_flag(fast_mode, "fast_mode", "gradcheck_suite.check")
    for k, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        check_number(v, k, "gradcheck_suite.check", minimum=0, finite=True, allow_none=True)
    check_int(samples, "samples", "gradcheck_suite.check", minimum=1, allow_none=True)
    cfg = {**case.defaults, **(config or {})}
    unknown = set(config or {}) - set(case.defaults)
    if unknown:
        raise KeyError(f"{name}: unknown configuration key(s) {sorted(unknown)}; this op takes "
                       f"{', '.join(sorted(case.defaults)) or 'no configuration'}")
    tol = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3, **case.tolerances}
    for k, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if v is not None:
            tol[k] = v
    row = Row(op=name, config=describe(case, cfg), passed=False)
    start = time.perf_counter()
    try:
        rng = np.random.default_rng(seed)
        fn, inputs = case.build(dict(cfg), rng)
        if order == 2:
            fn, inputs = first_derivative_problem(fn, inputs, seed=seed)
        elif order != 1:
            raise ValueError(f"order must be 1 or 2, got {order!r}")
        res = check_gradients(fn, inputs, fast_mode=fast_mode, samples=samples, seed=seed, **tol)
    except Exception as e:          # an op that raises is reported as an ERROR row, not a crash
        row.status, row.message = "ERROR", f"{type(e).__name__}: {e}"
        row.seconds = time.perf_counter() - start
        return row
    row.seconds = time.perf_counter() - start
    row.result = res
    row.passed = res.passed
    row.max_abs_err, row.max_rel_err = res.max_abs_err, res.max_rel_err
    row.status = "ok" if res.passed else "FAIL"
    row.notes = list(res.notes)
    if not res.passed:
        row.message = res.report()
    return row


def check_all(ops: Iterable[str] | None = None, *, quick: bool = False, seed: int = 0,
              fast_mode: bool = False, on_row: Callable[[Row], None] | None = None,
              order: int = 1, eps: float | None = None, atol: float | None = None,
              rtol: float | None = None) -> list[Row]:
    """Every op (or `ops`) over its grid (`quick`: the first configuration only); `order=2`
    gradgradchecks them."""
    ops = None if ops is None else check_sequence(ops, "ops", "gradcheck_suite.check_all", "a list of names")
    quick = check_flag(quick, "quick", "gradcheck_suite.check_all")
    check_callable(on_row, "on_row", "gradcheck_suite.check_all", allow_none=True)
    rows = []
    for name in (list(ops) if ops is not None else names()):
        case = get(name)
        configs = case.configs()[:1] if quick else case.configs()
        if order == 2:    # at ties the first derivative jumps: no second derivative to check
            configs = [cfg for cfg in configs if not cfg.get("ties")] or configs[:0]
        for cfg in configs:
            overrides = {k: v for k, v in cfg.items() if k in case.defaults}
            row = check(name, overrides, seed=seed, fast_mode=fast_mode, order=order,
                        eps=eps, atol=atol, rtol=rtol)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


COLUMNS = (("op", 16), ("configuration", 64), ("max abs err", 11), ("max rel err", 11),
           ("result", 6), ("time", 7))


def format_header() -> str:
    head = " ".join(f"{n:<{w}}" if i < 2 else f"{n:>{w}}" for i, (n, w) in enumerate(COLUMNS))
    return head + "\n" + "-" * len(head)


def format_row(row: Row) -> str:
    if not isinstance(row, Row):
        raise ArgumentError(f"gradcheck_suite.format_row: expected a Row, got {describe_value(row)}")
    cfg = row.config                   # never truncated: a long one just pushes its row right

    def num(v: float) -> str:
        return "-" if row.status == "ERROR" else f"{v:.2e}"

    return (f"{row.op:<{COLUMNS[0][1]}} {cfg:<{COLUMNS[1][1]}} {num(row.max_abs_err):>11} "
            f"{num(row.max_rel_err):>11} {row.status:>6} {row.seconds:>6.2f}s")


# ---------------------------------------------------------------------- command-line values
def parse_value(text: str, like: Any = None) -> Any:
    """A command-line value, typed after the default it replaces: '2' -> 2, '1,2' -> (1, 2),
    '0.1' -> 0.1, 'true' -> True, 'none' -> None, 'same' -> 'same'."""
    s = check_str(text, "text", "gradcheck_suite.parse_value").strip()
    low = s.lower()
    if low in ("none", "null"):
        return None
    if isinstance(like, bool) or low in ("true", "false", "yes", "no"):
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise ValueError(f"expected true/false, got {text!r}")
    if "," in s or (isinstance(like, tuple) and s):
        items = [x for x in s.strip("()[]").split(",") if x.strip()]
        return tuple(parse_value(x) for x in items)
    for conv in (int, float):
        try:
            v = conv(s)
        except ValueError:
            continue
        return float(v) if isinstance(like, float) and conv is int else v
    return s


# ------------------------------------------------------------------------------ built-ins
def _load_builtins() -> None:
    if _BUILTINS_LOADED[0]:
        return
    _BUILTINS_LOADED[0] = True
    _register_builtins()


def _F():
    from .nn import functional as F
    return F


def _register_builtins() -> None:  # noqa: C901  (a flat list of registrations)
    import tinygrad_cnn as tc
    from .ops import linalg as L

    R = register

    # --- elementwise, binary (broadcasting goes through Expand, checked here too)
    binary_grid = [{}, {"shape": (3, 1), "other": (1, 4)}, {"shape": (2, 3, 4), "other": (4,)}]
    for name, sym, op in (("add", "+", lambda a, b: a + b), ("sub", "-", lambda a, b: a - b),
                          ("mul", "*", lambda a, b: a * b)):
        R(name, (lambda op: lambda cfg, rng: (op, [randn(rng, cfg["shape"]), randn(rng, cfg["other"])]))(op),
          defaults={"shape": (3, 4), "other": (3, 4)}, grid=binary_grid,
          doc=f"a {sym} b, broadcasting `other` against `shape`")

    @R("div", defaults={"shape": (3, 4), "other": (3, 4)}, grid=binary_grid)
    def _div(cfg, rng):
        """a / b (b away from 0)"""
        b = positive(rng, cfg["other"])
        b._data *= rng.choice([-1.0, 1.0], size=b.shape)
        return (lambda x, y: x / y), [randn(rng, cfg["shape"]), b]

    @R("pow", defaults={"shape": (3, 4), "exponent": 3.0, "tensor_exponent": False},
       grid=[{}, {"exponent": 0.5}, {"exponent": -2.0}, {"tensor_exponent": True}])
    def _pow(cfg, rng):
        """a ** p for a scalar p, or a ** b for a tensor b (a > 0)"""
        a = positive(rng, cfg["shape"])
        if cfg["tensor_exponent"]:
            return (lambda x, y: x ** y), [a, randn(rng, cfg["shape"])]
        p = cfg["exponent"]
        return (lambda x: x ** p), [a]

    @R("maximum", defaults={"shape": (3, 4), "ties": False}, grid=[{}, {"ties": True}])
    def _maximum(cfg, rng):
        """elementwise max(a, b); ties=True makes a == b in places"""
        a = _inp(rng, cfg)
        b = randn(rng, cfg["shape"])
        if cfg["ties"]:
            b._data[::2] = a._data[::2]
        return (lambda x, y: x.maximum(y)), [a, b]

    @R("minimum", defaults={"shape": (3, 4), "ties": False}, grid=[{}, {"ties": True}])
    def _minimum(cfg, rng):
        """elementwise min(a, b); ties=True makes a == b in places"""
        a = _inp(rng, cfg)
        b = randn(rng, cfg["shape"])
        if cfg["ties"]:
            b._data[::2] = a._data[::2]
        return (lambda x, y: x.minimum(y)), [a, b]

    @R("where", defaults={"shape": (3, 4)})
    def _where(cfg, rng):
        """where(cond, a, b)"""
        cond = rng.random(cfg["shape"]) > 0.5
        return (lambda x, y: tc.where(cond, x, y)), [randn(rng, cfg["shape"]), randn(rng, cfg["shape"])]

    # --- elementwise, unary
    unary = {
        "neg": (lambda x: -x, randn), "exp": (lambda x: x.exp(), randn),
        "log": (lambda x: x.log(), positive), "sqrt": (lambda x: x.sqrt(), positive),
        "tanh": (lambda x: x.tanh(), randn), "sigmoid": (lambda x: x.sigmoid(), randn),
        "clone": (lambda x: x.clone(), randn),
    }
    for name, (op, make) in unary.items():
        R(name, (lambda op, make: lambda cfg, rng: (op, [make(rng, cfg["shape"])]))(op, make),
          defaults={"shape": (3, 4)}, grid=[{}, {"shape": (2, 3, 2)}], doc=f"{name}(x)")

    kinked = {"relu": lambda x: x.relu(), "abs": lambda x: x.abs()}
    for name, op in kinked.items():
        R(name, (lambda op: lambda cfg, rng: (op, [_inp(rng, cfg)]))(op),
          defaults={"shape": (3, 4), "ties": False}, grid=[{}, {"ties": True}],
          doc=f"{name}(x); ties=True puts exact zeros (the kink) in x")

    @R("leaky_relu", defaults={"shape": (3, 4), "negative_slope": 0.01, "ties": False},
       grid=[{}, {"negative_slope": 0.2}, {"ties": True}], requires=("leaky_relu",))
    def _leaky(cfg, rng):
        """F.leaky_relu(x, negative_slope)"""
        s = cfg["negative_slope"]
        return (lambda x: _F().leaky_relu(x, s)), [_inp(rng, cfg)]

    @R("silu", defaults={"shape": (3, 4)}, requires=("silu",))
    def _silu(cfg, rng):
        """F.silu"""
        return (lambda x: _F().silu(x)), [randn(rng, cfg["shape"])]

    @R("gelu", defaults={"shape": (3, 4), "approximate": "none"}, grid=[{}, {"approximate": "tanh"}],
       requires=("gelu",))
    def _gelu(cfg, rng):
        """F.gelu(x, approximate)"""
        return (lambda x: _F().gelu(x, cfg["approximate"])), [leaf(rng.standard_normal(cfg["shape"]) * 2)]

    @R("elu", defaults={"shape": (3, 4), "alpha": 1.0}, grid=[{}, {"alpha": 0.5}], requires=("elu",))
    def _elu(cfg, rng):
        """F.elu(x, alpha)"""
        return (lambda x: _F().elu(x, cfg["alpha"])), [randn(rng, cfg["shape"])]

    @R("softplus", defaults={"shape": (3, 4), "beta": 1.0, "threshold": 20.0},
       grid=[{}, {"beta": 2.0, "threshold": 1.0}], requires=("softplus",))
    def _softplus(cfg, rng):
        """F.softplus(x, beta, threshold)"""
        return (lambda x: _F().softplus(x, cfg["beta"], cfg["threshold"])), [randn(rng, cfg["shape"])]

    @R("hardtanh", defaults={"shape": (3, 4)}, requires=("hardtanh", "relu6", "hardsigmoid", "hardswish"))
    def _hard(cfg, rng):
        """F.hardtanh, relu6, hardsigmoid, hardswish summed (inputs kept off their kinks)"""
        F = _F()
        return (lambda x: F.hardtanh(x, -2.0, 2.0) + F.relu6(x) + F.hardsigmoid(x) + F.hardswish(x)), \
            [leaf(_off_kinks(rng, cfg["shape"], (-3.0, -2.0, 0.0, 2.0, 3.0, 6.0)))]

    @R("clamp", defaults={"shape": (3, 4), "min": -0.5, "max": 0.5},
       grid=[{}, {"min": None}, {"max": None}])
    def _clamp(cfg, rng):
        """x.clamp(min, max)"""
        lo, hi = cfg["min"], cfg["max"]
        return (lambda x: x.clamp(lo, hi)), [randn(rng, cfg["shape"])]

    # --- linear algebra
    @R("matmul", defaults={"shape": (2, 3), "other": (3, 4)},
       grid=[{}, {"shape": (2, 2, 3), "other": (3, 4)}, {"shape": (3,), "other": (3, 4)},
             {"shape": (2, 3), "other": (3,)}])
    def _matmul(cfg, rng):
        """a @ b with batch broadcasting and 1-D operands"""
        return (lambda x, y: x @ y), [randn(rng, cfg["shape"]), randn(rng, cfg["other"])]

    @R("linear", defaults={"shape": (4, 5), "out_features": 3, "bias": True},
       grid=[{}, {"bias": False}, {"shape": (2, 3, 5)}])
    def _linear(cfg, rng):
        """F.linear(x, W, b): x @ W.T + b"""
        lin = getattr(_F(), "linear", None) or L.Linear.apply
        w = randn(rng, (cfg["out_features"], cfg["shape"][-1]))
        ins = [randn(rng, cfg["shape"]), w] + ([randn(rng, (cfg["out_features"],))] if cfg["bias"] else [])
        return (lambda *a: lin(*a)), ins

    # --- reductions
    def _red(method):
        def build(cfg, rng):
            dim, keep = cfg["dim"], cfg["keepdim"]
            if method in ("var", "std"):
                corr = cfg["correction"]
                return (lambda x: getattr(x, method)(dim, keepdim=keep, correction=corr)), [randn(rng, cfg["shape"])]
            return (lambda x: getattr(x, method)(dim, keepdim=keep)), [_inp(rng, cfg)]
        return build

    red_grid = [{}, {"dim": 1}, {"dim": (0, 2), "keepdim": True}]
    for name in ("sum", "mean"):
        R(name, _red(name), defaults={"shape": (2, 3, 4), "dim": None, "keepdim": False},
          grid=red_grid, doc=f"x.{name}(dim, keepdim)")
    for name in ("var", "std"):
        R(name, _red(name), defaults={"shape": (2, 3, 4), "dim": None, "keepdim": False, "correction": 1},
          grid=red_grid + [{"dim": 2, "correction": 0}], doc=f"x.{name}(dim, correction, keepdim)")
    for name in ("amax", "amin"):
        R(name, _red(name), defaults={"shape": (2, 3, 4), "dim": None, "keepdim": False, "ties": False},
          grid=red_grid + [{"dim": 2, "ties": True}],
          doc=f"x.{name}(dim); ties=True: the gradient is shared among tied extremes")

    @R("max_dim", defaults={"shape": (3, 5), "dim": 1, "keepdim": False, "ties": False},
       grid=[{}, {"dim": 0, "keepdim": True}, {"ties": True}])
    def _maxdim(cfg, rng):
        """x.max(dim).values"""
        d, k = cfg["dim"], cfg["keepdim"]
        return (lambda x: x.max(d, keepdim=k).values), [_inp(rng, cfg)]

    for name in ("softmax", "log_softmax"):
        R(name, (lambda name: lambda cfg, rng: (
            (lambda x: getattr(_F(), name)(x, cfg["dim"])), [randn(rng, cfg["shape"])]))(name),
          defaults={"shape": (3, 5), "dim": 1}, grid=[{}, {"dim": 0}, {"shape": (2, 3, 4), "dim": -1}],
          doc=f"F.{name}(x, dim)", requires=(name,))

    # --- movement
    @R("reshape", defaults={"shape": (2, 3, 4), "to": (4, 6)}, grid=[{}, {"to": (24,)}, {"to": (2, -1, 2)}])
    def _reshape(cfg, rng):
        """x.reshape(to)"""
        return (lambda x: x.reshape(cfg["to"])), [randn(rng, cfg["shape"])]

    @R("permute", defaults={"shape": (2, 3, 4), "dims": (2, 0, 1)}, grid=[{}, {"dims": (1, 0, 2)}])
    def _permute(cfg, rng):
        """x.permute(dims)"""
        return (lambda x: x.permute(*cfg["dims"])), [randn(rng, cfg["shape"])]

    @R("expand", defaults={"shape": (3, 1), "to": (2, 3, 4)}, grid=[{}, {"shape": (1, 4), "to": (3, 4)}])
    def _expand(cfg, rng):
        """x.expand(to): broadcasting, whose backward sums"""
        return (lambda x: x.expand(*cfg["to"])), [randn(rng, cfg["shape"])]

    @R("index", defaults={"shape": (4, 5), "kind": "slice"},
       grid=[{}, {"kind": "int_array"}, {"kind": "mask"}, {"kind": "mixed"}])
    def _index(cfg, rng):
        """x[index]: slices, integer arrays with repeats (gradients accumulate), masks"""
        kind = cfg["kind"]
        shape = cfg["shape"]
        if kind == "slice":
            idx: Any = (slice(1, None), slice(None, None, 2))
        elif kind == "int_array":
            idx = np.array([0, 2, 2, shape[0] - 1])           # a repeated row
        elif kind == "mask":
            idx = rng.random(shape) > 0.4
        else:
            idx = (np.array([1, 1, 0]), slice(1, 3))
        return (lambda x: x[idx]), [randn(rng, shape)]

    @R("index_put", defaults={"shape": (4, 5), "kind": "slice"},
       grid=[{}, {"kind": "int_array"}, {"kind": "mask"}])
    def _index_put(cfg, rng):
        """y = x.clone(); y[index] = v: gradients to x outside the index and to v inside"""
        shape, kind = cfg["shape"], cfg["kind"]
        if kind == "slice":
            idx: Any = (slice(1, 3), slice(None, None, 2))
        elif kind == "int_array":
            idx = np.array([0, 2])
        else:
            idx = rng.random(shape) > 0.5
        target = np.empty(shape)[idx].shape

        def fn(x, v):
            y = x.clone()
            y[idx] = v
            return y
        return fn, [randn(rng, shape), randn(rng, target)]

    @R("pad", defaults={"shape": (2, 3, 4), "pad": (1, 2), "mode": "constant"},
       grid=[{}, {"pad": (1, 1, 2, 0)}, {"mode": "reflect", "pad": (2, 3, 1, 2)},
             {"mode": "replicate", "pad": (3, 0, 4, 1)}, {"mode": "circular", "pad": (4, 2, 3, 1)}],
       requires=("pad",))
    def _pad(cfg, rng):
        """F.pad(x, pad, mode): zeros, or the input's own values (reflect, replicate, circular)"""
        return (lambda x: _F().pad(x, cfg["pad"], mode=cfg["mode"])), [randn(rng, cfg["shape"])]

    @R("cat", defaults={"shape": (2, 3), "dim": 0}, grid=[{}, {"dim": 1}])
    def _cat(cfg, rng):
        """tc.cat([a, b, c], dim)"""
        return (lambda *xs: tc.cat(list(xs), cfg["dim"])), [randn(rng, cfg["shape"]) for _ in range(3)]

    @R("stack", defaults={"shape": (2, 3), "dim": 0}, grid=[{}, {"dim": 2}])
    def _stack(cfg, rng):
        """tc.stack([a, b], dim)"""
        return (lambda *xs: tc.stack(list(xs), cfg["dim"])), [randn(rng, cfg["shape"]) for _ in range(2)]

    # --- CNN ops (nn.functional; registered always, run when the function exists)
    conv_grid = [{}, {"stride": 2}, {"padding": 1}, {"stride": 2, "padding": 1},
                 {"dilation": 2}, {"groups": 2, "out_channels": 4}, {"bias": False},
                 {"kernel_size": (2, 3), "stride": (2, 1), "padding": (1, 0)}, {"padding": "same"},
                 {"padding": "same", "dilation": 2}, {"kernel_size": 1},
                 {"shape": (2, 4, 8, 8), "out_channels": 6, "groups": 2, "stride": 2, "padding": 1},
                 {"shape": (1, 3, 9, 7), "out_channels": 2, "kernel_size": (3, 2), "stride": (3, 2),
                  "padding": (0, 1), "dilation": (1, 2)}]

    @R("conv2d", defaults={"shape": (2, 2, 5, 5), "out_channels": 3, "kernel_size": 3, "stride": 1,
                           "padding": 0, "dilation": 1, "groups": 1, "bias": True},
       grid=conv_grid, requires=("conv2d",))
    def _conv2d(cfg, rng):
        """F.conv2d(x, w, b, stride, padding, dilation, groups)"""
        return _conv(cfg, rng, 2, "conv2d")

    @R("conv2d_algorithm", defaults={"algorithm": "winograd", "shape": (2, 2, 5, 5), "out_channels": 3,
                                     "kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1,
                                     "groups": 1, "bias": True},
       grid=[{}, {"padding": 0, "shape": (1, 3, 6, 7)},
             {"algorithm": "pointwise", "kernel_size": 1, "padding": 0},
             {"algorithm": "pointwise", "kernel_size": 1, "padding": 0, "stride": 2},
             {"algorithm": "depthwise", "shape": (2, 3, 6, 6), "out_channels": 3, "groups": 3},
             {"algorithm": "depthwise", "shape": (2, 3, 7, 6), "out_channels": 3, "groups": 3,
              "stride": 2, "dilation": 2, "padding": 2}],
       requires=("conv2d",))
    def _conv2d_algorithm(cfg, rng):
        """F.conv2d by one of ops/conv_algorithms.py's algorithms (tc.backends.conv_algorithm)"""
        conv, ins = _conv({k: v for k, v in cfg.items() if k != "algorithm"}, rng, 2, "conv2d")

        def fn(*args):
            old = tc.backends.conv_algorithm
            tc.backends.conv_algorithm = cfg["algorithm"]
            try:
                return conv(*args)
            finally:
                tc.backends.conv_algorithm = old
        return fn, ins

    @R("conv1d", defaults={"shape": (2, 2, 7), "out_channels": 3, "kernel_size": 3, "stride": 1,
                           "padding": 0, "dilation": 1, "groups": 1, "bias": True},
       grid=[{}, {"stride": 2, "padding": 1}, {"dilation": 2}, {"groups": 2, "out_channels": 2}],
       requires=("conv1d",))
    def _conv1d(cfg, rng):
        """F.conv1d(x, w, b, stride, padding, dilation, groups)"""
        return _conv(cfg, rng, 1, "conv1d")

    @R("conv3d", defaults={"shape": (1, 2, 4, 4, 4), "out_channels": 2, "kernel_size": 2, "stride": 1,
                           "padding": 0, "dilation": 1, "groups": 1, "bias": True},
       grid=[{}, {"stride": 2, "padding": 1}], requires=("conv3d",))
    def _conv3d(cfg, rng):
        """F.conv3d(x, w, b, stride, padding, dilation, groups)"""
        return _conv(cfg, rng, 3, "conv3d")

    @R("conv_transpose2d", defaults={"shape": (2, 2, 4, 4), "out_channels": 3, "kernel_size": 3,
                                     "stride": 1, "padding": 0, "output_padding": 0, "dilation": 1,
                                     "groups": 1, "bias": True},
       grid=[{}, {"stride": 2, "padding": 1, "output_padding": 1}, {"dilation": 2, "bias": False},
             {"groups": 2, "out_channels": 4, "stride": (2, 1)}, {"kernel_size": (2, 3), "padding": (1, 0)}],
       requires=("conv_transpose2d",))
    def _conv_transpose2d(cfg, rng):
        """F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)"""
        return _conv(cfg, rng, 2, "conv_transpose2d")

    @R("conv_transpose1d", defaults={"shape": (2, 2, 5), "out_channels": 2, "kernel_size": 3,
                                     "stride": 2, "padding": 1, "output_padding": 1, "dilation": 1,
                                     "groups": 1, "bias": True},
       grid=[{}], requires=("conv_transpose1d",))
    def _conv_transpose1d(cfg, rng):
        """F.conv_transpose1d"""
        return _conv(cfg, rng, 1, "conv_transpose1d")

    @R("conv_transpose3d", defaults={"shape": (1, 2, 3, 3, 3), "out_channels": 2, "kernel_size": 2,
                                     "stride": 2, "padding": 0, "output_padding": 0, "dilation": 1,
                                     "groups": 1, "bias": True},
       grid=[{}], requires=("conv_transpose3d",))
    def _conv_transpose3d(cfg, rng):
        """F.conv_transpose3d"""
        return _conv(cfg, rng, 3, "conv_transpose3d")

    @R("unfold", defaults={"shape": (1, 2, 5, 5), "kernel_size": 3, "stride": 1, "padding": 0,
                           "dilation": 1},
       grid=[{}, {"stride": 2, "padding": 1}, {"dilation": 2}], requires=("unfold",))
    def _unfold(cfg, rng):
        """F.unfold(x, kernel_size, dilation, padding, stride): im2col as an op"""
        kw = {k: cfg[k] for k in ("kernel_size", "stride", "padding", "dilation")}
        return (lambda x: _F().unfold(x, **kw)), [randn(rng, cfg["shape"])]

    @R("fold", defaults={"shape": (1, 2, 5, 5), "kernel_size": 3, "stride": 1, "padding": 0,
                         "dilation": 1},
       grid=[{}, {"stride": 2, "padding": 1}], requires=("fold", "unfold"))
    def _fold(cfg, rng):
        """F.fold(cols, output_size, ...): col2im, overlapping patches summed (shape = the image)"""
        kw = {k: cfg[k] for k in ("kernel_size", "stride", "padding", "dilation")}
        with tc.no_grad():
            cols = _F().unfold(Tensor._wrap(np.zeros(cfg["shape"])), **kw)
        size = tuple(cfg["shape"][2:])
        return (lambda c: _F().fold(c, size, **kw)), [randn(rng, cols.shape)]

    pool_grid = [{}, {"stride": 1}, {"kernel_size": 3, "stride": 2, "padding": 1},
                 {"ceil_mode": True, "shape": (1, 2, 5, 5)}, {"dilation": 2, "shape": (1, 2, 6, 6)},
                 {"kernel_size": (2, 3), "stride": (1, 2), "shape": (1, 2, 5, 7)},
                 {"ties": True}, {"ties": True, "stride": 1},
                 {"ties": True, "kernel_size": 3, "stride": 2, "padding": 1, "shape": (2, 3, 8, 8)}]

    @R("max_pool2d", defaults={"shape": (2, 2, 6, 6), "kernel_size": 2, "stride": None, "padding": 0,
                               "dilation": 1, "ceil_mode": False, "ties": False},
       grid=pool_grid, requires=("max_pool2d",))
    def _maxpool(cfg, rng):
        """F.max_pool2d; ties=True fills windows with exact ties (a kink per window)"""
        kw = {k: cfg[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}
        return (lambda x: _F().max_pool2d(x, **kw)), [_inp(rng, cfg)]

    @R("avg_pool2d", defaults={"shape": (2, 2, 6, 6), "kernel_size": 2, "stride": None, "padding": 0,
                               "ceil_mode": False, "count_include_pad": True},
       grid=[{}, {"kernel_size": 3, "stride": 2, "padding": 1},
             {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
             {"ceil_mode": True, "shape": (1, 2, 5, 5), "kernel_size": 2}],
       requires=("avg_pool2d",))
    def _avgpool(cfg, rng):
        """F.avg_pool2d"""
        kw = {k: cfg[k] for k in ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")}
        return (lambda x: _F().avg_pool2d(x, **kw)), [randn(rng, cfg["shape"])]

    @R("max_pool1d", defaults={"shape": (2, 2, 9), "kernel_size": 3, "stride": 2, "padding": 1},
       grid=[{}, {"kernel_size": 2, "stride": None, "padding": 0}], requires=("max_pool1d",))
    def _maxpool1d(cfg, rng):
        """F.max_pool1d (the 2-D op on rows)"""
        kw = {k: cfg[k] for k in ("kernel_size", "stride", "padding")}
        return (lambda x: _F().max_pool1d(x, **kw)), [randn(rng, cfg["shape"])]

    @R("avg_pool1d", defaults={"shape": (2, 2, 9), "kernel_size": 3, "stride": 2, "padding": 1},
       grid=[{}], requires=("avg_pool1d",))
    def _avgpool1d(cfg, rng):
        """F.avg_pool1d"""
        kw = {k: cfg[k] for k in ("kernel_size", "stride", "padding")}
        return (lambda x: _F().avg_pool1d(x, **kw)), [randn(rng, cfg["shape"])]

    @R("interpolate", defaults={"shape": (2, 2, 4, 5), "size": (7, 3), "mode": "nearest",
                                "align_corners": None},
       grid=[{}, {"mode": "bilinear"}, {"mode": "bilinear", "align_corners": True},
             {"mode": "bilinear", "size": (2, 2)}], requires=("interpolate",))
    def _interpolate(cfg, rng):
        """F.interpolate(x, size, mode, align_corners)"""
        return (lambda x: _F().interpolate(x, cfg["size"], mode=cfg["mode"], align_corners=cfg["align_corners"])), \
            [randn(rng, cfg["shape"])]

    @R("adaptive_avg_pool2d", defaults={"shape": (2, 2, 7, 10), "output_size": (3, 4)},
       grid=[{}, {"output_size": (1, 1)}, {"output_size": (9, 12)}, {"output_size": (7, 5)}],
       requires=("adaptive_avg_pool2d",))
    def _adaptive_avg(cfg, rng):
        """F.adaptive_avg_pool2d (windows overlap when the output does not divide the input)"""
        return (lambda x: _F().adaptive_avg_pool2d(x, cfg["output_size"])), [randn(rng, cfg["shape"])]

    @R("adaptive_max_pool2d", defaults={"shape": (2, 2, 7, 10), "output_size": (3, 4)},
       grid=[{}, {"output_size": (1, 1)}, {"output_size": (9, 12)}, {"output_size": (7, 5)}],
       requires=("adaptive_max_pool2d",))
    def _adaptive_max(cfg, rng):
        """F.adaptive_max_pool2d"""
        return (lambda x: _F().adaptive_max_pool2d(x, cfg["output_size"])), [randn(rng, cfg["shape"])]

    @R("cross_entropy", defaults={"shape": (4, 5), "reduction": "mean", "weight": False,
                                  "ignore_index": -100, "label_smoothing": 0.0},
       grid=[{}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": True},
             {"ignore_index": 1}, {"label_smoothing": 0.1}, {"weight": True, "label_smoothing": 0.2},
             {"shape": (2, 3, 2, 2)}],
       requires=("cross_entropy",))
    def _ce(cfg, rng):
        """F.cross_entropy(logits, labels, weight, ignore_index, reduction, label_smoothing)"""
        shape = cfg["shape"]
        n, c = shape[0], shape[1]
        tgt = Tensor._wrap(rng.integers(0, c, size=(n,) + tuple(shape[2:])).astype(np.int64))
        if cfg["ignore_index"] >= 0:
            tgt._data.reshape(-1)[::2] = cfg["ignore_index"]
        w = Tensor._wrap(rng.uniform(0.5, 2.0, c)) if cfg["weight"] else None
        kw = dict(weight=w, ignore_index=cfg["ignore_index"], reduction=cfg["reduction"])
        if cfg["label_smoothing"]:
            kw["label_smoothing"] = cfg["label_smoothing"]
        return (lambda x: _F().cross_entropy(x, tgt, **kw)), [randn(rng, shape)]

    @R("nll_loss", defaults={"shape": (4, 5), "reduction": "mean", "weight": False},
       grid=[{}, {"reduction": "sum"}, {"weight": True}], requires=("nll_loss",))
    def _nll(cfg, rng):
        """F.nll_loss(log_probs, labels, weight, reduction)"""
        n, c = cfg["shape"]
        tgt = labels(rng, n, c)
        w = Tensor._wrap(rng.uniform(0.5, 2.0, c)) if cfg["weight"] else None
        return (lambda x: _F().nll_loss(x, tgt, weight=w, reduction=cfg["reduction"])), [randn(rng, cfg["shape"])]

    @R("mse_loss", defaults={"shape": (3, 4), "reduction": "mean"},
       grid=[{}, {"reduction": "sum"}, {"reduction": "none"}], requires=("mse_loss",))
    def _mse(cfg, rng):
        """F.mse_loss(a, b): both inputs get gradients"""
        r = cfg["reduction"]
        return (lambda a, b: _F().mse_loss(a, b, reduction=r)), [randn(rng, cfg["shape"]), randn(rng, cfg["shape"])]

    @R("layer_norm", defaults={"shape": (3, 4, 5), "normalized_shape": (5,)},
       grid=[{}, {"normalized_shape": (4, 5)}], requires=("layer_norm",))
    def _ln(cfg, rng):
        """F.layer_norm(x, normalized_shape, weight, bias)"""
        ns = cfg["normalized_shape"]
        return (lambda x, w, b: _F().layer_norm(x, ns, w, b)), \
            [randn(rng, cfg["shape"]), randn(rng, ns), randn(rng, ns)]

    @R("group_norm", defaults={"shape": (2, 4, 3, 3), "num_groups": 2},
       grid=[{}, {"num_groups": 1}, {"num_groups": 4}], requires=("group_norm",))
    def _gn(cfg, rng):
        """F.group_norm(x, num_groups, weight, bias)"""
        c = cfg["shape"][1]
        return (lambda x, w, b: _F().group_norm(x, cfg["num_groups"], w, b)), \
            [randn(rng, cfg["shape"]), randn(rng, (c,)), randn(rng, (c,))]

    @R("batch_norm", defaults={"shape": (4, 3, 2, 2), "training": True, "affine": True},
       grid=[{}, {"affine": False}, {"training": False}, {"shape": (5, 3)}], requires=("batch_norm",))
    def _bn(cfg, rng):
        """F.batch_norm(x, running_mean, running_var, weight, bias, training)"""
        c = cfg["shape"][1]
        rm, rv = np.zeros(c), np.ones(c)
        ins = [randn(rng, cfg["shape"])]
        if cfg["affine"]:
            ins += [randn(rng, (c,)), randn(rng, (c,))]
        training = cfg["training"]

        def fn(x, w=None, b=None):
            # fresh running statistics on every call: the check must see the same function
            return _F().batch_norm(x, Tensor._wrap(rm.copy()), Tensor._wrap(rv.copy()), w, b,
                                   training=training)
        return fn, ins

    @R("dropout", defaults={"shape": (4, 5), "p": 0.5}, grid=[{}, {"p": 0.2}], requires=("dropout",))
    def _dropout(cfg, rng):
        """F.dropout(x, p, training=True): gradcheck reseeds tc's generator before every call"""
        p = cfg["p"]
        return (lambda x: _F().dropout(x, p, True)), [randn(rng, cfg["shape"])]

    _register_porting_ops(R)


def _register_porting_ops(R: Callable) -> None:
    """The ops real PyTorch scripts needed when ported (issue 12): losses, layers, small ops."""
    reductions = [{}, {"reduction": "sum"}, {"reduction": "none"}]

    for name in ("sin", "cos"):
        R(name, (lambda name: lambda cfg, rng: ((lambda x: getattr(x, name)()),
                                                [leaf(rng.uniform(-7, 7, cfg["shape"]))]))(name),
          defaults={"shape": (3, 4)}, grid=[{}, {"shape": (2, 3, 2)}], doc=f"{name}(x)")

    @R("l1_loss", defaults={"shape": (3, 4), "reduction": "mean"}, grid=reductions, requires=("l1_loss",))
    def _l1(cfg, rng):
        """F.l1_loss(a, b): both inputs get gradients (differences kept away from 0)"""
        a = leaf(_off_kinks(rng, cfg["shape"], (0.0,)))
        return (lambda x, y: _F().l1_loss(x, y, reduction=cfg["reduction"])), \
            [a, leaf(np.zeros(cfg["shape"]))]

    for name, key in (("smooth_l1_loss", "beta"), ("huber_loss", "delta")):
        @R(name, defaults={"shape": (3, 4), "reduction": "mean", key: 1.0},
           grid=[{}, {"reduction": "none", key: 0.5}, {key: 3.0}], requires=(name,))
        def _huber(cfg, rng, name=name, key=key):
            """F.smooth_l1_loss(a, b, beta) / F.huber_loss(a, b, delta) (|a - b| off the threshold)"""
            t = cfg[key]
            a = leaf(_off_kinks(rng, cfg["shape"], (-t, t)))
            fn = getattr(_F(), name)
            return (lambda x, y: fn(x, y, reduction=cfg["reduction"], **{key: t})), \
                [a, leaf(np.zeros(cfg["shape"]))]

    @R("binary_cross_entropy", defaults={"shape": (3, 4), "reduction": "mean", "weight": False},
       grid=reductions + [{"weight": True}], requires=("binary_cross_entropy",))
    def _bce(cfg, rng):
        """F.binary_cross_entropy(p, y, weight): p in (0.05, 0.95); y gets a gradient too"""
        w = Tensor._wrap(rng.uniform(0.5, 2, cfg["shape"][-1:])) if cfg["weight"] else None
        return (lambda p, y: _F().binary_cross_entropy(p, y, weight=w, reduction=cfg["reduction"])), \
            [leaf(rng.uniform(0.05, 0.95, cfg["shape"])), leaf(rng.uniform(0, 1, cfg["shape"]))]

    @R("binary_cross_entropy_with_logits",
       defaults={"shape": (3, 4), "reduction": "mean", "weight": False, "pos_weight": False},
       grid=reductions + [{"weight": True, "pos_weight": True}],
       requires=("binary_cross_entropy_with_logits",))
    def _bce_logits(cfg, rng):
        """F.binary_cross_entropy_with_logits(x, y, weight, pos_weight)"""
        c = cfg["shape"][-1:]
        w = Tensor._wrap(rng.uniform(0.5, 2, c)) if cfg["weight"] else None
        pw = Tensor._wrap(rng.uniform(0.5, 3, c)) if cfg["pos_weight"] else None
        return (lambda x, y: _F().binary_cross_entropy_with_logits(
            x, y, weight=w, reduction=cfg["reduction"], pos_weight=pw)), \
            [randn(rng, cfg["shape"]), leaf(rng.uniform(0, 1, cfg["shape"]))]

    @R("kl_div", defaults={"shape": (3, 4), "reduction": "batchmean", "log_target": False},
       grid=[{}, {"reduction": "none"}, {"log_target": True}, {"reduction": "mean", "log_target": True}],
       requires=("kl_div",))
    def _kl(cfg, rng):
        """F.kl_div(log_p, q, reduction, log_target); q > 0 gets a gradient too"""
        q = rng.uniform(0.1, 1, cfg["shape"])
        q = leaf(np.log(q) if cfg["log_target"] else q)
        return (lambda x, y: _F().kl_div(x, y, reduction=cfg["reduction"], log_target=cfg["log_target"])), \
            [randn(rng, cfg["shape"]), q]

    @R("instance_norm", defaults={"shape": (2, 3, 4, 4), "affine": True},
       grid=[{}, {"affine": False}, {"shape": (2, 3, 5)}, {"shape": (1, 2, 2, 3, 2)}], requires=("instance_norm",))
    def _instance_norm(cfg, rng):
        """F.instance_norm(x, weight, bias): each (sample, channel) standardised over its positions"""
        c = cfg["shape"][1]
        ins = [randn(rng, cfg["shape"])] + ([randn(rng, (c,)), randn(rng, (c,))] if cfg["affine"] else [])
        return (lambda x, w=None, b=None: _F().instance_norm(x, weight=w, bias=b)), ins

    @R("max_pool3d", defaults={"shape": (1, 2, 4, 5, 4), "kernel_size": 2, "stride": 2, "padding": 0,
                               "ceil_mode": False},
       grid=[{}, {"kernel_size": 3, "stride": 1, "padding": 1}, {"stride": (1, 2, 1), "ceil_mode": True}],
       requires=("max_pool3d",))
    def _max_pool3d(cfg, rng):
        """F.max_pool3d (two max_pool2d passes); distinct values, so every window has one maximum"""
        x = leaf(rng.permutation(int(np.prod(cfg["shape"]))).reshape(cfg["shape"]) * 0.1)
        return (lambda t: _F().max_pool3d(t, cfg["kernel_size"], cfg["stride"], cfg["padding"],
                                          ceil_mode=cfg["ceil_mode"])), [x]

    @R("avg_pool3d", defaults={"shape": (1, 2, 4, 5, 4), "kernel_size": 2, "stride": 2, "padding": 0,
                               "count_include_pad": True, "divisor_override": 0},
       grid=[{}, {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False},
             {"divisor_override": 5}], requires=("avg_pool3d",))
    def _avg_pool3d(cfg, rng):
        """F.avg_pool3d (two avg_pool2d passes); divisor_override 0 means none"""
        div = cfg["divisor_override"] or None
        return (lambda t: _F().avg_pool3d(t, cfg["kernel_size"], cfg["stride"], cfg["padding"],
                                          count_include_pad=cfg["count_include_pad"],
                                          divisor_override=div)), [randn(rng, cfg["shape"])]

    @R("max_unpool2d", defaults={"shape": (2, 3, 6, 6), "kernel_size": 2}, grid=[{}, {"kernel_size": 3}],
       requires=("max_unpool2d",))
    def _max_unpool2d(cfg, rng):
        """F.max_unpool2d(values, indices of max_pool2d): the gradient is a gather at the indices"""
        k = cfg["kernel_size"]
        _, idx = _F().max_pool2d(Tensor._wrap(rng.standard_normal(cfg["shape"])), k, return_indices=True)
        return (lambda v: _F().max_unpool2d(v, idx, k)), [randn(rng, tuple(idx.shape))]

    @R("pixel_shuffle", defaults={"shape": (2, 8, 3, 3), "factor": 2},
       grid=[{}, {"shape": (1, 9, 2, 2), "factor": 3}], requires=("pixel_shuffle", "pixel_unshuffle"))
    def _pixel_shuffle(cfg, rng):
        """F.pixel_shuffle then (on the result times 2) F.pixel_unshuffle: reshape/permute compositions"""
        r = cfg["factor"]
        return (lambda x: _F().pixel_unshuffle(_F().pixel_shuffle(x, r) * 2, r)), [randn(rng, cfg["shape"])]

    @R("embedding", defaults={"rows": 6, "dim": 3}, grid=[{}, {"dim": 1}], requires=("embedding",))
    def _embedding(cfg, rng):
        """F.embedding(indices, weight) with repeated indices (padding_idx and scale_grad_by_freq
        change the gradient on purpose, so they are compared with torch in the tests instead)"""
        idx = Tensor._wrap(np.array([[0, 2, 2], [5, 1, 2]]))
        return (lambda w: _F().embedding(idx, w)), [randn(rng, (cfg["rows"], cfg["dim"]))]


def _off_kinks(rng: np.random.Generator, shape: Any, kinks: tuple, margin: float = 0.01) -> np.ndarray:
    """Values in [-7, 7] at least `margin` away from every kink, so finite differences with a
    small eps never cross one."""
    x = rng.uniform(-7, 7, shape)
    for k in kinks:
        near = np.abs(x - k) < margin
        x[near] = k + np.where(x[near] >= k, margin, -margin) * 2
    return x


def _conv(cfg: dict, rng: np.random.Generator, nd: int, fname: str) -> tuple:
    shape = cfg["shape"]
    c_in, c_out, groups = shape[1], cfg["out_channels"], cfg["groups"]
    k = cfg["kernel_size"]
    ks = tuple(k) if isinstance(k, tuple) else (k,) * nd
    transposed = "output_padding" in cfg           # weight (C_in, C_out/G, K...) instead of (C_out, C_in/G, K...)
    w = randn(rng, ((c_in, c_out // groups) if transposed else (c_out, c_in // groups)) + ks)
    ins = [randn(rng, shape), w] + ([randn(rng, (c_out,))] if cfg["bias"] else [])
    kw = {k2: cfg[k2] for k2 in ("stride", "padding", "dilation", "groups", "output_padding") if k2 in cfg}

    def fn(x, weight, bias=None):
        return getattr(_F(), fname)(x, weight, bias, **kw)
    return fn, ins



# ------------------------------------------------------------------------- command line
def add_command(sub: Any) -> Any:
    """Add the `gradcheck` subcommand to the `tinygrad-cnn` parser (see cli.py)."""
    import argparse
    p = sub.add_parser(
        "gradcheck", help="gradient-check one built-in op, or every op over a grid (--all)",
        description="Gradient-check a built-in op against central differences. Op-specific "
                    "settings are given as --KEY VALUE after the op name (e.g. conv2d --shape "
                    "1,2,7,7 --stride 2 --padding 1); `--list` shows each op's keys and defaults.",
        epilog="exit status: 0 when every check passes, 1 when any fails or errors, 2 on usage errors")
    p.add_argument("op", nargs="?", help="the op to check (see --list)")
    _add_check_flags(p)
    p.add_argument("op_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=run_command)
    return p


def _add_check_flags(p: Any) -> None:
    p.add_argument("--all", action="store_true", help="check every registered op over its grid")
    p.add_argument("--quick", action="store_true", help="with --all: the first configuration of each op only")
    p.add_argument("--ops", default=None, help="with --all: a comma-separated subset of ops")
    p.add_argument("--list", action="store_true", help="list the ops, their keys and defaults")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it may register ops); repeatable")
    p.add_argument("--eps", type=float, default=None, help="finite-difference step (default 1e-6)")
    p.add_argument("--atol", type=float, default=None, help="absolute tolerance (default 1e-5)")
    p.add_argument("--rtol", type=float, default=None, help="relative tolerance (default 1e-3)")
    p.add_argument("--fast", action="store_true", help="fast mode: random projections vᵀJu")
    p.add_argument("--order", type=int, choices=(1, 2), default=1,
                   help="2: check second derivatives (gradgradcheck; configurations with ties skipped)")
    p.add_argument("--seed", type=int, default=0, help="seed for inputs and resampling (default 0)")
    p.add_argument("--verbose", "-v", action="store_true", help="print the full report of every check")


def _parse_config(tokens: list[str], case: OpCase) -> dict:
    cfg: dict = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--"):
            raise ValueError(f"unexpected argument {tok!r}; op settings are --KEY VALUE pairs")
        key, sep, value = tok[2:].partition("=")
        key = key.replace("-", "_")
        if key not in case.defaults:
            raise ValueError(f"{case.name} has no setting --{key.replace('_', '-')}; it takes "
                             + (", ".join(f"--{k.replace('_', '-')}" for k in case.defaults) or "none"))
        if not sep:
            if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                value = tokens[i + 1]
                i += 1
            else:
                value = "true"              # a bare --flag
        cfg[key] = parse_value(value, case.defaults[key])
        i += 1
    return cfg


def run_command(args: Any) -> int:
    import argparse
    extra = list(getattr(args, "op_args", []) or [])
    if extra:                                # flags given after OP land here: parse them again
        again = argparse.ArgumentParser(add_help=False)
        _add_check_flags(again)
        known, extra = again.parse_known_args(extra)
        for k, v in vars(known).items():
            if v != again.get_default(k):
                setattr(args, k, list(args.imports) + v if k == "imports" else v)
    for mod in args.imports:
        try:
            _import(mod)
        except (ImportError, OSError) as e:
            print(f"gradcheck: cannot import {mod!r}: {e}", file=sys.stderr)
            return 2
    if args.list:
        return _print_list()
    tol = dict(eps=args.eps, atol=args.atol, rtol=args.rtol)
    if args.all:
        if args.op or extra:
            print("gradcheck: --all takes no op name or op settings (use --ops a,b to choose ops)",
                  file=sys.stderr)
            return 2
        return _run_all(args, tol)
    if not args.op:
        print("gradcheck: name an op (tinygrad-cnn gradcheck --list) or pass --all", file=sys.stderr)
        return 2
    try:
        case = get(args.op)
        cfg = _parse_config(extra, case)
    except (KeyError, ValueError) as e:
        print(f"gradcheck: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    if not _available(case):
        print(f"gradcheck: {case.name} needs nn.functional.{', '.join(case.requires)}, which this "
              f"build does not have", file=sys.stderr)
        return 2
    row = check(case.name, cfg, seed=args.seed, fast_mode=args.fast, order=args.order, **tol)
    print(format_header())
    print(format_row(row))
    if row.status == "ERROR":
        print(f"\n{row.op} raised: {row.message}")
    elif row.result is not None and (args.verbose or not row.passed):
        print()
        print(row.result.report())
    elif row.notes:
        print("\n".join("note: " + n for n in row.notes))
    return 0 if row.passed else 1


def _import(target: str) -> None:
    """A module by dotted name (searched from the current directory too) or a .py file path."""
    import importlib
    import importlib.util
    import os
    if target.endswith(".py") or os.path.sep in target:
        name = "_gradcheck_plugin_" + os.path.splitext(os.path.basename(target))[0]
        spec = importlib.util.spec_from_file_location(name, target)
        if spec is None or spec.loader is None:
            raise ImportError(f"no Python file at {target}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    importlib.import_module(target)


def _run_all(args: Any, tol: dict) -> int:
    ops = None
    if args.ops:
        ops = [o.strip() for o in args.ops.split(",") if o.strip()]
        for o in ops:
            try:
                case = get(o)
            except KeyError as e:
                print(f"gradcheck: {e.args[0]}", file=sys.stderr)
                return 2
            if not _available(case):
                print(f"gradcheck: {o} is not available in this build", file=sys.stderr)
                return 2
    start = time.perf_counter()
    print(format_header(), flush=True)
    rows: list[Row] = []

    def show(row: Row) -> None:
        rows.append(row)
        print(format_row(row), flush=True)
        if args.verbose and row.result is not None:
            print(row.result.report(), flush=True)

    check_all(ops, quick=args.quick, seed=args.seed, fast_mode=args.fast, on_row=show,
              order=args.order, **tol)
    elapsed = time.perf_counter() - start
    bad = [r for r in rows if not r.passed]
    n_ops = len({r.op for r in rows})
    print()
    missing = unavailable() if ops is None else []
    if missing:
        print(f"not in this build (their nn.functional function is missing): {', '.join(missing)}")
    if not bad:
        print(f"all {len(rows)} configurations of {n_ops} ops passed in {elapsed:.1f} s")
        return 0
    print(f"{len(bad)} of {len(rows)} configurations FAILED ({len({r.op for r in bad})} of "
          f"{n_ops} ops) in {elapsed:.1f} s:")
    for r in bad:
        print(f"\n=== {r.status}: {r.op} [{r.config}]")
        print(r.message if r.message else "(no message)")
    return 1


def _print_list() -> int:
    _load_builtins()
    for name, case in _REGISTRY.items():
        flag = "" if _available(case) else "   [not in this build]"
        print(f"{name:<16} {case.doc}{flag}")
        keys = " ".join(f"--{k.replace('_', '-')} {_show(v)}" for k, v in case.defaults.items())
        print(f"{'':<16} defaults: {keys or '(none)'}; grid: {len(case.configs())} configurations")
    return 0
