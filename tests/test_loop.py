import math

import pytest
import torch
import torch.nn.functional as F
from transformers import BertForSequenceClassification, BertForTokenClassification

from companion import loops, training


def _tiny(cls=BertForSequenceClassification, num_labels=2, vocab=50, seed=0, **kw):
    torch.manual_seed(seed)
    config = training.tiny_bert_config(vocab, num_labels, hidden_dropout_prob=0.0,
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
    assert torch.allclose(loops.item_losses(logits, y), F.cross_entropy(logits, y, reduction="none"))
    tok_logits, tok_y = torch.randn(2, 4, 3), torch.tensor([[0, 1, -100, -100], [2, -100, 1, 0]])
    s, n = loops.summed_loss(tok_logits, tok_y)
    assert n == 5 and math.isclose(float(s) / n, float(F.cross_entropy(tok_logits.reshape(-1, 3), tok_y.reshape(-1))),
                                   rel_tol=1e-6)
    reg, target = torch.randn(4, 1), torch.randn(4)
    assert math.isclose(float(loops.item_losses(reg, target).mean()), float(F.mse_loss(reg.squeeze(-1), target)),
                        rel_tol=1e-6)
    assert loops.count_items(tok_y) == 5 and loops.count_items(target) == 4
    with pytest.raises(ValueError, match="labels"):
        loops.item_losses(torch.randn(4, 3), torch.randint(0, 3, (5,)))
    with pytest.raises(ValueError, match="labels"):
        loops.item_losses(torch.randn(4, 2), torch.randn(4))


def test_item_losses_match_the_models_own_loss():
    model = _tiny(BertForTokenClassification, num_labels=3).eval()
    full, _ = _token_batches()
    out = model(**full)
    ours = loops.item_losses(out.logits, full["labels"]).mean()
    assert torch.allclose(ours, out.loss, atol=1e-6)


def test_field_case_accumulated_loss():
    micro = [[1.0, 1.0, 1.0], [4.0]]
    assert loops.token_weighted_mean(micro) == pytest.approx(1.75)
    assert loops.naive_accumulated_mean(micro) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="micro_batch_losses"):
        loops.token_weighted_mean([])
    with pytest.raises(ValueError, match="micro_batch_losses"):
        loops.naive_accumulated_mean([[1.0], []])


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
    n_items = sum(loops.count_items(b["labels"]) for b in micro)
    naive = _tiny(BertForTokenClassification, num_labels=3)
    for b in micro:
        inputs = {k: v for k, v in b.items() if k != "labels"}
        s, n = loops.summed_loss(acc(**inputs).logits, b["labels"])
        (s / n_items).backward()
        s2, n2 = loops.summed_loss(naive(**inputs).logits, b["labels"])
        (s2 / n2 / len(micro)).backward()
    acc_grad = torch.cat([p.grad.reshape(-1) for p in acc.parameters()])
    naive_grad = torch.cat([p.grad.reshape(-1) for p in naive.parameters()])
    assert torch.allclose(acc_grad, ref_grad, atol=1e-6, rtol=1e-4)
    assert not torch.allclose(naive_grad, ref_grad, atol=1e-4, rtol=1e-3)


def test_train_with_accumulation_matches_one_full_batch_step():
    full, micro = _token_batches()
    a = _tiny(BertForTokenClassification, num_labels=3)
    b = _tiny(BertForTokenClassification, num_labels=3)
    ra = loops.train(a, [full], torch.optim.SGD(a.parameters(), lr=0.5), max_grad_norm=None)
    rb = loops.train(b, micro, torch.optim.SGD(b.parameters(), lr=0.5), grad_accum_steps=2, max_grad_norm=None)
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


