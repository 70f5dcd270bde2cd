import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import BertForSequenceClassification, BertForTokenClassification

from companion import loop, models


def _tiny(cls=BertForSequenceClassification, num_labels=2, vocab=50, seed=0, **kw):
    torch.manual_seed(seed)
    config = models.tiny_bert_config(vocab, num_labels, hidden_dropout_prob=0.0,
                                       attention_probs_dropout_prob=0.0, **kw)
    return cls(config)


def _token_batches(seed=0):
    """Four sequences with 3, 5, 1 and 6 real labelled tokens, split into micro-batches of two."""
    g = torch.Generator().manual_seed(seed)
    lengths, n_labelled = [6, 8, 4, 9], [3, 5, 1, 6]
    rows = []
    for L, k in zip(lengths, n_labelled):
        ids = torch.randint(5, 50, (L,), generator=g)
        labels = torch.full((L,), -100)
        labels[1:1 + k] = torch.randint(0, 3, (k,), generator=g)
        rows.append((ids, labels))

    def pad(rs):
        T = max(len(r[0]) for r in rs)
        ids = torch.zeros(len(rs), T, dtype=torch.long)
        lab = torch.full((len(rs), T), -100)
        mask = torch.zeros(len(rs), T, dtype=torch.long)
        for i, (x, y) in enumerate(rs):
            ids[i, :len(x)], lab[i, :len(y)], mask[i, :len(x)] = x, y, 1
        return {"input_ids": ids, "attention_mask": mask, "labels": lab}

    return pad(rows), [pad(rows[:2]), pad(rows[2:])]


# ---------------------------------------------------------------------------- losses
def test_item_losses_match_torch_for_the_three_tasks():
    torch.manual_seed(0)
    logits, y = torch.randn(5, 3), torch.randint(0, 3, (5,))
    assert torch.allclose(loop.item_losses(logits, y), F.cross_entropy(logits, y, reduction="none"))
    tok_logits, tok_y = torch.randn(2, 4, 3), torch.tensor([[0, 1, -100, -100], [2, -100, 1, 0]])
    s, n = loop.summed_loss(tok_logits, tok_y)
    assert n == 5 and math.isclose(float(s) / n, float(F.cross_entropy(tok_logits.reshape(-1, 3), tok_y.reshape(-1))),
                                   rel_tol=1e-6)
    reg, target = torch.randn(4, 1), torch.randn(4)
    assert math.isclose(float(loop.item_losses(reg, target).mean()), float(F.mse_loss(reg.squeeze(-1), target)),
                        rel_tol=1e-6)
    assert loop.count_items(tok_y) == 5 and loop.count_items(target) == 4
    with pytest.raises(ValueError, match="labels"):
        loop.item_losses(torch.randn(4, 3), torch.randint(0, 3, (5,)))
    with pytest.raises(ValueError, match="labels"):
        loop.item_losses(torch.randn(4, 2), torch.randn(4))


def test_item_losses_match_the_models_own_loss():
    model = _tiny(BertForTokenClassification, num_labels=3).eval()
    full, _ = _token_batches()
    out = model(**full)
    ours = loop.item_losses(out.logits, full["labels"]).mean()
    assert torch.allclose(ours, out.loss, atol=1e-6)


def test_field_case_accumulated_loss():
    micro = [[1.0, 1.0, 1.0], [4.0]]
    assert loop.token_weighted_mean(micro) == pytest.approx(1.75)
    assert loop.naive_accumulated_mean(micro) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="micro_batch_losses"):
        loop.token_weighted_mean([])
    with pytest.raises(ValueError, match="micro_batch_losses"):
        loop.naive_accumulated_mean([[1.0], []])


def _params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def test_accumulated_gradients_equal_full_batch_gradients():
    full, micro = _token_batches()
    # reference: the gradient of the model's own mean loss over the whole batch
    ref = _tiny(BertForTokenClassification, num_labels=3)
    ref(**full).loss.backward()
    ref_grad = torch.cat([p.grad.reshape(-1) for p in ref.parameters()])

    # the loop's normalisation, gradients accumulated over two micro-batches
    acc = _tiny(BertForTokenClassification, num_labels=3)
    n_items = sum(loop.count_items(b["labels"]) for b in micro)
    naive = _tiny(BertForTokenClassification, num_labels=3)
    for b in micro:
        inputs = {k: v for k, v in b.items() if k != "labels"}
        s, n = loop.summed_loss(acc(**inputs).logits, b["labels"])
        (s / n_items).backward()
        s2, n2 = loop.summed_loss(naive(**inputs).logits, b["labels"])
        (s2 / n2 / len(micro)).backward()
    acc_grad = torch.cat([p.grad.reshape(-1) for p in acc.parameters()])
    naive_grad = torch.cat([p.grad.reshape(-1) for p in naive.parameters()])
    assert torch.allclose(acc_grad, ref_grad, atol=1e-6, rtol=1e-4)
    assert not torch.allclose(naive_grad, ref_grad, atol=1e-4, rtol=1e-3)


