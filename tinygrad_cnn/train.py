"""The training loop behind `tinygrad-cnn train`: data split, epochs, evaluation, checkpoints.

    from tinygrad_cnn.train import TrainConfig, fit
    result = fit(TrainConfig(epochs=3))          # LeNet-5 on MNIST with the CLI's defaults
    result.test_accuracy, result.history

One epoch is the PyTorch loop written out — `opt.zero_grad(); loss.backward(); opt.step();
sched.step()` per batch — over the training part of the training set; the last
`valid_size` training images are held out and evaluated after each epoch; the test set is
evaluated once, at the end.

Checkpoints (`checkpoint=DIR`) are written with `tc.save` (atomic) after every epoch to
`DIR/checkpoint.npz`: model, optimizer, scheduler, epoch, history, the framework's random
generator and the loader's shuffling generator. `resume=True` restores all of it, so the
epochs that follow are the ones an uninterrupted run would have computed (same batches, same
losses, bit for bit).
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import rng
from .data import DataLoader, FashionMNIST, MNIST, Subset
from .data.dataloader import generator_state, set_generator_state
from .ops.parallel import get_blas_threads, set_blas_threads

__all__ = ["TrainConfig", "TrainResult", "fit", "evaluate", "train_one_epoch", "DATASETS",
           "DEFAULT_LR", "CHECKPOINT_NAME"]

DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST}
DEFAULT_LR = {"sgd": 0.05, "adam": 0.005, "adamw": 0.005}
SCHEDULES = ("cosine", "onecycle", "step", "none")
CHECKPOINT_NAME = "checkpoint.npz"
# settings that must match to resume a checkpoint (the others, e.g. --plot, may change)
_RESUME_KEYS = ("model", "dataset", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
                "label_smoothing", "schedule", "warmup", "seed", "valid_size", "limit_train")


@dataclass
class TrainConfig:
    """Everything a run depends on; the CLI's flags map one to one onto these fields."""
    model: str = "lenet5"
    dataset: str = "mnist"
    epochs: int = 3
    batch_size: int = 64
    lr: float | None = None              # None: DEFAULT_LR[optimizer]
    optimizer: str = "adam"
    momentum: float = 0.9                # SGD only
    weight_decay: float = 0.0
    label_smoothing: float = 0.1         # of the training loss (validation/test: plain cross-entropy)
    schedule: str = "cosine"             # per-step cosine decay to 0 (after `warmup`)
    warmup: float = 0.1                  # fraction of all steps with a linear warm-up
    seed: int = 0
    valid_size: int = 5000               # the last images of the training set
    limit_train: int | None = None       # use only the first N training images (quick runs)
    limit_test: int | None = None
    eval_batch_size: int = 100          # larger batches would raise the peak memory
    data_root: str | None = None
    download: bool = False
    checkpoint: str | None = None
    resume: bool = False
    plot: str | None = None
    progress: bool | None = None         # None: a bar in Jupyter or when stderr is a terminal
    blas_threads: int = 1                # NumPy's OpenBLAS threads during the run (0: leave as is)

    def resolved_lr(self) -> float:
        return float(self.lr if self.lr is not None else DEFAULT_LR[self.optimizer])


@dataclass
class TrainResult:
    config: TrainConfig
    history: dict = field(default_factory=dict)   # per-epoch lists + per-step losses
    test_loss: float = math.nan
    test_accuracy: float = math.nan               # percent
    seconds: float = 0.0
    model: Any = None


# ------------------------------------------------------------------------------ pieces
def build_model(name: str, num_classes: int = 10) -> Any:
    """A model by registry name with `num_classes` outputs (both datasets have 10 classes; the
    vision builders would otherwise make ImageNet's 1000)."""
    from .models import get_model
    return get_model(name, num_classes=num_classes)


