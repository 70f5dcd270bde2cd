import pytest
import torch
from transformers import AutoTokenizer

from companion import loops, profiles, tasks
from companion.data import train_wordpiece_tokenizer

TEXTS = ["I did not like this film at all.", "The music is good, but the plot is never clear.",
         "Nothing works here. I loved the actors though!"] * 5


@pytest.fixture(scope="module")
def tok():
    return train_wordpiece_tokenizer(TEXTS, vocab_size=80)


# ---------------------------------------------------------------------------- models and heads
@pytest.mark.parametrize("task,labels", [
    ("classification", torch.tensor([0, 1])),
    ("regression", torch.tensor([0.5, -1.0])),
    ("token_classification", torch.tensor([[-100, 0, 2, 1, -100, -100], [-100, 1, 2, 2, 0, -100]])),
])
def test_each_head_and_our_loss_agree_with_the_model(task, labels, tok):
    model, _ = tasks.build_model("tiny-random-bert", task, num_labels=3, tokenizer=tok, seed=0)
    model.eval()
    ids = torch.randint(5, len(tok), (2, 6), generator=torch.Generator().manual_seed(0))
    out = model(input_ids=ids, labels=labels)
    expected_width = 1 if task == "regression" else 3
    assert out.logits.shape[-1] == expected_width
    assert torch.allclose(loops.item_losses(out.logits, labels).mean(), out.loss, atol=1e-6)
    if task == "regression":
        assert model.config.problem_type == "regression"


def test_build_model_arguments(tok):
    model, _ = tasks.build_model("tiny-random-bert", "classification", tokenizer=tok, dropout=0.3)
    assert model.config.hidden_dropout_prob == 0.3 and model.config.attention_probs_dropout_prob == 0.3
    with pytest.raises(ValueError, match="task"):
        tasks.build_model("tiny-random-bert", "translation", tokenizer=tok)
    with pytest.raises(ValueError, match="texts"):
        tasks.build_model("tiny-random-bert", "classification")
    with pytest.raises(ValueError, match="dropout"):
        tasks.build_model("tiny-random-bert", "classification", tokenizer=tok, dropout=1.0)