def test_train_with_accumulation_matches_one_full_batch_step():
    full, micro = _token_batches()
    a = _tiny(BertForTokenClassification, num_labels=3)
    b = _tiny(BertForTokenClassification, num_labels=3)
    ra = loop.train(a, [full], torch.optim.SGD(a.parameters(), lr=0.5), max_grad_norm=None)
    rb = loop.train(b, micro, torch.optim.SGD(b.parameters(), lr=0.5), grad_accum_steps=2, max_grad_norm=None)
    assert len(ra.steps) == len(rb.steps) == 1
    assert ra.steps[0]["n_items"] == rb.steps[0]["n_items"] == 15
    assert rb.steps[0]["loss"] == pytest.approx(ra.steps[0]["loss"], rel=1e-5)
    assert torch.allclose(_params(a), _params(b), atol=1e-6)


def _seq_dataset(n=24, seed=0):
    from datasets import Dataset

    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        L = int(torch.randint(4, 12, (1,), generator=g))
        ids = torch.randint(5, 50, (L,), generator=g).tolist()
        rows.append({"input_ids": [2] + ids + [3], "attention_mask": [1] * (L + 2), "label": int(ids[0] % 2)})
    return Dataset.from_list(rows)


@pytest.mark.parametrize("strategy", ["group_by_length", "random", "sequential"])
def test_plain_loop_matches_the_trainer(tmp_path, strategy):
    """Same data order, seed and hyperparameters: the plain loop and the Trainer take the same steps and end
    with the same weights. Both draw the order of epoch e from an EpochSampler seeded by (seed, e)."""
    from transformers import get_linear_schedule_with_warmup

    from companion import data, optimizers, trainer as T

    tok = data.train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=60)
    ds = _seq_dataset().map(lambda r: {"length": len(r["input_ids"])})
    args = T.training_arguments(tmp_path, learning_rate=1e-3, batch_size=8, epochs=2, seed=0, warmup=0.25,
                                weight_decay=0.01, logging_steps=1, train_sampling_strategy=strategy)
    hf_model = _tiny()
    trainer = T.make_trainer(hf_model, args, ds, tokenizer=tok)
    trainer.train()

    ours = _tiny()
    loader = data.dataloader(ds, tok, 8, shuffle=strategy != "sequential",
                             group_by_length=strategy == "group_by_length", seed=0)
    opt = torch.optim.AdamW(optimizers.param_groups(ours, 0.01), lr=1e-3)
    total = 2 * len(loader)
    sched = get_linear_schedule_with_warmup(opt, math.ceil(0.25 * total), total)
    res = loop.train(ours, loader, opt, scheduler=sched, epochs=2, max_grad_norm=1.0)
    hf_losses = [h["loss"] for h in trainer.state.log_history if "loss" in h and "train_runtime" not in h]
    assert [s["loss"] for s in res.steps] == pytest.approx(hf_losses, abs=1e-5)
    assert torch.allclose(_params(ours), _params(hf_model), atol=1e-5)


# ---------------------------------------------------------------------------- evaluation
def test_evaluate_uses_every_batch():
    model = _tiny().eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 50, (9, 7), generator=g)
    labels = torch.randint(0, 2, (9,), generator=g)
    batches = [{"input_ids": ids[i:i + 4], "labels": labels[i:i + 4]} for i in (0, 4, 8)]
    ev = loop.evaluate(model, batches)
    with torch.no_grad():
        ref = F.cross_entropy(model(input_ids=ids).logits, labels)
    assert ev["n_items"] == 9 and len(ev["predictions"]) == 9
    assert ev["loss"] == pytest.approx(float(ref), rel=1e-5)
    with pytest.raises(ValueError, match="loader"):
        loop.evaluate(model, [])


# ---------------------------------------------------------------------------- precision and the guard
def test_precision_resolution_and_autocast():
    assert loop.resolve_precision("auto", "cpu") == "fp32"
    assert loop.resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="precision"):
        loop.resolve_precision("fp8", "cpu")
    with loop.autocast("cpu", "bf16"):
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16
    assert not loop.grad_scaler("cpu", "bf16").is_enabled()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_train_in_mixed_precision_on_cpu(precision):
    full, _ = _token_batches()
    model = _tiny(BertForTokenClassification, num_labels=3)
    before = _params(model).clone()
    res = loop.train(model, [full], torch.optim.AdamW(model.parameters(), lr=1e-3), epochs=2, precision=precision)
    assert all(math.isfinite(s["loss"]) for s in res.steps)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    assert not torch.equal(before, _params(model))


def test_check_finite_and_the_loop_stop_on_a_non_finite_loss():
    loop.check_finite(torch.tensor(1.0), step=1)
    with pytest.raises(FloatingPointError, match="step 7.*65,504"):
        loop.check_finite(torch.tensor(float("inf")), step=7, precision="fp16")
    assert torch.isinf(torch.tensor(70000.0).half())  # the fp16 limit the message names
    model = _tiny()
    with torch.no_grad():
        model.classifier.bias.fill_(float("nan"))
    batch = {"input_ids": torch.randint(5, 50, (2, 5)), "labels": torch.tensor([0, 1])}
    with pytest.raises(FloatingPointError, match="step 1"):
        loop.train(model, [batch], torch.optim.SGD(model.parameters(), lr=0.1))