def _dataset_class(cfg: TrainConfig) -> Any:
    if cfg.dataset not in DATASETS:
        raise ValueError(f"unknown dataset {cfg.dataset!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[cfg.dataset]


def load_train_valid(cfg: TrainConfig) -> tuple[Any, Any]:
    """(train, valid) Subsets of cfg.dataset's training set: valid = its last cfg.valid_size
    images, train = the ones before (the first cfg.limit_train of them, if set)."""
    full = _dataset_class(cfg)(root=cfg.data_root, train=True, download=cfg.download)
    n = len(full)
    if not 0 <= cfg.valid_size < n:
        raise ValueError(f"valid_size={cfg.valid_size} must be in [0, {n}) for {n} training images")
    n_train = n - cfg.valid_size
    if cfg.limit_train is not None:
        n_train = min(n_train, int(cfg.limit_train))
    return Subset(full, np.arange(n_train)), Subset(full, np.arange(n - cfg.valid_size, n))


def load_test(cfg: TrainConfig) -> Any:
    test = _dataset_class(cfg)(root=cfg.data_root, train=False, download=cfg.download)
    if cfg.limit_test is not None:
        test = Subset(test, np.arange(min(len(test), int(cfg.limit_test))))
    return test


def load_datasets(cfg: TrainConfig) -> tuple[Any, Any, Any]:
    """(train, valid, test) for cfg.dataset: valid = the last cfg.valid_size training images."""
    return (*load_train_valid(cfg), load_test(cfg))


def make_optimizer(cfg: TrainConfig, params: Any) -> Any:
    from . import optim
    lr = cfg.resolved_lr()
    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                         nesterov=cfg.momentum > 0)
    if cfg.optimizer == "adam":
        return optim.Adam(params, lr=lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd, adam or adamw")


def lr_factor(schedule: str, total_steps: int, warmup: float = 0.0) -> Callable[[int], float]:
    """The learning-rate multiplier at step t (0-based: the lr used by the (t+1)-th update).

    cosine: linear warm-up over the first `warmup` fraction of the steps, then
    (1 + cos(π·progress)) / 2 down to 0 at the last step. onecycle: PyTorch's OneCycleLR
    shape (cosine up from 1/25 over 30 % of the steps, then cosine down to 1/25e4).
    step: ×0.1 at 50 % and 75 % of the steps. none: constant.
    """
    total = max(1, total_steps)
    w = int(round(warmup * total))

    def cosine(t: int) -> float:
        if t < w:
            return (t + 1) / w
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (t - w) / max(1, total - w))))

    def onecycle(t: int) -> float:
        up = max(1, int(0.3 * total) - 1)
        lo, end = 1 / 25, 1 / 25e4
        if t <= up:
            return lo + (1 - lo) * (1 - math.cos(math.pi * t / up)) / 2
        p = min(1.0, (t - up) / max(1, total - 1 - up))
        return end + (1 - end) * (1 + math.cos(math.pi * p)) / 2

    def step(t: int) -> float:
        return 0.01 if t >= 0.75 * total else 0.1 if t >= 0.5 * total else 1.0

    table = {"cosine": cosine, "onecycle": onecycle, "step": step, "none": lambda t: 1.0}
    if schedule not in table:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    return table[schedule]


def evaluate(model: Any, dataset: Any, batch_size: int = 100) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in percent) of `model` on `dataset`, in eval mode."""
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    was_training = model.training
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    try:
        with tc.no_grad():
            for x, y in DataLoader(dataset, batch_size=batch_size):
                out = model(x)
                loss_sum += float(F.cross_entropy(out, y, reduction="sum").item())
                correct += int((out._data.argmax(axis=1) == y._data).sum())
                n += y.shape[0]
    finally:
        model.train(was_training)
    return loss_sum / max(n, 1), 100.0 * correct / max(n, 1)


def train_one_epoch(model: Any, loader: DataLoader, optimizer: Any, scheduler: Any = None,
                    bar: Any = None, label_smoothing: float = 0.0) -> list[float]:
    """One pass over `loader`; returns the loss of every step."""
    import tinygrad_cnn.nn.functional as F
    model.train()
    losses = []
    for x, y in loader:
        loss = F.cross_entropy(model(x), y, label_smoothing=label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(float(loss.item()))
        if bar is not None:
            bar.update(1)
            if len(losses) % 25 == 0:
                bar.set_postfix_str(f"loss {np.mean(losses[-25:]):.4f}", refresh=False)
    return losses


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where tqdm.auto draws a notebook widget)."""
    ipython = sys.modules.get("IPython")
    try:
        shell = ipython.get_ipython() if ipython is not None else None
    except Exception:  # noqa: BLE001  (an IPython without a running shell)
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def default_progress() -> bool:
    """A bar by default in a notebook, or when stderr (where the bar goes) is a terminal; never
    into a redirected stderr, so `train 2> log` and CI logs stay clean."""
    return in_notebook() or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _progress_bar(enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return None
    try:
        import warnings
        with warnings.catch_warnings():       # no ipywidgets: tqdm.auto warns, then draws text
            warnings.simplefilter("ignore")
            from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr,
                mininterval=0.25)


