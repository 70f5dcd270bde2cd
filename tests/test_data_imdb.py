import json
import re
from collections import Counter

import pandas as pd
import pytest

from companion import data, preprocessing as pp
from companion.data import imdb


def test_clean_review_removes_br_tags():
    assert data.clean_review("Great.<br /><br />Really  great.<BR>") == "Great. Really great."
    for bad in (None, 3, ["text"]):
        with pytest.raises(TypeError, match="text"):
            data.clean_review(bad)


# ---------------------------------------------------------------------------- labelled reviews
def test_fixture_and_sample_shapes():
    fx = data.load_imdb("fixture")
    assert {k: len(v) for k, v in fx.items()} == {"train": 200, "validation": 50, "test": 100}
    sm = data.load_imdb("sample")
    assert {k: len(v) for k, v in sm.items()} == {"train": 2000, "validation": 500, "test": 1000}
    for split in sm.values():
        assert split.column_names == ["text", "label"]
        counts = Counter(split["label"])
        assert counts[0] == counts[1]
    assert all("<br" not in t for t in list(fx["train"]["text"]))
    assert "<br" in "".join(data.load_imdb("fixture", clean=False)["train"]["text"])


def test_sample_splits_are_disjoint():
    sm = data.load_imdb("sample", clean=False)
    train, val, test = (set(list(sm[s]["text"])) for s in ("train", "validation", "test"))
    assert not (train & val) and not (train & test) and not (val & test)


def test_stratified_subset():
    ds = data.load_imdb("sample", train_size=100, test_size=50, seed=3)
    assert len(ds["train"]) == 100 and Counter(ds["train"]["label"]) == {0: 50, 1: 50}
    assert len(ds["validation"]) == 500  # a size left at None keeps the split
    again = data.load_imdb("sample", train_size=100, test_size=50, seed=3)
    assert list(ds["train"]["text"]) == list(again["train"]["text"])
    other = data.load_imdb("sample", train_size=100, test_size=50, seed=4)
    assert list(ds["train"]["text"]) != list(other["train"]["text"])


def test_extra_columns_of_the_packaged_samples():
    ds = data.load_imdb("fixture", columns=("text", "label", "rating"))
    ratings = ds["train"]["rating"]
    assert all((r >= 7) == bool(y) for r, y in zip(ratings, ds["train"]["label"]))  # IMDb: <= 4 negative, >= 7 positive


def test_validation_is_held_out_when_source_has_none(tmp_path):
    src = data.packaged_data_dir() / "imdb" / "fixture"
    for split in ("train", "test"):
        (tmp_path / f"{split}.parquet").write_bytes((src / f"{split}.parquet").read_bytes())
    ds = data.load_imdb(str(tmp_path))
    assert len(ds["validation"]) == 20 and len(ds["train"]) == 180
    assert not set(list(ds["train"]["text"])) & set(list(ds["validation"]["text"]))
    assert Counter(ds["validation"]["label"]) == {0: 10, 1: 10}


def test_local_parquet_dir_via_env(monkeypatch):
    monkeypatch.setenv("COMPANION_DATA_DIR", str(data.packaged_data_dir() / "imdb" / "fixture"))
    assert len(data.load_imdb("hub")["train"]) == 200
    monkeypatch.setenv("COMPANION_DATA_DIR", "/nonexistent/imdb")
    with pytest.raises(FileNotFoundError, match="COMPANION_DATA_DIR"):
        data.load_imdb("hub")


# ---------------------------------------------------------------------------- stratified_indices
@pytest.mark.parametrize("n,error", [(0, ValueError), (-1, ValueError), (10**6, ValueError), (2.5, TypeError),
                                     (True, TypeError), ("4", TypeError), (None, TypeError)])
def test_stratified_indices_bad_n(n, error):
    with pytest.raises(error, match="n"):
        data.stratified_indices([0, 1] * 10, n)


@pytest.mark.parametrize("labels,error", [([[0, 1], [1, 0]], ValueError), ("0101", TypeError), (None, TypeError),
                                          ([0.0, float("nan"), 1.0], ValueError), ([0.5, 1.5], ValueError), (7, TypeError)])
def test_stratified_indices_bad_labels(labels, error):
    with pytest.raises(error, match="labels"):
        data.stratified_indices(labels, 2)


@pytest.mark.parametrize("seed,error", [("x", TypeError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_stratified_indices_bad_seed(seed, error):
    with pytest.raises(error, match="seed"):
        data.stratified_indices([0, 1], 2, seed=seed)


def test_stratified_indices_odd_n_and_short_class():
    idx = data.stratified_indices([0, 0, 0, 1, 1, 1], 5)
    assert len(set(idx)) == 5
    assert data.stratified_indices([0, 0, 0, 1, 1, 1], 5) == idx  # seeded
    with pytest.raises(ValueError, match="label 1"):
        data.stratified_indices([0] * 10 + [1], 6)


# ---------------------------------------------------------------------------- bad sources and sizes
def test_bad_source_and_columns(tmp_path):
    for bad in ("wikipedia", "fixtures", None, 3):
        with pytest.raises(ValueError, match="source"):
            data.load_imdb(bad)
    with pytest.raises(ValueError, match="columns"):
        data.load_imdb("fixture", columns=("text", "stars"))
    with pytest.raises(FileNotFoundError, match="train.parquet"):
        data.load_imdb(str(tmp_path))
    with pytest.raises(TypeError, match="columns"):
        data.load_imdb("fixture", columns="text")
    with pytest.raises(ValueError, match="columns"):
        data.load_imdb("fixture", columns=("text",), train_size=10)


@pytest.mark.parametrize("name", ["train_size", "validation_size", "test_size"])
@pytest.mark.parametrize("size,error", [(0, ValueError), (-5, ValueError), (10**6, ValueError), (True, TypeError),
                                        (10.0, TypeError), ("10", TypeError)])
def test_bad_sizes_are_named(name, size, error):
    with pytest.raises(error, match=rf"^{name}\b"):
        data.load_imdb("fixture", **{name: size})


def test_string_labels_are_refused(tmp_path):
    for split in ("train", "test"):
        pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "neg"]}).to_parquet(tmp_path / f"{split}.parquet")
    with pytest.raises(ValueError, match="integer class ids"):
        data.load_imdb(str(tmp_path))