# ---------------------------------------------------------------------------- early stopping
class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.lin(x)


def test_early_stopping_restores_the_best_weights():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=g)
    y = (x[:, 0] > 0).long()
    train = [{"x": x[i:i + 8], "labels": y[i:i + 8]} for i in range(0, 32, 8)]
    flipped = [{"x": x[:16], "labels": 1 - y[:16]}]  # learning the task makes this split worse and worse
    model = _Linear()
    res = loop.train(model, train, torch.optim.SGD(model.parameters(), lr=0.5), epochs=10,
                      eval_loaders={"validation": flipped}, early_stopping_patience=2)
    assert res.stopped_early and res.best_step == 4
    assert len(res.eval_frame()) == 3
    ref = _Linear()
    loop.train(ref, train, torch.optim.SGD(ref.parameters(), lr=0.5), epochs=1)
    assert torch.allclose(_params(model), _params(ref))
    with pytest.raises(ValueError, match="monitor"):
        loop.train(model, train, torch.optim.SGD(model.parameters(), lr=0.5), early_stopping_patience=1)
    with pytest.raises(ValueError, match="grad_accum_steps"):
        loop.train(model, train, torch.optim.SGD(model.parameters(), lr=0.5), grad_accum_steps=0)


# ---------------------------------------------------------------------------- memory
def test_saved_activation_bytes_counts_what_backward_needs():
    lin = torch.nn.Linear(16, 4)
    x = torch.randn(8, 16)
    # Linear saves its input (8*16 floats) for the weight gradient; ReLU saves its output (8*4 floats).
    assert loop.saved_activation_bytes(lambda: torch.relu(lin(x)).sum(), lin) == (8 * 16 + 8 * 4) * 4
    with torch.no_grad():
        assert loop.saved_activation_bytes(lambda: torch.relu(lin(x)).sum(), lin) == 0
    lin.requires_grad_(False)
    assert loop.saved_activation_bytes(lambda: torch.relu(lin(x)).sum(), lin) == 0


def test_memory_breakdown_with_adamw():
    lin = torch.nn.Linear(16, 4)
    opt = torch.optim.AdamW(lin.parameters(), lr=1e-3)
    lin(torch.randn(2, 16)).sum().backward()
    opt.step()
    mem = loop.memory_breakdown(lin, opt, activations=100)
    n = 16 * 4 + 4
    assert mem["weights"] == mem["gradients"] == 4 * n
    assert mem["optimizer_state"] == 2 * 4 * n + 2 * 4  # two moments per weight + one step counter per tensor
    assert mem["total"] == 4 * n * 2 + mem["optimizer_state"] + 100
    assert loop.memory_breakdown(lin, gradients=False)["gradients"] == 0


# ---------------------------------------------------------------------------- bad input (newcomer probes)
def test_accumulated_means_reject_malformed_micro_batches():
    assert loop.token_weighted_mean([torch.tensor([1.0, 1.0, 1.0]), torch.tensor([4.0])]) == pytest.approx(1.75)
    for bad, match in [([[1.0, 2.0], [[1.0, 1.0], [1.0, 1.0]]], "dimension"), ([[1.0, float("nan")]], "NaN"),
                       ([[True, False]], "expected a number"), ([1.0, 2.0], "sequence"), ("12", "sequence")]:
        for fn in (loop.token_weighted_mean, loop.naive_accumulated_mean):
            with pytest.raises((ValueError, TypeError), match=match):
                fn(bad)


