import random

import numpy as np
import pytest
import torch
from datasets import Dataset

from companion import data
from companion.data import text


@pytest.fixture(scope="module")
def imdb():
    return data.load_imdb("fixture")


@pytest.fixture(scope="module")
def tokenizer(imdb):
    return data.train_wordpiece_tokenizer(list(imdb["train"]["text"]), vocab_size=500)


# ---------------------------------------------------------------------------- the WordPiece tokenizer
def test_wordpiece_tokenizer_special_tokens(tokenizer):
    enc = tokenizer("a great film")
    assert enc["input_ids"][0] == tokenizer.cls_token_id and enc["input_ids"][-1] == tokenizer.sep_token_id
    assert tokenizer.pad_token_id == 0 and tokenizer.mask_token == "[MASK]"


def test_wordpiece_tokenizer_ids_are_reproducible(imdb):
    texts = list(imdb["train"]["text"])
    a = data.train_wordpiece_tokenizer(texts, vocab_size=300).get_vocab()
    b = data.train_wordpiece_tokenizer(texts, vocab_size=300).get_vocab()
    assert a == b, "the same texts must give the same token ids"
    assert [a[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]


def test_wordpiece_training_is_deterministic():
    """tokenizers' WordPiece trainer breaks ties between equally frequent merges by hash-map order
    (huggingface/tokenizers#1794): on this text about a third of plain trainings give another vocabulary."""
    text = ["Wel come to the Tok en izers libr ary."]
    vocabularies = {tuple(sorted(data.train_wordpiece_tokenizer(text, vocab_size=2000).get_vocab().items()))
                    for _ in range(20)}
    assert len(vocabularies) == 1
    tok = data.train_wordpiece_tokenizer(text, vocab_size=2000)
    assert tok.all_special_tokens == ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]  # the "##" pieces are not special
    assert tok.decode(tok("tokenizers")["input_ids"], skip_special_tokens=True) == "tokenizers"


