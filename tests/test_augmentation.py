import math
from collections import Counter

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification
from transformers.integrations.neftune import neftune_post_forward_hook

from companion import augmentation as A

WORDS = "the film was not good but the acting was great".split()


# ------------------------------------------------------------------ EDA-style word edits
def test_random_deletion_keeps_order_and_at_least_one_word():
    out = A.random_deletion(WORDS, 0.3, 0)
    it = iter(WORDS)
    assert all(w in it for w in out)  # a subsequence: order kept
    assert 0 < len(out) < len(WORDS)
    assert A.random_deletion(WORDS, 0.0, 1) == WORDS
    assert len(A.random_deletion(WORDS, 1.0, 2)) == 1
    rates = [1 - len(A.random_deletion(WORDS * 10, 0.2, s)) / 100 for s in range(200)]
    assert np.mean(rates) == pytest.approx(0.2, abs=0.02)


def test_random_swap_and_insertion_keep_the_words():
    swapped = A.random_swap(WORDS, 3, 0)
    assert Counter(swapped) == Counter(WORDS) and swapped != WORDS
    inserted = A.random_insertion(WORDS, 2, 0)
    assert len(inserted) == len(WORDS) + 2 and set(inserted) == set(WORDS)
    assert A.random_swap(["one"], 5, 0) == ["one"] and A.random_insertion([], 3, 0) == []


def test_word_edits_do_not_modify_the_input_and_are_seeded():
    words = list(WORDS)
    A.random_swap(words, 4, 0), A.random_insertion(words, 4, 0), A.random_deletion(words, 0.5, 0)
    assert words == WORDS
    assert A.eda(" ".join(WORDS), 7, alpha=0.2) == A.eda(" ".join(WORDS), 7, alpha=0.2)
    rng = np.random.default_rng(0)
    outs = {A.eda(" ".join(WORDS), rng, alpha=0.2) for _ in range(30)}
    assert len(outs) > 10  # a generator gives a different copy each call


def test_eda_uses_each_operation():
    text = " ".join(WORDS)
    n = len(WORDS)
    lengths = Counter(len(A.eda(text, s, alpha=0.2).split()) - n for s in range(60))
    assert lengths[0] > 0 and any(d < 0 for d in lengths) and lengths[2] > 0  # swap, delete, insert (n=2)
    only_swap = A.eda(text, 3, alpha=0.2, operations=["swap"])
    assert Counter(only_swap.split()) == Counter(WORDS)


@pytest.mark.parametrize("call,exc,arg", [
    (lambda: A.random_deletion("a b c", 0.1, 0), TypeError, "words"),
    (lambda: A.random_deletion(WORDS, 1.5, 0), ValueError, "p"),
    (lambda: A.random_swap(WORDS, -1, 0), ValueError, "n"),
    (lambda: A.random_insertion(WORDS, 1, "seed"), TypeError, "rng"),
    (lambda: A.eda(WORDS, 0), TypeError, "text"),
    (lambda: A.eda("a b", 0, alpha=-0.1), ValueError, "alpha"),
    (lambda: A.eda("a b", 0, operations=["synonym"]), ValueError, "operations"),
])
def test_word_edit_errors(call, exc, arg):
    with pytest.raises(exc, match=arg):
        call()