def test_train_rejects_a_bad_max_grad_norm_and_one_shot_iterators():
    full, _ = _token_batches()
    from transformers import BertForTokenClassification as Tok
    model = _tiny(Tok, num_labels=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for bad, error in ((-1.0, ValueError), (0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
                       (True, TypeError), ("1", TypeError)):
        with pytest.raises(error, match="max_grad_norm"):
            loop.train(model, [full], opt, max_grad_norm=bad)
    with pytest.raises(ValueError, match="train_loader"):
        loop.train(model, iter([full]), opt, epochs=2)
    for name in ("epochs", "grad_accum_steps"):
        with pytest.raises(TypeError, match=rf"^{name}\b"):
            loop.train(model, [full], opt, **{name: True})
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # nothing was trained
    loop.train(model, [full], opt, max_grad_norm=None)  # None still means: no clipping


def test_check_finite_handles_tensors_of_any_size_and_floats():
    loop.check_finite(torch.tensor([1.0, 2.0]), 1)
    with pytest.raises(FloatingPointError, match="step 3"):
        loop.check_finite(torch.tensor([1.0, float("nan")]), 3)
    with pytest.raises(FloatingPointError):
        loop.check_finite(float("inf"), 1)


def test_evaluate_accepts_auto_precision_and_memory_breakdown_checks_its_arguments():
    from transformers import BertForTokenClassification as Tok
    model = _tiny(Tok, num_labels=3)
    full, _ = _token_batches()
    assert loop.evaluate(model, [full], precision="auto")["n_items"] == 15
    with pytest.raises(ValueError, match="activations"):
        loop.memory_breakdown(model, activations=-5)
    with pytest.raises(TypeError, match="activations"):
        loop.memory_breakdown(model, activations=1.9)
    with pytest.raises(TypeError, match="gradients"):
        loop.memory_breakdown(model, gradients="no")


# ---------------------------------------------------------------------------- a small task end to end
POS = ["a good film", "great acting and a good story", "wonderful and moving", "i loved it , great"]
NEG = ["a bad film", "awful acting and a dull story", "boring and stupid", "i hated it , awful"]
TEXTS = (POS + NEG) * 4
LABELS = ([1] * 4 + [0] * 4) * 4


@pytest.fixture(scope="module")
def task():
    from datasets import Dataset

    from companion import data

    tok = data.train_wordpiece_tokenizer(TEXTS * 3, vocab_size=80)
    ds = data.tokenize(Dataset.from_dict({"text": TEXTS, "label": LABELS}), tok, 16)
    return tok, ds


def _classifier(tok, seed=0):
    return models.build_model("tiny-random-bert", tokenizer=tok, seed=seed)[0]


def _accuracy(model, tok, ds):
    return float((loop.predict(model, ds, tok).argmax(-1) == np.array(LABELS)).mean())


def test_training_learns_and_follows_the_schedule(task):
    from companion import data, schedulers

    tok, ds = task
    model = _classifier(tok)
    before = _accuracy(model, tok, ds)
    loader = data.dataloader(ds, tok, 8, shuffle=True, seed=0)
    schedule = schedulers.linear_with_warmup(1e-2, 2, 20)
    opt = torch.optim.AdamW(model.parameters(), lr=schedule.base_lr)
    res = loop.train(model, loader, opt, scheduler=schedulers.to_lambda_lr(opt, schedule), epochs=5)
    assert len(res.steps) == 20 and res.best_step == 20 and not res.stopped_early
    assert [s["lr"] for s in res.steps] == pytest.approx(list(schedule.values(20)))  # one scheduler step per step
    assert [s["epoch"] for s in res.steps][3::4] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert _accuracy(model, tok, ds) == 1.0 > before
    assert not model.training
    assert res.train_loss == pytest.approx(np.mean([s["loss"] for s in res.steps]))
    assert np.mean([s["loss"] for s in res.steps[-4:]]) < np.mean([s["loss"] for s in res.steps[:4]])
    assert list(res.step_frame().columns)[:4] == ["step", "epoch", "loss", "lr"]


def test_training_is_reproducible_and_tells_the_sampler_the_epoch(task):
    from companion import data

    tok, ds = task
    weights, seen = [], []
    for _ in range(2):
        model = _classifier(tok)
        loader = data.dataloader(ds, tok, 8, shuffle=True, group_by_length=True, seed=4)
        epochs = []
        loop.train(model, loader, torch.optim.AdamW(model.parameters(), lr=1e-2), epochs=3,
                   on_step=lambda r: epochs.append(loader.sampler.epoch))
        weights.append(model.classifier.weight.detach().clone())
        seen.append(epochs)
    assert torch.equal(weights[0], weights[1])
    assert seen[0] == [0] * 4 + [1] * 4 + [2] * 4


def test_max_steps_and_on_step_stop_training(task):
    from companion import data

    tok, ds = task
    model = _classifier(tok)
    loader = data.dataloader(ds, tok, 8, shuffle=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = loop.train(model, loader, opt, epochs=5, max_steps=3)
    assert len(res.steps) == 3 and res.stopped_early
    res = loop.train(model, loader, opt, epochs=5, on_step=lambda r: r["step"] == 6)
    assert len(res.steps) == 6 and res.steps[-1]["epoch"] == 1.5  # 4 batches per epoch
    with pytest.raises(TypeError, match="on_step"):
        loop.train(model, loader, opt, on_step="stop")
    with pytest.raises(TypeError, match="loss_fn"):
        loop.train(model, loader, opt, loss_fn=1.0)


def test_distillation_is_a_loss_function(task):
    """A student that sees only a perfect teacher's logits (no hard labels) learns the task."""
    from companion import compression, data

    tok, ds = task
    teacher = torch.where(torch.tensor(LABELS)[:, None] == torch.tensor([[0, 1]]), 4.0, -4.0)
    lookup = {tuple(r["input_ids"]): t for r, t in zip(ds, teacher)}

    def kd(model, batch):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        targets = torch.stack([lookup[tuple(ids[m.bool()].tolist())] for ids, m in
                               zip(batch["input_ids"], batch["attention_mask"])])
        return compression.distillation_loss(logits, targets, temperature=2.0)

    model = _classifier(tok)
    loader = data.dataloader(ds, tok, 8, shuffle=True, seed=0)
    before = _accuracy(model, tok, ds)
    loop.train(model, loader, torch.optim.AdamW(model.parameters(), lr=1e-2), epochs=8, loss_fn=kd)
    assert _accuracy(model, tok, ds) == 1.0 > before


def test_predict_keeps_the_input_order(task):
    tok, ds = task
    model = _classifier(tok)
    batched = loop.predict(model, ds, tok, batch_size=5)
    one_by_one = np.concatenate([loop.predict(model, ds.select([i]), tok) for i in range(len(ds))])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-4, atol=1e-5)
    assert batched.dtype == np.float32 and batched.shape == (len(TEXTS), 2)
    rows = [{"input_ids": r["input_ids"], "label": r["label"]} for r in ds]  # a list of dicts works too
    np.testing.assert_allclose(loop.predict(model, rows, tok, batch_size=7), batched, rtol=1e-4, atol=1e-5)
    assert model.training  # the mode is restored
    with pytest.raises(ValueError, match="dataset"):
        loop.predict(model, ds.select([]), tok)
    for bad, error in [(0, ValueError), (True, TypeError), (2.0, TypeError)]:
        with pytest.raises(error, match="batch_size"):
            loop.predict(model, ds, tok, batch_size=bad)


# ---------------------------------------------------------------------------- bad inputs (issue 16)
@pytest.mark.parametrize("bad", [[0, 2], [5, 0], [-1, 1], [0, 10**6]])
def test_train_and_evaluate_refuse_labels_outside_the_classes(bad):
    model = _tiny()
    batch = {"input_ids": torch.randint(5, 50, (2, 5)), "labels": torch.tensor(bad)}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="labels"):
        loop.train(model, [batch], torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="labels"):
        loop.evaluate(model, [batch])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("logits,labels", [(torch.zeros(2, 2), torch.tensor([0, 5])),
                                           (torch.zeros(1, 3, 4), torch.tensor([[0, 9, 1]])),
                                           (torch.zeros(1, 3, 4), torch.tensor([[0, -7, 1]]))])
def test_item_losses_names_labels_out_of_range(logits, labels):
    with pytest.raises(ValueError, match="labels"):
        loop.item_losses(logits, labels)
    assert loop.item_losses(torch.zeros(1, 3, 4), torch.tensor([[0, -100, 1]])).numel() == 2


def test_item_losses_refuses_bool_labels_and_non_tensors():
    with pytest.raises(TypeError, match="labels"):
        loop.item_losses(torch.zeros(2, 2), torch.tensor([True, False]))
    with pytest.raises(TypeError, match="labels"):
        loop.item_losses(torch.zeros(2, 2), [0, 1])


@pytest.mark.parametrize("empty", [[], ()])
def test_train_refuses_an_empty_training_set(empty):
    model = _tiny()
    with pytest.raises(ValueError, match="train_loader"):
        loop.train(model, empty, torch.optim.SGD(model.parameters(), lr=0.1))


@pytest.mark.parametrize("kw,error,name", [
    (dict(epochs=0), ValueError, "epochs"), (dict(epochs=-1), ValueError, "epochs"), (dict(epochs=1.5), TypeError, "epochs"),
    (dict(max_steps=0), ValueError, "max_steps"), (dict(max_steps=-3), ValueError, "max_steps"),
    (dict(max_steps=True), TypeError, "max_steps"), (dict(grad_accum_steps=0), ValueError, "grad_accum_steps"),
    (dict(grad_accum_steps="2"), TypeError, "grad_accum_steps"), (dict(precision="fp8"), ValueError, "precision"),
    (dict(early_stopping_patience=0, eval_loaders={"validation": []}), ValueError, "early_stopping_patience"),
    (dict(early_stopping_patience=1, monitor="test", eval_loaders={"validation": []}), ValueError, "monitor"),
])
def test_train_bad_arguments_are_named(kw, error, name):
    model = _tiny()
    batch = {"input_ids": torch.randint(5, 50, (2, 5)), "labels": torch.tensor([0, 1])}
    with pytest.raises(error, match=rf"^{name}\b"):
        loop.train(model, [batch], torch.optim.SGD(model.parameters(), lr=0.1), **kw)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_autocast_and_resolve_precision_refuse_unknown_precisions(precision):
    assert loop.resolve_precision(precision, "cpu") == precision
    for bad in ("FP32", "int8", None, 16):
        with pytest.raises(ValueError, match="precision"):
            loop.resolve_precision(bad, "cpu")
        with pytest.raises(ValueError, match="precision"):
            loop.autocast("cpu", bad)


def test_auto_precision_follows_the_device(monkeypatch):
    assert loop.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert loop.resolve_precision("auto", "cuda") == "fp16"  # e.g. a Colab T4
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert loop.resolve_precision("auto", "cuda") == "bf16"


def test_an_lr_range_test_is_a_schedule_and_an_on_step_hook(task):
    """Chapter 6's learning-rate range test with the one loop: exponentially growing rates, stop on divergence."""
    from companion import data, schedulers

    tok, ds = task
    model = _classifier(tok)
    loader = data.dataloader(ds, tok, 8, shuffle=True, seed=0)
    schedule = schedulers.exponential_range(1e-5, 10.0, 30)
    opt = torch.optim.AdamW(model.parameters(), lr=schedule.base_lr)
    best = [math.inf]

    def diverged(record):
        best[0] = min(best[0], record["loss"])
        return record["loss"] > 4 * best[0]

    res = loop.train(model, loader, opt, scheduler=schedulers.to_lambda_lr(opt, schedule), epochs=10, max_steps=30,
                     on_step=diverged)
    lrs = [s["lr"] for s in res.steps]
    assert np.all(np.diff(lrs) > 0) and lrs[0] == pytest.approx(1e-5)
    np.testing.assert_allclose(lrs, schedule.values(30)[: len(lrs)])
    assert len(lrs) < 30 and res.stopped_early  # 10 is far too large a rate: the loss blows up before the end


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
def _cls_batches(vocab=50, n=2):
    g = torch.Generator().manual_seed(0)
    return [{"input_ids": torch.randint(5, vocab, (4, 6), generator=g), "attention_mask": torch.ones(4, 6, dtype=torch.long),
             "labels": torch.tensor([0, 1, 1, 0])} for _ in range(n)]


BAD_IDS = [50, 51, 10**6, -1, -100]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_ids_outside_the_vocabulary_are_named_by_train_evaluate_and_predict(bad_id):
    model = _tiny()
    batches = _cls_batches()
    batches[1]["input_ids"][2, 3] = bad_id
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="input_ids") as info:
        loop.train(model, batches, torch.optim.SGD(model.parameters(), lr=0.1))
    assert str(bad_id) in str(info.value)
    with pytest.raises(ValueError, match="input_ids"):
        loop.evaluate(model, batches)
    rows = [{"input_ids": [2, bad_id, 3], "attention_mask": [1, 1, 1]}]
    with pytest.raises(ValueError, match="input_ids"):
        loop.predict(model, rows, None, collator=lambda rs: {k: torch.tensor([r[k] for r in rs]) for k in rs[0]})
    assert set(before) == set(model.state_dict())


