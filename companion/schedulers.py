"""Learning-rate schedules as pure functions of the optimiser step, and an adapter to PyTorch.

A schedule here is a :class:`Schedule`: a callable ``lr(step) -> float`` (``step`` = optimiser
steps taken so far, an int >= 0) with the peak learning rate in ``schedule.base_lr``. Because it is a
plain function you can plot it, test it and reason about it without an optimiser. To train with
it, :func:`to_lambda_lr` wraps it as a ``torch.optim.lr_scheduler.LambdaLR``, which both a
hand-written loop and the Hugging Face ``Trainer`` (``optimizers=(optimizer, scheduler)``) step once
per optimiser step.

Every schedule gives the same value at every step as the implementation it is named after (the
tests check this): ``transformers.get_*_schedule*`` for the warm-up schedules, and
``torch.optim.lr_scheduler`` (``StepLR``, ``ExponentialLR``, ``OneCycleLR``) for the others.

* :func:`constant` -- a constant rate, optionally after linear warm-up;
* :func:`step_decay` -- multiply by ``gamma`` every ``step_size`` steps;
* :func:`exponential` -- multiply by ``gamma`` every step;
* :func:`linear_with_warmup` -- linear warm-up, then linear decay to 0 (BERT's schedule);
* :func:`cosine_with_warmup` -- linear warm-up, then half a cosine to 0 (Loshchilov & Hutter, 2017);
* :func:`cosine_with_hard_restarts` -- warm-up, then several cosine cycles, each restarting at the peak;
* :func:`inverse_sqrt` / :func:`noam` -- warm-up, then decay as 1/sqrt(step) (Vaswani et al., 2017);
* :func:`polynomial` -- warm-up, then polynomial decay to ``end_lr``;
* :func:`one_cycle` -- warm up from ``max_lr/div_factor`` to ``max_lr``, then anneal far below the
  start (Smith & Topin, 2019);
* :func:`exponential_range` and :func:`suggest_lr` -- the learning-rate range test (Smith, 2017).

Book section: 7.2 "Dynamic learning rates".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

from . import checks

__all__ = [
    "Schedule", "constant", "step_decay", "exponential", "linear_with_warmup", "cosine_with_warmup",
    "cosine_with_hard_restarts", "inverse_sqrt", "noam", "polynomial", "one_cycle", "exponential_range",
    "to_lambda_lr", "trace", "suggest_lr", "SCHEDULES",
]


#: ``checks.number(x, name, **_POSITIVE)``: a finite number > 0 (a learning rate, a factor).
_POSITIVE = dict(minimum=0, strict_minimum=True)


def _warmup_total(warmup_steps, total_steps) -> tuple[int, int]:
    warmup = checks.integer(warmup_steps, "warmup_steps", minimum=0)
    total = checks.integer(total_steps, "total_steps", minimum=1)
    if warmup > total:
        raise ValueError(f"warmup_steps: {warmup} is more than total_steps ({total})")
    return warmup, total


def _warmup_factor(step: int, warmup: int) -> float:
    """Linear warm-up from 0 at step 0 to 1 at step ``warmup`` (the transformers convention)."""
    return step / max(1, warmup)


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: ``schedule(step)`` is the learning rate for optimiser step ``step``.

    Attributes:
        name: a short description, e.g. ``"linear warm-up 10, decay to step 100"``.
        base_lr: the reference (usually peak) learning rate; ``multiplier(step) = lr(step) / base_lr``.
        multiplier: the schedule's shape, a function ``int -> float`` (what ``LambdaLR`` multiplies
            the optimiser's initial learning rate by).
        total_steps: the length the schedule was built for, or ``None`` if it has no end.

    Calling it with a negative ``step`` raises ``ValueError``; a non-int (a bool, a float) raises
    ``TypeError``.
    """

    name: str
    base_lr: float
    multiplier: Callable[[int], float] = field(repr=False)
    total_steps: int | None = None

    def __call__(self, step: int) -> float:
        return self.base_lr * float(self.multiplier(checks.integer(step, "step", minimum=0)))

    def values(self, num_steps: int | None = None) -> np.ndarray:
        """The learning rates at steps ``0 .. num_steps - 1`` (default: ``total_steps + 1`` values).

        Raises:
            TypeError: ``num_steps`` not an int (or ``None`` for a schedule without an end).
            ValueError: ``num_steps`` < 1.
        """
        n = self.total_steps + 1 if num_steps is None and self.total_steps is not None else num_steps
        n = checks.integer(n, "num_steps", minimum=1)
        return np.array([self.base_lr * float(self.multiplier(s)) for s in range(n)], dtype=float)