# ------------------------------------------------------------------ token noise
def test_token_noise_spares_special_tokens_and_padding():
    special = [0, 1, 2, 3, 4]  # pad, unk, cls, sep, mask
    ids = torch.tensor([[2] + list(range(10, 40)) + [3, 0, 0, 0]] * 200)
    mask = (ids != 0).long()
    g = torch.Generator().manual_seed(0)
    out = A.token_noise(ids, mask_token_id=4, vocab_size=100, special_ids=special, attention_mask=mask,
                        mask_prob=0.15, replace_prob=0.1, generator=g)
    assert out.shape == ids.shape and not torch.equal(out, ids)
    assert torch.equal(out[:, 0], ids[:, 0]) and torch.equal(out[:, -4:], ids[:, -4:])
    body_in, body_out = ids[:, 1:31], out[:, 1:31]
    masked = (body_out == 4).float().mean().item()
    replaced = ((body_out != body_in) & (body_out != 4)).float().mean().item()
    assert masked == pytest.approx(0.15, abs=0.01)
    assert replaced == pytest.approx(0.1 * (1 - 1 / 95), abs=0.01)  # a random id can equal the original
    assert not torch.isin(body_out[body_out != 4], torch.tensor(special)).any()  # replacements are ordinary ids
    again = A.token_noise(ids, mask_token_id=4, vocab_size=100, special_ids=special, attention_mask=mask,
                          mask_prob=0.15, replace_prob=0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_token_noise_errors():
    ids = torch.tensor([[2, 10, 3]])
    kwargs = dict(mask_token_id=4, vocab_size=50, special_ids=[0, 2, 3, 4])
    with pytest.raises(ValueError, match="replace_prob"):
        A.token_noise(ids, mask_prob=0.7, replace_prob=0.5, **kwargs)
    with pytest.raises(ValueError, match="attention_mask"):
        A.token_noise(ids, attention_mask=torch.ones(1, 4), **kwargs)
    with pytest.raises(TypeError, match="input_ids"):
        A.token_noise(ids.float(), **kwargs)


# ------------------------------------------------------------------ NEFTune
def test_neftune_noise_matches_transformers_hook():
    emb = torch.randn(4, 37, 24)
    module = torch.nn.Embedding(10, 24)
    module.neftune_noise_alpha = 5.0
    module.train()
    torch.manual_seed(123)
    ref = neftune_post_forward_hook(module, None, emb)
    torch.manual_seed(123)
    ours = A.neftune_noise(emb, 5.0)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    bound = 5.0 / (37 * 24) ** 0.5
    noise = ours - emb
    assert noise.abs().max() <= bound and noise.abs().max() > 0.9 * bound
    assert noise.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.05)  # U(-m, m) has std m/sqrt(3)


def test_add_neftune_only_in_training_and_removable():
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=32,
                                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    ids = torch.randint(5, 30, (2, 9))
    model.eval()
    clean = model(input_ids=ids).logits
    handle = A.add_neftune(model, 50.0)
    torch.testing.assert_close(model(input_ids=ids).logits, clean)  # eval: no noise
    model.train()
    assert not torch.allclose(model(input_ids=ids).logits, clean)
    handle.remove()
    torch.testing.assert_close(model(input_ids=ids).logits, clean)  # dropout is 0, hook removed
    with pytest.raises(ValueError, match="alpha"):
        A.add_neftune(model, -1.0)
    with pytest.raises(TypeError, match="model"):
        A.add_neftune(torch.nn.Linear(2, 2), 5.0)
    with pytest.raises(ValueError, match="embeddings"):
        A.neftune_noise(torch.randn(3, 4), 5.0)


# ------------------------------------------------------------------ back-translation
class _FakeTokenizer:
    """Encodes a text as its index in a table; decoding applies ``transform``."""

    def __init__(self, transform):
        self.table, self.transform = [], transform

    def __call__(self, texts, **kwargs):
        ids = []
        for t in texts:
            self.table.append(t)
            ids.append([len(self.table) - 1])
        return _Batch(input_ids=torch.tensor(ids))

    def batch_decode(self, out, skip_special_tokens=True):
        return [self.transform(self.table[int(row[0])]) for row in out]


class _Batch(dict):
    def to(self, device):
        return self


class _FakeModel:
    def to(self, device):
        return self

    def eval(self):
        return self

    def generate(self, input_ids, **kwargs):
        return input_ids