@pytest.mark.parametrize("ignore_index,error", [(True, TypeError), ("-100", TypeError), (-100.0, TypeError),
                                                (None, TypeError), (float("nan"), TypeError)])
def test_ignore_index_must_be_an_int(ignore_index, error):
    labels = torch.tensor([0, 1])
    for call in (lambda: loop.item_losses(torch.zeros(2, 2), labels, ignore_index),
                 lambda: loop.count_items(labels, ignore_index),
                 lambda: loop.evaluate(_tiny(), _cls_batches(), ignore_index=ignore_index)):
        with pytest.raises(error, match="ignore_index"):
            call()
    model = _tiny()
    with pytest.raises(error, match="ignore_index"):
        loop.train(model, _cls_batches(), torch.optim.SGD(model.parameters(), lr=0.1), ignore_index=ignore_index)


@pytest.mark.parametrize("logits", [torch.zeros(2, 2, dtype=torch.long), [[0.0, 0.0]], None, "logits"])
def test_item_losses_needs_float_logits(logits):
    with pytest.raises(TypeError, match="logits"):
        loop.item_losses(logits, torch.tensor([0, 1]))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_regression_labels_must_be_finite(bad):
    with pytest.raises(ValueError, match="labels"):
        loop.item_losses(torch.zeros(2, 1), torch.tensor([0.5, bad]))