def constant(base_lr: float, warmup_steps: int = 0) -> Schedule:
    """``base_lr`` at every step, after an optional linear warm-up over ``warmup_steps`` steps.

    Reference: ``transformers.get_constant_schedule_with_warmup`` (and ``torch.optim.lr_scheduler.ConstantLR``
    with ``factor=1``).

    Raises:
        ValueError: if ``base_lr`` is not positive or ``warmup_steps`` is negative.
    """
    base_lr = checks.number(base_lr, "base_lr", **_POSITIVE)
    warmup = checks.integer(warmup_steps, "warmup_steps", minimum=0)

    def shape(step):
        return _warmup_factor(step, warmup) if step < warmup else 1.0

    return Schedule(f"constant (warm-up {warmup})" if warmup else "constant", base_lr, shape)


def step_decay(base_lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """``base_lr * gamma ** (step // step_size)``: drop by a factor ``gamma`` every ``step_size`` steps.

    Reference: ``torch.optim.lr_scheduler.StepLR``.

    Raises:
        ValueError: if ``base_lr`` or ``gamma`` is not positive, or ``step_size`` < 1.
    """
    base_lr, gamma = checks.number(base_lr, "base_lr", **_POSITIVE), checks.number(gamma, "gamma", **_POSITIVE)
    size = checks.integer(step_size, "step_size", minimum=1)
    return Schedule(f"step decay (x{gamma:g} every {size})", base_lr, lambda step: gamma ** (step // size))


def exponential(base_lr: float, gamma: float) -> Schedule:
    """``base_lr * gamma ** step``: a constant factor per step.

    Reference: ``torch.optim.lr_scheduler.ExponentialLR``.

    Raises:
        ValueError: if ``base_lr`` or ``gamma`` is not positive.
    """
    base_lr, gamma = checks.number(base_lr, "base_lr", **_POSITIVE), checks.number(gamma, "gamma", **_POSITIVE)
    return Schedule(f"exponential (x{gamma:g} per step)", base_lr, lambda step: gamma ** step)


def linear_with_warmup(base_lr: float, warmup_steps: int, total_steps: int) -> Schedule:
    """Linear warm-up from 0 to ``base_lr`` over ``warmup_steps``, then linear decay to 0 at ``total_steps``.

    ``lr(s) = base_lr * s / warmup`` for ``s < warmup``, else
    ``base_lr * max(0, (total - s) / (total - warmup))``. With warm-up 10, total 100 and base 1.0 the
    values at steps 0, 1, 10, 55, 100 are 0.0, 0.1, 1.0, 0.5, 0.0; ``warmup_steps=0`` starts at the
    peak. The schedule of BERT (Devlin et al., 2019). Reference:
    ``transformers.get_linear_schedule_with_warmup``.

    Raises:
        ValueError: if ``base_lr`` is not positive, a step count is negative, ``total_steps`` < 1 or
            ``warmup_steps > total_steps``.
    """
    base_lr = checks.number(base_lr, "base_lr", **_POSITIVE)
    warmup, total = _warmup_total(warmup_steps, total_steps)

    def shape(step):
        if step < warmup:
            return _warmup_factor(step, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return Schedule(f"linear (warm-up {warmup})", base_lr, shape, total)


def cosine_with_warmup(base_lr: float, warmup_steps: int, total_steps: int, num_cycles: float = 0.5) -> Schedule:
    """Linear warm-up, then ``base_lr * 0.5 * (1 + cos(2 pi num_cycles p))`` with ``p`` the fraction
    of the decay phase done (``num_cycles=0.5``: half a cosine, from the peak to 0).

    Cosine annealing: Loshchilov & Hutter (ICLR 2017, "SGDR"). Reference:
    ``transformers.get_cosine_schedule_with_warmup``.

    Raises:
        ValueError: as :func:`linear_with_warmup`, or if ``num_cycles`` is not positive.
    """
    base_lr = checks.number(base_lr, "base_lr", **_POSITIVE)
    cycles = checks.number(num_cycles, "num_cycles", **_POSITIVE)
    warmup, total = _warmup_total(warmup_steps, total_steps)

    def shape(step):
        if step < warmup:
            return _warmup_factor(step, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * cycles * 2.0 * progress)))

    return Schedule(f"cosine (warm-up {warmup})", base_lr, shape, total)


def cosine_with_hard_restarts(base_lr: float, warmup_steps: int, total_steps: int, num_cycles: int = 1) -> Schedule:
    """Linear warm-up, then ``num_cycles`` cosine decays from ``base_lr`` to 0, each restarting at
    ``base_lr`` ("warm restarts", Loshchilov & Hutter, ICLR 2017); 0 from ``total_steps`` on.

    With ``num_cycles=2`` over 100 steps (no warm-up) the rate restarts to ``base_lr`` at step 50.
    Reference: ``transformers.get_cosine_with_hard_restarts_schedule_with_warmup``.

    Raises:
        ValueError: as :func:`linear_with_warmup`, or if ``num_cycles`` < 1.
    """
    base_lr = checks.number(base_lr, "base_lr", **_POSITIVE)
    cycles = checks.integer(num_cycles, "num_cycles", minimum=1)
    warmup, total = _warmup_total(warmup_steps, total_steps)

    def shape(step):
        if step < warmup:
            return _warmup_factor(step, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((cycles * progress) % 1.0))))

    return Schedule(f"cosine, {cycles} hard restarts", base_lr, shape, total)