# ------------------------------------------------------------------------------ checkpoints
def _checkpoint_state(cfg, model, optimizer, scheduler, loader, epoch, history) -> dict:
    return {
        "format": "tinygrad_cnn.train", "epoch": epoch,
        "config": {k: v for k, v in asdict(cfg).items()},
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"global": generator_state(rng.generator()), "loader": loader.state_dict()},
        "history": history,
    }


def _check_resume_config(saved: dict, cfg: TrainConfig, path: Path) -> None:
    diffs = []
    keys = _RESUME_KEYS if cfg.schedule == "none" else _RESUME_KEYS + ("epochs",)  # sets the schedule
    for k in keys:
        mine = cfg.resolved_lr() if k == "lr" else getattr(cfg, k)
        theirs = saved.get(k)
        if k == "lr" and theirs is None:
            theirs = DEFAULT_LR.get(saved.get("optimizer"), None)
        if mine != theirs and not (isinstance(mine, float) and isinstance(theirs, float)
                                   and math.isclose(mine, theirs)):
            diffs.append(f"{k}: checkpoint {theirs!r}, this run {mine!r}")
    if diffs:
        raise ValueError(f"cannot resume from {path}: it was made with other settings "
                         f"({'; '.join(diffs)}). Pass the same settings, or another --checkpoint "
                         f"directory to start afresh.")


_TRAIN_FORMAT = "tinygrad_cnn.train"
_CHECKPOINT_PARTS = {"epoch": int, "config": dict, "model": dict, "optimizer": dict,
                     "scheduler": dict, "rng": dict, "history": dict}


def _read_resume_checkpoint(path: Path) -> dict:
    """tc.load `path` and check it is a whole `tinygrad-cnn train` checkpoint; otherwise a
    CheckpointError saying what the file holds and what was expected."""
    import tinygrad_cnn as tc
    from .errors import CheckpointError
    state = tc.load(path)
    expected = (f"expected a `tinygrad-cnn train --checkpoint` checkpoint: a dict with format "
                f"{_TRAIN_FORMAT!r} and {', '.join(_CHECKPOINT_PARTS)}")
    if not isinstance(state, dict) or state.get("format") != _TRAIN_FORMAT:
        raise CheckpointError(f"cannot resume from {path}: it holds {_describe(state)}; {expected}")
    wrong = [f"{k} (missing)" if k not in state else f"{k} (a {type(state[k]).__name__}, not a {t.__name__})"
             for k, t in _CHECKPOINT_PARTS.items()
             if k not in state or not isinstance(state[k], t) or isinstance(state[k], bool)]
    if wrong:
        raise CheckpointError(f"cannot resume from {path}: a partial or damaged checkpoint: "
                              f"{', '.join(wrong)}; {expected}")
    return state


def _describe(obj: Any) -> str:
    from .tensor import Tensor
    if not isinstance(obj, dict):
        return f"a {type(obj).__name__}"
    keys = list(obj)
    shown = ", ".join(repr(k)[:40] for k in keys[:4]) + (", ..." if len(keys) > 4 else "")
    if keys and all(isinstance(v, (Tensor, np.ndarray)) for v in obj.values()):
        return (f"a flat dict of {len(keys)} arrays ({shown}): a bare state dict or a plain "
                f"np.savez file")
    return f"a dict with keys {shown or 'none'} and no format {_TRAIN_FORMAT!r} tag"


