from collections import Counter

import pytest

from companion import data


def test_clean_review_removes_br_tags():
    assert data.clean_review("Great.<br /><br />Really  great.<BR>") == "Great. Really great."
    with pytest.raises(TypeError, match="text"):
        data.clean_review(None)


def test_fixture_and_sample_shapes():
    fx = data.load_imdb("fixture")
    assert {k: len(v) for k, v in fx.items()} == {"train": 200, "validation": 50, "test": 100}
    sm = data.load_imdb("sample")
    assert len(sm["train"]) >= 1000 and len(sm["test"]) >= 1000
    for split in sm.values():
        assert split.column_names == ["text", "label"]
        counts = Counter(split["label"])
        assert counts[0] == counts[1]
    assert all("<br" not in t for t in list(fx["train"]["text"]))


def test_sample_splits_are_disjoint():
    sm = data.load_imdb("sample", clean=False)
    train, val, test = (set(list(sm[s]["text"])) for s in ("train", "validation", "test"))
    assert not (train & val) and not (train & test) and not (val & test)


def test_stratified_subset():
    ds = data.load_imdb("sample", train_size=100, test_size=50, seed=3)
    assert len(ds["train"]) == 100 and Counter(ds["train"]["label"]) == {0: 50, 1: 50}
    again = data.load_imdb("sample", train_size=100, test_size=50, seed=3)
    assert list(ds["train"]["text"]) == list(again["train"]["text"])


@pytest.mark.parametrize("n", [0, -1, 10**6, 2.5, True])
def test_stratified_indices_bad_n(n):
    with pytest.raises(ValueError, match="n"):
        data.stratified_indices([0, 1] * 10, n)


@pytest.mark.parametrize("labels", [[[0, 1], [1, 0]], "0101", None, [0.0, float("nan"), 1.0]])
def test_stratified_indices_bad_labels(labels):
    with pytest.raises(ValueError, match="labels"):
        data.stratified_indices(labels, 2)
    with pytest.raises(ValueError, match="seed"):
        data.stratified_indices([0, 1], 2, seed="x")


def test_stratified_indices_odd_n_and_short_class():
    idx = data.stratified_indices([0, 0, 0, 1, 1, 1], 5)
    assert len(set(idx)) == 5
    with pytest.raises(ValueError, match="label 1"):
        data.stratified_indices([0] * 10 + [1], 6)


def test_bad_source_and_columns(tmp_path):
    with pytest.raises(ValueError, match="source"):
        data.load_imdb("wikipedia")
    with pytest.raises(ValueError, match="columns"):
        data.load_imdb("fixture", columns=("text", "stars"))
    with pytest.raises(FileNotFoundError, match="train.parquet"):
        data.load_imdb(str(tmp_path))
    with pytest.raises(TypeError, match="columns"):
        data.load_imdb("fixture", columns="text")
    with pytest.raises(ValueError, match="columns"):
        data.load_imdb("fixture", columns=("text",), train_size=10)
    for size, name in [(0, "train_size"), (10**6, "train_size"), (10**6, "test_size")]:
        with pytest.raises(ValueError, match=name):
            data.load_imdb("fixture", **{name: size})


def test_string_labels_are_refused(tmp_path):
    import pandas as pd

    for split in ("train", "test"):
        pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "neg"]}).to_parquet(tmp_path / f"{split}.parquet")
    with pytest.raises(ValueError, match="integer class ids"):
        data.load_imdb(str(tmp_path))


def test_local_parquet_dir_via_env(monkeypatch):
    monkeypatch.setenv("COMPANION_DATA_DIR", str(data.packaged_data_dir() / "imdb" / "fixture"))
    ds = data.load_imdb("hub")
    assert len(ds["train"]) == 200
    monkeypatch.setenv("COMPANION_DATA_DIR", "/nonexistent/imdb")
    with pytest.raises(FileNotFoundError, match="COMPANION_DATA_DIR"):
        data.load_imdb("hub")


@pytest.fixture(scope="module")
def tokenizer():
    texts = list(data.load_imdb("fixture")["train"]["text"])
    return data.train_wordpiece_tokenizer(texts, vocab_size=500)


def test_wordpiece_tokenizer_special_tokens(tokenizer):
    enc = tokenizer("a great film")
    assert enc["input_ids"][0] == tokenizer.cls_token_id and enc["input_ids"][-1] == tokenizer.sep_token_id
    assert tokenizer.pad_token_id == 0 and tokenizer.mask_token == "[MASK]"
    with pytest.raises(ValueError, match="vocab_size"):
        data.train_wordpiece_tokenizer(["x"], vocab_size=10)
    with pytest.raises(ValueError, match="texts"):
        data.train_wordpiece_tokenizer([])
    for bad in ("hello world", None, [None], [1, 2]):
        with pytest.raises(TypeError, match="texts"):
            data.train_wordpiece_tokenizer(bad)