@pytest.mark.parametrize("labels", [None, [0, 1], "01", 3])
def test_count_items_needs_a_tensor(labels):
    with pytest.raises(TypeError, match="labels"):
        loop.count_items(labels)


@pytest.mark.parametrize("losses", [[["1.0", "2"]], [[1.0, "2"]], [[None]], [[float("inf")]], [[]], [[1.0], []]])
def test_accumulated_means_refuse_strings_and_non_finite(losses):
    for fn in (loop.token_weighted_mean, loop.naive_accumulated_mean):
        with pytest.raises((TypeError, ValueError), match=r"micro_batch_losses\["):
            fn(losses)


@pytest.mark.parametrize("precision", ["fp64", None, True, "FP32", "auto", 16])
def test_grad_scaler_and_check_finite_check_the_precision(precision):
    with pytest.raises(ValueError, match="precision"):
        loop.grad_scaler("cpu", precision)
    with pytest.raises(ValueError, match="precision"):
        loop.check_finite(torch.tensor(1.0), 1, precision)


@pytest.mark.parametrize("loss", ["abc", None, [1.0], True])
def test_check_finite_names_a_loss_that_is_not_a_number(loss):
    with pytest.raises(TypeError, match="loss"):
        loop.check_finite(loss, 1)


def test_check_finite_still_stops_at_nan_floats_and_tensors():
    for loss in (float("nan"), float("inf"), torch.tensor(float("nan"))):
        with pytest.raises(FloatingPointError):
            loop.check_finite(loss, 3)
    loop.check_finite(0.5, 1)
    loop.check_finite(torch.tensor(0.5), 1)