def test_back_translate_goes_there_and_back_in_order():
    forward = (_FakeModel(), _FakeTokenizer(lambda t: f"<zh>{t}"))
    backward = (_FakeModel(), _FakeTokenizer(lambda t: t.replace("<zh>", "") + "!"))
    texts = [f"review {i}" for i in range(5)]
    assert A.back_translate(texts, forward, backward, batch_size=2) == [t + "!" for t in texts]
    with pytest.raises(TypeError, match="texts"):
        A.back_translate("one text", forward, backward)
    with pytest.raises(ValueError, match="batch_size"):
        A.back_translate(texts, forward, backward, batch_size=0)


def test_back_translate_runs_real_seq2seq_models():
    from transformers import MarianConfig, MarianMTModel

    from companion.data import train_wordpiece_tokenizer

    tok = train_wordpiece_tokenizer(["a good film", "a bad film", "great acting"] * 5, vocab_size=60)
    cfg = MarianConfig(vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                       decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
                       pad_token_id=tok.pad_token_id, decoder_start_token_id=tok.pad_token_id,
                       eos_token_id=tok.sep_token_id)
    torch.manual_seed(0)
    pair = (MarianMTModel(cfg), tok)
    out = A.back_translate(["a good film", "great acting"], pair, pair, max_new_tokens=4)
    assert len(out) == 2 and all(isinstance(t, str) for t in out)


# ------------------------------------------------------------------ bad inputs (issue 16)
BAD_PROB = [(True, TypeError), ("0.1", TypeError), (None, TypeError), (math.nan, ValueError), (math.inf, ValueError),
            (-math.inf, ValueError), (-0.1, ValueError), (1.5, ValueError)]
BAD_COUNT = [(True, TypeError), ("2", TypeError), (2.0, TypeError), (None, TypeError), (-1, ValueError)]
TN = dict(mask_token_id=4, vocab_size=50, special_ids=[0, 2, 3, 4])
IDS = torch.tensor([[2, 10, 11, 3, 0]])


def _old_token_noise(input_ids, mask_token_id, vocab_size, special_ids, mask_prob, replace_prob, generator):
    """The first implementation (it listed every ordinary id); the new one must draw the same ids."""
    special = torch.tensor(sorted(set(special_ids)))
    eligible = ~torch.isin(input_ids, special)
    u = torch.rand(input_ids.shape, generator=generator)
    to_mask = eligible & (u < mask_prob)
    to_replace = eligible & (u >= mask_prob) & (u < mask_prob + replace_prob)
    ordinary = torch.tensor([i for i in range(vocab_size) if i not in set(special.tolist())])
    random_ids = ordinary[torch.randint(len(ordinary), input_ids.shape, generator=generator)]
    out = input_ids.clone()
    out[to_mask] = mask_token_id
    out[to_replace] = random_ids[to_replace]
    return out


@pytest.mark.parametrize("special", [[0, 1, 2, 3, 4], [5, 17, 18, 99], [], [99], [0]])
def test_token_noise_draws_the_same_ids_as_listing_the_ordinary_ones(special):
    ids = torch.randint(0, 100, (50, 30), generator=torch.Generator().manual_seed(1))
    ours = A.token_noise(ids, mask_token_id=4, vocab_size=100, special_ids=special, mask_prob=0.2, replace_prob=0.5,
                         generator=torch.Generator().manual_seed(2))
    ref = _old_token_noise(ids, 4, 100, special, 0.2, 0.5, torch.Generator().manual_seed(2))
    assert torch.equal(ours, ref)


def test_token_noise_with_a_huge_vocabulary_lists_nothing():
    out = A.token_noise(IDS, mask_token_id=4, vocab_size=10**12, special_ids=[0, 2, 3, 4], replace_prob=1.0, mask_prob=0.0)
    assert out[0, 1] >= 5 and out[0, 0] == 2


