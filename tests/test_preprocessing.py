import math

import pandas as pd
import pytest
from datasets import Dataset

from companion import data, preprocessing as pp


# ---------------------------------------------------------------------------- cleaning
def test_normalize_unicode_folds_compatibility_forms():
    assert pp.normalize_unicode("ＡＢＣ１２\u00a0ﬁne café") == "ABC12 fine café"
    assert pp.normalize_unicode("cafe\u0301") == "café"  # combining accent composed
    with pytest.raises(TypeError, match="text"):
        pp.normalize_unicode(3)
    with pytest.raises(ValueError, match="form"):
        pp.normalize_unicode("x", "NFX")


def test_strip_html():
    raw = "Great film.<br /><br />Loved it &amp; the <i>score</i>.<script>alert(1)</script> 5 &lt; 7"
    assert pp.strip_html(raw) == "Great film. Loved it & the score. 5 < 7"
    assert pp.strip_html("a < b and c > d") == "a < b and c > d"
    assert pp.strip_html("don&#39;t") == "don't"
    with pytest.raises(TypeError, match="text"):
        pp.strip_html(None)


def test_clean_text_agrees_with_clean_review_on_imdb():
    # companion.data.clean_review only handles <br />; clean_text is a superset on IMDb texts
    for text in data.load_imdb_unlabelled("raw", n=50, clean=False)["text"]:
        if "&" not in text and "<" not in text.replace("<br />", ""):
            assert pp.clean_text(text) == data.clean_review(pp.normalize_unicode(text))


def test_duplicate_ngram_fraction():
    assert pp.duplicate_ngram_fraction("the cat sat on the mat", 3) == 0.0
    # "a b c a b c": the 3-gram (a b c) repeats once, marking the last three words (3 of 6 chars)
    assert pp.duplicate_ngram_fraction("a b c a b c", 3) == pytest.approx(0.5)
    spam = " ".join(["buy now"] * 20)
    assert pp.duplicate_ngram_fraction(spam, 3) > 0.9
    assert pp.duplicate_ngram_fraction("too short", 3) == 0.0
    with pytest.raises(ValueError, match="n"):
        pp.duplicate_ngram_fraction("x", 0)


def test_scrub_pii():
    text = "Mail me at jane.doe@example.com or see https://example.org/page?id=3 and www.imdb.com."
    scrubbed, counts = pp.scrub_pii(text)
    assert scrubbed == "Mail me at <EMAIL> or see <URL> and <URL>."
    assert counts == {"email": 1, "url": 2}
    assert pp.scrub_pii("nothing here")[1] == {"email": 0, "url": 0}
    with pytest.raises(TypeError, match="text"):
        pp.scrub_pii(b"bytes")


# ---------------------------------------------------------------------------- duplicates
def test_exact_duplicates_against_pandas():
    texts = ["A film.", "a  film.", "Another", "A film.", "another", "new"]
    dups = pp.exact_duplicates(texts)
    normalised = pd.Series([" ".join(t.lower().split()) for t in texts])
    assert dups == list(normalised[normalised.duplicated()].index) == [1, 3, 4]
    with pytest.raises(TypeError, match="texts"):
        pp.exact_duplicates("a single string")
    with pytest.raises(TypeError, match="texts"):
        pp.exact_duplicates(["ok", None])


def test_shingles_and_jaccard():
    assert pp.shingles("A b, c d", 2) == {"a b", "b c", "c d"}
    assert pp.shingles("one two", 5) == {"one two"}
    assert pp.shingles("", 5) == set()
    assert pp.jaccard({1, 2, 3}, {2, 3, 4}) == pytest.approx(0.5)
    assert pp.jaccard(set(), set()) == 1.0
    with pytest.raises(ValueError, match="n"):
        pp.shingles("x", 0)


def _edit(text, every):
    words = text.split()
    return " ".join(w.upper() + "x" if i % every == 0 else w for i, w in enumerate(words))


@pytest.fixture(scope="module")
def corpus():
    return [pp.clean_text(t) for t in data.load_imdb("fixture", clean=False)["train"]["text"]][:120]


def test_minhash_estimates_jaccard(corpus):
    a = corpus[0]
    b = _edit(a, 15)  # change every 15th word
    exact = pp.jaccard(pp.shingles(a), pp.shingles(b))
    sig = pp.minhashes([a, b], num_perm=256)
    assert abs(sig[0].jaccard(sig[1]) - exact) < 0.1
    with pytest.raises(ValueError, match="num_perm"):
        pp.minhashes([a], num_perm=1)