def _restore(state: dict, path: Path, cfg: TrainConfig, model: Any, optimizer: Any,
             scheduler: Any, loader: DataLoader) -> tuple[dict, int]:
    """Load every part of a checked checkpoint; a part that does not fit this run is a
    CheckpointError naming it. Returns (history, first epoch)."""
    from .errors import CheckpointError

    def history() -> dict:
        return {k: list(v.tolist() if hasattr(v, "tolist") else v) for k, v in state["history"].items()}
    steps = [("model", lambda: model.load_state_dict(state["model"])),
             ("optimizer", lambda: optimizer.load_state_dict(state["optimizer"])),
             ("scheduler", lambda: scheduler.load_state_dict(state["scheduler"])),
             ("random generator", lambda: set_generator_state(rng.generator(), state["rng"]["global"])),
             ("loader", lambda: loader.load_state_dict(state["rng"]["loader"])),
             ("history", history)]
    restored = {}
    for part, step in steps:
        try:
            restored[part] = step()
        except (ArithmeticError, LookupError, RuntimeError, TypeError, ValueError) as e:
            # StateDictError is a RuntimeError, ArgumentError a ValueError, a missing key a KeyError
            raise CheckpointError(f"cannot resume from {path}: its {part} state does not fit this "
                                  f"run ({cfg.model} with {cfg.optimizer}): {type(e).__name__}: "
                                  f"{str(e)[:500]}") from None
    return restored["history"], state["epoch"] + 1


# ------------------------------------------------------------------------------ the loop
def fit(cfg: TrainConfig | None = None, log: Callable[[str], None] = print, **overrides: Any) -> TrainResult:
    """Train cfg.model on cfg.dataset; print one line per epoch and the final test accuracy.
    Fields of `overrides` replace those of `cfg`. OpenBLAS runs with cfg.blas_threads threads
    during the call (the previous setting is restored after)."""
    cfg = TrainConfig(**{**asdict(cfg or TrainConfig()), **overrides})
    previous = get_blas_threads() if cfg.blas_threads > 0 else None
    if previous is not None:
        set_blas_threads(cfg.blas_threads)
    try:
        return _fit(cfg, log)
    finally:
        if previous is not None:
            set_blas_threads(previous)


def _fit(cfg: TrainConfig, log: Callable[[str], None]) -> TrainResult:
    import tinygrad_cnn as tc
    from .optim import lr_scheduler

    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError(f"epochs ({cfg.epochs}) and batch_size ({cfg.batch_size}) must be >= 1")
    if cfg.optimizer not in DEFAULT_LR:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose one of {', '.join(DEFAULT_LR)}")
    lr_factor(cfg.schedule, 1)                       # validate the name before loading data
    start = time.perf_counter()
    ckpt_path = Path(cfg.checkpoint) / CHECKPOINT_NAME if cfg.checkpoint else None
    state = None
    if cfg.resume:
        if ckpt_path is None:
            raise ValueError("resume needs a checkpoint directory (--checkpoint DIR)")
        if ckpt_path.exists():                       # checked before the data is read: fail fast
            state = _read_resume_checkpoint(ckpt_path)
            _check_resume_config(state["config"], cfg, ckpt_path)
    tc.manual_seed(cfg.seed)
    train_set, valid_set = load_train_valid(cfg)
    # the test images are read at the end (they are not needed before, and the training's
    # temporaries are free by then): only check now that they are there
    _dataset_class(cfg).find(cfg.data_root, train=False, download=cfg.download)
    model = build_model(cfg.model)
    optimizer = make_optimizer(cfg, model.parameters())
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
    total_steps = cfg.epochs * len(loader)
    scheduler = lr_scheduler.LambdaLR(optimizer, lr_factor(cfg.schedule, total_steps, cfg.warmup))
    history: dict = {"epoch": [], "train_loss": [], "valid_loss": [], "valid_accuracy": [],
                     "seconds": [], "lr": [], "step_loss": []}
    first_epoch = 1

    if state is not None:
        history, first_epoch = _restore(state, ckpt_path, cfg, model, optimizer, scheduler, loader)
        log(f"resumed from {ckpt_path} after epoch {first_epoch - 1}")
    elif cfg.resume:
        log(f"no checkpoint at {ckpt_path}: starting from scratch")

    dataset_name = type(train_set.dataset).__name__
    log(f"{cfg.model} on {dataset_name} ({train_set.dataset.root}): {len(train_set)} train / "
        f"{len(valid_set)} valid images; {cfg.optimizer} "
        f"lr {cfg.resolved_lr():g} ({cfg.schedule}), "
        + (f"label smoothing {cfg.label_smoothing:g}, " if cfg.label_smoothing else "")
        + f"batch {cfg.batch_size}, {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}, seed {cfg.seed}")
    show_bar = default_progress() if cfg.progress is None else cfg.progress
    for epoch in range(first_epoch, cfg.epochs + 1):
        t0 = time.perf_counter()
        bar = _progress_bar(show_bar, len(loader), f"epoch {epoch}/{cfg.epochs}")
        try:
            lr_now = optimizer.param_groups[0]["lr"]
            losses = train_one_epoch(model, loader, optimizer, scheduler, bar, cfg.label_smoothing)
        finally:
            if bar is not None:
                bar.close()
        train_time = time.perf_counter() - t0
        valid_loss, valid_acc = evaluate(model, valid_set, cfg.eval_batch_size) if len(valid_set) \
            else (math.nan, math.nan)
        seconds = time.perf_counter() - t0
        for k, v in (("epoch", epoch), ("train_loss", float(np.mean(losses))), ("valid_loss", valid_loss),
                     ("valid_accuracy", valid_acc), ("seconds", seconds), ("lr", lr_now)):
            history[k].append(v)
        history["step_loss"].extend(losses)
        if ckpt_path is not None:           # saved before the epoch is reported
            ckpt_path.parent.mkdir(parents=True, exist_ok=True)
            tc.save(_checkpoint_state(cfg, model, optimizer, scheduler, loader, epoch, history),
                    ckpt_path)
        log(f"epoch {epoch}/{cfg.epochs}  train loss {np.mean(losses):.4f}  valid loss "
            f"{valid_loss:.4f}  valid acc {valid_acc:.2f}%  time {seconds:.1f}s "
            f"({train_time:.1f}s training, {len(train_set) / train_time:.0f} img/s)")

    del loader, train_set, valid_set
    test_set = load_test(cfg)
    test_loss, test_acc = evaluate(model, test_set, cfg.eval_batch_size)
    total = time.perf_counter() - start
    log(f"test accuracy {test_acc:.2f}%  (loss {test_loss:.4f}, {len(test_set)} images; "
        f"total time {total:.1f}s)")
    result = TrainResult(cfg, history, test_loss, test_acc, total, model)
    if cfg.plot:
        del test_set                                        # free the images before matplotlib
        plot_history(history, cfg.plot, title=f"{cfg.model} on {dataset_name}",
                     test_accuracy=test_acc,
                     train_note=f", label smoothing {cfg.label_smoothing:g}" if cfg.label_smoothing else "")
        log(f"wrote {cfg.plot}")
    return result