def test_tokenize_truncates_without_padding(tokenizer):
    texts = list(data.load_imdb("fixture")["train"]["text"][:20]) + ["Loved it.", "Awful."]
    tok = data.tokenize(data.Dataset.from_dict({"text": texts}), tokenizer, max_length=32)
    lengths = list(tok["length"])
    assert max(lengths) == 32 and min(lengths) < 32  # dynamic: no padding to max_length
    assert all(len(ids) == n for ids, n in zip(tok["input_ids"], lengths))
    assert "text" not in tok.column_names


def test_head_tail_truncation_keeps_both_ends(tokenizer):
    text = " ".join(f"w{i}" for i in range(200)) + " the verdict"
    ds = data.Dataset.from_dict({"text": [text], "label": [1]})
    full = tokenizer(text)["input_ids"]
    tok = data.tokenize(ds, tokenizer, max_length=20, head_tokens=5)
    ids = tok[0]["input_ids"]
    assert len(ids) == 20 and ids[:5] == full[:5] and ids[5:] == full[-15:]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id


@pytest.mark.parametrize("kw", [dict(max_length=0), dict(max_length=1), dict(max_length=True), dict(max_length=10**4),
                                dict(max_length=16, head_tokens=15), dict(max_length=16, head_tokens=True),
                                dict(max_length=16, text_column="review")])
def test_tokenize_bad_arguments(tokenizer, kw):
    ds = data.load_imdb("fixture")["test"]
    name = "head_tokens" if "head_tokens" in kw else "text_column" if "text_column" in kw else "max_length"
    with pytest.raises(ValueError, match=name):
        data.tokenize(ds, tokenizer, **kw)


def test_tokenize_bad_types(tokenizer):
    with pytest.raises(TypeError, match="ds"):
        data.tokenize([{"text": "x"}], tokenizer, max_length=16)
    with pytest.raises(TypeError, match="tokenizer"):
        data.tokenize(data.load_imdb("fixture")["test"], None, max_length=16)


def test_validation_is_held_out_when_source_has_none(tmp_path):
    src = data.packaged_data_dir() / "imdb" / "fixture"
    for split in ("train", "test"):
        (tmp_path / f"{split}.parquet").write_bytes((src / f"{split}.parquet").read_bytes())
    ds = data.load_imdb(str(tmp_path))
    assert len(ds["validation"]) == 20 and len(ds["train"]) == 180
    assert not set(list(ds["train"]["text"])) & set(list(ds["validation"]["text"]))


# ---------------------------------------------------------------------------- unlabelled IMDb (chapter 2)
def test_load_imdb_unsup_splits_are_disjoint_and_seeded():
    d = data.load_imdb_unsup("fixture", validation_size=50)
    assert len(d["train"]) == 250 and len(d["validation"]) == 50 and d["train"].column_names == ["text"]
    train, held = set(d["train"]["text"]), set(d["validation"]["text"])
    assert not train & held
    assert all("<br" not in t for t in d["train"]["text"])
    again = data.load_imdb_unsup("fixture", validation_size=50)
    assert list(again["validation"]["text"]) == list(d["validation"]["text"])
    other = data.load_imdb_unsup("fixture", validation_size=50, seed=1)
    assert list(other["validation"]["text"]) != list(d["validation"]["text"])
    assert len(data.load_imdb_unsup("fixture", validation_size=50, train_size=20)["train"]) == 20


def test_load_imdb_unsup_sample_size():
    d = data.load_imdb_unsup("sample")
    assert len(d["train"]) + len(d["validation"]) == 5000


def test_load_imdb_unsup_bad_arguments(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="source"):
        data.load_imdb_unsup("nowhere")
    with pytest.raises(ValueError, match="validation_size"):
        data.load_imdb_unsup("fixture", validation_size=300)
    with pytest.raises(ValueError, match="train_size"):
        data.load_imdb_unsup("fixture", validation_size=50, train_size=251)
    src = data.packaged_data_dir() / "imdb" / "unsup" / "fixture.parquet"
    (tmp_path / "unsupervised.parquet").write_bytes(src.read_bytes())
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    assert len(data.load_imdb_unsup("hub", validation_size=10)["validation"]) == 10


def test_wordpiece_tokenizer_ids_are_reproducible():
    texts = list(data.load_imdb("fixture")["train"]["text"])
    a = data.train_wordpiece_tokenizer(texts, vocab_size=300).get_vocab()
    b = data.train_wordpiece_tokenizer(texts, vocab_size=300).get_vocab()
    assert a == b, "the same texts must give the same token ids"
    assert [a[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]


def test_load_imdb_unsup_default_validation_size():
    d = data.load_imdb_unsup("fixture")
    assert len(d["validation"]) == 30 and len(d["train"]) == 270