def test_near_duplicate_clusters_find_planted_copies(corpus):
    texts = list(corpus) + [_edit(corpus[3], 40), corpus[7], _edit(corpus[3], 50)]
    clusters = pp.near_duplicate_clusters(texts, threshold=0.7)
    n = len(corpus)
    assert [3, n, n + 2] in clusters and [7, n + 1] in clusters
    assert len(clusters) == 2
    assert pp.near_duplicates_to_drop(clusters) == [n, n + 1, n + 2]
    # a heavy edit is no longer a near duplicate
    assert pp.near_duplicate_clusters([corpus[3], _edit(corpus[3], 2)], threshold=0.7) == []
    with pytest.raises(ValueError, match="threshold"):
        pp.near_duplicate_clusters(texts, threshold=1.5)


def test_clean_corpus_report_counts(corpus):
    base = list(corpus[:40])
    raw = base + [
        corpus[0],                                  # exact duplicate
        corpus[1].upper(),                          # exact duplicate up to case
        "too short",                                # length filter
        " ".join(["spam spam spam"] * 30),          # repetition filter
        "<p>" + _edit(corpus[2], 60) + "</p>",      # near duplicate once the HTML is gone
        "write to me@example.com " + corpus[41],    # PII, otherwise new
    ]
    kept, report = pp.clean_corpus(raw, min_words=10)
    assert report["removed"].tolist() == [0, 1, 1, 2, 1, 0]
    assert report["documents out"].tolist()[-1] == len(kept) == 41
    assert report.loc["PII scrubbing (e-mails, URLs)", "changed"] >= 1
    assert not kept["text"].str.contains("me@example.com").any()
    assert kept["position"].tolist() == list(range(40)) + [45]
    with pytest.raises(ValueError, match="min_words"):
        pp.clean_corpus(raw, min_words=10, max_words=5)
    with pytest.raises(ValueError, match="max_duplicate_ngram_fraction"):
        pp.clean_corpus(raw, max_duplicate_ngram_fraction=1.5)


# ---------------------------------------------------------------------------- splits
def _labelled(n=200):
    return Dataset.from_dict({"text": [f"review number {i}" for i in range(n)], "label": [i % 4 == 0 for i in range(n)]})


def test_split_dataset_is_deterministic_and_stratified():
    ds = _labelled().map(lambda b: {"label": [int(x) for x in b["label"]]}, batched=True)
    a = pp.split_dataset(ds, validation_size=0.1, test_size=0.2, seed=3, stratify_by_column="label")
    b = pp.split_dataset(ds, validation_size=0.1, test_size=0.2, seed=3, stratify_by_column="label")
    assert {k: len(v) for k, v in a.items()} == {"train": 140, "validation": 20, "test": 40}
    for split in a:
        assert list(a[split]["text"]) == list(b[split]["text"])
        assert sum(a[split]["label"]) / len(a[split]) == pytest.approx(0.25)
    texts = [set(a[s]["text"]) for s in a]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    c = pp.split_dataset(ds, validation_size=20, test_size=40, seed=4)
    assert list(c["test"]["text"]) != list(a["test"]["text"])


@pytest.mark.parametrize("kw,name", [(dict(validation_size=0, test_size=0.1), "validation_size"),
                                     (dict(validation_size=0.1, test_size=1.0), "test_size"),
                                     (dict(validation_size=100, test_size=100), "validation_size"),
                                     (dict(validation_size=0.1, test_size=0.1, stratify_by_column="stars"),
                                      "stratify_by_column")])
def test_split_dataset_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=name):
        pp.split_dataset(_labelled(), **kw)


def test_cross_split_near_duplicates_finds_leaks(corpus):
    splits = {"train": list(corpus[:50]),
              "validation": list(corpus[50:60]) + [_edit(corpus[4], 80)],
              "test": list(corpus[60:70]) + [corpus[9]]}
    leaks = pp.cross_split_near_duplicates(splits, threshold=0.7)
    assert leaks[["split", "index", "reference_index"]].values.tolist() == [["test", 10, 9], ["validation", 10, 4]]
    assert leaks["jaccard"].tolist()[0] == 1.0 and leaks["jaccard"].tolist()[1] >= 0.7
    with pytest.raises(ValueError, match="reference"):
        pp.cross_split_near_duplicates(splits, reference="dev")


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_save_splits_round_trip(tmp_path, fmt):
    from datasets import load_dataset

    dsd = pp.split_dataset(_labelled(50), validation_size=5, test_size=5)
    paths = pp.save_splits(dsd, tmp_path, fmt)
    back = load_dataset("parquet" if fmt == "parquet" else "json", data_files={k: str(v) for k, v in paths.items()})
    assert list(back["test"]["text"]) == list(dsd["test"]["text"])
    with pytest.raises(ValueError, match="fmt"):
        pp.save_splits(dsd, tmp_path, "csv")