def matplotlib_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("matplotlib") is not None


def accuracy_limits(values: list) -> tuple[float, float]:
    """y-limits for accuracy curves: the data's range with a margin of 15 % of it (at least
    0.5 points) each side, clipped to [0, 100], so 98.9 vs 99.1 % is visible."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return 0.0, 100.0
    lo, hi = min(vals), max(vals)
    pad = max(0.5, 0.15 * (hi - lo))
    return max(0.0, lo - pad), min(100.0, hi + pad)


def plot_history(history: dict, path: str | os.PathLike, title: str = "",
                 test_accuracy: float | None = None, train_note: str = "") -> None:
    """Loss (per step, smoothed, and per epoch) and validation accuracy curves to `path`."""
    try:
        import matplotlib
        import matplotlib.ticker
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'tinygrad_cnn[plot]' "
                          "(or pip install matplotlib)") from None
    steps = np.asarray(history["step_loss"], dtype=np.float64)
    epochs = np.asarray(history["epoch"])
    per_epoch = len(steps) / max(len(epochs), 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if steps.size:
        k = max(1, int(per_epoch // 20))
        smooth = np.convolve(steps, np.ones(k) / k, mode="valid")
        ax1.plot((np.arange(smooth.size) + k) / per_epoch, smooth, lw=0.8, alpha=0.7,
                 label=f"train loss{train_note} (per step, mean of {k})")
    ax1.plot(epochs - 0.5, history["train_loss"], "o-", label=f"train loss{train_note} (epoch mean)")
    ax1.plot(epochs, history["valid_loss"], "s-", label="valid loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.set_yscale("log")
    ax1.legend(loc="upper right", fontsize="small")
    ax1.grid(alpha=0.3)
    ax2.plot(epochs, history["valid_accuracy"], "o-", label="valid accuracy")
    if test_accuracy is not None:
        ax2.axhline(test_accuracy, color="C3", ls="--", label=f"test accuracy {test_accuracy:.2f}%")
    ax2.set_xlabel("epoch")
    ax2.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax2.set_ylim(*accuracy_limits(list(history["valid_accuracy"]) +
                                  ([test_accuracy] if test_accuracy is not None else [])))
    ax2.set_ylabel("accuracy (%)")
    ax2.legend()
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------ the CLI command
def _cmd_train(args: Any) -> int:
    """`tinygrad-cnn train ...`: build a TrainConfig from the flags and run `fit`."""
    from .data import CorruptDatasetError, DatasetNotFoundError, DownloadError
    from .errors import ShapeError
    from .serialization import CheckpointError

    if args.resume and not args.checkpoint:
        print("error: --resume needs --checkpoint DIR (where the checkpoint is)", file=sys.stderr)
        return 2
    if args.plot and not matplotlib_available():
        print("error: --plot needs matplotlib, which is not installed: pip install "
              "'tinygrad_cnn[plot]' (or pip install matplotlib), or drop --plot", file=sys.stderr)
        return 2
    fields = {f for f in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    try:
        fit(cfg)
    except (DatasetNotFoundError, CorruptDatasetError, DownloadError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ShapeError, ValueError) as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:                 # `tinygrad-cnn train | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        where = f"; the last finished epoch is in {args.checkpoint} (--resume continues)" \
            if args.checkpoint else ""
        print(f"\ninterrupted{where}", file=sys.stderr)
        return 130
    return 0


def add_command(sub: Any) -> None:
    """Register `train` on the CLI's subparsers."""
    import argparse

    from .models import available_models

    d = TrainConfig()
    p = sub.add_parser(
        "train", help="train a CNN (LeNet-5 on MNIST by default) and report test accuracy",
        description="Train a model with a progress bar (on a terminal), print per epoch the "
                    "training loss, the accuracy on a validation split held out of the training "
                    "set, and the time; then the test accuracy, once. The defaults reach ≥ 99.0% "
                    "test accuracy on MNIST in 3 epochs.")
    p.add_argument("--model", default=d.model, choices=available_models(), help="model to train (default %(default)s)")
    p.add_argument("--dataset", default=d.dataset, choices=sorted(DATASETS), help="dataset (default %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs (passes over the train split) (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="training batch size (default %(default)s)")
    p.add_argument("--lr", type=float, default=None,
                   help=f"peak learning rate (default: {', '.join(f'{k} {v}' for k, v in DEFAULT_LR.items())})")
    p.add_argument("--optimizer", default=d.optimizer, choices=sorted(DEFAULT_LR), help="optimizer (default %(default)s)")
    p.add_argument("--momentum", type=float, default=d.momentum, help="SGD (Nesterov) momentum (default %(default)s)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="weight decay (default %(default)s)")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing,
                   help="label smoothing of the training loss (default %(default)s)")
    p.add_argument("--schedule", default=d.schedule, choices=SCHEDULES,
                   help="learning-rate schedule over all steps (default %(default)s)")
    p.add_argument("--warmup", type=float, default=d.warmup,
                   help="fraction of the steps with a linear warm-up (cosine schedule) (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for weights and shuffling (default %(default)s)")
    p.add_argument("--valid-size", type=int, default=d.valid_size,
                   help="training images held out for validation (the last ones) (default %(default)s)")
    p.add_argument("--limit-train", type=int, default=None, metavar="N",
                   help="train on the first N training images only (quick runs)")
    p.add_argument("--limit-test", type=int, default=None, metavar="N",
                   help="test on the first N test images only")
    p.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size,
                   help="batch size for validation and test (default %(default)s)")
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help="folder with the IDX files (default: searched in ./data/DATASET, "
                        "$TINYGRAD_CNN_DATA, the user cache ~/.cache/tinygrad_cnn/DATASET, a source "
                        "checkout's data/, and /usr/share/datasets for fashion-mnist)")
    p.add_argument("--download", action="store_true",
                   help="download missing dataset files (into --data-root, else the user cache)")
    p.add_argument("--checkpoint", default=None, metavar="DIR",
                   help=f"save DIR/{CHECKPOINT_NAME} after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from DIR/" + CHECKPOINT_NAME)
    p.add_argument("--plot", default=None, metavar="PNG", help="write loss/accuracy curves (matplotlib)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: in Jupyter, or when stderr is a terminal; never "
                        "into a redirected stderr)")
    p.add_argument("--blas-threads", type=int, default=1, metavar="N",
                   help="threads for NumPy's OpenBLAS; 0 leaves its default (default 1: LeNet's "
                        "matrices are too small to gain from more)")
    p.set_defaults(func=_cmd_train)