def test_plain_loop_matches_the_trainer(tmp_path):
    """Same data order, seed and hyperparameters: the plain loop and the Trainer give the same weights."""
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup

    from companion import optimizers
    from companion.data import train_wordpiece_tokenizer

    tok = train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=60)
    ds = _seq_dataset()
    args = training.training_arguments(tmp_path, learning_rate=1e-3, batch_size=8, epochs=2, seed=0,
                                       warmup=0.25, weight_decay=0.01, group_by_length=False,
                                       train_sampling_strategy="sequential", logging_steps=1)
    hf_model = _tiny()
    trainer = training.make_trainer(hf_model, args, ds, tokenizer=tok)
    trainer.train()

    ours = _tiny()
    loader = DataLoader(ds, batch_size=8, shuffle=False, collate_fn=DataCollatorWithPadding(tok))
    opt = torch.optim.AdamW(optimizers.param_groups(ours, 0.01), lr=1e-3)
    total = 2 * len(loader)
    sched = get_linear_schedule_with_warmup(opt, math.ceil(0.25 * total), total)
    res = loops.train(ours, loader, opt, scheduler=sched, epochs=2, max_grad_norm=1.0)
    hf_losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert [round(s["loss"], 4) for s in res.steps] == pytest.approx(hf_losses, abs=1e-4)
    assert torch.allclose(_params(ours), _params(hf_model), atol=1e-5)


def test_dataloader_drops_extra_columns_and_is_reproducible():
    from companion.data import train_wordpiece_tokenizer

    tok = train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=60)
    ds = _seq_dataset(10).map(lambda r: {"length": len(r["input_ids"])})
    a = list(loops.dataloader(ds, tok, 4, shuffle=True, seed=3))
    b = list(loops.dataloader(ds, tok, 4, shuffle=True, seed=3))
    assert set(a[0]) == {"input_ids", "attention_mask", "labels"}
    assert all(torch.equal(x["input_ids"], y["input_ids"]) for x, y in zip(a, b))
    assert [len(x["labels"]) for x in a] == [4, 4, 2]
    with pytest.raises(ValueError, match="batch_size"):
        loops.dataloader(ds, tok, 0)


# ---------------------------------------------------------------------------- evaluation
def test_evaluate_uses_every_batch():
    model = _tiny().eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 50, (9, 7), generator=g)
    labels = torch.randint(0, 2, (9,), generator=g)
    batches = [{"input_ids": ids[i:i + 4], "labels": labels[i:i + 4]} for i in (0, 4, 8)]
    ev = loops.evaluate(model, batches)
    with torch.no_grad():
        ref = F.cross_entropy(model(input_ids=ids).logits, labels)
    assert ev["n_items"] == 9 and len(ev["predictions"]) == 9
    assert ev["loss"] == pytest.approx(float(ref), rel=1e-5)
    with pytest.raises(ValueError, match="loader"):
        loops.evaluate(model, [])


# ---------------------------------------------------------------------------- precision and the guard
def test_precision_resolution_and_autocast():
    assert loops.resolve_loop_precision("auto", "cpu") == "fp32"
    assert loops.resolve_loop_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="precision"):
        loops.resolve_loop_precision("fp8", "cpu")
    with loops.autocast("cpu", "bf16"):
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16
    assert not loops.grad_scaler("cpu", "bf16").is_enabled()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_train_in_mixed_precision_on_cpu(precision):
    full, _ = _token_batches()
    model = _tiny(BertForTokenClassification, num_labels=3)
    before = _params(model).clone()
    res = loops.train(model, [full], torch.optim.AdamW(model.parameters(), lr=1e-3), epochs=2, precision=precision)
    assert all(math.isfinite(s["loss"]) for s in res.steps)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    assert not torch.equal(before, _params(model))


def test_check_finite_and_the_loop_stop_on_a_non_finite_loss():
    loops.check_finite(torch.tensor(1.0), step=1)
    with pytest.raises(FloatingPointError, match="step 7.*65,504"):
        loops.check_finite(torch.tensor(float("inf")), step=7, precision="fp16")
    assert torch.isinf(torch.tensor(70000.0).half())  # the fp16 limit the message names
    model = _tiny()
    with torch.no_grad():
        model.classifier.bias.fill_(float("nan"))
    batch = {"input_ids": torch.randint(5, 50, (2, 5)), "labels": torch.tensor([0, 1])}
    with pytest.raises(FloatingPointError, match="step 1"):
        loops.train(model, [batch], torch.optim.SGD(model.parameters(), lr=0.1))


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
    res = loops.train(model, train, torch.optim.SGD(model.parameters(), lr=0.5), epochs=10,
                      eval_loaders={"validation": flipped}, early_stopping_patience=2)
    assert res.stopped_early and res.best_step == 4
    assert len(res.eval_frame()) == 3
    ref = _Linear()
    loops.train(ref, train, torch.optim.SGD(ref.parameters(), lr=0.5), epochs=1)
    assert torch.allclose(_params(model), _params(ref))
    with pytest.raises(ValueError, match="monitor"):
        loops.train(model, train, torch.optim.SGD(model.parameters(), lr=0.5), early_stopping_patience=1)
    with pytest.raises(ValueError, match="grad_accum_steps"):
        loops.train(model, train, torch.optim.SGD(model.parameters(), lr=0.5), grad_accum_steps=0)