@pytest.mark.parametrize("model", [None, 5, "bert", torch.nn.ReLU()])
def test_loop_functions_need_a_model_with_parameters(model):
    batches = _cls_batches()
    calls = [lambda: loop.evaluate(model, batches), lambda: loop.predict(model, [{"input_ids": [1]}], None),
             lambda: loop.train(model, batches, torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1))]
    if not isinstance(model, torch.nn.Module):  # a weightless module has a (zero) memory breakdown
        calls.append(lambda: loop.memory_breakdown(model))
    for call in calls:
        with pytest.raises((TypeError, ValueError), match="model"):
            call()


@pytest.mark.parametrize("loader", [None, 5, "batches", {"input_ids": torch.ones(1, 2)}])
def test_loaders_must_be_iterables_of_batches(loader):
    model = _tiny()
    with pytest.raises(TypeError, match="train_loader"):
        loop.train(model, loader, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="loader"):
        loop.evaluate(model, loader)
    with pytest.raises(TypeError, match="eval_loaders"):
        loop.train(model, _cls_batches(), torch.optim.SGD(model.parameters(), lr=0.1), eval_loaders={"validation": loader})


@pytest.mark.parametrize("kw,name", [(dict(optimizer=None), "optimizer"), (dict(optimizer="adamw"), "optimizer"),
                                     (dict(metric_fn=5), "metric_fn"), (dict(metric_fn="accuracy"), "metric_fn"),
                                     (dict(eval_loaders=[[]]), "eval_loaders"), (dict(eval_loaders="validation"), "eval_loaders")])