# ---------------------------------------------------------------------------- tokenizers
@pytest.fixture(scope="module")
def pairs():
    return data.read_tatoeba(n=1000)


def test_bpe_never_unknown_and_costs_bytes_on_unseen_script(pairs):
    tok = pp.train_bpe_tokenizer(list(pairs["english"]), vocab_size=400)
    assert pp.unknown_rate(tok, list(pairs["chinese"][:50])) == 0.0
    # Chinese characters were never seen: one token per UTF-8 byte (3 per character)
    assert pp.fertility(tok, ["你好世界"], per="char") == pytest.approx(3.0)
    assert tok.decode(tok("How are you?")["input_ids"]) == "How are you?"
    with pytest.raises(ValueError, match="vocab_size"):
        pp.train_bpe_tokenizer(["x"], vocab_size=100)


def test_unigram_on_chinese_and_fertility(pairs):
    zh = list(pairs["chinese"])
    n_chars = len(pp.distinct_characters(zh))
    assert 500 < n_chars < 1500  # a thousand short Chinese sentences
    small = pp.train_unigram_tokenizer(zh, vocab_size=n_chars + 50)
    large = pp.train_unigram_tokenizer(zh, vocab_size=n_chars + 1500)
    held = zh[-100:]
    assert pp.fertility(large, held, per="char") < pp.fertility(small, held, per="char") <= 1.0
    assert pp.tokens(small, "☃") == ["▁", "<unk>"]  # a never-seen character becomes <unk> ...
    assert small.tokenize("☃") == ["▁", "☃"]  # ... although tokenize() shows the character itself
    assert pp.unknown_rate(small, ["☃ ☄"]) == 0.5
    assert len(large) <= n_chars + 1500
    with pytest.raises(ValueError, match=f"at least {n_chars + 4}"):
        pp.train_unigram_tokenizer(zh, vocab_size=300)


def test_fertility_counts_tokens_per_word_and_char(pairs):
    wp = data.train_wordpiece_tokenizer(list(pairs["english"]), vocab_size=500)
    text = "unbelievably good"
    tokens = wp.tokenize(text)
    assert pp.tokens(wp, text) == tokens
    assert pp.fertility(wp, [text]) == pytest.approx(len(tokens) / 2)
    assert pp.fertility(wp, [text], per="char") == pytest.approx(len(tokens) / len("unbelievablygood"))
    assert sum(pp.token_counts(wp, [text, text]).values()) == 2 * len(tokens)
    with pytest.raises(ValueError, match="per"):
        pp.fertility(wp, [text], per="sentence")
    with pytest.raises(ValueError, match="texts"):
        pp.fertility(wp, [" "])


# ---------------------------------------------------------------------------- bad inputs (issue 16)
BAD_COUNT = [(True, TypeError), (False, TypeError), ("5", TypeError), (5.0, TypeError), (None, TypeError), (0, ValueError),
             (-2, ValueError)]
BAD_OPEN_FRACTION = [("0.8", TypeError), (True, TypeError), (math.nan, ValueError), (math.inf, ValueError), (0.0, ValueError),
                     (1.0, ValueError), (-0.2, ValueError)]
DOCS = ["the film was good and the acting was great " * 3, "a completely different review of another film " * 3]


@pytest.mark.parametrize("value,exc", BAD_COUNT)
def test_ngram_sizes(value, exc):
    with pytest.raises(exc, match="n:"):
        pp.shingles("a b c", value)
    with pytest.raises(exc, match="n:"):
        pp.duplicate_ngram_fraction("a b c", value)
    with pytest.raises(exc, match="ngram"):
        pp.minhashes(DOCS, ngram=value)
    with pytest.raises(exc, match="ngram"):
        pp.clean_corpus(DOCS, ngram=value)


@pytest.mark.parametrize("value,exc", [(True, TypeError), (1, ValueError), (128.0, TypeError), ("128", TypeError)])
def test_num_perm(value, exc):
    with pytest.raises(exc, match="num_perm"):
        pp.minhashes(DOCS, num_perm=value)
    with pytest.raises(exc, match="num_perm"):
        pp.near_duplicate_clusters(DOCS, num_perm=value)
    with pytest.raises(exc, match="num_perm"):
        pp.clean_corpus(DOCS, num_perm=value)


