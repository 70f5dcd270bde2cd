import pytest

from companion import data
from companion.data import tatoeba


# ---------------------------------------------------------------------------- the committed sample
def test_committed_sample_format_and_licence():
    raw = (data.packaged_data_dir() / "tatoeba" / "pairs.tsv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "the byte-order mark must be stripped"
    lines = raw.decode("utf-8").splitlines()
    assert len(lines) == 5000
    assert all(len(line.split("\t")) == 3 for line in lines)
    assert all(line.split("\t")[2].startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #") for line in lines)
    notice = (data.packaged_data_dir() / "tatoeba" / "README.md").read_text(encoding="utf-8")
    assert "CC-BY 2.0 FR" in notice and "attribution" in notice
    assert "CC-BY 2.0 FR" in data.TATOEBA_CITATION


# ---------------------------------------------------------------------------- read_tatoeba
def test_read_tatoeba_default_sample():
    df = data.read_tatoeba()
    assert list(df.columns) == ["english", "chinese", "attribution"] and len(df) == 5000
    assert df["attribution"].str.startswith("CC-BY 2.0 (France)").all()
    assert not df["english"].str.startswith("\ufeff").any()
    assert (df["english"].str.len() > 0).all() and (df["chinese"].str.len() > 0).all()
    first = data.read_tatoeba(n=10)
    assert len(first) == 10 and list(first["english"]) == list(df["english"][:10])


def test_read_tatoeba_file_format(tmp_path):
    bom = tmp_path / "bom.tsv"
    bom.write_text("\ufeffHi.\t你好。\tCC-BY\n\nRun!\t跑！\n", encoding="utf-8")
    df = data.read_tatoeba(bom)
    assert list(df["english"]) == ["Hi.", "Run!"] and list(df["attribution"]) == ["CC-BY", ""]  # blank line skipped
    bad = tmp_path / "bad.tsv"
    bad.write_text("Hi.\t你好。\tA\nno translation here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="path: line 2"):
        data.read_tatoeba(bad)


@pytest.mark.parametrize("kw,error,name", [
    (dict(path="/nonexistent/pairs.tsv"), FileNotFoundError, "path"), (dict(path=3), TypeError, "path"),
    (dict(n=0), ValueError, "n"), (dict(n=-2), ValueError, "n"), (dict(n=True), TypeError, "n"),
    (dict(n=2.0), TypeError, "n"), (dict(n="5"), TypeError, "n"),
])
def test_read_tatoeba_bad_arguments(kw, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        data.read_tatoeba(**kw)


def test_read_tatoeba_refuses_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="path"):
        data.read_tatoeba(tmp_path)


# ---------------------------------------------------------------------------- load_tatoeba and grouped_split
def test_load_tatoeba_splits_are_disjoint_by_english_sentence_and_deterministic():
    ds = data.load_tatoeba("sample")
    sizes = {k: len(v) for k, v in ds.items()}
    assert sum(sizes.values()) == 5000 and sizes["test"] >= 500 and sizes["validation"] >= 250
    assert ds["train"].column_names == ["en", "zh", "attribution"]
    english = {k: set(v["en"]) for k, v in ds.items()}
    assert not english["train"] & english["test"] and not english["train"] & english["validation"]
    assert not english["validation"] & english["test"]
    assert list(data.load_tatoeba("sample")["test"]["zh"]) == list(ds["test"]["zh"])
    assert list(data.load_tatoeba("sample", seed=1)["test"]["zh"]) != list(ds["test"]["zh"])


def test_load_tatoeba_fixture_and_files(tmp_path):
    fx = data.load_tatoeba("fixture")
    assert sum(len(v) for v in fx.values()) == 400 and len(fx["test"]) >= 60 and len(fx["validation"]) >= 40
    path = tmp_path / "pairs.tsv"
    path.write_text("\ufeffHi.\t嗨。\tA\nHi.\t你好。\tB\nRun.\t跑。\tC\nStop!\t住手！\tD\n", encoding="utf-8")
    small = data.load_tatoeba(str(path), validation_size=1, test_size=1)
    assert "\ufeff" not in "".join(sum((list(v["en"]) for v in small.values()), []))
    assert sum(len(v) for v in small.values()) == 4
    with pytest.raises(ValueError, match="test_size"):
        data.load_tatoeba(str(path), validation_size=2, test_size=2)


@pytest.mark.parametrize("source", ["hub", "cmn.txt", None, 5])
def test_load_tatoeba_unknown_source(source):
    with pytest.raises(ValueError, match="source"):
        data.load_tatoeba(source)


def test_grouped_split_keeps_groups_together():
    keys = ["a", "a", "b", "c", "c", "c", "d", "e"]
    parts = data.grouped_split(keys, validation_size=1, test_size=2, seed=3)
    assert sorted(sum(parts.values(), [])) == list(range(len(keys)))
    where = {keys[i]: split for split, pos in parts.items() for i in pos}
    for split, pos in parts.items():
        assert all(where[keys[i]] == split for i in pos) and pos == sorted(pos)
    assert len(parts["test"]) >= 2 and len(parts["validation"]) >= 1
    assert data.grouped_split(keys, validation_size=1, test_size=2, seed=3) == parts
    assert data.grouped_split(keys, validation_size=0, test_size=0)["train"] == list(range(len(keys)))


@pytest.mark.parametrize("kw,error,name", [
    (dict(validation_size=-1), ValueError, "validation_size"), (dict(test_size=-1), ValueError, "test_size"),
    (dict(validation_size=True), TypeError, "validation_size"), (dict(test_size=1.5), TypeError, "test_size"),
    (dict(validation_size=4, test_size=4), ValueError, "test_size"),
    (dict(seed=-1), ValueError, "seed"), (dict(seed="0"), TypeError, "seed"), (dict(seed=0.5), TypeError, "seed"),
    (dict(keys="abcdefgh"), TypeError, "keys"), (dict(keys=[1, 2, 3, 4]), TypeError, "keys"),
])
def test_grouped_split_bad_arguments(kw, error, name):
    args = {**dict(keys=list("aabbccdd"), validation_size=1, test_size=1, seed=0), **kw}
    keys = args.pop("keys")
    with pytest.raises(error, match=rf"^{name}\b"):
        data.grouped_split(keys, **args)


# ---------------------------------------------------------------------------- hub corpora
def test_pairs_from_records_accepts_wmt_and_flat_layouts():
    recs = [{"translation": {"en": "Hi.", "zh": "你好。"}}, {"translation": {"en": " ", "zh": "空"}}]
    assert tatoeba.pairs_from_records(recs) == {"en": ["Hi."], "zh": ["你好。"]}
    assert tatoeba.pairs_from_records([{"en": "Run.", "zh": "跑。"}]) == {"en": ["Run."], "zh": ["跑。"]}
    assert tatoeba.pairs_from_records([{"en": None, "zh": "跑。"}]) == {"en": [], "zh": []}
    with pytest.raises(ValueError, match="records"):
        tatoeba.pairs_from_records([{"text": "x"}])


@pytest.mark.parametrize("kw,error,name", [(dict(train_size=0), ValueError, "train_size"),
                                           (dict(validation_size=-1), ValueError, "validation_size"),
                                           (dict(test_size=True), TypeError, "test_size"),
                                           (dict(train_size=1.5), TypeError, "train_size")])
def test_load_hub_pairs_validates_sizes_before_any_download(kw, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        data.load_hub_pairs("wmt/wmt19", "zh-en", **kw)


# ---------------------------------------------------------------------------- bad inputs (review: bad-inputs.md)
@pytest.mark.parametrize("content", [bytes(range(256)) * 8, b"\xff\xfe\x00abc", "caf\u00e9\tx".encode("latin-1")])
def test_a_file_that_is_not_utf8_is_named(tmp_path, content):
    f = tmp_path / "pairs.tsv"
    f.write_bytes(content)
    for call in (lambda: data.read_tatoeba(f), lambda: data.load_tatoeba(str(f))):
        with pytest.raises(ValueError, match="pairs.tsv") as info:
            call()
        assert "path" in str(info.value) and info.value.__cause__ is not None


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_a_file_without_pairs_is_named(tmp_path, content):
    f = tmp_path / "empty.tsv"
    f.write_text(content)
    with pytest.raises(ValueError, match="empty.tsv"):
        data.read_tatoeba(f)


@pytest.mark.parametrize("records,error", [(None, TypeError), (5, TypeError), ([1, 2], TypeError), ("en", TypeError),
                                           ([{"en": 5, "zh": "x"}], TypeError), ([{"translation": "x"}], ValueError),
                                           ([{"en": "a", "zh": ["b"]}], TypeError)])
def test_pairs_from_records_names_bad_records(records, error):
    with pytest.raises(error, match="records"):
        tatoeba.pairs_from_records(records)


@pytest.mark.parametrize("lang", [None, 5, ["en"]])
def test_pairs_from_records_languages_are_strings(lang):
    with pytest.raises(TypeError, match="source_lang"):
        tatoeba.pairs_from_records([{"en": "a", "zh": "b"}], source_lang=lang)
    with pytest.raises(TypeError, match="target_lang"):
        tatoeba.pairs_from_records([{"en": "a", "zh": "b"}], target_lang=lang)


@pytest.mark.parametrize("name", ["seed", "shuffle_buffer", "train_size", "validation_size", "test_size"])
@pytest.mark.parametrize("value,error", [(True, TypeError), ("5", TypeError), (1.5, TypeError), (-1, ValueError),
                                         (None, TypeError)])
def test_load_hub_pairs_checks_its_numbers_before_any_download(name, value, error, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("reached the hub"))
    with pytest.raises(error, match=name):
        data.load_hub_pairs("wmt/wmt19", "zh-en", **{name: value})


@pytest.mark.parametrize("dataset_id", [None, 5, ["wmt/wmt19"]])
def test_load_hub_pairs_dataset_id_is_a_string(dataset_id):
    with pytest.raises(TypeError, match="dataset_id"):
        data.load_hub_pairs(dataset_id)
