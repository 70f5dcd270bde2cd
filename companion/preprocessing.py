"""Preparing text for pre-training: cleaning, de-duplication, PII scrubbing, splits, tokenizers.

The steps of a modern text pipeline, each small enough to read (book chapter 3):

* **cleaning** -- :func:`normalize_unicode` (NFKC), :func:`strip_html`, :func:`clean_text`;
  quality filters on length (:func:`word_count`) and repetition
  (:func:`duplicate_ngram_fraction`, after the "repetition removal" rules of Gopher's MassiveText,
  Rae et al. 2021); :func:`clean_corpus` runs them all and reports what each step removed;
* **exact de-duplication** -- :func:`exact_duplicates` (a hash of the normalised text);
* **near-duplicate detection** -- :func:`shingles`, :func:`jaccard`, and MinHash with
  locality-sensitive hashing from the ``datasketch`` library (Broder 1997; Leskovec, Rajaraman &
  Ullman, *Mining of Massive Datasets*, ch. 3): :func:`minhashes`, :func:`near_duplicate_clusters`;
  Lee et al. (ACL 2022) show why de-duplicating training data matters;
* **PII scrubbing** -- :func:`scrub_pii` (e-mail addresses and URLs, with regular expressions);
* **splits** -- :func:`split_dataset` (deterministic, stratified where labelled, with ``datasets``),
  :func:`cross_split_near_duplicates` (leakage check), :func:`save_splits` (parquet / JSON lines);
* **tokenizers** -- :func:`train_bpe_tokenizer` (byte-level BPE, GPT-2 style),
  :func:`train_unigram_tokenizer` (SentencePiece-style unigram LM); WordPiece is
  :func:`companion.data.train_wordpiece_tokenizer`; :func:`fertility` and :func:`unknown_rate`
  compare them.

Data: :func:`companion.data.load_imdb_unlabelled` (``source="raw"``: unlabelled IMDb reviews as
published, Maas et al. 2011) and :func:`companion.data.read_tatoeba` (English-Mandarin pairs, CC-BY 2.0 FR).

Book section: chapter 3 (3.2 cleaning, 3.3 building and splitting, "Tokenizers").
"""

from __future__ import annotations

import hashlib
import html
import numbers
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Hashable
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from . import checks

# ---------------------------------------------------------------------------- cleaning
def normalize_unicode(text: str, form: str = "NFKC") -> str:
    """Unicode normalisation (default NFKC): one code-point sequence per visible character.

    NFKC folds compatibility variants -- full-width Latin letters and digits (``"ＡＢＣ１２"`` →
    ``"ABC12"``), ligatures (``"ﬁ"`` → ``"fi"``), non-breaking spaces -- and composes accents, so
    the same word always gets the same tokens.

    Raises:
        TypeError: if ``text`` is not a string. ValueError: for an unknown ``form``.
    """
    checks.text(text, "text")
    form = checks.one_of(form, "form", ("NFC", "NFD", "NFKC", "NFKD"))
    return unicodedata.normalize(form, text)


