import numpy as np
import pytest
import torch
from sklearn.metrics import top_k_accuracy_score

from companion import forgetting, models
from companion.data import train_wordpiece_tokenizer


def test_recall_at_1_matches_scikit_learn():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(30, 8, generator=g), torch.randn(30, 8, generator=g)
    b[:20] = a[:20] + 0.3 * b[:20]  # 20 near pairs, 10 random
    scores = (a @ b.T).numpy()
    ref = top_k_accuracy_score(np.arange(30), scores, k=1, labels=np.arange(30))
    assert forgetting.recall_at_1(a, b) == pytest.approx(ref)
    with pytest.raises(ValueError, match="candidates"):
        forgetting.recall_at_1(a, b[:5])


def test_sentence_embeddings_ignore_padding_and_the_head():
    texts = ["a short one", "a much longer sentence with many more words in it"]
    tok = train_wordpiece_tokenizer(texts * 3, vocab_size=60)
    model, _ = models.build_model("tiny-random-bert", "classification", tokenizer=tok, seed=0)
    alone = forgetting.sentence_embeddings(model, tok, texts[:1])
    batched = forgetting.sentence_embeddings(model, tok, texts)
    assert torch.allclose(alone[0], batched[0], atol=1e-5)
    assert torch.allclose(batched.norm(dim=1), torch.ones(2), atol=1e-5)
    backbone_only = forgetting.sentence_embeddings(model.bert, tok, texts)
    assert torch.allclose(backbone_only, batched, atol=1e-6)
    assert model.training  # the mode is restored
    with pytest.raises(ValueError, match="texts"):
        forgetting.sentence_embeddings(model, tok, [])


def test_paraphrase_recall_of_identical_pairs_is_perfect():
    import pandas as pd

    pairs = pd.DataFrame({"a": ["the cat sleeps", "stocks fell today", "we won the game"],
                          "b": ["the cat sleeps", "stocks fell today", "we won the game"]})
    tok = train_wordpiece_tokenizer(list(pairs["a"]) * 3, vocab_size=60)
    model, _ = models.build_model("tiny-random-bert", "classification", tokenizer=tok, seed=0)
    assert forgetting.paraphrase_recall(model, tok, pairs) == 1.0


def test_recall_at_1_rejects_bad_embeddings():
    x = torch.eye(3)
    assert forgetting.recall_at_1(x, x) == 1.0
    with pytest.raises(TypeError, match="queries"):
        forgetting.recall_at_1(np.eye(3), x)
    with pytest.raises(ValueError, match="no pairs"):
        forgetting.recall_at_1(torch.zeros(0, 3), torch.zeros(0, 3))
    with pytest.raises(ValueError, match="NaN"):
        forgetting.recall_at_1(x, torch.full((3, 3), float("nan")))


@pytest.mark.parametrize("kw,error,name", [
    (dict(texts="one sentence"), TypeError, "texts"), (dict(texts=[None]), TypeError, "texts"),
    (dict(texts=[]), ValueError, "texts"), (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=True), TypeError, "batch_size"), (dict(max_length=0), ValueError, "max_length"),
    (dict(max_length=2.5), TypeError, "max_length"),
])
def test_sentence_embeddings_bad_arguments_are_named(kw, error, name):
    tok = train_wordpiece_tokenizer(["a short one", "another one"] * 3, vocab_size=60)
    model, _ = models.build_model("tiny-random-bert", tokenizer=tok, seed=0)
    args = {**dict(texts=["a short one"]), **kw}
    with pytest.raises(error, match=rf"^{name}\b"):
        forgetting.sentence_embeddings(model, tok, args.pop("texts"), **args)


@pytest.mark.parametrize("pairs,error", [
    ([("a", "b")], TypeError), (None, TypeError), ("ab", TypeError), ({"x": ["a"]}, TypeError),
    ({"a": ["x"]}, TypeError), ({"a": ["x"], "b": [None]}, TypeError), ({"a": "x", "b": "y"}, TypeError),
    ({"a": [], "b": []}, ValueError),
])
def test_paraphrase_recall_bad_pairs_are_named(pairs, error):
    import pandas as pd

    tok = train_wordpiece_tokenizer(["a short one", "another one"] * 3, vocab_size=60)
    model, _ = models.build_model("tiny-random-bert", tokenizer=tok, seed=0)
    if isinstance(pairs, dict) and set(pairs) == {"a", "b"} and not isinstance(pairs["a"], str):
        pairs = pd.DataFrame(pairs) if len(pairs["a"]) == len(pairs["b"]) else pairs
    with pytest.raises(error, match="pairs"):
        forgetting.paraphrase_recall(model, tok, pairs)