@pytest.mark.parametrize("kw,exc,name", [
    (dict(mask_token_id=-7), ValueError, "mask_token_id"), (dict(mask_token_id=-1), ValueError, "mask_token_id"),
    (dict(mask_token_id=50), ValueError, "mask_token_id"), (dict(mask_token_id=True), TypeError, "mask_token_id"),
    (dict(mask_token_id=4.0), TypeError, "mask_token_id"), (dict(mask_token_id="4"), TypeError, "mask_token_id"),
    (dict(vocab_size=True), TypeError, "vocab_size"), (dict(vocab_size=0), ValueError, "vocab_size"),
    (dict(vocab_size=10), ValueError, "input_ids"),  # id 11 is not in a vocabulary of 10
    (dict(vocab_size="50"), TypeError, "vocab_size"), (dict(vocab_size=50.0), TypeError, "vocab_size"),
    (dict(special_ids=[0, -1]), ValueError, "special_ids"), (dict(special_ids=[0, 50]), ValueError, "special_ids"),
    (dict(special_ids=["[CLS]"]), TypeError, "special_ids"), (dict(special_ids=[0.0, 2.0]), TypeError, "special_ids"),
    (dict(special_ids=4), TypeError, "special_ids"),
    (dict(attention_mask=torch.tensor([[1, 1, 2, 1, 0]])), ValueError, "attention_mask"),
    (dict(attention_mask=[[1, 1]]), ValueError, "attention_mask"), (dict(attention_mask="11110"), TypeError, "attention_mask"),
    (dict(vocab_size=4, special_ids=[0, 1, 2, 3], mask_token_id=0), ValueError, "input_ids"),
])
def test_token_noise_bad_arguments(kw, exc, name):
    with pytest.raises(exc, match=name):
        A.token_noise(IDS, **(TN | kw))


@pytest.mark.parametrize("ids,exc", [(torch.tensor([[2, -5, 3]]), ValueError), (torch.tensor([[2, 99999, 3]]), ValueError),
                                     ([[2.0, 10.0]], TypeError), (torch.tensor([[True, False]]), TypeError),
                                     (["a", "b"], TypeError), (torch.zeros(1, 1, 2, dtype=torch.long), ValueError)])
def test_token_noise_bad_ids(ids, exc):
    with pytest.raises(exc, match="input_ids"):
        A.token_noise(ids, **TN)


def test_token_noise_everything_special():
    ids = torch.tensor([[0, 1, 2]])
    assert torch.equal(A.token_noise(ids, mask_token_id=0, vocab_size=3, special_ids=[0, 1, 2], replace_prob=0.0), ids)
    with pytest.raises(ValueError, match="special_ids"):
        A.token_noise(ids, mask_token_id=0, vocab_size=3, special_ids=[0, 1, 2], replace_prob=0.5)


@pytest.mark.parametrize("arg", ["mask_prob", "replace_prob"])
@pytest.mark.parametrize("value,exc", BAD_PROB)
def test_token_noise_bad_probabilities(arg, value, exc):
    with pytest.raises(exc, match=arg):
        A.token_noise(IDS, **(TN | {arg: value}))


@pytest.mark.parametrize("value,exc", BAD_PROB)
def test_word_edit_probabilities(value, exc):
    with pytest.raises(exc, match="p:"):
        A.random_deletion(WORDS, value, 0)
    with pytest.raises(exc, match="alpha"):
        A.eda("a b c", 0, alpha=value)


@pytest.mark.parametrize("value,exc", BAD_COUNT)
def test_word_edit_counts(value, exc):
    with pytest.raises(exc, match="n:"):
        A.random_swap(WORDS, value, 0)
    with pytest.raises(exc, match="n:"):
        A.random_insertion(WORDS, value, 0)


@pytest.mark.parametrize("rng,exc", [(True, TypeError), (-1, ValueError), (1.5, TypeError), (None, TypeError),
                                     (np.random.RandomState(0), TypeError)])