@pytest.mark.parametrize("kw,error,name", [
    (dict(texts=["x"], vocab_size=10), ValueError, "vocab_size"), (dict(texts=["x"], vocab_size=True), TypeError, "vocab_size"),
    (dict(texts=["x"], vocab_size=500.0), TypeError, "vocab_size"), (dict(texts=[]), ValueError, "texts"),
    (dict(texts="hello world"), TypeError, "texts"), (dict(texts=None), TypeError, "texts"),
    (dict(texts=[None]), TypeError, "texts"), (dict(texts=[1, 2]), TypeError, "texts"),
    (dict(texts=["x"], lowercase="yes"), TypeError, "lowercase"),
])
def test_wordpiece_tokenizer_bad_arguments(kw, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        data.train_wordpiece_tokenizer(**kw)


# ---------------------------------------------------------------------------- encode / tokenize
def test_tokenize_truncates_without_padding(tokenizer, imdb):
    texts = list(imdb["train"]["text"][:20]) + ["Loved it.", "Awful."]
    tok = data.tokenize(Dataset.from_dict({"text": texts}), tokenizer, max_length=32)
    lengths = list(tok["length"])
    assert max(lengths) == 32 and min(lengths) < 32  # dynamic: no padding to max_length
    assert all(len(ids) == n for ids, n in zip(tok["input_ids"], lengths))
    assert "text" not in tok.column_names


def test_tokenize_a_dataset_dict(tokenizer, imdb):
    tok = data.tokenize(imdb, tokenizer, max_length=16)
    assert set(tok) == {"train", "validation", "test"}
    assert {"input_ids", "attention_mask", "label", "length"} <= set(tok["test"].column_names)


def test_head_tail_truncation_keeps_both_ends(tokenizer):
    sentence = " ".join(f"w{i}" for i in range(200)) + " the verdict"
    ds = Dataset.from_dict({"text": [sentence], "label": [1]})
    full = tokenizer(sentence)["input_ids"]
    ids = data.tokenize(ds, tokenizer, max_length=20, head_tokens=5)[0]["input_ids"]
    assert len(ids) == 20 and ids[:5] == full[:5] and ids[5:] == full[-15:]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id


def test_encode_matches_tokenize(imdb, tokenizer):
    ds = imdb["train"].select(range(20))
    texts = list(ds["text"])
    for head in (None, 10):
        ours = data.encode(tokenizer, texts, 40, head_tokens=head)
        assert ours == list(data.tokenize(ds, tokenizer, 40, head_tokens=head)["input_ids"])
    assert max(len(s) for s in ours) == 40
    short = data.encode(tokenizer, ["Loved it."], 40, head_tokens=10)
    assert short == [tokenizer("Loved it.")["input_ids"]]  # a short text is untouched


@pytest.mark.parametrize("kw,error,name", [
    (dict(max_length=0), ValueError, "max_length"), (dict(max_length=1), ValueError, "max_length"),
    (dict(max_length=2), ValueError, "max_length"), (dict(max_length=True), TypeError, "max_length"),
    (dict(max_length=16.0), TypeError, "max_length"), (dict(max_length="16"), TypeError, "max_length"),
    (dict(max_length=10**4), ValueError, "max_length"),
    (dict(max_length=16, head_tokens=15), ValueError, "head_tokens"),
    (dict(max_length=16, head_tokens=0), ValueError, "head_tokens"),
    (dict(max_length=16, head_tokens=True), TypeError, "head_tokens"),
    (dict(max_length=16, head_tokens=2.5), TypeError, "head_tokens"),
    (dict(max_length=16, text_column="review"), ValueError, "text_column"),
])
def test_tokenize_and_encode_bad_arguments(tokenizer, imdb, kw, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        data.tokenize(imdb["test"], tokenizer, **kw)
    if "text_column" not in kw:
        with pytest.raises(error, match=rf"^{name}\b"):
            data.encode(tokenizer, ["a text"], kw["max_length"], kw.get("head_tokens"))


def test_tokenize_and_encode_bad_types(tokenizer, imdb):
    with pytest.raises(TypeError, match="ds"):
        data.tokenize([{"text": "x"}], tokenizer, max_length=16)
    with pytest.raises(TypeError, match="tokenizer"):
        data.tokenize(imdb["test"], None, max_length=16)
    for bad in ("one text", [None], ["ok", 3]):
        with pytest.raises(TypeError, match="texts"):
            data.encode(tokenizer, bad, 16)
    with pytest.raises(ValueError, match="texts"):
        data.encode(tokenizer, [], 16)


# ---------------------------------------------------------------------------- EpochSampler
def _pad_tokens(order, lengths, batch_size):
    """Padding tokens when the batches of ``order`` are padded to their longest example."""
    total = 0
    for i in range(0, len(order), batch_size):
        batch = [lengths[j] for j in order[i:i + batch_size]]
        total += max(batch) * len(batch) - sum(batch)
    return total


@pytest.mark.parametrize("n,lengths", [(1, None), (37, None), (1003, None), (37, "random"), (1003, "random"),
                                       (450, "equal")])
def test_every_index_exactly_once_per_epoch(n, lengths):
    if lengths == "random":
        lengths = np.random.default_rng(0).integers(1, 300, n).tolist()
    elif lengths == "equal":
        lengths = [7] * n
    sampler = data.EpochSampler(n, batch_size=4, seed=5, lengths=lengths)
    assert len(sampler) == n
    for epoch in range(4):
        sampler.set_epoch(epoch)
        assert sorted(sampler) == list(range(n))
    assert list(data.EpochSampler(n, shuffle=False)) == list(range(n))


def test_order_is_a_function_of_seed_and_epoch_only():
    lengths = np.random.default_rng(1).integers(1, 100, 500).tolist()

    def order(seed, epoch, noise):
        torch.manual_seed(noise)  # the global random state must not matter
        random.seed(noise)
        np.random.seed(noise)
        torch.rand(noise % 7 + 1)
        s = data.EpochSampler(500, batch_size=8, seed=seed, lengths=lengths)
        s.set_epoch(epoch)
        return list(s)

    for grouped in (lengths, None):
        base = data.EpochSampler(500, batch_size=8, seed=3, lengths=grouped)
        assert base.order(2) == base.order(2)
    reference = order(3, 2, 0)
    assert all(order(3, 2, noise) == reference for noise in (1, 17, 123))
    assert order(3, 1, 0) != reference and order(4, 2, 0) != reference  # another epoch, another seed
    s = data.EpochSampler(500, batch_size=8, seed=3, lengths=lengths)
    s.set_epoch(2)
    torch.manual_seed(99)
    first = list(s)
    assert list(s) == first == reference  # iterating twice without set_epoch: the same epoch again
    assert s.order(2) == reference and s.order(0) == list(iter(data.EpochSampler(500, batch_size=8, seed=3,
                                                                                   lengths=lengths)))


def test_length_grouping_gives_batches_of_similar_length():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 512, 2000).tolist()
    grouped = data.EpochSampler(2000, batch_size=16, seed=0, lengths=lengths)
    plain = data.EpochSampler(2000, batch_size=16, seed=0)
    for epoch in range(3):
        g, p = grouped.order(epoch), plain.order(epoch)
        assert _pad_tokens(g, lengths, 16) < 0.1 * _pad_tokens(p, lengths, 16)
        size = data.EpochSampler.MEGABATCH * 16
        for start in range(0, 2000, size):  # longest first within each megabatch, the same examples as the shuffle
            chunk = g[start:start + size]
            assert [lengths[i] for i in chunk] == sorted((lengths[i] for i in chunk), reverse=True)
            assert set(chunk) == set(p[start:start + size])
    assert grouped.order(0)[:16] != grouped.order(1)[:16]  # still random from epoch to epoch


def test_length_grouping_follows_the_transformers_scheme():
    """Our megabatches are those of transformers' get_length_grouped_indices with mega_batch_mult=50 and the
    same generator; the library also swaps the longest example to the front, we do not."""
    from transformers.trainer_pt_utils import get_length_grouped_indices

    rng = np.random.default_rng(2)
    for n, bs in [(150, 4), (1000, 4)]:
        lengths = rng.integers(1, 10_000, n).tolist()
        seed, epoch = 7, 3
        ours = data.EpochSampler(n, batch_size=bs, seed=seed, lengths=lengths).order(epoch)
        ref = get_length_grouped_indices(lengths, bs, mega_batch_mult=50,
                                         generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        size = 50 * bs
        ours_mb = [ours[i:i + size] for i in range(0, n, size)]
        ref_mb = [ref[i:i + size] for i in range(0, n, size)]
        longest = max(range(len(ours_mb)), key=lambda k: lengths[ours_mb[k][0]])
        ref_mb[0][0], ref_mb[longest][0] = ref_mb[longest][0], ref_mb[0][0]  # undo the library's swap
        assert ours_mb == ref_mb


@pytest.mark.parametrize("kw,error,name", [
    (dict(n=0), ValueError, "n"), (dict(n=-5), ValueError, "n"), (dict(n=True), TypeError, "n"),
    (dict(n=10.0), TypeError, "n"), (dict(n=10, batch_size=0), ValueError, "batch_size"),
    (dict(n=10, batch_size="4"), TypeError, "batch_size"), (dict(n=10, seed=-1), ValueError, "seed"),
    (dict(n=10, seed=1.5), TypeError, "seed"), (dict(n=10, shuffle=1), TypeError, "shuffle"),
    (dict(n=3, lengths=[1, 2]), ValueError, "lengths"), (dict(n=2, lengths=[1, -2]), ValueError, "lengths"),
    (dict(n=2, lengths=[1, 2.5]), TypeError, "lengths"), (dict(n=2, lengths=[1, True]), TypeError, "lengths"),
    (dict(n=2, lengths=[1, 2], shuffle=False), ValueError, "lengths"),
])
def test_epoch_sampler_bad_arguments(kw, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        data.EpochSampler(**kw)


@pytest.mark.parametrize("bad,error", [(-1, ValueError), (1.0, TypeError), ("2", TypeError), (True, TypeError)])
def test_epoch_sampler_bad_epoch(bad, error):
    s = data.EpochSampler(10)
    with pytest.raises(error, match="epoch"):
        s.set_epoch(bad)
    with pytest.raises(error, match="epoch"):
        s.order(bad)


# ---------------------------------------------------------------------------- the DataLoader
def _seq_dataset(n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        k = int(torch.randint(4, 12, (1,), generator=g))
        ids = torch.randint(5, 50, (k,), generator=g).tolist()
        rows.append({"input_ids": [2] + ids + [3], "attention_mask": [1] * (k + 2), "label": int(ids[0] % 2),
                     "extra": "dropped"})
    return Dataset.from_list(rows).map(lambda r: {"length": len(r["input_ids"])})


def test_dataloader_pads_per_batch_drops_extra_columns_and_is_reproducible():
    tok = data.train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=60)
    ds = _seq_dataset(10)
    a = list(data.dataloader(ds, tok, 4, shuffle=True, seed=3))
    b = list(data.dataloader(ds, tok, 4, shuffle=True, seed=3))
    assert set(a[0]) == {"input_ids", "attention_mask", "labels"}
    assert all(torch.equal(x["input_ids"], y["input_ids"]) for x, y in zip(a, b))
    assert [len(x["labels"]) for x in a] == [4, 4, 2]
    longest = [int(x["attention_mask"].sum(1).max()) for x in a]
    assert [x["input_ids"].shape[1] for x in a] == longest  # padded to the batch's longest, not further
    ordered = list(data.dataloader(ds, tok, 4))
    assert torch.equal(ordered[0]["labels"], torch.tensor(ds["label"][:4]))  # evaluation keeps the order


def test_dataloader_epoch_order_comes_from_its_sampler():
    tok = data.train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=60)
    ds = _seq_dataset(40)
    loader = data.dataloader(ds, tok, 8, shuffle=True, group_by_length=True, seed=1)
    assert isinstance(loader.sampler, data.EpochSampler)
    epochs = []
    for epoch in (0, 1, 0):
        loader.sampler.set_epoch(epoch)
        epochs.append(torch.cat([b["labels"] for b in loader]))
    assert torch.equal(epochs[0], epochs[2]) and not torch.equal(epochs[0], epochs[1])
    widths = [b["input_ids"].shape[1] for b in loader]
    assert widths == sorted(widths, reverse=True)  # one megabatch, longest first


def test_dataloader_accepts_a_list_of_dicts():
    tok = data.train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=60)
    rows = [{"input_ids": [2, 5, 6, 3], "label": 1}, {"input_ids": [2, 7, 3], "label": 0}]
    (batch,) = list(data.dataloader(rows, tok, 2))
    assert batch["input_ids"].tolist() == [[2, 5, 6, 3], [2, 7, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]


@pytest.mark.parametrize("kw,error,name", [
    (dict(batch_size=0), ValueError, "batch_size"), (dict(batch_size=True), TypeError, "batch_size"),
    (dict(batch_size=2.0), TypeError, "batch_size"), (dict(batch_size=4, shuffle="yes"), TypeError, "shuffle"),
    (dict(batch_size=4, group_by_length=True), ValueError, "group_by_length"),
    (dict(batch_size=4, shuffle=True, seed=-2), ValueError, "seed"),
])
def test_dataloader_bad_arguments(kw, error, name):
    tok = data.train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=60)
    with pytest.raises(error, match=rf"^{name}\b"):
        data.dataloader(_seq_dataset(6), tok, **kw)


def test_dataloader_refuses_an_empty_dataset():
    tok = data.train_wordpiece_tokenizer(["a b c d e f g h"] * 5, vocab_size=60)
    for empty in ([], _seq_dataset(4).select([])):
        with pytest.raises(ValueError, match="dataset"):
            data.dataloader(empty, tok, 4)


def test_ignore_index_is_the_one_of_pytorch():
    assert text.IGNORE_INDEX == torch.nn.CrossEntropyLoss().ignore_index == -100


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
@pytest.mark.parametrize("tok", [None, 5, "bert"])
def test_encode_and_tokenize_need_a_tokenizer(tok):
    with pytest.raises(TypeError, match="tokenizer"):
        data.encode(tok, ["a b"], 16)
    with pytest.raises(TypeError, match="tokenizer"):
        data.tokenize(Dataset.from_dict({"text": ["a b"]}), tok, 16)


@pytest.mark.parametrize("texts", [["", ""], [" ", "\n"], [""]])
def test_wordpiece_needs_some_text(texts):
    with pytest.raises(ValueError, match="texts"):
        data.train_wordpiece_tokenizer(texts)


@pytest.mark.parametrize("lengths,error", [(5, TypeError), (None, None), ("abcd", TypeError), (1.5, TypeError),
                                           ([1, 2, -3, 4], ValueError), ([1.5] * 4, TypeError), ([True] * 4, TypeError)])
def test_epoch_sampler_lengths(lengths, error):
    if error is None:
        assert len(data.EpochSampler(4, lengths=lengths)) == 4
        return
    with pytest.raises(error, match="lengths"):
        data.EpochSampler(4, lengths=lengths)


@pytest.mark.parametrize("dataset", [None, 5, "text", {"input_ids": [1, 2]}])
def test_dataloader_needs_a_dataset(tokenizer, dataset):
    with pytest.raises(TypeError, match="dataset"):
        data.dataloader(dataset, tokenizer, 2)


@pytest.mark.parametrize("collator", [5, "pad", [1]])
def test_dataloader_collator_must_be_callable(tokenizer, collator):
    with pytest.raises(TypeError, match="collator"):
        data.dataloader([{"input_ids": [2, 3]}], tokenizer, 2, collator=collator)


@pytest.mark.parametrize("tok", [None, 5])
def test_dataloader_without_collator_needs_a_tokenizer(tok):
    with pytest.raises(TypeError, match="tokenizer"):
        data.dataloader([{"input_ids": [2, 3]}], tok, 2)