class _TextExtractor(HTMLParser):
    # Block-level tags and <br> become spaces; <script>/<style> contents are dropped.
    _BREAKS = {"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
    _SKIP = {"script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Remove HTML markup with the standard library's HTML parser and decode entities.

    ``<br />`` and block tags become spaces, ``<script>``/``<style>`` contents are dropped,
    ``&amp;``/``&#39;`` become ``&``/``'``; runs of whitespace collapse to one space. A ``<`` that
    does not start a tag (``"a < b"``) is kept.

    Raises:
        TypeError: if ``text`` is not a string.
    """
    return _strip_html(checks.text(text, "text"))


def _strip_html(text: str) -> str:
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return " ".join(html.unescape("".join(parser.parts)).split())


def clean_text(text: str) -> str:
    """:func:`normalize_unicode` (NFKC), then :func:`strip_html`, then collapse whitespace.

    Deliberately *not* done: lower-casing, stop-word removal, stemming, punctuation removal. A
    subword tokenizer and a Transformer use all of that information (chapter 3.2 explains why).

    Raises:
        TypeError: if ``text`` is not a string.
    """
    return _clean_text(checks.text(text, "text"))


def _clean_text(text: str) -> str:
    return _strip_html(unicodedata.normalize("NFKC", text))


def word_count(text: str) -> int:
    """Number of whitespace-separated words.

    Raises:
        TypeError: if ``text`` is not a string.
    """
    return len(checks.text(text, "text").split())


_WORD = re.compile(r"\w+", flags=re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def duplicate_ngram_fraction(text: str, n: int = 3) -> float:
    """Fraction of a text's word characters that lie inside a *repeated* word n-gram.

    Scan the word n-grams left to right; every occurrence of an n-gram seen before marks its
    ``n`` words as duplicated. The result is (characters of marked words) / (characters of all
    words), in [0, 1]: 0 for a text without a repeated n-gram, close to 1 for spam such as
    ``"buy now buy now buy now ..."``. Words are lower-cased ``\\w+`` runs. A simplified form of
    the "fraction of characters in duplicate n-grams" filter of Gopher's MassiveText (Rae et al.,
    2021, appendix A), which removes a document above 0.15 for n = 5 down to 0.10 for n = 10.

    Args:
        text: the document.
        n: n-gram length in words (positive int).

    Returns:
        A float in [0, 1]; 0.0 for a text with fewer than ``n`` words.

    Raises:
        TypeError: ``text`` not a string, ``n`` not an int (bools included). ValueError: ``n`` < 1.
    """
    return _duplicate_ngram_fraction(checks.text(text, "text"), checks.integer(n, "n"))


def _duplicate_ngram_fraction(text: str, n: int) -> float:
    words = _words(text)
    total = sum(len(w) for w in words)
    if len(words) < n or total == 0:
        return 0.0
    seen, marked = set(), [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        if gram in seen:
            for j in range(i, i + n):
                marked[j] = True
        else:
            seen.add(gram)
    return sum(len(w) for w, m in zip(words, marked) if m) / total


# ---------------------------------------------------------------------------- PII
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# a URL ends before trailing punctuation: "see www.imdb.com." keeps its full stop
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]", flags=re.IGNORECASE)


def scrub_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace e-mail addresses by ``<EMAIL>`` and URLs (``http(s)://...``, ``www....``) by ``<URL>``.

    Regular expressions catch only well-formed, pattern-like PII; names, street addresses or
    phone numbers written in words need a named-entity recogniser (chapter 3.2 discusses this).
    E-mails are replaced first, so an address is never half-replaced as a URL.

    Returns:
        ``(scrubbed_text, {"email": count, "url": count})``.

    Raises:
        TypeError: if ``text`` is not a string.
    """
    return _scrub_pii(checks.text(text, "text"))


def _scrub_pii(text: str) -> tuple[str, dict[str, int]]:
    text, n_email = EMAIL.subn("<EMAIL>", text)
    text, n_url = URL.subn("<URL>", text)
    return text, {"email": n_email, "url": n_url}


# ---------------------------------------------------------------------------- exact duplicates
def _dedup_key(text: str) -> str:
    # case- and whitespace-insensitive: "Great  film" and "great film" are the same document
    return hashlib.sha256(" ".join(text.lower().split()).encode("utf-8")).hexdigest()


def exact_duplicates(texts: Sequence[str]) -> list[int]:
    """Positions of texts whose normalised form (lower-cased, whitespace collapsed) occurred earlier.

    Each text is reduced to the SHA-256 digest of its normalised form; the first occurrence of a
    digest is kept, later ones are returned (sorted). Memory is one 32-byte digest per distinct
    text, so the method scales to corpora that do not fit in memory when streamed.

    Raises:
        TypeError: if ``texts`` is a string or holds a non-string.
    """
    return _exact_duplicates(checks.texts(texts, "texts", allow_empty=True))


def _exact_duplicates(texts: list[str]) -> list[int]:
    seen, dups = set(), []
    for i, text in enumerate(texts):
        key = _dedup_key(text)
        if key in seen:
            dups.append(i)
        else:
            seen.add(key)
    return dups


# ---------------------------------------------------------------------------- near duplicates
def shingles(text: str, n: int = 5) -> set[str]:
    """The set of word n-grams ("shingles") of a text, words being lower-cased ``\\w+`` runs.

    A text with fewer than ``n`` words gives one shingle of all its words (empty set if none).

    Raises:
        TypeError: ``text`` not a string, ``n`` not an int (bools included). ValueError: ``n`` < 1.
    """
    return _shingles(checks.text(text, "text"), checks.integer(n, "n"))


def _shingles(text: str, n: int) -> set[str]:
    words = _words(text)
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    """Jaccard similarity ``|a ∩ b| / |a ∪ b|`` of two sets, in [0, 1]; 1.0 for two empty sets.

    Raises:
        TypeError: if ``a`` or ``b`` is not a set (a string or list would compare characters or items).
    """
    checks.instance(a, "a", (set, frozenset), what="a set")
    checks.instance(b, "b", (set, frozenset), what="a set")
    return _jaccard(a, b)


def _jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def minhashes(texts: Sequence[str], *, num_perm: int = 128, ngram: int = 5, seed: int = 1):
    """One ``datasketch.LeanMinHash`` signature per text, over its word ``ngram``-shingles.

    The probability that two signatures agree in one of the ``num_perm`` positions equals the
    Jaccard similarity of the two shingle sets, so the share of agreeing positions estimates it
    with standard error about ``sqrt(J (1 - J) / num_perm)`` (0.035 at J = 0.5, 128 permutations).

    Raises:
        TypeError: as :func:`exact_duplicates`; a count or ``seed`` that is not an int.
        ValueError: if ``num_perm`` < 2, ``ngram`` < 1 or ``seed`` < 0.
    """
    texts = checks.texts(texts, "texts", allow_empty=True)
    return _minhashes(texts, *_minhash_args(num_perm, ngram, seed))


def _minhash_args(num_perm, ngram, seed) -> tuple[int, int, int]:
    return (checks.integer(num_perm, "num_perm", minimum=2), checks.integer(ngram, "ngram"),
            checks.integer(seed, "seed", minimum=0))


def _minhashes(texts: list[str], num_perm: int, ngram: int, seed: int):
    from datasketch import LeanMinHash, MinHash

    sets = [[s.encode("utf-8") for s in _shingles(t, ngram)] for t in texts]
    return [LeanMinHash(m) for m in MinHash.generator(sets, num_perm=num_perm, seed=seed)]


class _UnionFind:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, i):
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i, j):
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def near_duplicate_clusters(texts: Sequence[str], *, threshold: float = 0.8, num_perm: int = 128,
                            ngram: int = 5, seed: int = 1, verify: bool = True) -> list[list[int]]:
    """Groups of near-duplicate texts: MinHash signatures + LSH banding (``datasketch.MinHashLSH``).

    LSH splits each signature into ``b`` bands of ``r`` rows (chosen by ``datasketch`` for
    ``threshold``); two texts become *candidates* when any band agrees exactly, which happens with
    probability ``1 - (1 - J^r)^b`` -- an S-curve around ``threshold``. With ``verify`` a candidate
    pair is kept only if its MinHash-estimated Jaccard similarity is at least ``threshold``.
    Pairs are then merged transitively (union-find) into clusters.

    Args:
        texts: the documents.
        threshold: Jaccard similarity of word ``ngram``-shingles above which two texts are
            near-duplicates, in (0, 1).
        num_perm, ngram, seed: as :func:`minhashes`.
        verify: drop LSH candidates whose estimated similarity is below ``threshold``.

    Returns:
        Clusters of at least two positions, each sorted; clusters sorted by their first position.
        Keep ``cluster[0]`` of each and drop the rest (:func:`near_duplicates_to_drop`).

    Raises:
        TypeError: as :func:`minhashes`; ``threshold`` not a number, ``verify`` not a bool.
        ValueError: if ``threshold`` is not in (0, 1); as :func:`minhashes`.
    """
    texts = checks.texts(texts, "texts", allow_empty=True)
    threshold = checks.probability(threshold, "threshold", allow_zero=False, allow_one=False)
    verify = checks.boolean(verify, "verify")
    return _near_duplicate_clusters(texts, threshold, *_minhash_args(num_perm, ngram, seed), verify)