@pytest.mark.parametrize("value,exc", BAD_OPEN_FRACTION)
def test_thresholds(value, exc):
    with pytest.raises(exc, match="threshold"):
        pp.near_duplicate_clusters(DOCS, threshold=value)
    with pytest.raises(exc, match="threshold"):
        pp.cross_split_near_duplicates({"train": DOCS, "test": DOCS}, threshold=value)
    with pytest.raises(exc, match="near_duplicate_threshold"):
        pp.clean_corpus(DOCS, near_duplicate_threshold=value)


@pytest.mark.parametrize("kw,exc,name", [
    (dict(max_duplicate_ngram_fraction="0.2"), TypeError, "max_duplicate_ngram_fraction"),
    (dict(max_duplicate_ngram_fraction=math.nan), ValueError, "max_duplicate_ngram_fraction"),
    (dict(max_duplicate_ngram_fraction=True), TypeError, "max_duplicate_ngram_fraction"),
    (dict(max_duplicate_ngram_fraction=1.5), ValueError, "max_duplicate_ngram_fraction"),
    (dict(min_words=True), TypeError, "min_words"), (dict(min_words=-1), ValueError, "min_words"),
    (dict(min_words=20.0), TypeError, "min_words"), (dict(max_words="2000"), TypeError, "max_words"),
    (dict(min_words=10, max_words=5), ValueError, "min_words"), (dict(scrub=1), TypeError, "scrub"),
    (dict(seed=-1), ValueError, "seed"), (dict(seed=True), TypeError, "seed"),
])
def test_clean_corpus_bad_arguments(kw, exc, name):
    with pytest.raises(exc, match=name):
        pp.clean_corpus(DOCS, **kw)


@pytest.mark.parametrize("texts,exc", [([], ValueError), ((), ValueError), ("one text", TypeError), (None, TypeError),
                                       (["a", None], TypeError), ([b"bytes"], TypeError), (5, TypeError)])
def test_clean_corpus_bad_texts(texts, exc):
    with pytest.raises(exc, match="texts"):
        pp.clean_corpus(texts)


def test_clean_corpus_same_answer_as_its_public_steps():
    texts = [f"review {i}: the acting in this film was {w} and the plot was {v}" for i, (w, v) in
             enumerate([("great", "thin"), ("poor", "clever"), ("fine", "slow")])]
    texts += [texts[0], "short", "<b>Bold</b> claim: " + texts[2] + " mail a@b.com"]
    kept, report = pp.clean_corpus(texts, min_words=3, near_duplicate_threshold=None)
    expected = [pp.scrub_pii(pp.clean_text(texts[i]))[0] for i in (0, 1, 2, 5)]
    assert kept["text"].tolist() == expected and kept["position"].tolist() == [0, 1, 2, 5]
    assert report.loc["exact duplicates (SHA-256)", "removed"] == 1


@pytest.mark.parametrize("texts", [["short"], ["a b c a b c a b c"] * 2])
def test_clean_corpus_when_every_document_is_removed(texts):
    kept, report = pp.clean_corpus(texts, min_words=3)
    assert len(kept) == 0 and report["documents out"].iloc[-1] == 0


@pytest.mark.parametrize("text", [None, 5, ["a b"], b"a b"])
def test_single_text_functions(text):
    for fn in (pp.normalize_unicode, pp.strip_html, pp.clean_text, pp.word_count, pp.scrub_pii,
               pp.duplicate_ngram_fraction, pp.shingles):
        with pytest.raises(TypeError, match="text"):
            fn(text)


@pytest.mark.parametrize("texts", ["one text", None, 5, ["a", 3]])
def test_text_list_functions(texts):
    for fn in (pp.exact_duplicates, pp.minhashes, pp.near_duplicate_clusters, pp.distinct_characters):
        with pytest.raises(TypeError, match="texts"):
            fn(texts)


def test_jaccard_needs_sets_and_clusters_need_positions():
    with pytest.raises(TypeError, match="a:"):
        pp.jaccard("abc", {"a"})
    with pytest.raises(TypeError, match="b:"):
        pp.jaccard({"a"}, ["a"])
    with pytest.raises(ValueError, match=r"clusters\[0\]"):
        pp.near_duplicates_to_drop([[0, -1]])
    with pytest.raises(TypeError, match=r"clusters\[1\]"):
        pp.near_duplicates_to_drop([[0, 1], [2.0, 3.0]])
    with pytest.raises(ValueError, match="form"):
        pp.normalize_unicode("a", form=None)
    with pytest.raises(TypeError, match="verify"):
        pp.near_duplicate_clusters(DOCS, verify="yes")


