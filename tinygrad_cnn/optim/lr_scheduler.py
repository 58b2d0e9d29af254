"""Learning-rate schedules, PyTorch's classes and (chainable) update formulas.

Construct a scheduler after the optimizer and call `scheduler.step()` once per epoch, after the
epoch's `optimizer.step()` calls. Construction records `initial_lr` in each parameter group and
sets `last_epoch = 0`. `state_dict()` holds every attribute except the optimizer (plain numbers
and lists, so `tc.save` writes it); to resume, build the scheduler, then load the optimizer's
and the scheduler's state dicts.

    StepLR(opt, step_size, gamma=0.1)        lr = base · γ^⌊epoch / step_size⌋
    MultiStepLR(opt, milestones, gamma=0.1)  lr = base · γ^(number of milestones ≤ epoch)
    ExponentialLR(opt, gamma)                lr = base · γ^epoch
    CosineAnnealingLR(opt, T_max, eta_min=0) lr = η_min + (base - η_min)(1 + cos(π·epoch/T_max))/2
    LambdaLR(opt, lr_lambda)                 lr = base · lr_lambda(epoch)
    LinearLR(opt, start_factor=1/3, end_factor=1, total_iters=5)
                                             lr = base · (s + (e - s)·min(epoch, total)/total)
    OneCycleLR(opt, max_lr, total_steps)     warm up to max_lr, anneal to max_lr/div/final_div
                                             (and momentum the other way); step once per batch
    SequentialLR(opt, schedulers, milestones) one schedule after another
    ReduceLROnPlateau(opt, mode, factor, patience, ...)
                                             lr · factor when step(metric) stops improving
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from typing import Callable

from .optimizer import Optimizer
from ..argcheck import check_callable, check_choice, check_flag, check_int, check_number, check_sequence, describe
from ..errors import ArgumentError

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "LinearLR", "OneCycleLR", "SequentialLR", "ReduceLROnPlateau"]


class LRScheduler:
    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        last_epoch = check_int(last_epoch, "last_epoch", type(self).__name__, minimum=-1)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when "
                                   f"resuming a scheduler with last_epoch >= 0; load the optimizer's "
                                   f"state dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step construction makes (it sets the epoch-0 learning rates)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError(f"{type(self).__name__} must define get_lr() (a subclass of LRScheduler)")

    def get_last_lr(self) -> list[float]:
        """The learning rates the last step() set."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        epoch = check_int(epoch, "epoch", f"{type(self).__name__}.step", minimum=-1, allow_none=True)
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        if not isinstance(state_dict, dict) or not all(isinstance(k, str) for k in state_dict):
            raise ArgumentError(f"{type(self).__name__}.load_state_dict: expected the dict state_dict() "
                                f"returns, got {describe(state_dict)}")
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self.get_last_lr()})"


def _gamma_power(gamma: float, exponent: int, op: str) -> float:
    """gamma ** exponent for a closed-form schedule; step(epoch=-1) with gamma = 0 asks for 0 to
    a negative power (an infinite learning rate), refused naming the scheduler."""
    if gamma == 0 and exponent < 0:
        raise ArgumentError(f"{op}: gamma=0 at epoch {exponent} needs 0 ** {exponent} (an infinite "
                            f"learning rate); step to an epoch >= 0")
    return gamma ** exponent


