import numpy as np
import pytest
import torch

from companion import augmentation, data, schedulers
from companion import classifier_loop as loop

POS = ["a good film", "great acting and a good story", "wonderful and moving", "i loved it , great"]
NEG = ["a bad film", "awful acting and a dull story", "boring and stupid", "i hated it , awful"]
TEXTS = (POS + NEG) * 4
LABELS = ([1] * 4 + [0] * 4) * 4


@pytest.fixture(scope="module")
def tokenizer():
    return data.train_wordpiece_tokenizer(TEXTS * 3, vocab_size=80)


def tiny(tokenizer, seed=0, **kw):
    model, _ = loop.load_classifier("tiny-random-bert", tokenizer=tokenizer, seed=seed, **kw)
    return model


def run(model, tokenizer, **kw):
    args = dict(schedule=schedulers.linear_with_warmup(1e-2, 2, 20), epochs=5, batch_size=8, max_length=16, seed=0)
    return loop.train_classifier(model, tokenizer, TEXTS, LABELS, **{**args, **kw})


def accuracy(model, tokenizer):
    logits = loop.predict_logits(model, loop.encode(tokenizer, TEXTS, 16), tokenizer.pad_token_id)
    return float((logits.argmax(-1) == np.array(LABELS)).mean())


def test_keep_layers_and_load_classifier(tokenizer):
    model = tiny(tokenizer)
    assert len(model.bert.encoder.layer) == 2
    loop.keep_layers(model, 1)
    assert len(model.bert.encoder.layer) == 1 and model.config.num_hidden_layers == 1
    assert model(**loop.collate([[2, 10, 3]], 0)).logits.shape == (1, 2)
    with pytest.raises(ValueError, match="num_layers"):
        loop.keep_layers(model, 2)
    with pytest.raises(TypeError, match="model"):
        loop.keep_layers(torch.nn.Linear(2, 2), 1)
    with pytest.raises(ValueError, match="texts"):
        loop.load_classifier("tiny-random-bert")
    sliced = tiny(tokenizer, num_layers=1)
    assert sliced.config.num_hidden_layers == 1
    # the same seed gives the same model
    a, b = tiny(tokenizer, seed=3), tiny(tokenizer, seed=3)
    torch.testing.assert_close(a.classifier.weight, b.classifier.weight)


def test_pretrained_minilm_slice_keeps_pretrained_weights():
    full, tok = loop.load_classifier("minilm", seed=0)
    two, _ = loop.load_classifier("minilm", tokenizer=tok, num_layers=2, seed=0)
    assert len(two.bert.encoder.layer) == 2
    torch.testing.assert_close(two.bert.encoder.layer[1].output.dense.weight, full.bert.encoder.layer[1].output.dense.weight)


def test_encode_matches_data_tokenize(tokenizer):
    ds = data.load_imdb("fixture", train_size=20, test_size=10, validation_size=10)
    texts = list(ds["train"]["text"])
    tok = data.train_wordpiece_tokenizer(texts, vocab_size=300)
    for head in (None, 10):
        ours = loop.encode(tok, texts, 40, head_tokens=head)
        ref = data.tokenize(ds["train"], tok, 40, head_tokens=head)["input_ids"]
        assert ours == list(ref)
    assert max(len(s) for s in ours) == 40
    with pytest.raises(ValueError, match="head_tokens"):
        loop.encode(tok, texts, 40, head_tokens=39)
    with pytest.raises(TypeError, match="texts"):
        loop.encode(tok, "one text", 40)


