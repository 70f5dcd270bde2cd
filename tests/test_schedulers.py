import math

import numpy as np
import pytest
import torch
import transformers
from torch.optim import lr_scheduler as torch_sched

from companion import schedulers as S


def library_values(make, base_lr, n, **opt_kwargs):
    """The rate of each of the first ``n`` optimiser steps under a library scheduler."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr, **opt_kwargs)
    sched = make(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def assert_same(schedule, make, n, **opt_kwargs):
    ours = schedule.values(n)
    ref = library_values(make, schedule.base_lr, n, **opt_kwargs)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-15)


# ------------------------------------------------------------------ every schedule, every step, vs the library
@pytest.mark.parametrize("warmup", [0, 1, 10, 37])
def test_linear_matches_transformers(warmup):
    assert_same(S.linear_with_warmup(3e-4, warmup, 120),
                lambda o: transformers.get_linear_schedule_with_warmup(o, warmup, 120), 130)


@pytest.mark.parametrize("warmup,cycles", [(0, 0.5), (10, 0.5), (7, 1.0), (5, 1.5)])
def test_cosine_matches_transformers(warmup, cycles):
    assert_same(S.cosine_with_warmup(1e-3, warmup, 90, cycles),
                lambda o: transformers.get_cosine_schedule_with_warmup(o, warmup, 90, cycles), 100)


@pytest.mark.parametrize("warmup,cycles", [(0, 1), (0, 2), (8, 3)])
def test_hard_restarts_match_transformers(warmup, cycles):
    assert_same(S.cosine_with_hard_restarts(1e-3, warmup, 100, cycles),
                lambda o: transformers.get_cosine_with_hard_restarts_schedule_with_warmup(o, warmup, 100, cycles), 110)


@pytest.mark.parametrize("warmup", [0, 1, 25])
def test_constant_matches_transformers_and_torch(warmup):
    assert_same(S.constant(2e-5, warmup), lambda o: transformers.get_constant_schedule_with_warmup(o, warmup), 60)
    if warmup == 0:
        assert_same(S.constant(2e-5), lambda o: torch_sched.ConstantLR(o, factor=1.0, total_iters=0), 60)


@pytest.mark.parametrize("warmup,timescale", [(0, None), (10, None), (10, 40), (1, 1)])
def test_inverse_sqrt_matches_transformers(warmup, timescale):
    assert_same(S.inverse_sqrt(1e-3, warmup, timescale),
                lambda o: transformers.get_inverse_sqrt_schedule(o, warmup, timescale), 200)


@pytest.mark.parametrize("warmup,power,end", [(0, 1.0, 0.0), (10, 2.0, 1e-6), (5, 0.5, 1e-7)])
def test_polynomial_matches_transformers(warmup, power, end):
    assert_same(S.polynomial(1e-3, warmup, 80, end, power),
                lambda o: transformers.get_polynomial_decay_schedule_with_warmup(o, warmup, 80, end, power), 95)


@pytest.mark.parametrize("size,gamma", [(1, 0.9), (7, 0.5), (30, 0.1)])
def test_step_decay_matches_torch(size, gamma):
    assert_same(S.step_decay(0.1, size, gamma), lambda o: torch_sched.StepLR(o, size, gamma), 100)


@pytest.mark.parametrize("gamma", [0.99, 0.9, 1.01])
def test_exponential_matches_torch(gamma):
    assert_same(S.exponential(0.1, gamma), lambda o: torch_sched.ExponentialLR(o, gamma), 100)


@pytest.mark.parametrize("total,pct,anneal", [(100, 0.3, "cos"), (57, 0.25, "linear"), (10, 0.5, "cos")])
def test_one_cycle_matches_torch(total, pct, anneal):
    sched = S.one_cycle(0.2, total, pct, div_factor=25.0, final_div_factor=1e4, anneal=anneal)
    assert_same(sched, lambda o: torch_sched.OneCycleLR(o, max_lr=0.2, total_steps=total, pct_start=pct,
                                                        anneal_strategy=anneal, cycle_momentum=False), total)
    assert sched(total + 5) == pytest.approx(0.2 / 25 / 1e4)  # stays at the floor afterwards


def test_noam_is_the_transformer_formula_and_an_inverse_sqrt():
    d, w = 512, 4000
    sched = S.noam(d, w)
    for step in [1, 10, 1000, 3999, 4000, 4001, 10_000, 100_000]:
        assert sched(step) == pytest.approx(d ** -0.5 * min(step ** -0.5, step * w ** -1.5), rel=1e-12)
    assert sched(0) == 0.0
    assert sched.base_lr == pytest.approx((d * w) ** -0.5)
    same = S.inverse_sqrt(sched.base_lr, w)
    np.testing.assert_allclose(sched.values(20_000), same.values(20_000), rtol=1e-9)


# ------------------------------------------------------------------ field cases
def test_linear_field_case():
    sched = S.linear_with_warmup(1.0, 10, 100)
    assert [sched(s) for s in (0, 1, 10, 55, 100)] == pytest.approx([0.0, 0.1, 1.0, 0.5, 0.0])
    assert sched(150) == 0.0


def test_warmup_zero_has_no_division_by_zero():
    for sched in (S.linear_with_warmup(1.0, 0, 100), S.cosine_with_warmup(1.0, 0, 100),
                  S.cosine_with_hard_restarts(1.0, 0, 100, 2), S.constant(1.0, 0), S.polynomial(1.0, 0, 100, 0.0)):
        assert sched(0) == pytest.approx(1.0), sched.name
        assert np.all(np.isfinite(sched.values(101)))


def test_hard_restarts_restart_at_half_way():
    sched = S.cosine_with_hard_restarts(1.0, 0, 100, num_cycles=2)
    assert sched(50) == pytest.approx(1.0)
    assert sched(49) < 0.01 and sched(25) == pytest.approx(0.5)
    assert sched(100) == 0.0


def test_warmup_equal_to_total_reaches_peak_at_the_end():
    sched = S.linear_with_warmup(1.0, 100, 100)
    assert sched(99) == pytest.approx(0.99) and sched(100) == 0.0


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("make,arg", [
    (lambda: S.linear_with_warmup(1.0, 20, 10), "warmup_steps"),
    (lambda: S.linear_with_warmup(0.0, 1, 10), "base_lr"),
    (lambda: S.cosine_with_warmup(-1e-3, 1, 10), "base_lr"),
    (lambda: S.linear_with_warmup(1.0, -1, 10), "warmup_steps"),
    (lambda: S.linear_with_warmup(1.0, 0, 0), "total_steps"),
    (lambda: S.cosine_with_hard_restarts(1.0, 0, 10, 0), "num_cycles"),
    (lambda: S.step_decay(1.0, 0), "step_size"),
    (lambda: S.exponential(1.0, 0.0), "gamma"),
    (lambda: S.polynomial(1.0, 0, 10, end_lr=2.0), "end_lr"),
    (lambda: S.one_cycle(1.0, 100, pct_start=1.5), "pct_start"),
    (lambda: S.one_cycle(1.0, 100, anneal="cosine"), "anneal"),
    (lambda: S.exponential_range(1.0, 1e-3, 10), "min_lr"),
    (lambda: S.constant(float("nan")), "base_lr"),
])
def test_bad_arguments_name_the_argument(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()


def test_negative_or_fractional_step():
    sched = S.linear_with_warmup(1.0, 10, 100)
    with pytest.raises(ValueError, match="step"):
        sched(-1)
    with pytest.raises(TypeError, match="step"):
        sched(1.5)


# ------------------------------------------------------------------ adapter, trace, Trainer, range test
def test_to_lambda_lr_gives_the_schedule_and_scales_other_groups():
    sched = S.cosine_with_warmup(1e-3, 5, 50)
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([{"params": [a]}, {"params": [b], "lr": 5e-4}], lr=sched.base_lr)
    lam = S.to_lambda_lr(opt, sched)
    for step in range(50):
        assert opt.param_groups[0]["lr"] == pytest.approx(sched(step), abs=1e-15)
        assert opt.param_groups[1]["lr"] == pytest.approx(sched(step) / 2, abs=1e-15)
        opt.step()
        lam.step()
    with pytest.raises(TypeError, match="schedule"):
        S.to_lambda_lr(opt, lambda s: 1.0)
    with pytest.raises(TypeError, match="optimizer"):
        S.to_lambda_lr("adam", sched)


def test_trace_per_epoch_never_reaches_the_peak():
    steps_per_epoch, epochs = 20, 3
    sched = S.linear_with_warmup(1.0, 6, steps_per_epoch * epochs)
    right = S.trace(sched, steps_per_epoch, epochs, "step")
    np.testing.assert_allclose(right, sched.values(steps_per_epoch * epochs))
    assert right.max() == pytest.approx(1.0)
    wrong = S.trace(sched, steps_per_epoch, epochs, "epoch")
    assert wrong.max() == pytest.approx(2 / 6)  # only 3 scheduler steps: 0, 1/6, 2/6
    assert np.all(wrong[:steps_per_epoch] == 0.0)
    with pytest.raises(ValueError, match="step_every"):
        S.trace(sched, 10, 2, "batch")


def test_works_as_the_trainer_scheduler(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=32))
    data = [{"input_ids": torch.randint(5, 50, (8,)), "labels": torch.tensor(i % 2)} for i in range(16)]
    sched = S.cosine_with_warmup(1e-3, 2, 8)
    opt = torch.optim.AdamW(model.parameters(), lr=sched.base_lr)
    args = TrainingArguments(str(tmp_path), per_device_train_batch_size=2, max_steps=8, logging_steps=1,
                             report_to="none", save_strategy="no", use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=data, optimizers=(opt, S.to_lambda_lr(opt, sched)))
    used = []

    class Record(transformers.TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            used.append(opt.param_groups[0]["lr"])

    trainer.add_callback(Record())
    trainer.train()
    np.testing.assert_allclose(used, sched.values(8), atol=1e-15)


def test_exponential_range_and_suggest_lr():
    sweep = S.exponential_range(1e-6, 1.0, 61)
    assert sweep(0) == pytest.approx(1e-6) and sweep(60) == pytest.approx(1.0)
    assert sweep(30) == pytest.approx(1e-3)
    lrs = sweep.values(61)
    # a synthetic range test: flat, falls fastest around 1e-3, bottoms out at 1e-2, then diverges
    x = np.log10(lrs)
    losses = 0.7 - 0.3 / (1 + np.exp(-(x + 3) * 4)) + np.where(x > -2, (x + 2) ** 2 * 3, 0.0)
    out = S.suggest_lr(lrs, losses, smoothing=0.0)
    assert 3e-4 < out["steepest"] < 3e-3
    assert 3e-3 < out["min_loss_lr"] < 3e-2
    assert out["min_over_10"] == pytest.approx(out["min_loss_lr"] / 10)
    assert out["stop"] < 61  # the divergence was cut off
    with pytest.raises(ValueError, match="lrs"):
        S.suggest_lr(lrs[::-1], losses)
    with pytest.raises(ValueError, match="losses"):
        S.suggest_lr(lrs, losses[:-1])


def test_every_figure_schedule_builds_and_is_finite():
    for name, make in S.SCHEDULES.items():
        values = make(1e-3, 10, 100).values(101)
        assert np.all(np.isfinite(values)) and values.max() <= 1e-3 * (1 + 1e-9), name
        assert math.isclose(values.max(), 1e-3, rel_tol=0.05), name


# ------------------------------------------------------------------ bad inputs (issue 16)
BAD_RATE = [(math.nan, ValueError), (math.inf, ValueError), (-math.inf, ValueError), (0.0, ValueError), (-1e-3, ValueError),
            ("1e-3", TypeError), (True, TypeError), (None, TypeError), ([1e-3], TypeError)]
BAD_STEPS = [(2.5, TypeError), (2.0, TypeError), (True, TypeError), ("10", TypeError), (None, TypeError), (-1, ValueError)]
RATE_ARGS = [
    (lambda v: S.constant(v), "base_lr"), (lambda v: S.step_decay(v, 10), "base_lr"),
    (lambda v: S.step_decay(1.0, 10, v), "gamma"), (lambda v: S.exponential(1.0, v), "gamma"),
    (lambda v: S.linear_with_warmup(v, 1, 10), "base_lr"), (lambda v: S.cosine_with_warmup(v, 1, 10), "base_lr"),
    (lambda v: S.cosine_with_warmup(1.0, 1, 10, v), "num_cycles"), (lambda v: S.cosine_with_hard_restarts(v, 1, 10), "base_lr"),
    (lambda v: S.inverse_sqrt(v, 10), "base_lr"), (lambda v: S.noam(64, 10, v), "factor"),
    (lambda v: S.polynomial(v, 1, 10), "base_lr"), (lambda v: S.polynomial(1.0, 1, 10, 0.0, v), "power"),
    (lambda v: S.one_cycle(v, 100), "max_lr"), (lambda v: S.one_cycle(1.0, 100, div_factor=v), "div_factor"),
    (lambda v: S.one_cycle(1.0, 100, final_div_factor=v), "final_div_factor"),
    (lambda v: S.exponential_range(v, 1.0, 10), "min_lr"), (lambda v: S.exponential_range(1e-6, v, 10), "max_lr"),
]
STEP_ARGS = [
    (lambda v: S.constant(1.0, v), "warmup_steps"), (lambda v: S.step_decay(1.0, v), "step_size"),
    (lambda v: S.linear_with_warmup(1.0, v, 10), "warmup_steps"), (lambda v: S.linear_with_warmup(1.0, 0, v), "total_steps"),
    (lambda v: S.cosine_with_hard_restarts(1.0, 0, 10, v), "num_cycles"), (lambda v: S.inverse_sqrt(1.0, v), "warmup_steps"),
    (lambda v: S.inverse_sqrt(1.0, 1, v), "timescale"), (lambda v: S.noam(v), "d_model"), (lambda v: S.noam(64, v), "warmup_steps"),
    (lambda v: S.one_cycle(1.0, v), "total_steps"), (lambda v: S.exponential_range(1e-6, 1.0, v), "num_steps"),
    (lambda v: S.constant(1.0).values(v), "num_steps"), (lambda v: S.constant(1.0)(v), "step"),
    (lambda v: S.trace(S.constant(1.0), v, 2), "steps_per_epoch"), (lambda v: S.trace(S.constant(1.0), 2, v), "epochs"),
]


@pytest.mark.parametrize("make,arg", RATE_ARGS)
@pytest.mark.parametrize("value,exc", BAD_RATE)
def test_rates_and_factors_must_be_finite_positive_numbers(make, arg, value, exc):
    with pytest.raises(exc, match=arg):
        make(value)


@pytest.mark.parametrize("make,arg,value,exc", [(m, a, v, e) for m, a in STEP_ARGS for v, e in BAD_STEPS
                                                 if not (a == "timescale" and v is None)])  # None: the default
def test_step_counts_must_be_ints(make, arg, value, exc):
    with pytest.raises(exc, match=arg):
        make(value)


@pytest.mark.parametrize("value,exc", [(math.nan, ValueError), (-1e-7, ValueError), (1.0, ValueError), ("0", TypeError),
                                       (False, TypeError), (math.inf, ValueError)])
def test_polynomial_end_lr(value, exc):
    with pytest.raises(exc, match="end_lr"):
        S.polynomial(1.0, 0, 10, end_lr=value)


@pytest.mark.parametrize("value,exc", [(0.0, ValueError), (1.0, ValueError), (math.nan, ValueError), ("0.3", TypeError),
                                       (True, TypeError)])
def test_one_cycle_pct_start(value, exc):
    with pytest.raises(exc, match="pct_start"):
        S.one_cycle(1.0, 100, pct_start=value)


def test_to_lambda_lr_last_epoch_and_choices():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    for value, exc in ((-2, ValueError), (True, TypeError), ("0", TypeError)):
        with pytest.raises(exc, match="last_epoch"):
            S.to_lambda_lr(opt, S.constant(1.0), last_epoch=value)
    with pytest.raises(ValueError, match="anneal"):
        S.one_cycle(1.0, 100, anneal=None)
    with pytest.raises(ValueError, match="step_every"):
        S.trace(S.constant(1.0), 2, 2, None)
    with pytest.raises(TypeError, match="schedule"):
        S.trace(lambda s: 1.0, 2, 2)


LRS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
LOSSES = [0.7, 0.69, 0.6, 0.4, 0.5, 3.0]


@pytest.mark.parametrize("kw,exc,name", [
    (dict(smoothing="0.9"), TypeError, "smoothing"), (dict(smoothing=True), TypeError, "smoothing"),
    (dict(smoothing=math.nan), ValueError, "smoothing"), (dict(smoothing=1.0), ValueError, "smoothing"),
    (dict(smoothing=-0.1), ValueError, "smoothing"), (dict(divergence="4"), TypeError, "divergence"),
    (dict(divergence=math.nan), ValueError, "divergence"), (dict(divergence=0), ValueError, "divergence"),
    (dict(lrs=[str(x) for x in LRS]), TypeError, "lrs"), (dict(lrs="123456"), TypeError, "lrs"),
    (dict(lrs=[math.nan] + LRS[1:]), ValueError, "lrs"), (dict(lrs=[-1e-5] + LRS[1:]), ValueError, "lrs"),
    (dict(lrs=[0.0] + LRS[1:]), ValueError, "lrs"), (dict(lrs=LRS[:-1] + [math.inf]), ValueError, "lrs"),
    (dict(losses=["0.7"] + LOSSES[1:]), TypeError, "losses"), (dict(losses=[True] + LOSSES[1:]), TypeError, "losses"),
    (dict(losses=[None] + LOSSES[1:]), TypeError, "losses"), (dict(lrs=[[x] for x in LRS]), ValueError, "lrs"),
])
def test_suggest_lr_bad_inputs(kw, exc, name):
    args = dict(lrs=LRS, losses=LOSSES) | kw
    with pytest.raises(exc, match=name):
        S.suggest_lr(**args)


def test_suggest_lr_accepts_a_diverged_loss():
    out = S.suggest_lr(LRS, LOSSES[:-1] + [math.nan], smoothing=0.0)
    assert out["stop"] == 5 and out["min_loss_lr"] == 1e-2
    out = S.suggest_lr(LRS, LOSSES[:-1] + [math.inf], smoothing=0.0)
    assert out["stop"] == 5