class StepLR(LRScheduler):
    """Multiply the learning rate by gamma every step_size epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = check_int(step_size, "step_size", "StepLR", minimum=1)
        self.gamma = check_number(gamma, "gamma", "StepLR", finite=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        factor = _gamma_power(self.gamma, self.last_epoch // self.step_size, "StepLR")
        return [base * factor for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by gamma at each epoch listed in milestones."""

    def __init__(self, optimizer: Optimizer, milestones: list[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        milestones = check_sequence(milestones, "milestones", "MultiStepLR", "a list of ints")
        self.milestones = sorted(check_int(m, "milestones", "MultiStepLR") for m in milestones)
        self.gamma = check_number(gamma, "gamma", "MultiStepLR", finite=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        hits = Counter(self.milestones)[self.last_epoch]
        if hits == 0:
            return self._current()
        return [lr * self.gamma ** hits for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** bisect_right(self.milestones, self.last_epoch) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by gamma every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = check_number(gamma, "gamma", "ExponentialLR", finite=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        factor = _gamma_power(self.gamma, self.last_epoch, type(self).__name__)
        return [base * factor for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the base lr to eta_min over T_max epochs (SGDR without restarts),
    in PyTorch's recursive form (so it composes with other changes to the lr)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = check_int(T_max, "T_max", "CosineAnnealingLR", minimum=1)
        self.eta_min = check_number(eta_min, "eta_min", "CosineAnnealingLR", finite=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and t > 0:
            return [lo + (base - lo) * (1 + math.cos(t * math.pi / T)) / 2 for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - lo) + lo
                for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr · lr_lambda(epoch); one function, or one per parameter group. The functions
    are not part of the state dict (they are code)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | list,
                 last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ArgumentError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for fn in self.lr_lambdas:
            check_callable(fn, "lr_lambda", "LambdaLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * check_number(fn(self.last_epoch), "the value lr_lambda returned", "LambdaLR")
                for base, fn in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}


class LinearLR(LRScheduler):
    """Scale the base lr by a factor going linearly from start_factor to end_factor over
    total_iters epochs (a warm-up when start_factor < 1), then keep it."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        start_factor = check_number(start_factor, "start_factor", "LinearLR")
        end_factor = check_number(end_factor, "end_factor", "LinearLR")
        total_iters = check_int(total_iters, "total_iters", "LinearLR", minimum=0)
        if not 0 < start_factor <= 1:
            raise ArgumentError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ArgumentError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        s, e, n, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        if t == 0:
            return [lr * s for lr in self._current()]
        if self._is_initial or t > n:
            return self._current()
        return [lr * (1.0 + (e - s) / (n * s + (t - 1) * (e - s))) for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        return [base * (s + (e - s) * min(n, self.last_epoch) / n) for base in self.base_lrs]


def _per_group(name: str, optimizer: Optimizer, value: float | list) -> list:
    """One value per parameter group: a list/tuple as given (its length checked), or one value
    repeated."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ArgumentError(f"expected {n} values for {name} (one per parameter group), got {len(value)}")
        return [check_number(v, name, type(optimizer).__name__, finite=True) for v in value]
    return [check_number(value, name, type(optimizer).__name__, finite=True)] * n


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2017): the lr rises from max_lr/div_factor to max_lr
    over the first pct_start of total_steps, then anneals ('cos' or 'linear') to
    initial_lr/final_div_factor; with cycle_momentum, momentum (or Adam's β₁) moves the opposite
    way between max_momentum and base_momentum. three_phase adds a symmetric descent back to
    the initial lr before the final annealing. Step it after every batch."""

    def __init__(self, optimizer: Optimizer, max_lr: float | list, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list = 0.85, max_momentum: float | list = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ArgumentError(f"OneCycleLR: total_steps must be a positive int, got {total_steps!r}")
        elif epochs is not None and steps_per_epoch is not None:
            for name, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not isinstance(v, int) or v <= 0:
                    raise ArgumentError(f"OneCycleLR: {name} must be a positive int, got {v!r}")
            total_steps = epochs * steps_per_epoch
        else:
            raise ArgumentError("OneCycleLR: give either total_steps or both epochs and steps_per_epoch")
        for name, v in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if not check_number(v, name, "OneCycleLR", finite=True) > 0:
                raise ArgumentError(f"OneCycleLR: {name} must be positive, got {v!r}")
        cycle_momentum = check_flag(cycle_momentum, "cycle_momentum", "OneCycleLR")
        three_phase = check_flag(three_phase, "three_phase", "OneCycleLR")
        last_epoch = check_int(last_epoch, "last_epoch", "OneCycleLR", minimum=-1)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ArgumentError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if not isinstance(anneal_strategy, str) or anneal_strategy not in ("cos", "linear"):
            raise ArgumentError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.optimizer = optimizer
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                dict(end_step=up, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * total_steps) - 2, start_lr="max_lr",
                     end_lr="initial_lr", start_momentum="base_momentum", end_momentum="max_momentum"),
                dict(end_step=total_steps - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum")]
        else:
            self._schedule_phases = [
                dict(end_step=up, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=total_steps - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum")]
        if last_epoch == -1:
            for top, group in zip(_per_group("max_lr", optimizer, max_lr), optimizer.param_groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ArgumentError(f"OneCycleLR: cycle_momentum=True needs an optimizer with momentum "
                                    f"or betas, and {type(optimizer).__name__} has neither; pass "
                                    f"cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            if last_epoch == -1:
                for hi, lo, group in zip(_per_group("max_momentum", optimizer, max_momentum),
                                         _per_group("base_momentum", optimizer, base_momentum),
                                         optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (hi, *group["betas"][1:])
                    else:
                        group["momentum"] = hi
                    group["max_momentum"], group["base_momentum"] = hi, lo
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ArgumentError(f"OneCycleLR: tried to step {step} times, but total_steps is "
                                f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == len(self._schedule_phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    momentum = self._anneal(group[phase["start_momentum"]],
                                            group[phase["end_momentum"]], pct) if self.cycle_momentum else None
                    break
                start = end
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class SequentialLR(LRScheduler):
    """Run schedulers one after another: schedulers[i] from milestones[i-1] on (restarted at
    its epoch 0 there). Construct the inner schedulers on the same optimizer first."""

    def __init__(self, optimizer: Optimizer, schedulers: list, milestones: list[int],
                 last_epoch: int = -1) -> None:
        schedulers = check_sequence(schedulers, "schedulers", "SequentialLR", "a list of schedulers")
        milestones = [check_int(m, "milestones", "SequentialLR", minimum=0)
                      for m in check_sequence(milestones, "milestones", "SequentialLR", "a list of ints")]
        last_epoch = check_int(last_epoch, "last_epoch", "SequentialLR", minimum=-1)
        if not schedulers:
            raise ArgumentError("SequentialLR: expects at least one scheduler")
        for i, sched in enumerate(schedulers):
            if isinstance(sched, ReduceLROnPlateau):
                raise ArgumentError(f"SequentialLR: ReduceLROnPlateau (schedulers[{i}]) is not supported: "
                                    f"its step() needs the metric")
            if getattr(sched, "optimizer", None) is not optimizer:
                raise ArgumentError(f"SequentialLR: schedulers[{i}] ({type(sched).__name__}) belongs to "
                                    f"another optimizer; all must share this one")
        if len(milestones) != len(schedulers) - 1:
            raise ArgumentError(f"SequentialLR: expects one milestone fewer than schedulers, got "
                                f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:       # undo the inner schedulers' initial steps
            group["lr"] = group["initial_lr"]
        for sched in self._schedulers:
            sched.last_epoch -= 1
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)                    # the next schedule starts at its epoch 0
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        self.__dict__.update(state)
        for sched, s in zip(self._schedulers, inner):
            sched.load_state_dict(s)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by factor (down to min_lr) when the metric passed to step(metric) has
    not improved by more than threshold (relative or absolute) for patience epochs; then wait
    cooldown epochs before counting again. mode='max' for metrics that should grow."""

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list = 0, eps: float = 1e-8) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        op = "ReduceLROnPlateau"
        factor = check_number(factor, "factor", op, finite=True, minimum=0)
        check_choice(mode, "mode", op, ("min", "max"))
        check_choice(threshold_mode, "threshold_mode", op, ("rel", "abs"))
        threshold = check_number(threshold, "threshold", op, finite=True)
        patience = check_int(patience, "patience", op, minimum=0)
        cooldown = check_int(cooldown, "cooldown", op, minimum=0)
        eps = check_number(eps, "eps", op, finite=True, minimum=0)
        if factor >= 1.0:
            raise ArgumentError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor!r}")
        if mode not in ("min", "max"):
            raise ArgumentError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ArgumentError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.optimizer = optimizer
        self.factor = factor
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = _per_group("min_lr", optimizer, min_lr)
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = self._current()
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def step(self, metrics: float, epoch: int | None = None) -> None:  # type: ignore[override]
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise ArgumentError(f"ReduceLROnPlateau.step: metrics must be a number (the validation "
                                f"loss or accuracy), got {type(metrics).__name__}") from None
        epoch = check_int(epoch, "epoch", "ReduceLROnPlateau.step", allow_none=True)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0                # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            if len(self.min_lrs) != len(self.optimizer.param_groups) and self.default_min_lr is not None:
                self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, floor)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current()