def inverse_sqrt(base_lr: float, warmup_steps: int, timescale: int | None = None) -> Schedule:
    """Linear warm-up, then ``base_lr / sqrt((step + timescale - warmup) / timescale)``.

    With the default ``timescale = warmup_steps`` (or 10,000 without warm-up) the rate peaks at the
    end of warm-up and then falls as ``1 / sqrt(step)``; :func:`noam` is the same shape with the
    Transformer's peak. Reference: ``transformers.get_inverse_sqrt_schedule``.

    Raises:
        ValueError: if ``base_lr`` is not positive, ``warmup_steps`` is negative or ``timescale`` < 1.
    """
    base_lr = checks.number(base_lr, "base_lr", **_POSITIVE)
    warmup = checks.integer(warmup_steps, "warmup_steps", minimum=0)
    scale = checks.integer((warmup or 10_000) if timescale is None else timescale, "timescale", minimum=1)

    def shape(step):
        if step < warmup:
            return _warmup_factor(step, warmup)
        return 1.0 / math.sqrt((step + scale - warmup) / scale)

    return Schedule(f"inverse sqrt (warm-up {warmup})", base_lr, shape)


def noam(d_model: int, warmup_steps: int = 4000, factor: float = 1.0) -> Schedule:
    """The Transformer's schedule: ``factor * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)``.

    Vaswani et al. (NeurIPS 2017), section 5.3 ("Noam" after Noam Shazeer); the rate at step 0 is 0.
    It equals :func:`inverse_sqrt` with ``base_lr = factor / sqrt(d_model * warmup_steps)`` (its peak,
    reached at ``step = warmup_steps``) and ``timescale = warmup_steps``.

    Raises:
        ValueError: if ``d_model`` or ``warmup_steps`` < 1, or ``factor`` is not positive.
    """
    d = checks.integer(d_model, "d_model", minimum=1)
    warmup = checks.integer(warmup_steps, "warmup_steps", minimum=1)
    factor = checks.number(factor, "factor", **_POSITIVE)
    peak = factor / math.sqrt(d * warmup)

    def shape(step):
        if step == 0:
            return 0.0
        return factor * d ** -0.5 * min(step ** -0.5, step * warmup ** -1.5) / peak

    return Schedule(f"Noam (d_model {d}, warm-up {warmup})", peak, shape)