def test_train_names_bad_objects_before_training(kw, name):
    model = _tiny()
    optimizer = kw.pop("optimizer", torch.optim.SGD(model.parameters(), lr=0.1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(TypeError, match=name):
        loop.train(model, _cls_batches(), optimizer, **kw)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing trained


@pytest.mark.parametrize("dataset", [None, 5, "text"])
def test_predict_needs_a_dataset(dataset):
    with pytest.raises(TypeError, match="dataset"):
        loop.predict(_tiny(), dataset, None)


@pytest.mark.parametrize("fn", [5, None, "forward"])
def test_saved_activation_bytes_needs_a_function(fn):
    with pytest.raises(TypeError, match="fn"):
        loop.saved_activation_bytes(fn)


@pytest.mark.parametrize("optimizer", [5, "adamw", [1]])
def test_memory_breakdown_names_a_bad_optimizer(optimizer):
    with pytest.raises(TypeError, match="optimizer"):
        loop.memory_breakdown(torch.nn.Linear(2, 2), optimizer)


# ---------------------------------------------------------------------------- bad inputs (issue 16, round 2)
@pytest.fixture(scope="module")
def tok():
    from companion.data import train_wordpiece_tokenizer

    return train_wordpiece_tokenizer(["a good film", "a bad film with no plot", "i did not like it"] * 5, vocab_size=50)


def _model_of(tok):
    return _tiny(vocab=len(tok))


@pytest.mark.parametrize("ids", [
    [2, True, 3], [2, np.array(True), 3], [2, torch.tensor(True), 3], [np.bool_(False), 3],
    np.array([True, False]), torch.tensor([True, True]), [2, 3.0], torch.tensor([2.0, 3.0]),
])
def test_predict_reads_the_raw_ids_of_a_list_dataset(ids, tok):
    rows = [{"input_ids": [2, 5, 3]}, {"input_ids": ids}]
    with pytest.raises(TypeError, match=r"^dataset\[1\]\['input_ids'\]: expected"):
        loop.predict(_model_of(tok), rows, tok)


@pytest.mark.parametrize("convert", [np.array, torch.tensor, lambda ids: [np.int64(i) for i in ids],
                                     lambda ids: np.array(ids, dtype=np.uint64), lambda ids: [torch.tensor(i) for i in ids]],
                         ids=["numpy", "tensor", "np.int64-list", "uint64", "0-d-tensors"])
def test_predict_accepts_numpy_and_tensor_ids(convert, tok):
    model = _model_of(tok)
    plain = [{"input_ids": [2, 5, 6, 3]}, {"input_ids": [2, 7, 3]}]
    converted = [{"input_ids": convert(r["input_ids"])} for r in plain]
    np.testing.assert_allclose(loop.predict(model, converted, tok), loop.predict(model, plain, tok), rtol=1e-6)
    converted[1]["input_ids"] = convert([2, 49, 99])
    with pytest.raises(ValueError, match=r"^dataset\['input_ids'\]: token id 99 .*vocabulary \[0, 50\)"):
        loop.predict(model, converted, tok)


@pytest.mark.parametrize("tokenizer", [None, 5, "bert-base-uncased", ["a"]])
def test_predict_without_a_tokenizer_or_collator_is_named(tokenizer, tok):
    with pytest.raises(TypeError, match=r"^tokenizer: expected a transformers tokenizer"):
        loop.predict(_model_of(tok), [{"input_ids": [2, 5, 3]}], tokenizer)


def _all_ignored(batches):
    return [{**b, "labels": torch.full_like(b["labels"], -100)} for b in batches]


@pytest.mark.parametrize("case", ["classification", "token", "token-accumulated", "two-epochs", "ignore_index=-1"])
def test_train_refuses_a_loader_whose_every_label_is_ignored(case):
    ignore = -1 if case == "ignore_index=-1" else -100
    if case.startswith("token"):
        model = _tiny(BertForTokenClassification, num_labels=3)
        _, batches = _token_batches()
    else:
        model = _tiny()
        batches = _cls_batches(n=3)
    batches = [{**b, "labels": torch.full_like(b["labels"], ignore)} for b in batches]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kw = dict(grad_accum_steps=2) if case == "token-accumulated" else dict(epochs=2) if case == "two-epochs" else {}
    with pytest.raises(ValueError, match=rf"^labels: every label of train_loader equals ignore_index \({ignore}\)"):
        loop.train(model, batches, torch.optim.SGD(model.parameters(), lr=0.1), ignore_index=ignore, **kw)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing trained


def test_train_skips_a_single_batch_without_labels_among_labelled_ones():
    model = _tiny(BertForTokenClassification, num_labels=3)
    _, batches = _token_batches()
    batches = [{**batches[0], "labels": torch.full_like(batches[0]["labels"], -100)}, batches[1]]
    result = loop.train(model, batches, torch.optim.SGD(model.parameters(), lr=0.1))
    assert len(result.steps) == 1 and result.steps[0]["n_items"] == 7


@pytest.mark.parametrize("bad", [2, 3, 10**6, -1])
def test_token_type_ids_outside_the_models_types_are_named(bad, tok):
    model = _tiny()  # type_vocab_size 2
    batches = _cls_batches()
    batches[1]["token_type_ids"] = torch.zeros_like(batches[1]["input_ids"])
    batches[1]["token_type_ids"][1, 2] = bad
    with pytest.raises(ValueError, match=rf"^token_type_ids \(of a batch\): .*{bad}"):
        loop.train(model, batches, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=rf"^token_type_ids \(of a batch\): .*{bad}"):
        loop.evaluate(model, batches)
    rows = [{"input_ids": [2, 5, 3], "token_type_ids": [0, bad, 0]}]
    with pytest.raises(ValueError, match=rf"^dataset\['token_type_ids'\]: token type {bad} "):
        loop.predict(_model_of(tok), rows, tok)


@pytest.mark.parametrize("length", [129, 130, 512])
def test_a_sequence_longer_than_the_models_positions_is_named(length, tok):
    model = _tiny()  # max_position_embeddings 128
    batches = _cls_batches()
    batches[0] = {"input_ids": torch.full((2, length), 7), "attention_mask": torch.ones(2, length, dtype=torch.long),
                  "labels": torch.tensor([0, 1])}
    with pytest.raises(ValueError, match=rf"^input_ids \(of a batch\): a sequence of {length} tokens .* 128 positions"):
        loop.train(model, batches, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=rf"^input_ids \(of a batch\): a sequence of {length} tokens"):
        loop.evaluate(model, batches)
    with pytest.raises(ValueError, match=rf"^dataset\['input_ids'\]: a sequence of {length} tokens .* 128 positions"):
        loop.predict(_model_of(tok), [{"input_ids": [2, 3]}, {"input_ids": [7] * length}], tok)


def test_a_sequence_of_exactly_the_models_positions_passes(tok):
    model = _tiny()
    batch = {"input_ids": torch.full((2, 128), 7), "attention_mask": torch.ones(2, 128, dtype=torch.long),
             "labels": torch.tensor([0, 1])}
    assert len(loop.train(model, [batch], torch.optim.SGD(model.parameters(), lr=0.1)).steps) == 1


@pytest.mark.parametrize("batch,error,pattern", [
    ([torch.ones(4, 6, dtype=torch.long), torch.tensor([0, 1, 1, 0])], TypeError, "dicts of tensors.*got a list"),
    ((torch.ones(4, 6, dtype=torch.long),), TypeError, "dicts of tensors.*got a tuple"),
    (torch.ones(4, 6, dtype=torch.long), TypeError, "dicts of tensors.*got a Tensor"),
    ({"input_ids": torch.ones(4, 6, dtype=torch.long)}, ValueError, "no 'labels'"),
    ({"input_ids": torch.ones(4, 6, dtype=torch.long), "label": torch.tensor([0, 1, 1, 0])}, ValueError, "no 'labels'"),
    ({"input_ids": [[1] * 6] * 4, "labels": torch.tensor([0, 1, 1, 0])}, TypeError, r"batch\['input_ids'\] is a list"),
])
def test_train_and_evaluate_name_a_batch_they_cannot_read(batch, error, pattern):
    model = _tiny()
    with pytest.raises(error, match=rf"^train_loader: .*{pattern}"):
        loop.train(model, [batch], torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(error, match=rf"^loader: .*{pattern}"):
        loop.evaluate(model, [batch])


def test_a_batch_without_labels_is_fine_with_a_loss_function():
    model = _tiny()
    batch = {"input_ids": torch.ones(4, 6, dtype=torch.long)}
    result = loop.train(model, [batch], torch.optim.SGD(model.parameters(), lr=0.1),
                        loss_fn=lambda m, b: m(**b).logits.pow(2).mean())
    assert len(result.steps) == 1