def _near_duplicate_clusters(texts, threshold, num_perm, ngram, seed, verify) -> list[list[int]]:
    from datasketch import MinHashLSH

    sigs = _minhashes(texts, num_perm, ngram, seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    uf = _UnionFind(len(sigs))
    for i, sig in enumerate(sigs):
        for j in lsh.query(sig):
            if not verify or sig.jaccard(sigs[j]) >= threshold:
                uf.union(i, j)
        lsh.insert(i, sig)
    groups: dict[int, list[int]] = {}
    for i in range(len(sigs)):
        groups.setdefault(uf.find(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def _positions(cluster, name: str) -> list[int]:
    """One cluster as a list of ints >= 0. Each entry is checked with :func:`checks.integer`, so that a
    bool mixed into a list of ints (``[0, True]``, which NumPy turns into ``[0, 1]``) is refused too."""
    if isinstance(cluster, (torch.Tensor, np.ndarray)):
        return checks.integers(cluster, name, minimum=0, ndim=1).tolist()
    if isinstance(cluster, (str, bytes)) or not hasattr(cluster, "__iter__"):
        raise TypeError(f"{name}: expected a list of positions, got {cluster!r:.60}")
    return [checks.integer(i, f"{name}[{j}]", minimum=0) for j, i in enumerate(cluster)]


def near_duplicates_to_drop(clusters: Iterable[Sequence[int]]) -> list[int]:
    """All positions of the clusters except the first (smallest) of each, sorted.

    Raises:
        TypeError: a cluster that is not a list of int positions. ValueError: a negative position.
    """
    if isinstance(clusters, (str, bytes)) or not hasattr(clusters, "__iter__"):
        raise TypeError(f"clusters: expected a list of clusters (lists of positions), got {type(clusters).__name__}")
    clusters = [_positions(c, f"clusters[{k}]") for k, c in enumerate(clusters)]
    return sorted(i for c in clusters for i in sorted(c)[1:])


# ---------------------------------------------------------------------------- the pipeline
def clean_corpus(texts: Sequence[str], *, min_words: int = 20, max_words: int = 2000,
                 max_duplicate_ngram_fraction: float = 0.2, ngram: int = 3,
                 near_duplicate_threshold: float | None = 0.8, scrub: bool = True,
                 num_perm: int = 128, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the chapter's cleaning pipeline and report how many documents each step removed.

    Steps, in order: :func:`clean_text` (NFKC + HTML removal); drop documents with fewer than
    ``min_words`` or more than ``max_words`` words; drop documents whose
    :func:`duplicate_ngram_fraction` (n = ``ngram``) exceeds ``max_duplicate_ngram_fraction``;
    drop exact duplicates (:func:`exact_duplicates`); drop near-duplicates
    (:func:`near_duplicate_clusters`, skipped when ``near_duplicate_threshold`` is ``None``);
    :func:`scrub_pii` (replaces, removes nothing).

    Returns:
        ``(kept, report)``: ``kept`` has columns ``position`` (index into ``texts``) and ``text``
        (cleaned); ``report`` has one row per step with ``documents in``, ``removed``,
        ``documents out`` (and, for the PII step, the number of replacements in ``changed``).

    Raises:
        TypeError: as :func:`exact_duplicates`; a count that is not an int, a fraction or threshold
            that is not a number (e.g. ``"0.2"``), ``scrub`` not a bool.
        ValueError: for no text at all, ``min_words`` > ``max_words``, a negative count, a fraction
            outside [0, 1], or as :func:`near_duplicate_clusters`.
    """
    texts = checks.texts(texts, "texts")
    min_words = checks.integer(min_words, "min_words", minimum=0)
    max_words = checks.integer(max_words, "max_words", minimum=0)
    if min_words > max_words:
        raise ValueError(f"min_words: expected 0 <= min_words <= max_words, got {min_words!r} and {max_words!r}")
    max_duplicate_ngram_fraction = checks.probability(max_duplicate_ngram_fraction, "max_duplicate_ngram_fraction")
    ngram = checks.integer(ngram, "ngram")
    if near_duplicate_threshold is not None:
        near_duplicate_threshold = checks.probability(near_duplicate_threshold, "near_duplicate_threshold",
                                                      allow_zero=False, allow_one=False)
    scrub = checks.boolean(scrub, "scrub")
    num_perm, _, seed = _minhash_args(num_perm, 5, seed)
    rows = []
    df = pd.DataFrame({"position": range(len(texts)), "text": [_clean_text(t) for t in texts]})
    changed = sum(a != b for a, b in zip(texts, df["text"]))
    rows.append(("Unicode NFKC + HTML removal", len(df), 0, len(df), changed))

    def step(name, keep):
        nonlocal df
        before = len(df)
        # a boolean array, never a Series: an empty object Series would be read as column labels
        df = df.loc[np.asarray(keep, dtype=bool)].reset_index(drop=True)
        rows.append((name, before, before - len(df), len(df), 0))

    words = df["text"].map(lambda t: len(t.split()))
    step(f"length filter ({min_words}-{max_words} words)", (words >= min_words) & (words <= max_words))
    rep = df["text"].map(lambda t: _duplicate_ngram_fraction(t, ngram))
    step(f"repetition filter (duplicate {ngram}-grams > {max_duplicate_ngram_fraction:.0%})",
         rep <= max_duplicate_ngram_fraction)
    dup = set(_exact_duplicates(list(df["text"])))
    step("exact duplicates (SHA-256)", [i not in dup for i in range(len(df))])
    if near_duplicate_threshold is not None:
        near = set(near_duplicates_to_drop(_near_duplicate_clusters(
            list(df["text"]), near_duplicate_threshold, num_perm, 5, seed, True)))
        step(f"near duplicates (MinHash, Jaccard >= {near_duplicate_threshold})",
             [i not in near for i in range(len(df))])
    if scrub:
        scrubbed = [_scrub_pii(t) for t in df["text"]]
        df["text"] = [t for t, _ in scrubbed]
        rows.append(("PII scrubbing (e-mails, URLs)", len(df), 0, len(df),
                     sum(c["email"] + c["url"] for _, c in scrubbed)))
    report = pd.DataFrame(rows, columns=["step", "documents in", "removed", "documents out", "changed"])
    return df, report.set_index("step")


# ---------------------------------------------------------------------------- splits
def split_dataset(ds, *, validation_size: float | int, test_size: float | int, seed: int = 0,
                  stratify_by_column: str | None = None):
    """Deterministic train/validation/test split of a ``datasets.Dataset``.

    Two calls of ``Dataset.train_test_split``: first hold out ``test_size``, then
    ``validation_size`` from the rest; with ``stratify_by_column`` (a label column; cast to
    ``ClassLabel`` if needed) every split keeps the label proportions. The same ``seed`` and
    input give the same splits on every machine.

    Args:
        ds: a ``datasets.Dataset``.
        validation_size, test_size: a fraction in (0, 1) of the *whole* dataset, or a number of rows.
        seed: seed of both shuffles.
        stratify_by_column: label column to stratify by, or ``None``.

    Returns:
        A ``datasets.DatasetDict`` with ``train``, ``validation`` and ``test``.

    Raises:
        TypeError: ``ds`` not a ``datasets.Dataset``, a size that is neither an int nor a float (bools
            and strings included), ``seed`` not an int, ``stratify_by_column`` not a string.
        ValueError: if a size is not positive, a fraction is not below 1, the sizes leave no training
            data, or ``stratify_by_column`` is not a column.
    """
    from datasets import ClassLabel, Dataset, DatasetDict

    checks.instance(ds, "ds", Dataset, what="a datasets.Dataset")
    seed = checks.integer(seed, "seed", minimum=0)
    if stratify_by_column is not None:
        checks.instance(stratify_by_column, "stratify_by_column", str, what="a column name (str)")
    n = len(ds)

    def rows(size, name):
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            return checks.integer(size, name)
        return max(1, round(checks.probability(size, name, allow_zero=False, allow_one=False) * n))

    n_test, n_val = rows(test_size, "test_size"), rows(validation_size, "validation_size")
    if n_test + n_val >= n:
        raise ValueError(f"validation_size: validation ({n_val}) + test ({n_test}) rows leave no training data of {n}")
    if stratify_by_column is not None:
        if stratify_by_column not in ds.column_names:
            raise ValueError(f"stratify_by_column: {stratify_by_column!r} is not a column of {ds.column_names}")
        if not isinstance(ds.features[stratify_by_column], ClassLabel):
            ds = ds.class_encode_column(stratify_by_column)
    first = ds.train_test_split(test_size=n_test, seed=seed, stratify_by_column=stratify_by_column)
    second = first["train"].train_test_split(test_size=n_val, seed=seed, stratify_by_column=stratify_by_column)
    return DatasetDict(train=second["train"], validation=second["test"], test=first["test"])


def cross_split_near_duplicates(splits: Mapping[str, Sequence[str]], *, reference: str = "train",
                                threshold: float = 0.8, num_perm: int = 128, ngram: int = 5,
                                seed: int = 1) -> pd.DataFrame:
    """Leakage check: documents of the other splits that nearly duplicate a ``reference`` document.

    Indexes the reference split's MinHash signatures in an LSH index and queries every document of
    the other splits; candidate pairs are confirmed with the *exact* Jaccard similarity of their
    shingle sets (so every reported pair really is at or above ``threshold``).

    Args:
        splits: split name -> texts, e.g. ``{"train": [...], "validation": [...], "test": [...]}``.
        reference: the split the others must not overlap with.
        threshold, num_perm, ngram, seed: as :func:`near_duplicate_clusters`.

    Returns:
        A DataFrame with columns ``split``, ``index``, ``reference_index``, ``jaccard`` (exact), one
        row per leaking pair, sorted.

    Raises:
        TypeError: ``splits`` not a dict of text lists, or as :func:`minhashes`.
        ValueError: if ``reference`` is not a key of ``splits`` or ``threshold`` is not in (0, 1).
    """
    from datasketch import MinHashLSH

    checks.instance(splits, "splits", Mapping, what="a dict of split name -> texts")
    if not isinstance(reference, Hashable) or reference not in splits:
        raise ValueError(f"reference: {reference!r} is not one of the splits {sorted(map(str, splits))}")
    threshold = checks.probability(threshold, "threshold", allow_zero=False, allow_one=False)
    num_perm, ngram, seed = _minhash_args(num_perm, ngram, seed)
    texts_of = {name: checks.texts(texts, f"splits[{name!r}]", allow_empty=True) for name, texts in splits.items()}
    ref_texts = texts_of[reference]
    ref_sigs = _minhashes(ref_texts, num_perm, ngram, seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for i, sig in enumerate(ref_sigs):
        lsh.insert(i, sig)
    rows = []
    for name, texts in texts_of.items():
        if name == reference:
            continue
        for i, sig in enumerate(_minhashes(texts, num_perm, ngram, seed)):
            for j in lsh.query(sig):
                sim = _jaccard(_shingles(texts[i], ngram), _shingles(ref_texts[j], ngram))
                if sim >= threshold:
                    rows.append((name, i, j, sim))
    out = pd.DataFrame(rows, columns=["split", "index", "reference_index", "jaccard"])
    return out.sort_values(["split", "index", "reference_index"]).reset_index(drop=True)


def save_splits(dsd, directory: str | os.PathLike, fmt: str = "parquet") -> dict[str, Path]:
    """Write each split of a ``datasets.DatasetDict`` to ``<directory>/<split>.parquet`` or ``.jsonl``.

    Parquet keeps column types and compresses well; JSON lines (one JSON object per line,
    UTF-8, non-ASCII kept as is) is readable and appendable. Both load back with
    ``datasets.load_dataset("parquet" | "json", data_files=...)``.

    Returns:
        ``{split: path}``.

    Raises:
        TypeError: ``dsd`` not a dict of datasets, ``directory`` not a path.
        ValueError: if ``fmt`` is not ``"parquet"`` or ``"jsonl"``.
    """
    checks.instance(dsd, "dsd", Mapping, what="a datasets.DatasetDict")
    checks.instance(directory, "directory", (str, os.PathLike), what="a path")
    fmt = checks.one_of(fmt, "fmt", ("parquet", "jsonl"))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, ds in dsd.items():
        path = directory / f"{split}.{fmt}"
        if fmt == "parquet":
            ds.to_parquet(str(path))
        else:
            ds.to_json(str(path), lines=True, force_ascii=False)
        paths[split] = path
    return paths


# ---------------------------------------------------------------------------- tokenizers
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")


def _wrap(tok, unk: str | None):
    from transformers import PreTrainedTokenizerFast

    kwargs = dict(pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    if unk is not None:
        kwargs["unk_token"] = unk
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 2000):
    """Train a byte-level BPE tokenizer (GPT-2 style; Sennrich et al. 2016, Radford et al. 2019).

    Text is NFKC-normalised and split into bytes first, so the 256 byte symbols cover every
    string: there is never an unknown token, but a character outside the training data costs one
    token per UTF-8 byte (three for most Chinese characters). Merges of frequent adjacent
    symbol pairs are then learnt up to ``vocab_size``. Special tokens: ``<pad>`` (id 0), ``<unk>``
    (unused), ``<s>``, ``</s>``.

    Returns:
        A ``transformers.PreTrainedTokenizerFast``.

    Raises:
        TypeError: ``texts`` not strings, ``vocab_size`` not an int.
        ValueError: if ``vocab_size`` < 300 (256 bytes + specials) or ``texts`` is empty.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    texts = checks.texts(texts, "texts")
    vocab_size = checks.integer(vocab_size, "vocab_size", minimum=300)
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return _wrap(tok, None)


def distinct_characters(texts: Iterable[str]) -> set[str]:
    """The set of characters of ``texts`` after NFKC normalisation, spaces excluded.

    Raises:
        TypeError: if ``texts`` is one string or holds a non-string.
    """
    return _distinct_characters(checks.texts(texts, "texts", allow_empty=True))


def _distinct_characters(texts: list[str]) -> set[str]:
    return set("".join(unicodedata.normalize("NFKC", t) for t in texts)) - {" "}


def train_unigram_tokenizer(texts: Iterable[str], vocab_size: int = 2000, max_piece_length: int = 8):
    """Train a SentencePiece-style unigram-LM tokenizer (Kudo 2018; Kudo & Richardson 2018).

    No language-specific pre-tokenisation: text is NFKC-normalised, spaces become the visible
    symbol ``▁`` (Metaspace), and the unigram model chooses the most probable segmentation of the
    whole string into pieces from a vocabulary pruned down to ``vocab_size`` -- so it works for
    Chinese, which has no spaces between words. Characters never seen become ``<unk>``.

    Args:
        texts: training texts.
        vocab_size: size of the final vocabulary (int >= 50).
        max_piece_length: longest piece in characters.

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with ``<pad>`` (id 0), ``<unk>``, ``<s>``, ``</s>``.

    Raises:
        TypeError: ``texts`` not strings, ``vocab_size`` or ``max_piece_length`` not an int.
        ValueError: if ``vocab_size`` < 50, or smaller than the number of distinct characters of
            ``texts`` plus 4 special tokens (the trainer keeps every character; Chinese text has
            thousands), ``max_piece_length`` < 1, or ``texts`` is empty.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    texts = checks.texts(texts, "texts")
    vocab_size = checks.integer(vocab_size, "vocab_size", minimum=50)
    max_piece_length = checks.integer(max_piece_length, "max_piece_length")
    n_chars = len(_distinct_characters(texts))
    if vocab_size < n_chars + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size: the unigram trainer keeps every character of the training texts; they "
                         f"have {n_chars} distinct characters, so vocab_size must be at least "
                         f"{n_chars + len(SPECIAL_TOKENS)} (got {vocab_size})")
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(texts, trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), unk_token="<unk>",
        max_piece_length=max_piece_length, show_progress=False))
    return _wrap(tok, "<unk>")


def _tokenizer(tokenizer):
    """``tokenizer`` if it is a ``transformers`` tokenizer or a ``tokenizers.Tokenizer``; TypeError otherwise."""
    hf = callable(tokenizer) and hasattr(tokenizer, "convert_ids_to_tokens")
    raw = callable(getattr(tokenizer, "encode", None)) and callable(getattr(tokenizer, "id_to_token", None))
    if not (hf or raw):
        raise TypeError(f"tokenizer: expected a transformers tokenizer or a tokenizers.Tokenizer, got "
                        f"{type(tokenizer).__name__}")
    return tokenizer


def _token_ids(tokenizer, text: str) -> list[int]:
    if hasattr(tokenizer, "convert_ids_to_tokens"):  # transformers tokenizer
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer.encode(text, add_special_tokens=False).ids  # tokenizers.Tokenizer


def tokens(tokenizer, text: str) -> list[str]:
    """The tokens of ``text`` (no special tokens), read back from the ids.

    Unlike ``tokenizer.tokenize``, this shows an unknown character as the unknown token (e.g.
    ``<unk>``) for every tokenizer; the unigram tokenizers of the ``tokenizers`` library return the
    original character from ``tokenize`` even when its id is the unknown id.

    Raises:
        TypeError: if ``text`` is not a string.
    """
    return _tokens(_tokenizer(tokenizer), checks.text(text, "text"))


def _tokens(tokenizer, text: str) -> list[str]:
    ids = _token_ids(tokenizer, text)
    if hasattr(tokenizer, "convert_ids_to_tokens"):
        return tokenizer.convert_ids_to_tokens(ids)
    return [tokenizer.id_to_token(i) for i in ids]


def _unk_id(tokenizer) -> int | None:
    if hasattr(tokenizer, "convert_ids_to_tokens"):
        return tokenizer.unk_token_id if getattr(tokenizer, "unk_token", None) else None
    model = tokenizer.get_vocab()
    return model.get("<unk>", model.get("[UNK]"))


def fertility(tokenizer, texts: Sequence[str], per: str = "word") -> float:
    """Average number of tokens per word (``per="word"``: whitespace-separated words) or per
    non-space character (``per="char"``, the unit for Chinese, which has no spaces).

    Special tokens (``[CLS]``, ``<s>`` ...) are not counted. A fertility of 1 per word means every
    word is one token; higher fertility means longer sequences, so more compute per text and less
    text in a fixed context window (Rust et al., ACL 2021, relate it to downstream quality).

    Args:
        tokenizer: a ``transformers`` tokenizer or a ``tokenizers.Tokenizer``.
        texts: the evaluation texts.
        per: ``"word"`` or ``"char"``.

    Raises:
        TypeError: if ``texts`` is one string or holds a non-string.
        ValueError: for an unknown ``per`` or texts without any word/character.
    """
    tokenizer = _tokenizer(tokenizer)
    per = checks.one_of(per, "per", ("word", "char"))
    texts = checks.texts(texts, "texts", allow_empty=True)
    units = sum(len(t.split()) if per == "word" else len("".join(t.split())) for t in texts)
    if units == 0:
        raise ValueError("texts: contain no words or characters")
    return sum(len(_token_ids(tokenizer, t)) for t in texts) / units


def unknown_rate(tokenizer, texts: Sequence[str]) -> float:
    """Share of the tokens of ``texts`` whose id is the tokenizer's unknown id (0.0 if it has none).

    Raises:
        TypeError: as :func:`exact_duplicates`.
    """
    tokenizer = _tokenizer(tokenizer)
    texts = checks.texts(texts, "texts", allow_empty=True)
    unk = _unk_id(tokenizer)
    ids = [i for t in texts for i in _token_ids(tokenizer, t)]
    return sum(i == unk for i in ids) / max(len(ids), 1) if unk is not None else 0.0


def token_counts(tokenizer, texts: Sequence[str]) -> Counter:
    """How often each token occurs when ``tokenizer`` splits ``texts`` (special tokens excluded).

    Raises:
        TypeError: as :func:`exact_duplicates`.
    """
    tokenizer = _tokenizer(tokenizer)
    return Counter(tok for t in checks.texts(texts, "texts", allow_empty=True) for tok in _tokens(tokenizer, t))


__all__ = [
    "normalize_unicode", "strip_html", "clean_text",
    "word_count", "duplicate_ngram_fraction", "scrub_pii", "exact_duplicates", "shingles", "jaccard",
    "minhashes", "near_duplicate_clusters", "near_duplicates_to_drop", "clean_corpus", "split_dataset",
    "cross_split_near_duplicates", "save_splits", "train_bpe_tokenizer", "train_unigram_tokenizer",
    "fertility", "unknown_rate", "token_counts", "tokens", "distinct_characters",
]
