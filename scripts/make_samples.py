"""Make the small, committed data samples the book runs on offline.

Reads the full datasets from a local directory (default ``../shared/data``, or ``--data-dir``) and
writes stratified, seeded samples under ``companion/_data/`` (labelled reviews in ``imdb/sample`` and
``imdb/fixture``; unlabelled reviews from IMDb's ``unsupervised`` split in ``imdb/unsup``). Run it once; the outputs are
committed so that a fresh clone works without the full data::

    python scripts/make_samples.py --data-dir ../shared/data

Sources (cite them wherever the samples are used):

* IMDb: Maas, Daly, Pham, Huang, Ng & Potts (2011). "Learning Word Vectors for Sentiment
  Analysis". ACL 2011. https://ai.stanford.edu/~amaas/data/sentiment/
* Tatoeba English-Mandarin pairs (``tatoeba-cmn-eng/cmn.txt``, as distributed by manythings.org/anki):
  sentences and translations from https://tatoeba.org, CC-BY 2.0 FR; every line keeps its
  attribution (sentence ids and contributors).
* English paraphrase pairs from Tatoeba (https://tatoeba.org), CC-BY 2.0 FR: two English sentences
  that translate the same Mandarin sentence; every row keeps the attribution (sentence ids and
  contributors) of both source lines.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "companion" / "_data"
SEED = 20111  # fixed: the samples must be reproducible byte for byte

IMDB_CITATION = (
    "Maas, A. L., Daly, R. E., Pham, P. T., Huang, D., Ng, A. Y., & Potts, C. (2011). "
    "Learning Word Vectors for Sentiment Analysis. In Proceedings of ACL 2011, pp. 142-150."
)


def stratified(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Return ``n`` rows of ``df`` with equal counts per label, in a shuffled, seeded order."""
    per_label = n // df["label"].nunique()
    parts = [g.sample(per_label, random_state=seed) for _, g in df.groupby("label")]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    counts = df["label"].value_counts().sort_index().to_dict()
    print(f"{path.relative_to(ROOT)}: {len(df)} rows, labels {counts}, sha256 {digest}...")


IMDB_UNSUPERVISED_RANDOM = 2000  # random reviews in the unsupervised sample
IMDB_UNSUPERVISED_GROUPS = 40  # extra exact-duplicate groups added to it (plus every near-duplicate group)