def polynomial(base_lr: float, warmup_steps: int, total_steps: int, end_lr: float = 1e-7,
               power: float = 1.0) -> Schedule:
    """Linear warm-up, then ``(base_lr - end_lr) * (1 - p) ** power + end_lr`` with ``p`` the
    fraction of the decay phase done; ``end_lr`` after ``total_steps``. ``power=1`` is linear decay
    to ``end_lr``. Reference: ``transformers.get_polynomial_decay_schedule_with_warmup``.

    Raises:
        ValueError: as :func:`linear_with_warmup`; if ``end_lr`` is negative or not below
            ``base_lr``; or if ``power`` is not positive.
    """
    base_lr, power = checks.number(base_lr, "base_lr", **_POSITIVE), checks.number(power, "power", **_POSITIVE)
    warmup, total = _warmup_total(warmup_steps, total_steps)
    end_lr = checks.number(end_lr, "end_lr", minimum=0)
    if not end_lr < base_lr:
        raise ValueError(f"end_lr: expected a number in [0, base_lr={base_lr:g}), got {end_lr!r}")
    if warmup == total:
        raise ValueError(f"warmup_steps: must be less than total_steps ({total}) to leave steps to decay")

    def shape(step):
        if step < warmup:
            return _warmup_factor(step, warmup)
        if step > total:
            return end_lr / base_lr
        remaining = 1 - (step - warmup) / (total - warmup)
        return ((base_lr - end_lr) * remaining ** power + end_lr) / base_lr

    return Schedule(f"polynomial (power {power:g})", base_lr, shape, total)


def one_cycle(max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4, anneal: str = "cos") -> Schedule:
    """The 1cycle policy: anneal from ``max_lr / div_factor`` up to ``max_lr`` over the first
    ``pct_start`` of the steps, then down to ``max_lr / (div_factor * final_div_factor)`` at step
    ``total_steps - 1`` (and stay there). ``base_lr`` is ``max_lr``.

    Smith & Topin (2019, "Super-Convergence"). Reference: ``torch.optim.lr_scheduler.OneCycleLR``
    (two phases, ``three_phase=False``); torch's version also cycles momentum, this one only the rate.

    Raises:
        ValueError: if ``max_lr``, ``div_factor`` or ``final_div_factor`` is not positive,
            ``total_steps`` < 2, ``pct_start`` is not in (0, 1), or ``anneal`` is not ``"cos"``/``"linear"``.
    """
    max_lr = checks.number(max_lr, "max_lr", **_POSITIVE)
    div = checks.number(div_factor, "div_factor", **_POSITIVE)
    final_div = checks.number(final_div_factor, "final_div_factor", **_POSITIVE)
    total = checks.integer(total_steps, "total_steps", minimum=2)
    pct_start = checks.probability(pct_start, "pct_start", allow_zero=False, allow_one=False)
    anneal = checks.one_of(anneal, "anneal", ("cos", "linear"))
    initial, final = max_lr / div, max_lr / div / final_div
    end_up = float(pct_start * total) - 1
    if end_up <= 0:
        raise ValueError(f"pct_start: {pct_start} of {total} steps leaves no warm-up phase; use more steps")

    def interpolate(start, end, pct):
        if anneal == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def shape(step):
        step = min(step, total - 1)
        if step <= end_up:
            return interpolate(initial, max_lr, step / end_up) / max_lr
        return interpolate(max_lr, final, (step - end_up) / (total - 1 - end_up)) / max_lr

    return Schedule(f"one-cycle ({anneal})", max_lr, shape, total)