def test_word_edit_rng(rng, exc):
    with pytest.raises(exc, match="rng"):
        A.random_swap(WORDS, 1, rng)


@pytest.mark.parametrize("words", [None, 5, "a b c", ["a", 3], [None]])
def test_word_edit_words(words):
    for fn in (lambda w: A.random_deletion(w, 0.1, 0), lambda w: A.random_swap(w, 1, 0),
               lambda w: A.random_insertion(w, 1, 0)):
        with pytest.raises(TypeError, match="words"):
            fn(words)


@pytest.mark.parametrize("ops", [[], ["delete", "synonym"], [None], ["Delete"], "synonym"])
def test_eda_operations(ops):
    with pytest.raises(ValueError, match="operations"):
        A.eda("a b c", 0, operations=ops)
    assert A.eda("a b c", 0, operations="swap").split() != [] and sorted(A.eda("a b c", 0, operations="swap").split()) == ["a", "b", "c"]


@pytest.mark.parametrize("alpha,exc", [(math.nan, ValueError), (math.inf, ValueError), (-1.0, ValueError), (-math.inf, ValueError),
                                       ("5", TypeError), (True, TypeError), (None, TypeError), (torch.tensor([1.0, 2.0]), TypeError)])
def test_neftune_alpha(alpha, exc):
    with pytest.raises(exc, match="alpha"):
        A.neftune_noise(torch.zeros(1, 2, 3), alpha)
    model = BertForSequenceClassification(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=16))
    with pytest.raises(exc, match="alpha"):
        A.add_neftune(model, alpha)


@pytest.mark.parametrize("embeddings,exc", [(torch.zeros(1, 2, 3, dtype=torch.long), TypeError), ([[[0.0]]], TypeError),
                                            (torch.zeros(2, 3), ValueError), (torch.zeros(1, 1, 2, 3), ValueError)])
def test_neftune_embeddings(embeddings, exc):
    with pytest.raises(exc, match="embeddings"):
        A.neftune_noise(embeddings, 5.0)


@pytest.mark.parametrize("kw,exc,name", [
    (dict(batch_size=True), TypeError, "batch_size"), (dict(batch_size=-2), ValueError, "batch_size"),
    (dict(max_new_tokens=0), ValueError, "max_new_tokens"), (dict(max_new_tokens="8"), TypeError, "max_new_tokens"),
    (dict(num_beams=1.0), TypeError, "num_beams"), (dict(do_sample=1), TypeError, "do_sample"),
])
def test_back_translate_bad_arguments(kw, exc, name):
    pair = (_FakeModel(), _FakeTokenizer(lambda t: t))
    with pytest.raises(exc, match=name):
        A.back_translate(["a"], pair, pair, **kw)
    with pytest.raises(TypeError, match="forward"):
        A.back_translate(["a"], _FakeModel(), pair)
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        A.back_translate(["a", None], pair, pair)


# ---------------------------------------------------------------------------- bad inputs (probe classes)
@pytest.mark.parametrize("embeddings,error", [
    (torch.tensor([[[math.nan, 0.0]]]), ValueError), (torch.tensor([[[0.0, math.inf]]]), ValueError),
    (torch.zeros(1, 1, 2, dtype=torch.long), TypeError), (torch.zeros(2, 3), ValueError), (None, TypeError),
    ([[[0.0, 1.0]]], TypeError),
])
def test_neftune_noise_bad_embeddings_are_named(embeddings, error):
    with pytest.raises(error, match="embeddings"):
        A.neftune_noise(embeddings, 5.0)


@pytest.mark.parametrize("operations,error", [(None, TypeError), (5, TypeError), (1.5, TypeError), ([], ValueError),
                                              (["delete", "fly"], ValueError), ([None], ValueError),
                                              ("fly", ValueError)])
def test_eda_bad_operations_are_named(operations, error):
    with pytest.raises(error, match="operations"):
        A.eda("the film was good", 0, operations=operations)