def make_imdb_unsupervised(data_dir: Path, n_random: int = IMDB_UNSUPERVISED_RANDOM,
                           n_exact_groups: int = IMDB_UNSUPERVISED_GROUPS, seed: int = SEED) -> Path:
    """Write ``companion/_data/imdb/unsupervised.parquet`` (+ ``.json``): raw unlabelled reviews for chapter 3.

    A random sample would hold almost no duplicate pairs (1% of the 50,000 reviews are duplicated,
    so both copies of a pair land in a 4% sample with probability 0.16%), and the de-duplication
    steps would have nothing to show. So the sample is ``n_random`` reviews drawn at random plus
    every member of some duplicate groups of the *full* corpus: all groups that contain a near-
    (not exact) duplicate and ``n_exact_groups`` random exact-duplicate groups, found by
    ``companion.preprocessing.near_duplicate_clusters`` on the cleaned texts. Rows are shuffled;
    ``source_row`` is the row in ``unsupervised.parquet``. The JSON file records this recipe and
    the cleaning report of the *full* corpus (``companion.preprocessing.clean_corpus``), so that the
    book can say how the sample's rates differ from the real ones.
    """
    import json
    import sys

    import numpy as np

    sys.path.insert(0, str(ROOT))
    from companion import preprocessing as pp

    full = pd.read_parquet(data_dir / "imdb" / "unsupervised.parquet")
    texts = full["text"].tolist()
    cleaned = [pp.clean_text(t) for t in texts]
    exact = set(pp.exact_duplicates(cleaned))
    clusters = pp.near_duplicate_clusters(cleaned, threshold=0.8)
    near = [c for c in clusters if any(i not in exact for i in c[1:])]
    exact_only = [c for c in clusters if c not in near]
    rng = np.random.default_rng(seed)
    chosen = near + [exact_only[i] for i in sorted(rng.choice(len(exact_only), n_exact_groups, replace=False))]
    grouped = sorted({i for c in chosen for i in c})
    others = np.setdiff1d(np.arange(len(texts)), grouped)
    rows = np.concatenate([rng.choice(others, n_random, replace=False), grouped])
    rng.shuffle(rows)
    sample = pd.DataFrame({"text": [texts[i] for i in rows], "source_row": rows.astype("int64")})
    path = OUT / "imdb" / "unsupervised.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    sample.to_parquet(path, index=False)

    _, report = pp.clean_corpus(texts)
    meta = {
        "source": "imdb/unsupervised.parquet (Maas et al., ACL 2011), 50,000 unlabelled reviews",
        "citation": IMDB_CITATION, "seed": seed, "rows": len(sample), "random_rows": n_random,
        "added_groups": {"near_duplicate": len(near), "exact_duplicate": n_exact_groups,
                         "rows": len(grouped)},
        "full_corpus": {"documents": len(texts),
                        "cleaning_report": {step: {k: int(v) for k, v in row.items()}
                                            for step, row in report.to_dict("index").items()}},
    }
    (OUT / "imdb" / "unsupervised.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n",
                                                    encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    print(f"{path.relative_to(ROOT)}: {len(sample)} rows ({n_random} random + {len(grouped)} in "
          f"{len(chosen)} duplicate groups), sha256 {digest}...")
    return path


def make_imdb(data_dir: Path) -> None:
    make_imdb_unsupervised(data_dir)  # chapter 3's raw, unlabelled sample
    train_full = pd.read_parquet(data_dir / "imdb" / "train.parquet")
    test_full = pd.read_parquet(data_dir / "imdb" / "test.parquet")
    cols = ["text", "label", "rating", "review_id"]

    # `sample`: the cpu profile. Train and validation are disjoint draws from the official train
    # split; test comes from the official test split (IMDb keeps the films of train and test apart).
    # review_id is only unique within a label folder, so split on row positions, not ids.
    train_val = stratified(train_full, 2500, SEED)[cols]
    is_val = train_val.groupby("label").cumcount() < 250  # 250 per label for validation
    sample = {
        "train": train_val[~is_val].reset_index(drop=True),
        "validation": train_val[is_val].reset_index(drop=True),
        "test": stratified(test_full, 1000, SEED)[cols],
    }
    for split, df in sample.items():
        write(df, OUT / "imdb" / "sample" / f"{split}.parquet")

    # `fixture`: the smoke profile, a small stratified subset of the sample.
    fixture = {
        "train": stratified(sample["train"], 200, SEED),
        "validation": stratified(sample["validation"], 50, SEED),
        "test": stratified(sample["test"], 100, SEED),
    }
    for split, df in fixture.items():
        write(df, OUT / "imdb" / "fixture" / f"{split}.parquet")


TATOEBA_MAX_PAIRS = 5000
TATOEBA_NOTICE = """\
# Tatoeba English-Mandarin sample

`pairs.tsv`: {n:,} English-Mandarin sentence pairs, a seeded random sample (seed {seed}) of the
{total:,} pairs in `cmn.txt` (the Tatoeba export distributed by https://www.manythings.org/anki/),
made by `scripts/make_samples.py` (function `make_tatoeba`). One pair per line, UTF-8 without BOM,
tab-separated, no header: English sentence, Mandarin sentence, attribution.

Licence: the sentences come from Tatoeba (https://tatoeba.org) and are licensed under
Creative Commons Attribution 2.0 France (CC-BY 2.0 FR,
https://creativecommons.org/licenses/by/2.0/fr/). The third column of every line is its
attribution (the Tatoeba sentence ids and the contributors' user names); keep it with any copy.
"""


def make_tatoeba(data_dir: Path, max_pairs: int = TATOEBA_MAX_PAIRS, seed: int = SEED) -> Path:
    """Write ``companion/_data/tatoeba/pairs.tsv``: a seeded sample of at most ``max_pairs`` pairs.

    Reads ``<data_dir>/tatoeba-cmn-eng/cmn.txt`` (tab-separated English, Mandarin, attribution;
    the file starts with a UTF-8 byte-order mark, which is stripped), keeps lines with exactly
    three non-empty fields, samples ``max_pairs`` of them with ``random.Random(seed)`` and writes
    them in their original order, with the attribution column, plus a ``README.md`` with the
    CC-BY 2.0 FR notice. The train/validation/test split is made deterministically by
    ``companion.translation.load_tatoeba``.
    """
    import random

    source = data_dir / "tatoeba-cmn-eng" / "cmn.txt"
    rows = []
    for line in source.read_text(encoding="utf-8-sig").splitlines():
        fields = [f.strip() for f in line.lstrip("\ufeff").split("\t")]
        if len(fields) == 3 and all(fields):
            rows.append(fields)
    keep = sorted(random.Random(seed).sample(range(len(rows)), min(max_pairs, len(rows))))
    out_dir = OUT / "tatoeba"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "pairs.tsv"
    path.write_text("".join("\t".join(rows[i]) + "\n" for i in keep), encoding="utf-8")
    (out_dir / "README.md").write_text(TATOEBA_NOTICE.format(n=len(keep), seed=seed, total=len(rows)),
                                       encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    print(f"{path.relative_to(ROOT)}: {len(keep)} of {len(rows)} pairs, sha256 {digest}...")
    return path


def make_imdb_unsup(data_dir: Path) -> None:
    """Unlabelled IMDb reviews for the pre-training chapter (2): language models and MLM pre-training.

    The 50,000 ``unsupervised`` reviews of the Large Movie Review Dataset carry no label (``label`` = -1);
    a seeded random draw of 5,000 is the ``cpu`` sample (about 1.1M words), 300 of those the fixture.
    """
    unsup = pd.read_parquet(data_dir / "imdb" / "unsupervised.parquet")[["text", "review_id"]]
    sample = unsup.sample(5000, random_state=SEED).reset_index(drop=True)
    fixture = sample.sample(300, random_state=SEED).reset_index(drop=True)
    for name, df in (("sample", sample), ("fixture", fixture)):
        path = OUT / "imdb" / "unsup" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path, index=False, compression="zstd")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        print(f"{path.relative_to(ROOT)}: {len(df)} unlabelled reviews, sha256 {digest}...")


def make_paraphrases(data_dir: Path) -> None:
    """English paraphrase pairs from Tatoeba's English-Mandarin file (chapter 5.3, forgetting probe).

    Two English sentences that Tatoeba lists as translations of the same Mandarin sentence are
    paraphrases. We keep the first two distinct English translations of each Mandarin sentence,
    drop pairs whose word sets overlap by more than half (Jaccard > 0.5: near-copies make retrieval
    trivial), keep each English sentence in one pair only (so every query and every candidate of the
    recall@1 probe is unique), and draw a seeded sample. Columns: ``a``, ``b`` (str), ``attribution`` (both lines'
    CC-BY 2.0 FR attributions, joined by `` | ``).
    """
    import re

    path = data_dir / "tatoeba-cmn-eng" / "cmn.txt"
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8-sig").splitlines()]
    by_mandarin: dict[str, list[list[str]]] = {}
    for row in rows:
        if len(row) < 3:
            continue
        english = by_mandarin.setdefault(row[1], [])
        if row[0] not in [r[0] for r in english]:
            english.append(row)

    def words(s: str) -> set[str]:
        return set(re.findall(r"[a-z0-9']+", s.lower()))

    pairs = []
    for versions in by_mandarin.values():
        if len(versions) < 2:
            continue
        (a, _, att_a), (b, _, att_b) = versions[0][:3], versions[1][:3]
        wa, wb = words(a), words(b)
        if len(wa & wb) / max(len(wa | wb), 1) <= 0.5:
            pairs.append({"a": a, "b": b, "attribution": f"{att_a} | {att_b}"})
    df = pd.DataFrame(pairs)
    # Mandarin variants of one sentence (e.g. traditional and simplified spellings) give the same
    # English pair twice; recall@1 needs every query and every candidate to be unique.
    df = df.drop_duplicates("a").drop_duplicates("b")
    df = df[~df["b"].isin(df["a"])]
    df = df.sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    for name, n in (("sample", 1000), ("fixture", 100)):
        out = OUT / "paraphrases" / f"{name}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        df.iloc[:n].to_parquet(out, index=False)
        digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
        print(f"{out.relative_to(ROOT)}: {min(n, len(df))} pairs (of {len(df)} eligible), sha256 {digest}...")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if not (args.data_dir / "imdb" / "train.parquet").exists():
        raise SystemExit(f"--data-dir: {args.data_dir} has no imdb/train.parquet")
    if not (args.data_dir / "tatoeba-cmn-eng" / "cmn.txt").exists():
        raise SystemExit(f"--data-dir: {args.data_dir} has no tatoeba-cmn-eng/cmn.txt")
    make_imdb(args.data_dir)
    make_tatoeba(args.data_dir)
    make_imdb_unsup(args.data_dir)
    make_paraphrases(args.data_dir)


if __name__ == "__main__":
    main()