@pytest.mark.parametrize("kw,exc,name", [
    (dict(validation_size=True, test_size=0.1), TypeError, "validation_size"),
    (dict(validation_size="0.1", test_size=0.1), TypeError, "validation_size"),
    (dict(validation_size=0.1, test_size=math.nan), ValueError, "test_size"),
    (dict(validation_size=0.1, test_size=-3), ValueError, "test_size"),
    (dict(validation_size=0.1, test_size=None), TypeError, "test_size"),
    (dict(validation_size=0.1, test_size=0.1, seed=-1), ValueError, "seed"),
    (dict(validation_size=0.1, test_size=0.1, seed=1.5), TypeError, "seed"),
    (dict(validation_size=0.1, test_size=0.1, stratify_by_column=3), TypeError, "stratify_by_column"),
])
def test_split_dataset_bad_types(kw, exc, name):
    with pytest.raises(exc, match=name):
        pp.split_dataset(_labelled(), **kw)
    with pytest.raises(TypeError, match="ds"):
        pp.split_dataset([{"text": "a"}] * 10, validation_size=1, test_size=1)


@pytest.mark.parametrize("value,exc", [(True, TypeError), (299, ValueError), (2000.0, TypeError), ("2000", TypeError)])
def test_tokenizer_vocab_size(value, exc):
    with pytest.raises(exc, match="vocab_size"):
        pp.train_bpe_tokenizer(["a b c"], vocab_size=value)
    with pytest.raises(ValueError, match="texts"):
        pp.train_bpe_tokenizer([], vocab_size=400)
    with pytest.raises(TypeError, match="max_piece_length"):
        pp.train_unigram_tokenizer(["a b c"], vocab_size=100, max_piece_length=True)


def test_save_splits_and_cross_split_arguments(tmp_path):
    with pytest.raises(ValueError, match="fmt"):
        pp.save_splits({}, tmp_path, fmt=None)
    with pytest.raises(TypeError, match="directory"):
        pp.save_splits({}, 5)
    with pytest.raises(TypeError, match="splits"):
        pp.cross_split_near_duplicates([DOCS])
    with pytest.raises(TypeError, match=r"splits\['test'\]"):
        pp.cross_split_near_duplicates({"train": DOCS, "test": "one text"})


# ---------------------------------------------------------------------------- bad inputs (probe classes)
@pytest.mark.parametrize("clusters,where,error", [
    ([[0, True]], r"clusters\[0\]\[1\]", TypeError), ([[False, 3]], r"clusters\[0\]\[0\]", TypeError),
    ([[0, 1], [2, 1.0]], r"clusters\[1\]\[1\]", TypeError), ([[0, "1"]], r"clusters\[0\]\[1\]", TypeError),
    ([[0, None]], r"clusters\[0\]\[1\]", TypeError), ([[0, -3]], r"clusters\[0\]\[1\]", ValueError),
    ([5], r"clusters\[0\]", TypeError), (["01"], r"clusters\[0\]", TypeError),
])
def test_near_duplicates_to_drop_refuses_bools_and_non_ints(clusters, where, error):
    with pytest.raises(error, match=where):
        pp.near_duplicates_to_drop(clusters)


def test_near_duplicates_to_drop_accepts_numpy_and_tensor_clusters():
    import numpy as np
    import torch

    assert pp.near_duplicates_to_drop([np.array([4, 2]), torch.tensor([7, 5]), (9, 8)]) == [4, 7, 9]


@pytest.mark.parametrize("reference,error", [(["train"], ValueError), ({"train"}, ValueError), ("dev", ValueError),
                                             (None, ValueError)])
def test_cross_split_reference_must_name_a_split(reference, error):
    with pytest.raises(error, match="reference"):
        pp.cross_split_near_duplicates({"train": DOCS, "test": DOCS}, reference=reference)


@pytest.mark.parametrize("call", [lambda t: pp.tokens(t, "a b"), lambda t: pp.fertility(t, ["a b"]),
                                  lambda t: pp.unknown_rate(t, ["a b"]), lambda t: pp.token_counts(t, ["a b"])])
@pytest.mark.parametrize("tokenizer", [None, "bert-base-uncased", 5, {"a": 0}])
def test_tokenizer_functions_name_a_bad_tokenizer(call, tokenizer):
    with pytest.raises(TypeError, match="tokenizer"):
        call(tokenizer)