def test_keep_layers_keeps_the_bottom_of_the_network(tok):
    full, _ = tasks.build_model("tiny-random-bert", "classification", tokenizer=tok, seed=0)
    cut, _ = tasks.build_model("tiny-random-bert", "classification", tokenizer=tok, seed=0, num_layers=1)
    full.eval(), cut.eval()
    assert len(cut.bert.encoder.layer) == 1 and cut.config.num_hidden_layers == 1
    ids = torch.randint(5, len(tok), (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        hidden_full = full.bert(input_ids=ids, output_hidden_states=True).hidden_states[1]
        hidden_cut = cut.bert(input_ids=ids).last_hidden_state
    assert torch.allclose(hidden_full, hidden_cut, atol=1e-6)
    with pytest.raises(ValueError, match="num_layers"):
        tasks.keep_layers(cut, 2)


def test_minilm_slice_loads_offline():
    model, tokenizer = tasks.build_model("minilm", "token_classification", num_labels=3, num_layers=2)
    assert len(model.bert.encoder.layer) == 2 and model.classifier.out_features == 3
    assert tokenizer.convert_ids_to_tokens(tokenizer("unwatchable")["input_ids"])[0] == "[CLS]"


# ---------------------------------------------------------------------------- the negation task
def test_split_words_and_the_scope_rule():
    words = tasks.split_words("I didn't like it, but the music is good.")
    assert words == ["i", "did", "n't", "like", "it", ",", "but", "the", "music", "is", "good", "."]
    assert tasks.negation_scope_tags(words) == [0, 0, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0]
    # a new cue restarts the scope; a contrast word ends it
    assert tasks.negation_scope_tags(["no", "fun", "without", "jokes", "yet", "ok"]) == [1, 2, 1, 2, 0, 0]
    with pytest.raises(TypeError, match="sentence"):
        tasks.split_words(None)


def test_negation_dataset_balance_and_tags():
    texts = ["I did not like it. It was fine and fun to watch. Never again will I go there. "
             "The actors are good in every scene here."] * 3
    ds = tasks.negation_dataset(texts, 4, seed=0, min_words=4)
    assert len(ds) == 4 and sum(1 in e["tags"] for e in ds) == 2
    assert all(e["tags"] == tasks.negation_scope_tags(e["words"]) for e in ds)
    with pytest.raises(ValueError, match="n"):
        tasks.negation_dataset(texts, 50, min_words=4)


def test_align_labels():
    assert tasks.align_labels([None, 0, 0, 1, None], [2, 1]) == [-100, 2, -100, 1, -100]
    with pytest.raises(ValueError, match="word_ids"):
        tasks.align_labels([None, 3, None], [0, 1])


def test_tokenize_tagged_puts_labels_on_first_subwords():
    tokenizer = AutoTokenizer.from_pretrained(profiles.minilm_path())
    words = tasks.split_words("It isn't unwatchable.")
    items = tasks.tokenize_tagged([{"words": words, "tags": tasks.negation_scope_tags(words)}], tokenizer, 32)
    tokens = tokenizer.convert_ids_to_tokens(items[0]["input_ids"])
    labelled = [(t, l) for t, l in zip(tokens, items[0]["labels"]) if l != -100]
    assert [l for _, l in labelled] == tasks.negation_scope_tags(words)
    assert len(tokens) > len(labelled)  # "unwatchable" and "n't" are split into several pieces
    assert labelled[0][0] == "it"
    with pytest.raises(ValueError, match="max_length"):
        tasks.tokenize_tagged([], tokenizer, 0)


def test_mean_pooler_averages_real_tokens_only(tok):
    model, _ = tasks.build_model("tiny-random-bert", "classification", tokenizer=tok, seed=0)
    assert isinstance(model.base_model.pooler, tasks.MeanPooler)
    batch = tok(["a b c d e f", "a b"], padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        out = model.base_model(**batch)
    hidden, mask = out.last_hidden_state, batch["attention_mask"]
    for i in range(2):
        expected = hidden[i, mask[i].bool()].mean(0)
        assert torch.allclose(out.pooler_output[i], expected, atol=1e-6)
    assert not torch.allclose(out.pooler_output[1], hidden[1].mean(0))  # padding is excluded
    with pytest.raises(ValueError, match="pooler"):
        tasks.use_mean_pooling(torch.nn.Linear(2, 2))


# ---------------------------------------------------------------------------- bad input (newcomer probes)
def test_classification_needs_two_classes(tok):
    for bad in (1, True):
        with pytest.raises(ValueError, match="num_labels"):
            tasks.build_model("tiny-random-bert", "classification", tokenizer=tok, num_labels=bad)
    model, _ = tasks.build_model("tiny-random-bert", "regression", tokenizer=tok)
    assert model.config.num_labels == 1


def test_mean_pooling_survives_deepcopy_and_rejects_a_mismatched_mask(tok):
    import copy

    model, _ = tasks.build_model("tiny-random-bert", "classification", tokenizer=tok, seed=0)
    clone = copy.deepcopy(model).eval()
    short = tok(["a b"], return_tensors="pt")
    padded = tok(["a b", "a b c d e f"], padding=True, return_tensors="pt")
    with torch.no_grad():
        alone = clone(**short).logits[0]
        with_padding = clone(**padded).logits[0]
    assert torch.allclose(alone, with_padding, atol=1e-5)  # the copy's pooler got the copy's mask
    pooler = clone.base_model.pooler
    pooler.mask = torch.ones(3, 4)
    with pytest.raises(ValueError, match="attention_mask"):
        pooler(torch.zeros(2, 5, 8))


def test_tagging_inputs_are_checked():
    tokenizer = AutoTokenizer.from_pretrained(profiles.minilm_path())
    words = tasks.split_words("I didn\u2019t like it")  # typographic apostrophe
    assert "n't" in words and tasks.negation_scope_tags(words)[words.index("n't")] == 1
    with pytest.raises(TypeError, match="words"):
        tasks.negation_scope_tags("not good")
    example = {"words": words, "tags": tasks.negation_scope_tags(words)}
    for bad in (1, 2, True):
        with pytest.raises(ValueError, match="max_length"):
            tasks.tokenize_tagged([example], tokenizer, bad)
    assert len(tasks.tokenize_tagged([example], tokenizer, 4)[0]["input_ids"]) == 4
    with pytest.raises(TypeError, match="words"):
        tasks.tokenize_tagged([{"words": "not good", "tags": [0, 0]}], tokenizer, 16)
    with pytest.raises(ValueError, match="tags"):
        tasks.tokenize_tagged([{"words": words, "tags": [0] * (len(words) + 1)}], tokenizer, 16)


def test_negation_dataset_checks_its_shares_and_sizes():
    texts = ["I did not like it at all. The music is good and the cast is fine."] * 4
    for kwargs, name in [({"negated_share": 1.5}, "negated_share"), ({"negated_share": float("nan")}, "negated_share"),
                         ({"min_words": 0}, "min_words"), ({"min_words": 40}, "min_words")]:
        with pytest.raises(ValueError, match=name):
            tasks.negation_dataset(texts, 2, **kwargs)
    with pytest.raises(ValueError, match="n"):
        tasks.negation_dataset(texts, True)