def test_collate_pads():
    batch = loop.collate([[2, 5, 3], [2, 3]], pad_id=0)
    assert batch["input_ids"].tolist() == [[2, 5, 3], [2, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


def test_training_learns_and_follows_the_schedule(tokenizer):
    model = tiny(tokenizer)
    before = accuracy(model, tokenizer)
    out = run(model, tokenizer)
    assert out["steps"] == loop.steps_per_run(len(TEXTS), 8, 5) == 20
    assert [h["lr"] for h in out["history"]] == pytest.approx(list(schedulers.linear_with_warmup(1e-2, 2, 20).values(20)))
    assert accuracy(model, tokenizer) == 1.0 > before
    assert not model.training
    losses = [h["loss"] for h in out["history"]]
    assert np.mean(losses[-4:]) < np.mean(losses[:4])


def test_training_is_reproducible(tokenizer):
    a, b = tiny(tokenizer), tiny(tokenizer)
    run(a, tokenizer, epochs=2, neftune_alpha=5.0, augment_text=lambda t, rng: augmentation.eda(t, rng, 0.2))
    run(b, tokenizer, epochs=2, neftune_alpha=5.0, augment_text=lambda t, rng: augmentation.eda(t, rng, 0.2))
    torch.testing.assert_close(a.classifier.weight, b.classifier.weight)


def test_each_option_changes_training_and_cleans_up(tokenizer):
    base = tiny(tokenizer)
    run(base, tokenizer, epochs=2)
    seen = []

    def noisy_ids(batch, gen):
        seen.append(batch["input_ids"].shape)
        return augmentation.token_noise(batch["input_ids"], mask_token_id=tokenizer.mask_token_id,
                                        vocab_size=len(tokenizer), special_ids=tokenizer.all_special_ids,
                                        attention_mask=batch["attention_mask"], mask_prob=0.3, generator=gen)

    teacher = np.where(np.array(LABELS)[:, None] == np.array([[0, 1]]), 3.0, -3.0)
    for option in [dict(augment_ids=noisy_ids), dict(neftune_alpha=20.0), dict(fgm_epsilon=1.0),
                   dict(teacher_logits=teacher, kd_weight=1.0, temperature=2.0),
                   dict(augment_text=lambda t, rng: augmentation.eda(t, rng, 0.3))]:
        model = tiny(tokenizer)
        run(model, tokenizer, epochs=2, **option)
        assert not torch.allclose(model.classifier.weight, base.classifier.weight), option
        assert not model.get_input_embeddings()._forward_hooks, option  # NEFTune / FGM hooks removed
    assert len(seen) == 8


def test_distillation_from_a_perfect_teacher_learns(tokenizer):
    teacher = np.where(np.array(LABELS)[:, None] == np.array([[0, 1]]), 2.0, -2.0)
    model = tiny(tokenizer)
    run(model, tokenizer, teacher_logits=teacher, kd_weight=1.0)  # no hard labels used at all
    assert accuracy(model, tokenizer) == 1.0


def test_per_epoch_stepping_never_reaches_the_peak(tokenizer):
    model = tiny(tokenizer)
    sched = schedulers.linear_with_warmup(1e-3, 8, 20)
    out = run(model, tokenizer, schedule=sched, step_scheduler_every="epoch")
    lrs = [h["lr"] for h in out["history"]]
    np.testing.assert_allclose(lrs, schedulers.trace(sched, 4, 5, "epoch"))
    assert max(lrs) < 0.6e-3


def test_stopping_and_errors(tokenizer):
    model = tiny(tokenizer)
    assert run(model, tokenizer, max_steps=3)["steps"] == 3
    assert run(model, tokenizer, on_step=lambda step, loss: step == 2)["steps"] == 2
    with pytest.raises(ValueError, match="labels"):
        loop.train_classifier(model, tokenizer, TEXTS, LABELS[:-1], schedule=schedulers.constant(1e-3), epochs=1,
                              batch_size=4, max_length=16)
    with pytest.raises(TypeError, match="schedule"):
        run(model, tokenizer, schedule=lambda s: 1e-3)
    with pytest.raises(ValueError, match="teacher_logits"):
        run(model, tokenizer, teacher_logits=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="step_scheduler_every"):
        run(model, tokenizer, step_scheduler_every="batch")
    with pytest.raises(ValueError, match="epochs"):
        run(model, tokenizer, epochs=0)


def test_predict_logits_keeps_the_order(tokenizer):
    model = tiny(tokenizer)
    ids = loop.encode(tokenizer, TEXTS, 16)
    batched = loop.predict_logits(model, ids, tokenizer.pad_token_id, batch_size=5)
    one_by_one = np.concatenate([loop.predict_logits(model, [s], tokenizer.pad_token_id) for s in ids])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-4, atol=1e-5)
    assert batched.dtype == np.float32 and batched.shape == (len(TEXTS), 2)
    with pytest.raises(ValueError, match="ids"):
        loop.predict_logits(model, [], 0)


def test_lr_range_test_sweeps_and_stops_at_divergence(tokenizer):
    model = tiny(tokenizer)
    out = loop.lr_range_test(model, tokenizer, TEXTS, LABELS, min_lr=1e-5, max_lr=10.0, num_steps=30,
                             batch_size=8, max_length=16)
    assert np.all(np.diff(out["lr"]) > 0) and out["lr"][0] == pytest.approx(1e-5)
    assert len(out["lr"]) == len(out["loss"]) <= 30
    full = schedulers.exponential_range(1e-5, 10.0, 30).values(30)
    np.testing.assert_allclose(out["lr"], full[: len(out["lr"])])


def test_mean_pooling_classifier_ignores_padding_and_works_with_the_tools(tokenizer):
    from companion import compression, ensembles

    model, _ = loop.load_classifier("tiny-random-bert", tokenizer=tokenizer, seed=0, pooling="mean")
    model.eval()
    assert isinstance(model, loop.MeanPoolingClassifier) and model.base_model is model.encoder
    ids = [[2, 10, 11, 12, 3], [2, 13, 3]]
    batched = model(**loop.collate(ids, tokenizer.pad_token_id)).logits
    alone = torch.cat([model(**loop.collate([s], tokenizer.pad_token_id)).logits for s in ids])
    torch.testing.assert_close(batched, alone, rtol=1e-4, atol=1e-5)  # padding does not change the mean
    hidden = model.encoder(input_ids=torch.tensor([ids[0]])).last_hidden_state
    torch.testing.assert_close(alone[0], model.classifier(hidden.mean(1))[0], rtol=1e-4, atol=1e-5)
    out = model(**loop.collate(ids, 0), labels=torch.tensor([0, 1]))
    assert out.loss is not None and out.loss.dim() == 0
    loop.keep_layers(model, 1)
    assert len(model.encoder.encoder.layer) == 1
    assert len(compression.quantized_paths(compression.quantize_dynamic(model))) == 1 * 6 + 1  # no pooler
    compression.prune_ffn_neurons(model, 0.5)
    assert model.config.intermediate_size == 32
    run(model, tokenizer, epochs=1, fgm_epsilon=0.5, neftune_alpha=5.0)
    ensembles.uniform_soup([model, model])
    with pytest.raises(ValueError, match="pooling"):
        loop.load_classifier("tiny-random-bert", tokenizer=tokenizer, pooling="max")


def test_mean_pooling_minilm_loads_without_pooler():
    model, _ = loop.load_classifier("minilm", num_layers=2, pooling="mean")
    assert model.encoder.pooler is None and len(model.encoder.encoder.layer) == 2