# ---------------------------------------------------------------------------- memory
def test_saved_activation_bytes_counts_what_backward_needs():
    lin = torch.nn.Linear(16, 4)
    x = torch.randn(8, 16)
    # Linear saves its input (8*16 floats) for the weight gradient; ReLU saves its output (8*4 floats).
    assert loops.saved_activation_bytes(lambda: torch.relu(lin(x)).sum(), lin) == (8 * 16 + 8 * 4) * 4
    with torch.no_grad():
        assert loops.saved_activation_bytes(lambda: torch.relu(lin(x)).sum(), lin) == 0
    lin.requires_grad_(False)
    assert loops.saved_activation_bytes(lambda: torch.relu(lin(x)).sum(), lin) == 0


def test_memory_breakdown_with_adamw():
    lin = torch.nn.Linear(16, 4)
    opt = torch.optim.AdamW(lin.parameters(), lr=1e-3)
    lin(torch.randn(2, 16)).sum().backward()
    opt.step()
    mem = loops.memory_breakdown(lin, opt, activations=100)
    n = 16 * 4 + 4
    assert mem["weights"] == mem["gradients"] == 4 * n
    assert mem["optimizer_state"] == 2 * 4 * n + 2 * 4  # two moments per weight + one step counter per tensor
    assert mem["total"] == 4 * n * 2 + mem["optimizer_state"] + 100
    assert loops.memory_breakdown(lin, gradients=False)["gradients"] == 0


# ---------------------------------------------------------------------------- bad input (newcomer probes)
def test_accumulated_means_reject_malformed_micro_batches():
    assert loops.token_weighted_mean([torch.tensor([1.0, 1.0, 1.0]), torch.tensor([4.0])]) == pytest.approx(1.75)
    for bad, match in [([[1.0, 2.0], [[1.0, 1.0], [1.0, 1.0]]], "1-D"), ([[1.0, float("nan")]], "finite"),
                       ([[True, False]], "bools"), ([1.0, 2.0], "sequence"), ("12", "sequence")]:
        for fn in (loops.token_weighted_mean, loops.naive_accumulated_mean):
            with pytest.raises((ValueError, TypeError), match=match):
                fn(bad)


def test_train_rejects_a_bad_max_grad_norm_and_one_shot_iterators():
    full, _ = _token_batches()
    from transformers import BertForTokenClassification as Tok
    model = _tiny(Tok, num_labels=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for bad in (-1.0, 0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="max_grad_norm"):
            loops.train(model, [full], opt, max_grad_norm=bad)
    with pytest.raises(ValueError, match="train_loader"):
        loops.train(model, iter([full]), opt, epochs=2)
    for name in ("epochs", "grad_accum_steps"):
        with pytest.raises(ValueError, match=name):
            loops.train(model, [full], opt, **{name: True})
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # nothing was trained
    loops.train(model, [full], opt, max_grad_norm=None)  # None still means: no clipping


def test_check_finite_handles_tensors_of_any_size_and_floats():
    loops.check_finite(torch.tensor([1.0, 2.0]), 1)
    with pytest.raises(FloatingPointError, match="step 3"):
        loops.check_finite(torch.tensor([1.0, float("nan")]), 3)
    with pytest.raises(FloatingPointError):
        loops.check_finite(float("inf"), 1)


def test_evaluate_accepts_auto_precision_and_memory_breakdown_checks_its_arguments():
    from transformers import BertForTokenClassification as Tok
    model = _tiny(Tok, num_labels=3)
    full, _ = _token_batches()
    assert loops.evaluate(model, [full], precision="auto")["n_items"] == 15
    with pytest.raises(ValueError, match="activations"):
        loops.memory_breakdown(model, activations=-5)
    with pytest.raises(ValueError, match="activations"):
        loops.memory_breakdown(model, activations=1.9)
    with pytest.raises(TypeError, match="gradients"):
        loops.memory_breakdown(model, gradients="no")