@pytest.mark.parametrize("damage", ["random bytes", "truncated", "empty", "text"])
def test_a_corrupt_parquet_file_is_named(tmp_path, damage):
    import os

    src = data.packaged_data_dir() / "imdb" / "fixture"
    for split in ("train", "test"):
        (tmp_path / f"{split}.parquet").write_bytes((src / f"{split}.parquet").read_bytes())
    bad = tmp_path / "train.parquet"
    content = bad.read_bytes()
    bad.write_bytes({"random bytes": os.urandom(len(content)), "truncated": content[: len(content) // 2],
                     "empty": b"", "text": b"text,label\ngood,1\n"}[damage])
    with pytest.raises(ValueError, match=f"source.*{re.escape(str(bad))}"):
        data.load_imdb(str(tmp_path))


# ---------------------------------------------------------------------------- unlabelled reviews
def test_load_imdb_unlabelled_sources():
    sizes = {"fixture": 300, "sample": 5000, "raw": 2120}
    for source, n in sizes.items():
        ds = data.load_imdb_unlabelled(source)
        assert len(ds) == n and ds.column_names == ["doc_id", "text"]
        assert list(ds["doc_id"][:3]) == [0, 1, 2]
        assert all("<br" not in t for t in ds["text"][:200])
    assert len(data.load_imdb_unlabelled("fixture", n=10)) == 10
    assert list(data.load_imdb_unlabelled("fixture", n=10)["text"]) == list(data.load_imdb_unlabelled("fixture")["text"][:10])


def test_raw_reviews_keep_their_tags_and_duplicates():
    ds = data.load_imdb_unlabelled("raw", clean=False)
    texts = list(ds["text"])
    assert any("<br />" in t for t in texts)  # raw: the cleaning is chapter 3's job
    assert len(pp.exact_duplicates(texts)) > 0  # enriched with duplicate groups
    meta = json.loads((data.packaged_data_dir() / "imdb" / "unsupervised.json").read_text())
    assert meta["rows"] == len(ds) and meta["full_corpus"]["documents"] == 50_000


def test_unlabelled_hub_source_reads_the_data_dir(monkeypatch, tmp_path):
    src = data.packaged_data_dir() / "imdb" / "unsup" / "fixture.parquet"
    (tmp_path / "unsupervised.parquet").write_bytes(src.read_bytes())
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    assert len(data.load_imdb_unlabelled("hub")) == 300
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="COMPANION_DATA_DIR"):
        data.load_imdb_unlabelled("hub")
    (tmp_path / "unsupervised.parquet").write_bytes(b"PAR1 not really")
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="unsupervised.parquet"):
        data.load_imdb_unlabelled("hub")


@pytest.mark.parametrize("kw,error,name", [
    (dict(source="nowhere"), ValueError, "source"), (dict(source=None), ValueError, "source"),
    (dict(source="fixture", n=0), ValueError, "n"), (dict(source="fixture", n=301), ValueError, "n"),
    (dict(source="fixture", n=True), TypeError, "n"), (dict(source="fixture", n=2.0), TypeError, "n"),
    (dict(source="fixture", n="10"), TypeError, "n"), (dict(source="fixture", clean="yes"), TypeError, "clean"),
])
def test_load_imdb_unlabelled_bad_arguments(kw, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        data.load_imdb_unlabelled(**kw)


def test_citation_names_the_paper():
    assert "Maas" in imdb.IMDB_CITATION and "2011" in imdb.IMDB_CITATION


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
@pytest.mark.parametrize("seed,error", [(True, TypeError), ("1", TypeError), (1.5, TypeError), (-1, ValueError),
                                        (float("nan"), TypeError), (float("inf"), TypeError), (None, TypeError)])
def test_load_imdb_checks_the_seed_even_when_no_subset_is_drawn(seed, error):
    with pytest.raises(error, match="seed"):
        data.load_imdb("fixture", seed=seed)


@pytest.mark.parametrize("clean", ["yes", None, 1, 0])
def test_load_imdb_clean_is_a_bool(clean):
    with pytest.raises(TypeError, match="clean"):
        data.load_imdb("fixture", clean=clean)


@pytest.mark.parametrize("columns,error", [([], ValueError), (None, TypeError), ([1], TypeError), ((None, "label"), TypeError),
                                           (5, TypeError)])
def test_load_imdb_columns_are_names(columns, error):
    with pytest.raises(error, match="columns"):
        data.load_imdb("fixture", columns=columns)


@pytest.mark.parametrize("labels", [[0, 1, 2, 1], [0, 7, 1, 0], [0, -1, 1, 0], [0, 1, 10**6, 1]])
def test_load_imdb_refuses_labels_other_than_0_and_1(tmp_path, labels):
    for split in ("train", "validation", "test"):
        pd.DataFrame({"text": ["a", "b", "c", "d"], "label": labels}).to_parquet(tmp_path / f"{split}.parquet")
    with pytest.raises(ValueError, match="label") as info:
        data.load_imdb(str(tmp_path))
    assert "source" in str(info.value)
