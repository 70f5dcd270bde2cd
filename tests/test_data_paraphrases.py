import re

import pytest

from companion import data


def _words(s):
    return set(re.findall(r"[a-z0-9']+", s.lower()))


@pytest.mark.parametrize("source,n", [("sample", 1000), ("fixture", 100)])
def test_paraphrase_pairs_are_attributed_unique_and_not_near_copies(source, n):
    df = data.load_paraphrase_pairs(source)
    assert len(df) == n and list(df.columns) == ["a", "b", "attribution"]
    assert df["attribution"].str.contains("tatoeba.org").all()
    assert df["attribution"].str.contains("CC-BY 2.0").all()
    jaccard = [len(_words(a) & _words(b)) / len(_words(a) | _words(b)) for a, b in zip(df["a"], df["b"])]
    assert max(jaccard) <= 0.5
    assert not df["a"].duplicated().any() and not df["b"].duplicated().any()
    assert not df["b"].isin(df["a"]).any()


def test_first_n_pairs():
    ten = data.load_paraphrase_pairs("sample", n=10)
    assert len(ten) == 10 and list(ten["a"]) == list(data.load_paraphrase_pairs("sample")["a"][:10])
    assert list(ten.index) == list(range(10))


@pytest.mark.parametrize("kw,error,name", [
    (dict(source="hub"), ValueError, "source"), (dict(source=None), ValueError, "source"),
    (dict(source="fixture", n=101), ValueError, "n"), (dict(source="fixture", n=0), ValueError, "n"),
    (dict(source="fixture", n=-1), ValueError, "n"), (dict(source="fixture", n=True), TypeError, "n"),
    (dict(source="fixture", n=5.0), TypeError, "n"), (dict(source="fixture", n="5"), TypeError, "n"),
])
def test_bad_arguments(kw, error, name):
    with pytest.raises(error, match=rf"^{name}\b"):
        data.load_paraphrase_pairs(**kw)