def exponential_range(min_lr: float, max_lr: float, num_steps: int) -> Schedule:
    """The learning-rate range test's sweep: ``min_lr * (max_lr / min_lr) ** (step / (num_steps - 1))``,
    from ``min_lr`` at step 0 to ``max_lr`` at step ``num_steps - 1`` (Smith, WACV 2017, "Cyclical
    Learning Rates"; the exponential sweep popularised by fast.ai).

    Raises:
        ValueError: if a rate is not positive, ``min_lr >= max_lr`` or ``num_steps`` < 2.
    """
    lo = checks.number(min_lr, "min_lr", **_POSITIVE)
    hi = checks.number(max_lr, "max_lr", **_POSITIVE)
    n = checks.integer(num_steps, "num_steps", minimum=2)
    if lo >= hi:
        raise ValueError(f"min_lr: {lo:g} must be below max_lr ({hi:g})")
    return Schedule(f"range test {lo:g} -> {hi:g}", hi, lambda step: (lo / hi) * (hi / lo) ** (step / (n - 1)),
                    n - 1)


#: The schedules of the chapter's comparison figure, built for ``total`` steps with ``warmup`` steps
#: of warm-up and a peak of ``lr``.
SCHEDULES: dict[str, Callable[[float, int, int], Schedule]] = {
    "constant": lambda lr, warmup, total: constant(lr),
    "constant + warm-up": lambda lr, warmup, total: constant(lr, warmup),
    "step decay": lambda lr, warmup, total: step_decay(lr, max(1, total // 3), 0.3),
    "exponential": lambda lr, warmup, total: exponential(lr, 0.01 ** (1 / total)),
    "linear + warm-up": lambda lr, warmup, total: linear_with_warmup(lr, warmup, total),
    "cosine + warm-up": lambda lr, warmup, total: cosine_with_warmup(lr, warmup, total),
    "cosine, hard restarts": lambda lr, warmup, total: cosine_with_hard_restarts(lr, warmup, total, 3),
    "inverse sqrt": lambda lr, warmup, total: inverse_sqrt(lr, max(1, warmup)),
    "polynomial (power 2)": lambda lr, warmup, total: polynomial(lr, warmup, total, 0.0, 2.0),
    "one-cycle": lambda lr, warmup, total: one_cycle(lr, total + 1, max(0.05, warmup / total)),
}


def to_lambda_lr(optimizer: torch.optim.Optimizer, schedule: Schedule, last_epoch: int = -1) -> LambdaLR:
    """Wrap ``schedule`` as a ``torch.optim.lr_scheduler.LambdaLR`` for ``optimizer``.

    ``LambdaLR`` sets each parameter group's rate to its *initial* rate times
    ``schedule.multiplier(step)``; create the optimiser with ``lr=schedule.base_lr`` and the rate at
    step ``s`` is exactly ``schedule(s)`` (groups with other rates, e.g. layer-wise rates, are scaled
    by the same shape). Call ``scheduler.step()`` once per *optimiser step*, after
    ``optimizer.step()``. With the Hugging Face ``Trainer``, pass
    ``optimizers=(optimizer, to_lambda_lr(optimizer, schedule))``: it steps the scheduler per
    optimiser step.

    Raises:
        TypeError: if ``optimizer`` is not a ``torch.optim.Optimizer``, ``schedule`` not a
            :class:`Schedule`, or ``last_epoch`` not an int.
        ValueError: if ``last_epoch`` < -1.
    """
    checks.instance(optimizer, "optimizer", torch.optim.Optimizer, what="a torch.optim.Optimizer")
    checks.instance(schedule, "schedule", Schedule, what="a companion.schedulers.Schedule")
    last_epoch = checks.integer(last_epoch, "last_epoch", minimum=-1)
    return LambdaLR(optimizer, lambda step: float(schedule.multiplier(step)), last_epoch=last_epoch)


def trace(schedule: Schedule, steps_per_epoch: int, epochs: int, step_every: str = "step") -> np.ndarray:
    """The learning rate each optimiser step actually uses when the scheduler is stepped once per
    optimiser ``"step"`` (right) or once per ``"epoch"`` (the classic mistake).

    Runs a real ``torch.optim.SGD`` with a :func:`to_lambda_lr` scheduler; no model is trained.

    Returns:
        A float array of shape ``(steps_per_epoch * epochs,)``.

    Raises:
        TypeError: ``schedule`` not a :class:`Schedule`, a count not an int.
        ValueError: if ``steps_per_epoch`` or ``epochs`` < 1 or ``step_every`` is not ``"step"``/``"epoch"``.
    """
    checks.instance(schedule, "schedule", Schedule, what="a companion.schedulers.Schedule")
    per = checks.integer(steps_per_epoch, "steps_per_epoch", minimum=1)
    n_epochs = checks.integer(epochs, "epochs", minimum=1)
    step_every = checks.one_of(step_every, "step_every", ("step", "epoch"))
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=schedule.base_lr)
    scheduler = to_lambda_lr(optimizer, schedule)
    used = []
    for _ in range(n_epochs):
        for _ in range(per):
            used.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if step_every == "step":
                scheduler.step()
        if step_every == "epoch":
            scheduler.step()
    return np.array(used, dtype=float)


def suggest_lr(lrs: Sequence[float], losses: Sequence[float], smoothing: float = 0.9,
               divergence: float = 4.0) -> dict:
    """Read a learning-rate range test (Smith, 2017): where does the loss fall fastest?

    The losses are smoothed with an exponential moving average (bias-corrected, factor
    ``smoothing``) and cut where the smoothed loss first exceeds ``divergence`` times its minimum.
    Two common picks are returned; the steepest-descent point is usually a good peak rate, and one
    tenth of the rate at the minimum a conservative one.

    Args:
        lrs, losses: equal-length 1-D sequences of numbers (at least 5) from the sweep, ``lrs``
            finite, positive and increasing; ``losses`` may hold inf/NaN where the run diverged.
        smoothing: EMA factor in [0, 1). divergence: a finite factor > 0.

    Returns:
        ``{"steepest": lr, "min_loss_lr": lr, "min_over_10": lr, "smoothed": np.ndarray,
        "stop": int}`` (``stop``: how many points were kept before divergence).

    Raises:
        TypeError: strings or bools among ``lrs``/``losses``, or ``smoothing``/``divergence`` not a
            number (e.g. ``"0.9"``).
        ValueError: if the lengths differ, fewer than 5 points are given, ``lrs`` is not finite,
            positive and increasing, or ``smoothing``/``divergence`` is out of range.
    """
    lrs = checks.numbers(lrs, "lrs", minimum=0, strict_minimum=True, allow_empty=True)
    losses = checks.numbers(losses, "losses", finite=False, nan=True, allow_empty=True)
    smoothing = checks.number(smoothing, "smoothing", minimum=0, maximum=1, strict_maximum=True)
    divergence = checks.number(divergence, "divergence", **_POSITIVE)
    if lrs.shape != losses.shape:
        raise ValueError(f"losses: expected the same 1-D shape as lrs {lrs.shape}, got {losses.shape}")
    if lrs.size < 5:
        raise ValueError(f"lrs: need at least 5 points, got {lrs.size}")
    if np.any(np.diff(lrs) <= 0):
        raise ValueError("lrs: must be strictly increasing")
    avg, smoothed = 0.0, []
    for i, loss in enumerate(losses, start=1):
        avg = smoothing * avg + (1 - smoothing) * loss
        smoothed.append(avg / (1 - smoothing ** i))
    smoothed = np.array(smoothed)
    stop = len(smoothed)
    finite = np.isfinite(smoothed)
    for i in range(len(smoothed)):
        if not finite[i] or smoothed[i] > divergence * np.nanmin(smoothed[: i + 1]):
            stop = i
            break
    stop = max(stop, 3)
    kept_lr, kept = lrs[:stop], smoothed[:stop]
    slope = np.gradient(kept, np.log(kept_lr))
    steepest = float(kept_lr[int(np.argmin(slope))])
    at_min = float(kept_lr[int(np.argmin(kept))])
    return {"steepest": steepest, "min_loss_lr": at_min, "min_over_10": at_min / 10, "smoothed": smoothed,
            "stop": stop}
